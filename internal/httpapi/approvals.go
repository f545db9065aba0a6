package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/approval"
	"gatehouse/internal/authz"
	"gatehouse/internal/edge"
)

// approvalRoutes registers transaction-bound approvals.
func approvalRoutes(rt router, ld loginDeps) {
	d := rt.d
	if d.Approvals == nil {
		return
	}
	ad := approvalDeps{auth: d.Auth, keys: d.Keys, appr: d.Approvals, proxies: d.Proxies, login: ld, now: d.Now}
	rt.handle("POST /v1/approvals", handleCreateApproval(ad))
	rt.handle("GET /v1/approvals/{id}", handleGetApproval(ad))
	rt.handle("POST /v1/approvals/answer", handleApprovalAnswer(ad))
	rt.handle("POST /v1/approvals/{id}/webauthn/begin", handleApprovalKeyBegin(ad))
	rt.handle("POST /v1/approvals/{id}/webauthn/finish", handleApprovalKeyFinish(ad))
}

type approvalDeps struct {
	auth    *Authenticator
	keys    *authz.Keys
	appr    *authz.Approvals
	proxies []netip.Prefix
	login   loginDeps
	now     func() time.Time
}

// createApprovalRequest is the body of POST /v1/approvals. Details stay
// raw: they are canonicalised, not decoded into a type.
type createApprovalRequest struct {
	Account string          `json:"account"`
	Kind    string          `json:"kind"`
	Details json.RawMessage `json:"details"`
}

func (b createApprovalRequest) Valid(context.Context) []FieldError {
	var errs []FieldError
	if b.Account == "" || len(b.Account) > 64 {
		errs = append(errs, FieldError{"account", "the id of an account you trade on"})
	}
	if _, err := approval.ParseKind(b.Kind); err != nil {
		errs = append(errs, FieldError{"kind", "order, transfer, bank_account_change, live_key or permission"})
	}
	if len(b.Details) == 0 {
		errs = append(errs, FieldError{"details", "a JSON object describing the transaction"})
	}
	return errs
}

// approvalView is an approval as its requester sees it.
type approvalView struct {
	ID        string          `json:"id"`
	Account   string          `json:"account"`
	Kind      approval.Kind   `json:"kind"`
	Status    approval.Status `json:"status"`
	Hash      string          `json:"hash"`
	Details   json.RawMessage `json:"details"`
	Words     []string        `json:"words"`
	CreatedAt time.Time       `json:"created_at"`
	ExpiresAt time.Time       `json:"expires_at"`
	// Approve lists the ways the owner can approve: the phone
	// authenticator, and the portal page for a security key or passkey.
	Approve   []approveWay `json:"approve,omitempty"`
	DecidedAt *time.Time   `json:"decided_at,omitempty"`
	Factor    string       `json:"factor,omitempty"`
	// Token is the approval token, while approved and not expired.
	Token          string     `json:"token,omitempty"`
	TokenExpiresAt *time.Time `json:"token_expires_at,omitempty"`
	// Freeze, on a denied approval, is where the owner freezes the
	// account: someone asked for a transaction in their name.
	Freeze string `json:"freeze,omitempty"`
}

type approveWay struct {
	Method string `json:"method"` // "phone" or "security_key"
	URL    string `json:"url,omitempty"`
}

func viewApproval(a *approval.Approval, tok string, tokenLife time.Duration, now time.Time) approvalView {
	v := approvalView{ID: a.ID, Account: a.AccountID, Kind: a.Kind, Status: a.State(now), Hash: a.Hash, Details: a.Details,
		Words: approval.Words(a.Kind, a.Details), CreatedAt: a.CreatedAt, ExpiresAt: a.ExpiresAt, Factor: a.FactorKind}
	if v.Status == approval.Pending {
		v.Approve = []approveWay{{Method: "phone"}, {Method: "security_key", URL: "/approvals/" + a.ID}}
	}
	if v.Status == approval.Denied {
		v.Freeze = "/v1/freeze"
	}
	if !a.DecidedAt.IsZero() {
		t := a.DecidedAt
		v.DecidedAt = &t
	}
	if tok != "" {
		v.Token = tok
		exp := a.TokenExpiry(tokenLife)
		v.TokenExpiresAt = &exp
	}
	return v
}

// requester is the session or API key behind an approval request: a
// Bearer credential that is an API key is resolved as forward-auth
// resolves it; anything else must be a session.
func (d approvalDeps) requester(r *http.Request) (authz.Requester, error) {
	ip := edge.ClientAddr(r, d.proxies)
	if scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "bearer") && d.keys != nil {
		p, err := apikey.Parse(strings.TrimSpace(cred))
		if err != nil {
			return authz.Requester{}, &Error{Problem: errUnauthenticated().Problem, Err: err}
		}
		k, _, err := d.keys.Resolve(r.Context(), p, ip)
		if err != nil {
			return authz.Requester{}, &Error{Problem: errUnauthenticated().Problem, Err: err}
		}
		return authz.Requester{Key: k, IP: ip.String()}, nil
	}
	s, err := d.auth.Session(r)
	if err != nil {
		return authz.Requester{}, err
	}
	return authz.Requester{Session: s, IP: ip.String()}, nil
}

func handleCreateApproval(d approvalDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		req, err := d.requester(r)
		if err != nil {
			return err
		}
		body, err := decode[createApprovalRequest](w, r)
		if err != nil {
			return err
		}
		kind, _ := approval.ParseKind(body.Kind)
		a, err := d.appr.Create(r.Context(), req, body.Account, kind, body.Details)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusCreated, viewApproval(a, "", 0, a.CreatedAt))
	}
}

func handleGetApproval(d approvalDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		req, err := d.requester(r)
		if err != nil {
			return err
		}
		a, tok, err := d.appr.Get(r.Context(), req, r.PathValue("id"))
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		return writeJSON(w, http.StatusOK, viewApproval(a, tok, d.appr.TokenLifetime(), d.now()))
	}
}

// handleApprovalAnswer takes the phone's signed answer, proved by a DPoP
// proof of its device key as /v1/push/respond is.
func handleApprovalAnswer(d approvalDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		jkt, err := d.login.phoneKey(r)
		if err != nil {
			return err
		}
		body, err := readBody(w, r)
		if err != nil {
			return err
		}
		status, err := d.appr.PhoneAnswer(r.Context(), jkt, body)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, map[string]any{"status": status})
	}
}

// keyFinishRequest is the body of …/webauthn/finish: the assertion, kept
// raw for the relying party to parse.
type keyFinishRequest struct {
	Response json.RawMessage `json:"response"`
}

func (b keyFinishRequest) Valid(context.Context) []FieldError {
	if len(b.Response) == 0 {
		return []FieldError{{"response", "the PublicKeyCredential navigator.credentials.get returned, as JSON"}}
	}
	return nil
}

// handleApprovalKeyBegin starts a security-key approval, for a session of
// the approval's owner only: the options' challenge commits to the hash.
func handleApprovalKeyBegin(d approvalDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		s, err := d.auth.Session(r)
		if err != nil {
			return err
		}
		options, err := d.appr.BeginKey(r.Context(), s, r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, map[string]any{"options": json.RawMessage(options)})
	}
}

func handleApprovalKeyFinish(d approvalDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		s, err := d.auth.Session(r)
		if err != nil {
			return err
		}
		body, err := decode[keyFinishRequest](w, r)
		if err != nil {
			return err
		}
		status, err := d.appr.FinishKey(r.Context(), s, r.PathValue("id"), body.Response)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, map[string]any{"status": status})
	}
}
