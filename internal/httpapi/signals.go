package httpapi

import (
	"context"
	"net/http"

	"gatehouse/internal/clienttext"
	"gatehouse/internal/playbook"
	"gatehouse/internal/signal"
	"gatehouse/internal/user"
)

// signalRoutes registers the administrators' security signals: the same
// records, dry runs and applications as `gatehouse signal`, for an
// administrator's session with AAL3 proven within the step-up window.
func signalRoutes(rt router, sd sessionDeps) {
	if rt.d.Signals == nil {
		return
	}
	d := signalDeps{sd: sd, svc: rt.d.Signals}
	rt.handle("POST /v1/admin/signals", d.admin(d.add))
	rt.handle("GET /v1/admin/signals", d.admin(d.list))
	rt.handle("GET /v1/admin/signals/{id}", d.admin(d.get))
	rt.handle("POST /v1/admin/signals/{id}/apply", d.admin(d.apply))
	rt.handle("POST /v1/admin/signals/{id}/close", d.admin(d.close))
}

type signalDeps struct {
	sd  sessionDeps
	svc *playbook.Service
}

// admin runs h for an administrator's fresh AAL3 session only, with the
// administrator as the actor of what it does.
func (d signalDeps) admin(h func(w http.ResponseWriter, r *http.Request, by string) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		s, err := d.sd.auth.Session(r)
		if err != nil {
			return err
		}
		u, err := d.sd.login.Admin(r.Context(), s)
		if err != nil {
			return err
		}
		return h(w, r, u.ID)
	}
}

// signalRequest is the body of POST /v1/admin/signals: the flags of
// `gatehouse signal add`.
type signalRequest struct {
	Title    string   `json:"title"`
	Kind     string   `json:"kind"`
	Severity string   `json:"severity"`
	Doors    []string `json:"doors"`
	Profiles []string `json:"profiles"`
	Link     string   `json:"link"`
	Steps    []string `json:"steps"`
}

func (b signalRequest) Valid(context.Context) []FieldError {
	_, errs := b.signal()
	return errs
}

// signal is the signal b describes, or what is wrong with it.
func (b signalRequest) signal() (*signal.Signal, []FieldError) {
	var errs []FieldError
	if !clienttext.Printable(b.Title, 200) {
		errs = append(errs, FieldError{"title", "1 to 200 printable characters on one line"})
	}
	if len(b.Doors) > 4 || len(b.Profiles) > 8 || len(b.Steps) > 20 {
		errs = append(errs, FieldError{"steps", "at most 4 doors, 8 profiles and 20 steps"})
		return nil, errs
	}
	sig := &signal.Signal{Title: b.Title, Kind: signal.Kind(b.Kind), Severity: signal.Severity(b.Severity), Doors: b.Doors, Link: b.Link}
	for _, p := range b.Profiles {
		sig.Profiles = append(sig.Profiles, user.Profile(p))
	}
	for _, s := range b.Steps {
		st, err := signal.ParseStep(s)
		if err != nil || !clienttext.Printable(s, 300) {
			errs = append(errs, FieldError{"steps", "each one of end-sessions[:DATE], reauth:aal2|aal3, rotate-keys:Nd, require-phishing-resistant:DATE, forbid-sms, route-aal:HOST/PATH=N"})
			return nil, errs
		}
		sig.Steps = append(sig.Steps, st)
	}
	if err := sig.Validate(); err != nil {
		errs = append(errs, FieldError{"signal", err.Error()})
	}
	return sig, errs
}

func (d signalDeps) add(w http.ResponseWriter, r *http.Request, by string) error {
	body, err := decode[signalRequest](w, r)
	if err != nil {
		return err
	}
	parsed, _ := body.signal() // valid: decode checked it
	sig, err := d.svc.Add(r.Context(), parsed, by)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, playbook.JSON(sig))
}

func (d signalDeps) list(w http.ResponseWriter, r *http.Request, _ string) error {
	list, err := d.svc.List(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		Signals []playbook.SignalJSON `json:"signals"`
	}{make([]playbook.SignalJSON, len(list))}
	for i, s := range list {
		out.Signals[i] = playbook.JSON(s)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (d signalDeps) get(w http.ResponseWriter, r *http.Request, _ string) error {
	sig, err := d.svc.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, playbook.JSON(sig))
}

// applyRequest is the body of POST /v1/admin/signals/{id}/apply.
type applyRequest struct {
	DryRun bool `json:"dry_run"`
}

func (applyRequest) Valid(context.Context) []FieldError { return nil }

func (d signalDeps) apply(w http.ResponseWriter, r *http.Request, by string) error {
	body, err := decode[applyRequest](w, r)
	if err != nil {
		return err
	}
	var p *playbook.Plan
	if body.DryRun {
		p, err = d.svc.DryRun(r.Context(), r.PathValue("id"))
	} else {
		p, err = d.svc.Apply(r.Context(), r.PathValue("id"), by)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p.JSON(body.DryRun))
}

func (d signalDeps) close(w http.ResponseWriter, r *http.Request, by string) error {
	sig, err := d.svc.Close(r.Context(), r.PathValue("id"), by)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, playbook.JSON(sig))
}
