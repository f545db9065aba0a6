package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"gatehouse/internal/authz"
	"gatehouse/internal/clienttext"
	"gatehouse/internal/dpop"
	"gatehouse/internal/edge"
	"gatehouse/internal/login"
	"gatehouse/internal/session"
)

// loginRequest is the body of POST /v1/login.
type loginRequest struct {
	Username  string `json:"username"`
	Password  string `json:"password"`
	Interface string `json:"interface"`
	Device    struct {
		Name string `json:"name"`
	} `json:"device"`
}

func (b loginRequest) Valid(context.Context) []FieldError {
	var errs []FieldError
	if b.Username == "" || !clienttext.Printable(b.Username, 256) {
		errs = append(errs, FieldError{"username", "required; at most 256 printable characters"})
	}
	// The password's content is never inspected here beyond its size:
	// any byte may be part of a passphrase.
	if b.Password == "" || len(b.Password) > 1024 {
		errs = append(errs, FieldError{"password", "required; at most 1024 bytes"})
	}
	if _, err := session.ParseDoor(b.Interface); err != nil {
		errs = append(errs, FieldError{"interface", "one of web, desktop, mobile"})
	}
	if !clienttext.Printable(b.Device.Name, 64) {
		errs = append(errs, FieldError{"device.name", "at most 64 printable characters"})
	}
	return errs
}

// sessionView is a session as clients see it. It never holds the token.
type sessionView struct {
	ID         string    `json:"id"`
	Interface  string    `json:"interface"`
	DeviceName string    `json:"device_name"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	Assurance  string    `json:"assurance"`
	AuthTime   time.Time `json:"auth_time"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Current    bool      `json:"current"`
}

func viewSession(s *session.Session, currentID string) sessionView {
	return sessionView{ID: s.ID, Interface: string(s.Door), DeviceName: s.DeviceName, IP: s.IP, UserAgent: s.UserAgent,
		Assurance: s.Assurance.String(), AuthTime: s.AuthTime, CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt, ExpiresAt: s.ExpiresAt, Current: s.ID == currentID}
}

type loginResponse struct {
	Status string `json:"status"`
	// State is the public state of a polled flow.
	State             string       `json:"state,omitempty"`
	Session           *sessionView `json:"session,omitempty"`
	EnrolmentRequired bool         `json:"enrolment_required,omitempty"`
	Flow              string       `json:"flow,omitempty"`
	ExpiresAt         *time.Time   `json:"expires_at,omitempty"`
	Factors           []offerView  `json:"factors,omitempty"`
	Device            *deviceView  `json:"device,omitempty"`
	// Number is the number to type into the phone for a device approval push.
	Number int `json:"number,omitempty"`
	// Token and TokenType are set for desktop and mobile only; a web
	// session lives in an HttpOnly cookie that scripts cannot read.
	Token     string `json:"token,omitempty"`
	TokenType string `json:"token_type,omitempty"`
}

// loginProofs bounds replay of login proofs. It is apart from the cache
// of authenticated requests: anyone can mint login proofs with fresh keys.
type loginDeps struct {
	svc     *login.Service
	cookies edge.Cookies
	origin  string
	maxAge  time.Duration
	replay  *dpop.ReplayCache
	proxies []netip.Prefix
	now     func() time.Time
	// deviceCookieAge is how long a web device cookie lives.
	deviceCookieAge time.Duration
	// flowAge is how long a web flow cookie lives.
	flowAge time.Duration
	// approvals lists transaction-bound approvals to the phone beside
	// its pushes; nil for none.
	approvals *authz.Approvals
}

type offerView struct {
	Kind      string `json:"kind"`
	ID        string `json:"id,omitempty"`
	Name      string `json:"name,omitempty"`
	Assurance string `json:"assurance"`
	Weak      bool   `json:"weak,omitempty"`
}

