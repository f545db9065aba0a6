package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"unicode"

	"gatehouse/internal/account"
	"gatehouse/internal/edge"
	"gatehouse/internal/posture"
	"gatehouse/internal/posturegate"
	"gatehouse/internal/session"
)

// postureDeps is what the posture and permission handlers share.
type postureDeps struct {
	auth    *Authenticator
	posture *posturegate.Service
	proxies []netip.Prefix
}

// actor is the session behind a request, as the posture service sees it.
func (d postureDeps) actor(r *http.Request) (session.Actor, error) {
	s, err := d.auth.Session(r)
	if err != nil {
		return session.Actor{}, err
	}
	return session.Actor{Session: s, IP: edge.ClientAddr(r, d.proxies).String()}, nil
}

// postureRoutes registers the posture reports and the permission gate.
func postureRoutes(rt router) {
	d := rt.d
	if d.Posture == nil {
		return
	}
	pd := postureDeps{auth: d.Auth, posture: d.Posture, proxies: d.Proxies}
	rt.handle("GET /v1/posture", handlePosture(pd))
	rt.handle("GET /v1/admin/posture", handleAdminSummary(pd))
	rt.handle("GET /v1/admin/posture/{user}", handleAdminPosture(pd))
	rt.handle("PATCH /v1/accounts/{account}/permissions", handlePermissions(pd))
}

// writeReport answers a report in the JSON of [posture.WriteJSON].
func writeReport(w http.ResponseWriter, r posture.Report) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return posture.WriteJSON(w, r)
}

func handlePosture(d postureDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.actor(r)
		if err != nil {
			return err
		}
		rep, err := d.posture.Own(r.Context(), a)
		if err != nil {
			return err
		}
		return writeReport(w, rep)
	}
}

func handleAdminSummary(d postureDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.actor(r)
		if err != nil {
			return err
		}
		o, err := d.posture.Summary(r.Context(), a)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, o)
	}
}

func handleAdminPosture(d postureDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.actor(r)
		if err != nil {
			return err
		}
		rep, err := d.posture.ReportOf(r.Context(), a, r.PathValue("user"))
		if err != nil {
			return err
		}
		return writeReport(w, rep)
	}
}

// permissionsRequest is the body of PATCH /v1/accounts/{account}/permissions:
// the permissions to change (absent ones stay as they are) and, for
// admins only, the owner acted for and the reason to override the gate.
type permissionsRequest struct {
	Options     *bool `json:"options"`
	Margin      *bool `json:"margin"`
	Futures     *bool `json:"futures"`
	Withdrawals *bool `json:"withdrawals"`
	// User names the owner an admin acts for: the gate judges that
	// owner's posture. Absent, it is the caller.
	User string `json:"user"`
	// OverrideReason lets an admin turn permissions on past the gate; it
	// is written to the audit trail.
	OverrideReason *string `json:"override_reason"`
}

// maxReason bounds an override reason: a sentence or a ticket reference.
const maxReason = 500

func (b permissionsRequest) Valid(context.Context) []FieldError {
	var errs []FieldError
	if b.Options == nil && b.Margin == nil && b.Futures == nil && b.Withdrawals == nil {
		errs = append(errs, FieldError{"options", "set at least one of options, margin, futures and withdrawals"})
	}
	if len(b.User) > 64 {
		errs = append(errs, FieldError{"user", "a username, at most 64 characters"})
	}
	if b.OverrideReason != nil {
		reason := *b.OverrideReason
		if strings.TrimSpace(reason) == "" || len(reason) > maxReason || strings.ContainsFunc(reason, unicode.IsControl) {
			errs = append(errs, FieldError{"override_reason", fmt.Sprintf("1 to %d printable characters saying why", maxReason)})
		}
	}
	return errs
}

// permissionsView answers a permission change.
type permissionsView struct {
	Account     string              `json:"account"`
	Permissions account.Permissions `json:"permissions"`
	Changed     bool                `json:"changed"`
	// Overridden are the ids of the high findings an admin's override
	// passed over.
	Overridden []string `json:"overridden,omitempty"`
}

// gateFinding is a finding as a gate refusal lists it.
type gateFinding struct {
	ID          string              `json:"id"`
	FailureMode posture.FailureMode `json:"failure_mode"`
	Summary     string              `json:"summary"`
	NextStep    string              `json:"next_step"`
}

func handlePermissions(d postureDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.actor(r)
		if err != nil {
			return err
		}
		body, err := decode[permissionsRequest](w, r)
		if err != nil {
			return err
		}
		req := posturegate.PermissionRequest{Account: r.PathValue("account"), Options: body.Options, Margin: body.Margin, Futures: body.Futures,
			Withdrawals: body.Withdrawals, User: body.User}
		if body.OverrideReason != nil {
			req.Override = *body.OverrideReason
		}
		// A refusal by the gate is 409 (see answers): allowed, but the
		// posture must change first.
		res, err := d.posture.SetPermissions(r.Context(), a, req)
		if err != nil {
			return err
		}
		out := permissionsView{Account: req.Account, Permissions: res.After, Changed: res.Changed()}
		for _, f := range res.Overridden {
			out.Overridden = append(out.Overridden, f.ID)
		}
		return writeJSON(w, http.StatusOK, out)
	}
}
