// Package web is gatehouse's browser portal: server-rendered pages where a
// trader signs in, sees and ends sessions, reads the audit trail and
// changes the password. It is the `web` door and lives on its own mux,
// apart from the JSON API (house style rule 17, after tailscale's safeweb).
//
// Every page works without JavaScript. Templates and assets are embedded
// in the binary; nothing is loaded from another origin.
//
// # Security model
//
// Every answer carries a strict Content-Security-Policy (no inline script
// or style, no framing, forms post only to this origin), no-referrer and
// nosniff; HTML pages are never cached.
//
// The portal signs in through [login.Service] and keeps the session in the
// same cookie the API sets, with the same attributes (HttpOnly, SameSite=Lax,
// Path=/, Secure and the __Host- prefix on an https origin), so the
// portal's own scripts and curl share one API.
//
// State-changing requests are guarded twice:
//
//   - [http.CrossOriginProtection] wraps the whole mux. It refuses a
//     non-safe request whose Sec-Fetch-Site says it came from another site
//     or, without that header, whose Origin names another host. It is the
//     primary defence and holds for every current browser.
//   - Every form also carries a token bound to the session that rendered
//     it (an HMAC keyed by the session's secret token; before sign-in, by a
//     login cookie), checked before the handler runs. It covers what the
//     header check lets through by design: requests that carry neither
//     Sec-Fetch-Site nor Origin, which older browsers send for form posts
//     and which some proxies and privacy tools produce by stripping
//     headers. It also binds a form to one session, so a form left open
//     across a sign-out and a sign-in as someone else is refused rather
//     than acted on for the new user.
//
// Either alone stops the attack in a modern browser; both together cost
// one HMAC per form and leave no gap that depends on the client.
package web