type deviceView struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Interface  string    `json:"interface"`
	Status     string    `json:"status"`
	Current    bool      `json:"current,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
}

func handleLogin(d loginDeps) handlerFunc {
	return handlePasswordStep(d, func(r *http.Request, req login.Request) (*login.Result, error) { return d.svc.Login(r.Context(), req) })
}

// handlePasswordStep serves a route that takes a login's body and answers
// a login step: POST /v1/login, and the completion of a recovery.
func handlePasswordStep(d loginDeps, step func(*http.Request, login.Request) (*login.Result, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := decode[loginRequest](w, r)
		if err != nil {
			return err
		}
		req, err := d.request(r, body)
		if err != nil {
			return err
		}
		res, err := step(r, req)
		if err != nil {
			return err
		}
		return d.writeResult(w, res, "")
	}
}

// request is the login request of body, with the device's proof or cookie.
func (d loginDeps) request(r *http.Request, body loginRequest) (login.Request, error) {
	iface, _ := session.ParseDoor(body.Interface)
	req := login.Request{Username: body.Username, Password: body.Password, Door: iface, DeviceName: body.Device.Name,
		IP: edge.ClientAddr(r, d.proxies), UserAgent: r.UserAgent()}
	if iface.KeyBound() {
		jkt, err := d.loginProof(r)
		if err != nil {
			return req, err
		}
		req.JKT = jkt
	} else if c, err := r.Cookie(d.cookies.Device()); err == nil && len(c.Value) <= 128 {
		req.DeviceCookie = c.Value
	}
	return req, nil
}

// writeResult answers a login step: the session (a cookie for web, the
// token for desktop and mobile), or the flow that needs more proof.
func (d loginDeps) writeResult(w http.ResponseWriter, res *login.Result, state string) error {
	if res.FlowSecret != "" {
		d.cookies.Set(w, d.cookies.Flow(), res.FlowSecret, d.flowAge)
	}
	if res.DeviceCookie != "" {
		d.cookies.Set(w, d.cookies.Device(), res.DeviceCookie, d.deviceCookieAge)
	}
	out := loginResponse{Status: res.Status, EnrolmentRequired: res.EnrolmentRequired, State: state, Number: res.Number}
	if res.Flow != nil && res.Status != "authenticated" {
		out.Flow, out.ExpiresAt = res.Flow.ID, &res.Flow.ExpiresAt
	}
	for _, o := range res.Offers {
		out.Factors = append(out.Factors, offerView{Kind: string(o.Kind), ID: o.ID, Name: o.Name, Assurance: o.Assurance.String(), Weak: o.Weak})
	}
	if res.Device != nil {
		out.Device = &deviceView{ID: res.Device.ID, Name: res.Device.Name, Interface: res.Device.Interface, Status: string(res.Device.Status),
			CreatedAt: res.Device.CreatedAt, LastSeenAt: res.Device.LastSeenAt}
	}
	if res.Session != nil {
		v := viewSession(res.Session, res.Session.ID)
		out.Session = &v
		if res.Session.Door.KeyBound() {
			out.Token, out.TokenType = res.Token, "DPoP"
		} else {
			d.cookies.Set(w, d.cookies.Session(), res.Token, time.Until(res.Session.ExpiresAt))
			d.cookies.Clear(w, d.cookies.Flow())
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// loginProof checks the DPoP proof of a desktop or mobile login and
// returns the thumbprint of the key the session will be bound to.
func (d loginDeps) loginProof(r *http.Request) (string, error) {
	bad := func(err error) error {
		e := errBadRequest("Desktop and mobile logins need a valid DPoP proof of the device key (RFC 9449) in the DPoP header.")
		e.Err = err
		return e
	}
	proofs := r.Header.Values("DPoP")
	if len(proofs) != 1 {
		return "", bad(fmt.Errorf("%d DPoP headers", len(proofs)))
	}
	p, err := dpop.ParseProof(proofs[0])
	if err != nil {
		return "", bad(err)
	}
	now := d.now()
	if err := p.Check(dpop.Expect{Method: r.Method, URL: d.origin + r.URL.EscapedPath(), Now: now, MaxAge: d.maxAge}); err != nil {
		return "", bad(err)
	}
	if d.replay.Seen(p.JKT, p.ID, p.IssuedAt, now) {
		return "", bad(fmt.Errorf("replayed login proof"))
	}
	return p.JKT, nil
}
