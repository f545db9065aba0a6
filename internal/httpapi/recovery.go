package httpapi

import (
	"context"
	"net/http"
	"time"

	"gatehouse/internal/clienttext"
	"gatehouse/internal/edge"
	"gatehouse/internal/login"
	"gatehouse/internal/recovery"
	"gatehouse/internal/session"
)

func recoveryRoutes(rt router, ld loginDeps, sd sessionDeps) {
	rt.handle("POST /v1/admin/recovery/{id}/shorten", handleShortenRecovery(ld, sd))
	rt.handle("POST /v1/recovery/factors", handleStartRecovery(ld))
	rt.handle("POST /v1/recovery/password", handleResetRequest(ld))
	rt.handle("GET /v1/recovery/{id}", handleGetRecovery(ld))
	rt.handle("POST /v1/recovery/{id}/cancel", handleCancelRecovery(ld))
	rt.handle("POST /v1/recovery/{id}/complete", handleCompleteRecovery(ld))
}

// startRecoveryRequest is the body of POST /v1/recovery/factors.
type startRecoveryRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (b startRecoveryRequest) Valid(context.Context) []FieldError {
	var errs []FieldError
	if b.Username == "" || !clienttext.Printable(b.Username, 256) {
		errs = append(errs, FieldError{"username", "required; at most 256 printable characters"})
	}
	if b.Password == "" || len(b.Password) > 1024 {
		errs = append(errs, FieldError{"password", "required; at most 1024 bytes"})
	}
	return errs
}

// recoveryStarted is the answer to POST /v1/recovery/factors: always 202
// with status "accepted"; the request and completes_at only when the
// password was right, which is what a login tells too.
type recoveryStarted struct {
	Status      string     `json:"status"`
	Request     string     `json:"request,omitempty"`
	CompletesAt *time.Time `json:"completes_at,omitempty"`
}

func handleStartRecovery(d loginDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := decode[startRecoveryRequest](w, r)
		if err != nil {
			return err
		}
		req, err := d.svc.StartRecovery(r.Context(), login.RecoveryStart{Username: body.Username, Password: body.Password,
			IP: edge.ClientAddr(r, d.proxies), Door: session.Web})
		if err != nil {
			return err
		}
		out := recoveryStarted{Status: "accepted"}
		if req != nil {
			out.Request, out.CompletesAt = req.ID, &req.CompletesAt
		}
		return writeJSON(w, http.StatusAccepted, out)
	}
}

// recoveryView is a recovery request as whoever holds its id sees it: no
// user, no address, no operator's reason.
type recoveryView struct {
	ID          string     `json:"id"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	CompletesAt time.Time  `json:"completes_at"`
	AccountAt   time.Time  `json:"account_at"`
	Ready       bool       `json:"ready"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	EndedBy     string     `json:"ended_by,omitempty"`
	Shortened   bool       `json:"shortened,omitempty"`
}

func viewRecovery(q *recovery.Request, now time.Time) recoveryView {
	v := recoveryView{ID: q.ID, Status: string(q.Status), CreatedAt: q.CreatedAt, CompletesAt: q.CompletesAt, AccountAt: q.AccountAt,
		Ready: q.Ready(now), EndedBy: q.EndedBy, Shortened: q.ShortenedBy != ""}
	if !q.EndedAt.IsZero() {
		v.EndedAt = &q.EndedAt
	}
	if v.EndedBy != "" && v.EndedBy != "link" && v.EndedBy != "sign_in" && v.EndedBy != "admin" && v.EndedBy != "request" {
		v.EndedBy = "user"
	}
	return v
}

func handleGetRecovery(d loginDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := d.svc.RecoveryByID(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, viewRecovery(q, d.now()))
	}
}

func handleCancelRecovery(d loginDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := d.svc.CancelRecovery(r.Context(), r.PathValue("id"), "request")
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, viewRecovery(q, d.now()))
	}
}

func handleCompleteRecovery(d loginDeps) handlerFunc {
	return handlePasswordStep(d, func(r *http.Request, req login.Request) (*login.Result, error) {
		return d.svc.CompleteRecovery(r.Context(), r.PathValue("id"), req)
	})
}

// shortenRequest is the body of POST /v1/admin/recovery/{id}/shorten.
type shortenRequest struct {
	Reason string `json:"reason"`
}

func (b shortenRequest) Valid(context.Context) []FieldError {
	if b.Reason == "" || !clienttext.Printable(b.Reason, 200) {
		return []FieldError{{"reason", "required; at most 200 printable characters"}}
	}
	return nil
}

func handleShortenRecovery(d loginDeps, sd sessionDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		s, err := sd.auth.Session(r)
		if err != nil {
			return err
		}
		body, err := decode[shortenRequest](w, r)
		if err != nil {
			return err
		}
		q, done, err := d.svc.ShortenRecovery(r.Context(), s, r.PathValue("id"), body.Reason)
		if err != nil {
			return err
		}
		out := struct {
			recoveryView
			Shortening string `json:"shortening"`
		}{viewRecovery(q, d.now()), "awaiting_second_admin"}
		if done {
			out.Shortening = "done"
		}
		return writeJSON(w, http.StatusOK, out)
	}
}

// resetRequest is the body of POST /v1/recovery/password.
type resetRequest struct {
	Username string `json:"username"`
}

func (b resetRequest) Valid(context.Context) []FieldError {
	if b.Username == "" || !clienttext.Printable(b.Username, 256) {
		return []FieldError{{"username", "required; at most 256 printable characters"}}
	}
	return nil
}

func handleResetRequest(d loginDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := decode[resetRequest](w, r)
		if err != nil {
			return err
		}
		if err := d.svc.RequestPasswordReset(r.Context(), body.Username, edge.ClientAddr(r, d.proxies)); err != nil {
			return err
		}
		return writeJSON(w, http.StatusAccepted, recoveryStarted{Status: "accepted"})
	}
}
