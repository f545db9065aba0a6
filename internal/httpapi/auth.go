package httpapi

import (
	"errors"
	"net/http"

	"gatehouse/internal/authn"
	"gatehouse/internal/edge"
	"gatehouse/internal/fault"
	"gatehouse/internal/session"
)

// Authenticator is the API's door: it reads a request's credential (the
// web session cookie, or `Authorization: DPoP` with its proof) and hands
// it to [authn.Authenticator], the one path by which a token becomes a
// session.
type Authenticator struct {
	// Authenticator checks credentials; its Replay is the API's own
	// (forward-auth keeps another).
	*authn.Authenticator
	Origin  string // public origin; a proof's htu is checked against it
	Cookies edge.Cookies
}

// Session returns the request's live session, or the unauthenticated
// problem with the reason for the log; a frozen user's session is the
// frozen problem.
func (a *Authenticator) Session(r *http.Request) (*session.Session, error) {
	return a.credential(r, authn.Credential{})
}

// FrozenSession is Session, accepting a frozen user's session too: for
// the routes such a session may reach (its own state, step-up, unfreeze,
// logout).
//
// A completed recovery's session reaches them too (see RecoverySession).
func (a *Authenticator) FrozenSession(r *http.Request) (*session.Session, error) {
	return a.credential(r, authn.Credential{AllowFrozen: true, AllowRecovery: true})
}

// RecoverySession is Session, accepting the session a completed recovery
// gave too: for the routes it may reach (enrolling a factor and recovery
// codes, its own state, logout).
func (a *Authenticator) RecoverySession(r *http.Request) (*session.Session, error) {
	return a.credential(r, authn.Credential{AllowRecovery: true})
}

func (a *Authenticator) credential(r *http.Request, c authn.Credential) (*session.Session, error) {
	c.Authorization = r.Header.Get("Authorization")
	if c.Authorization != "" {
		proofs := r.Header.Values("DPoP")
		if len(proofs) > 0 {
			c.DPoP = proofs[0]
		}
		c.DPoPCount = len(proofs)
		c.Method, c.URL = r.Method, a.Origin+r.URL.EscapedPath()
	} else if ck, err := r.Cookie(a.Cookies.Session()); err == nil {
		c.Cookie = ck.Value
	}
	s, err := a.Authenticate(r.Context(), &c)
	if k := fault.Of(err); k == fault.Frozen || k == fault.NotAllowed {
		return nil, &Error{Problem: kindError(k, nil).Problem, Err: err}
	}
	if errors.Is(err, authn.ErrUnauthenticated) {
		return nil, &Error{Problem: errUnauthenticated().Problem, Err: err}
	}
	return s, err
}
