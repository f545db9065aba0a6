package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"
	"unicode"

	"gatehouse/internal/account"
	"gatehouse/internal/assess"
	"gatehouse/internal/edge"
	"gatehouse/internal/posture"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
)

// postureDeps is what the posture and permission handlers share.
type postureDeps struct {
	auth     *Authenticator
	store    store.Store
	platform assess.Platform
	// admins are the normalised usernames of the platform team.
	admins  map[string]bool
	proxies []netip.Prefix
	// window is how recent the proof behind a permission change must be.
	window time.Duration
	now    func() time.Time
}

// postureRoutes registers the posture reports and the permission gate.
func postureRoutes(rt router) {
	d := rt.d
	pd := postureDeps{auth: d.Auth, store: d.Store, platform: assess.Platform{Entities: d.Entities, SignInNotices: d.SignInNotices, FactorRule: d.FactorRule}, admins: map[string]bool{}, proxies: d.Proxies,
		window: session.DefaultStepUpWindow, now: d.Now}
	for _, a := range d.Admins {
		pd.admins[user.NormalizeUsername(a)] = true
	}
	if d.Login != nil && d.Login.Factors.StepUpWindow > 0 {
		pd.window = d.Login.Factors.StepUpWindow // the same freshness as factor changes
	}
	if pd.now == nil {
		pd.now = time.Now
	}
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
		s, err := d.auth.Session(r)
		if err != nil {
			return err
		}
		rep, err := assess.ForUser(r.Context(), d.store, s.UserID, d.platform, d.now().UTC())
		if err != nil {
			return err
		}
		return writeReport(w, rep)
	}
}

func forbidden(detail string) *Error {
	return problem(http.StatusForbidden, "forbidden", "Forbidden", detail)
}

// isAdmin reports whether the session's user is listed in admins. The
// session's assurance is not considered here.
func (d postureDeps) isAdmin(ctx context.Context, s *session.Session) (bool, error) {
	if len(d.admins) == 0 {
		return false, nil
	}
	u, err := d.store.UserByID(ctx, s.UserID)
	if err != nil {
		return false, err
	}
	return d.admins[user.NormalizeUsername(u.Username)], nil
}

// admin returns the request's session if it is an admin's holding AAL2
// or more: 403 for anyone else, and a step-up for an admin's AAL1
// session.
func (d postureDeps) admin(r *http.Request) (*session.Session, error) {
	s, err := d.auth.Session(r)
	if err != nil {
		return nil, err
	}
	ok, err := d.isAdmin(r.Context(), s)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, forbidden("This needs an administrator.")
	}
	if err := s.RequireLevel(session.AAL2, d.window); err != nil {
		return nil, err
	}
	return s, nil
}

func handleAdminSummary(d postureDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := d.admin(r); err != nil {
			return err
		}
		o, err := assess.Summary(r.Context(), d.store, d.platform, d.now().UTC())
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, o)
	}
}

func handleAdminPosture(d postureDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := d.admin(r); err != nil {
			return err
		}
		u, err := d.lookupUser(r.Context(), r.PathValue("user"))
		if err != nil {
			return err
		}
		rep, err := assess.ForUser(r.Context(), d.store, u.ID, d.platform, d.now().UTC())
		if err != nil {
			return err
		}
		return writeReport(w, rep)
	}
}

// lookupUser finds a user by username, or else by id.
func (d postureDeps) lookupUser(ctx context.Context, ref string) (*user.User, error) {
	u, err := d.store.UserByUsername(ctx, user.NormalizeUsername(ref))
	if errors.Is(err, store.ErrNotFound) {
		u, err = d.store.UserByID(ctx, ref)
	}
	return u, err
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
		s, err := d.auth.Session(r)
		if err != nil {
			return err
		}
		body, err := decode[permissionsRequest](w, r)
		if err != nil {
			return err
		}
		ctx := r.Context()
		id := r.PathValue("account")
		if !account.ValidID(id) {
			return errNotFound()
		}
		admin, err := d.isAdmin(ctx, s)
		if err != nil {
			return err
		}
		admin = admin && s.Assurance >= session.AAL2
		m, err := d.store.Membership(ctx, s.UserID, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		owner := m != nil && m.Role == account.Owner
		switch {
		case admin:
		case m == nil:
			return errNotFound() // an account the caller cannot see does not exist
		case !owner:
			return forbidden("Changing the permissions of an account needs the owner role.")
		}
		if body.User != "" && !admin {
			return forbidden("Only an administrator may act for another user.")
		}
		if body.OverrideReason != nil && !admin {
			return forbidden("Only an administrator may override the posture gate.")
		}
		now := d.now().UTC()
		if err := s.Require(session.AAL2, d.window, now); err != nil {
			return err
		}
		c := assess.Change{Account: id, Options: body.Options, Margin: body.Margin, Futures: body.Futures, Withdrawals: body.Withdrawals,
			Actor: s.UserID, Interface: string(s.Interface), IP: edge.ClientAddr(r, d.proxies).String()}
		switch {
		case body.User != "":
			u, err := d.store.UserByUsername(ctx, user.NormalizeUsername(body.User))
			if errors.Is(err, store.ErrNotFound) {
				return errBadRequest("", FieldError{"user", "no such user"})
			}
			if err != nil {
				return err
			}
			c.For = u.ID
		case owner:
			c.For = s.UserID
		}
		if body.OverrideReason != nil {
			c.Override = strings.TrimSpace(*body.OverrideReason)
		}
		res, err := assess.ChangePermissions(ctx, d.store, c, d.platform, now)
		switch {
		case errors.Is(err, assess.ErrNotOwner) && body.User != "":
			e := errBadRequest("", FieldError{"user", "not an owner of the account"})
			e.Err = err
			return e
		case errors.Is(err, assess.ErrNotOwner):
			e := forbidden("Changing the permissions of an account needs the owner role.")
			e.Err = err
			return e
		case err != nil:
			return err // a refusal by the gate is 409 (see answers): allowed, but the posture must change first
		}
		out := permissionsView{Account: id, Permissions: res.After, Changed: res.Changed()}
		for _, f := range res.Overridden {
			out.Overridden = append(out.Overridden, f.ID)
		}
		return writeJSON(w, http.StatusOK, out)
	}
}
