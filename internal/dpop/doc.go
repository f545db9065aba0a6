// Package dpop implements RFC 9449 DPoP proofs for gatehouse's desktop and
// mobile interfaces.
//
// A device holds a P-256 key. At login it sends a DPoP header whose proof
// carries no "ath"; the session minted then is bound to the key's RFC 7638
// thumbprint (the "jkt"). Every later request carries
// "Authorization: DPoP <token>" and a fresh proof that names the request's
// method and URL and the hash of the token, so a copied token alone is useless.
//
// The server side is three steps, cheapest refusal first:
//
//	p, err := dpop.ParseProof(r.Header.Get("DPoP")) // structure, key, signature
//	err = p.Check(dpop.Expect{Method: m, URL: u, AccessToken: tok, JKT: sess.JKT, Now: now})
//	if replays.Seen(p.JKT, p.ID, p.IssuedAt, now) { /* refuse */ }
//
// Seen goes last so that only proofs that passed every other check (and, on
// forward-auth, belong to a live session) can occupy the replay cache.
//
// The client side is [Signer], plus [MarshalKey] and [ParseKey] to keep the
// device key in a 0600 PEM file.
//
// The package is pure: it does no I/O, and time is always passed in.
package dpop
