package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/authz"
	"gatehouse/internal/edge"
)

// keyDeps is what the API key handlers share.
type keyDeps struct {
	auth    *Authenticator
	keys    *authz.Keys
	proxies []netip.Prefix
	now     func() time.Time
}

// createKeyRequest is the body of POST /v1/accounts/{account}/keys.
type createKeyRequest struct {
	Name        string   `json:"name"`
	Environment string   `json:"environment"`
	Scopes      []string `json:"scopes"`
	AllowIPs    []string `json:"allow_ips"`
	// ExpiresIn is the wanted lifetime in seconds; 0 or absent means the
	// configured default.
	ExpiresIn int64 `json:"expires_in"`
	// Approval "required" makes the key's transfers wait for the owner's
	// approval.
	Approval string `json:"approval"`
	// HoldOnNewNetwork makes a live trading key wait, on a network it has
	// not been used from, for the owner's approval of that network.
	HoldOnNewNetwork bool `json:"hold_on_new_network"`
}

// maxExpiresIn keeps the seconds from overflowing a time.Duration; the
// configured maximum is far below it.
const maxExpiresIn = 100 * 365 * 24 * 3600

// Valid checks what JSON cannot; the rules of keys are apikey's, applied
// by the service so that the command line gets the same.
func (b createKeyRequest) Valid(context.Context) []FieldError {
	var errs []FieldError
	if b.ExpiresIn < 0 || b.ExpiresIn > maxExpiresIn {
		errs = append(errs, FieldError{"expires_in", "seconds, from 0 (the default) to the configured maximum"})
	}
	return errs
}

// rotateKeyRequest is the optional body of …/rotate.
type rotateKeyRequest struct {
	// Overlap is how long, in seconds, the old key keeps working; absent
	// means the configured overlap, which is also the most allowed.
	Overlap *int64 `json:"overlap"`
}

func (b rotateKeyRequest) Valid(context.Context) []FieldError {
	if b.Overlap != nil && (*b.Overlap < 0 || *b.Overlap > maxExpiresIn) {
		return []FieldError{{"overlap", "seconds, from 0 to the configured rotation overlap"}}
	}
	return nil
}

// keyView is a key as its account's members see it. It never holds the
// secret, nor its hash.
type keyView struct {
	ID            string     `json:"id"`
	Account       string     `json:"account"`
	Name          string     `json:"name"`
	Environment   string     `json:"environment"`
	Scopes        []string   `json:"scopes"`
	AllowIPs      []string   `json:"allow_ips"`
	Status        string     `json:"status"`
	CreatedBy     string     `json:"created_by"`
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     time.Time  `json:"expires_at"`
	LastUsedAt    *time.Time `json:"last_used_at,omitempty"`
	LastUsedIP    string     `json:"last_used_ip,omitempty"`
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
	RevokeReason  string     `json:"revoke_reason,omitempty"`
	SuccessorID   string     `json:"successor_id,omitempty"`
	PredecessorID string     `json:"predecessor_id,omitempty"`
	OverlapEndsAt *time.Time `json:"overlap_ends_at,omitempty"`
	// SessionID is the session that minted the key; absent for an
	// operator's keys and keys older than the record.
	SessionID string `json:"session_id,omitempty"`
	// Approval is "required" for a key whose transfers wait for the
	// owner's approval.
	Approval string `json:"approval,omitempty"`
	// HoldOnNewNetwork: the key waits on new networks for the owner.
	HoldOnNewNetwork bool `json:"hold_on_new_network"`
}

// issuedView is the answer to create and rotate: the only time the
// secret is shown.
type issuedView struct {
	keyView
	Secret string `json:"secret"`
	// ExpiryShortened says the key lives less than asked: it can trade
	// live without an IP allowlist.
	ExpiryShortened bool `json:"expiry_shortened,omitempty"`
}

func viewKey(k *apikey.Key, now time.Time) keyView {
	v := keyView{ID: k.ID, Account: k.AccountID, Name: k.Name, Environment: string(k.Environment), Scopes: k.Scopes.Names(),
		AllowIPs: []string{}, Status: authz.KeyStatus(k, now), CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt,
		RevokeReason: string(k.RevokeReason), SuccessorID: k.SuccessorID, PredecessorID: k.PredecessorID, SessionID: k.SessionID}
	if k.ApprovalRequired {
		v.Approval = "required"
	}
	v.HoldOnNewNetwork = k.HoldOnNewNetwork
	for _, p := range k.AllowIPs {
		v.AllowIPs = append(v.AllowIPs, p.String())
	}
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	v.LastUsedAt, v.RevokedAt, v.OverlapEndsAt = opt(k.LastUsedAt), opt(k.RevokedAt), opt(k.OverlapEndsAt)
	if k.LastUsedIP.IsValid() {
		v.LastUsedIP = k.LastUsedIP.String()
	}
	return v
}

// actor is the session behind a key request.
func (d keyDeps) actor(r *http.Request) (authz.Actor, error) {
	s, err := d.auth.Session(r)
	if err != nil {
		return authz.Actor{}, err
	}
	return authz.Actor{Session: s, IP: edge.ClientAddr(r, d.proxies).String()}, nil
}

func handleListKeys(d keyDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.actor(r)
		if err != nil {
			return err
		}
		keys, err := d.keys.List(r.Context(), a, r.PathValue("account"))
		if err != nil {
			return err
		}
		now := d.now()
		out := struct {
			Keys []keyView `json:"keys"`
		}{Keys: []keyView{}}
		for _, k := range keys {
			out.Keys = append(out.Keys, viewKey(k, now))
		}
		return writeJSON(w, http.StatusOK, out)
	}
}

func handleCreateKey(d keyDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.actor(r)
		if err != nil {
			return err
		}
		body, err := decode[createKeyRequest](w, r)
		if err != nil {
			return err
		}
		req := apikey.Request{Name: body.Name, Environment: body.Environment, Scopes: body.Scopes, AllowIPs: body.AllowIPs,
			ExpiresIn: time.Duration(body.ExpiresIn) * time.Second, Approval: body.Approval,
			HoldOnNewNetwork: body.HoldOnNewNetwork}
		iss, err := d.keys.Create(r.Context(), a, r.PathValue("account"), req)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusCreated, issuedView{keyView: viewKey(&iss.Key, iss.Key.CreatedAt), Secret: iss.Secret, ExpiryShortened: iss.Shortened})
	}
}

func handleRotateKey(d keyDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.actor(r)
		if err != nil {
			return err
		}
		var overlap *time.Duration
		if r.ContentLength != 0 {
			body, err := decode[rotateKeyRequest](w, r)
			if err != nil {
				return err
			}
			if body.Overlap != nil {
				o := time.Duration(*body.Overlap) * time.Second
				overlap = &o
			}
		}
		iss, err := d.keys.Rotate(r.Context(), a, r.PathValue("account"), r.PathValue("id"), overlap)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusCreated, issuedView{keyView: viewKey(&iss.Key, iss.Key.CreatedAt), Secret: iss.Secret})
	}
}

func handleRevokeKey(d keyDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.actor(r)
		if err != nil {
			return err
		}
		if _, err := d.keys.Revoke(r.Context(), a, r.PathValue("account"), r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func keyStateDetail(err error) string {
	switch {
	case errors.Is(err, apikey.ErrRevoked):
		return "The key is revoked."
	case errors.Is(err, apikey.ErrRotated):
		return "The key has been rotated already; rotate its successor."
	case errors.Is(err, apikey.ErrExpired):
		return "The key has expired; create a new one."
	}
	return "The key cannot change in its present state."
}
