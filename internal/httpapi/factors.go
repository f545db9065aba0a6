package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"gatehouse/internal/clienttext"
	"gatehouse/internal/edge"
	"gatehouse/internal/factor"
	"gatehouse/internal/factor/sms"
	"gatehouse/internal/login"
)

// factorRoutes registers the second-factor steps of a login, factor
// enrolment, step-up, devices and the phone authenticator's endpoints.
func factorRoutes(rt router, ld loginDeps, sd sessionDeps) {
	rt.handle("GET /v1/login/{flow}", handleFlowState(ld))
	rt.handle("POST /v1/login/{flow}/totp", handleFlowCode(ld, ld.svc.AnswerTOTP))
	rt.handle("POST /v1/login/{flow}/recovery", handleFlowCode(ld, ld.svc.AnswerRecovery))
	rt.handle("POST /v1/login/{flow}/sms/verify", handleFlowCode(ld, ld.svc.VerifySMS))
	rt.handle("POST /v1/login/{flow}/sms/send", handleFlowSMS(ld))
	rt.handle("POST /v1/login/{flow}/push", handleFlowPush(ld))
	rt.handle("POST /v1/login/{flow}/webauthn/begin", handleFlowWebAuthnBegin(ld))
	rt.handle("POST /v1/login/{flow}/webauthn/finish", handleFlowWebAuthnFinish(ld))

	rt.handle("GET /v1/factors", handleListFactors(sd))
	rt.handle("POST /v1/factors/{kind}", handleEnrol(sd, ld.svc))
	rt.handle("POST /v1/factors/{id}/confirm", handleConfirm(sd, ld.svc))
	rt.handle("DELETE /v1/factors/{id}", handleRemoveFactor(sd, ld.svc))
	rt.handle("POST /v1/stepup", handleStepUp(sd, ld))

	rt.handle("GET /v1/devices", handleListDevices(sd))
	rt.handle("POST /v1/devices/{id}/approve", handleApproveDevice(sd, ld.svc))
	rt.handle("POST /v1/devices/approve", handleApproveDeviceLink(ld.svc))
	rt.handle("DELETE /v1/devices/{id}", handleRevokeDevice(sd, ld.svc))

	rt.handle("POST /v1/push/register", handlePhoneRegister(ld.svc))
	rt.handle("GET /v1/push/pending", handlePhonePending(ld))
	rt.handle("POST /v1/push/respond", handlePhoneRespond(ld))
}

type factorView struct {
	ID          string     `json:"id"`
	Kind        string     `json:"kind"`
	Name        string     `json:"name"`
	Status      string     `json:"status"`
	Strength    string     `json:"strength"`
	Weak        bool       `json:"weak,omitempty"`
	DeviceBound bool       `json:"device_bound,omitempty"`
	Assurance   string     `json:"assurance"`
	Phone       string     `json:"phone,omitempty"`
	Flag        string     `json:"flag,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	LastUsedAt  *time.Time `json:"last_used_at,omitempty"`
}

func viewFactor(f *factor.Factor) factorView {
	v := factorView{ID: f.ID, Kind: string(f.Kind), Name: f.Name, Status: string(f.Status), Strength: f.Kind.Strength(), Weak: !f.Kind.Strong(),
		DeviceBound: f.DeviceBound, Assurance: f.Assurance().String(), Flag: f.Flag, CreatedAt: f.CreatedAt}
	if f.Phone != "" {
		v.Phone = sms.MaskPhone(f.Phone)
	}
	if !f.LastUsedAt.IsZero() {
		v.LastUsedAt = &f.LastUsedAt
	}
	return v
}

func handleListFactors(d sessionDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.recoveryActor(r)
		if err != nil {
			return err
		}
		fs, err := d.login.OwnFactors(r.Context(), a)
		if err != nil {
			return err
		}
		codes, err := d.login.OwnRecoveryCodes(r.Context(), a)
		if err != nil {
			return err
		}
		left := 0
		for _, c := range codes {
			if c.UsedAt.IsZero() {
				left++
			}
		}
		out := struct {
			Factors       []factorView `json:"factors"`
			RecoveryCodes int          `json:"recovery_codes_left"`
		}{Factors: []factorView{}, RecoveryCodes: left}
		for _, f := range fs {
			out.Factors = append(out.Factors, viewFactor(f))
		}
		return writeJSON(w, http.StatusOK, out)
	}
}

type enrolRequest struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

func (b enrolRequest) Valid(context.Context) []FieldError {
	var errs []FieldError
	if !clienttext.Printable(b.Name, 64) {
		errs = append(errs, FieldError{"name", "at most 64 printable characters"})
	}
	if len(b.Phone) > 32 {
		errs = append(errs, FieldError{"phone", "at most 32 characters"})
	}
	return errs
}

// decodeOptional decodes a JSON body when there is one.
func decodeOptional[T validator](w http.ResponseWriter, r *http.Request) (T, error) {
	var zero T
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		if fields := zero.Valid(r.Context()); len(fields) > 0 {
			return zero, errBadRequest("The request has invalid fields.", fields...)
		}
		return zero, nil
	}
	return decode[T](w, r)
}

type enrolResponse struct {
	Factor        *factorView     `json:"factor,omitempty"`
	Secret        string          `json:"secret,omitempty"`
	URI           string          `json:"otpauth_uri,omitempty"`
	Options       json.RawMessage `json:"options,omitempty"`
	Code          string          `json:"enrolment_code,omitempty"`
	SentTo        string          `json:"sent_to,omitempty"`
	RecoveryCodes []string        `json:"recovery_codes,omitempty"`
	Next          string          `json:"next,omitempty"`
}

func handleEnrol(d sessionDeps, svc *login.Service) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		s, err := d.auth.RecoverySession(r)
		if err != nil {
			return err
		}
		if r.PathValue("kind") == "recovery" {
			codes, err := svc.RegenerateRecovery(r.Context(), s)
			if err != nil {
				return err
			}
			return writeJSON(w, http.StatusCreated, enrolResponse{RecoveryCodes: codes,
				Next: "Store these codes somewhere safe: they are shown once, and each works once. The previous codes no longer work."})
		}
		kind, err := factor.ParseKind(r.PathValue("kind"))
		if err != nil {
			return errNotFound()
		}
		body, err := decodeOptional[enrolRequest](w, r)
		if err != nil {
			return err
		}
		e, err := svc.Enrol(r.Context(), s, kind, body.Name, body.Phone)
		if err != nil {
			return err
		}
		out := enrolResponse{Secret: e.Secret, URI: e.URI, Options: e.Options, Code: e.Code, SentTo: e.SentTo, RecoveryCodes: e.RecoveryCodes}
		switch kind {
		case factor.Push:
			out.Next = "Enter the enrolment code in the gatehouse authenticator on your phone (gatehouse authenticator enrol); it expires in 10 minutes."
			if len(e.RecoveryCodes) > 0 {
				out.Next += " Store the recovery codes somewhere safe, away from the phone: they are shown once, and each works once."
			}
		case factor.WebAuthn:
			out.Next = "Pass options to navigator.credentials.create, then POST the credential to /v1/factors/{id}/confirm as {\"response\": …}."
		default:
			out.Next = "Confirm with the first code: POST /v1/factors/{id}/confirm {\"code\": …}."
		}
		if e.Factor != nil && kind != factor.Push {
			v := viewFactor(e.Factor)
			out.Factor = &v
		}
		return writeJSON(w, http.StatusCreated, out)
	}
}

type confirmRequest struct {
	Code     string          `json:"code"`
	Response json.RawMessage `json:"response"`
}

func (b confirmRequest) Valid(context.Context) []FieldError {
	if (b.Code == "") == (len(b.Response) == 0) {
		return []FieldError{{"code", "send either code (TOTP, SMS) or response (WebAuthn)"}}
	}
	if len(b.Code) > 64 {
		return []FieldError{{"code", "at most 64 characters"}}
	}
	return nil
}

func handleConfirm(d sessionDeps, svc *login.Service) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		s, err := d.auth.RecoverySession(r)
		if err != nil {
			return err
		}
		body, err := decode[confirmRequest](w, r)
		if err != nil {
			return err
		}
		c, err := svc.Confirm(r.Context(), s, r.PathValue("id"), body.Code, body.Response)
		if err != nil {
			return err
		}
		v := viewFactor(c.Factor)
		out := map[string]any{"factor": v, "other_sessions": c.OtherSessions}
		if len(c.RecoveryCodes) > 0 {
			out["recovery_codes"] = c.RecoveryCodes
			out["next"] = "Store these recovery codes somewhere safe: they are shown once, and each works once."
		}
		if c.OtherSessions > 0 {
			out["end_other_sessions"] = "DELETE /v1/sessions?others=true"
		}
		return writeJSON(w, http.StatusOK, out)
	}
}

func handleRemoveFactor(d sessionDeps, svc *login.Service) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		s, err := d.auth.Session(r)
		if err != nil {
			return err
		}
		others, err := svc.RemoveFactor(r.Context(), s, r.PathValue("id"))
		if err != nil {
			return err
		}
		out := map[string]any{"status": "removed", "other_sessions": others}
		if others > 0 {
			out["end_other_sessions"] = "DELETE /v1/sessions?others=true"
		}
		return writeJSON(w, http.StatusOK, out)
	}
}

type stepUpRequest struct {
	Factor   string          `json:"factor"`
	Code     string          `json:"code"`
	Flow     string          `json:"flow"`
	Response json.RawMessage `json:"response"`
}

func (b stepUpRequest) Valid(context.Context) []FieldError {
	var errs []FieldError
	switch factor.Kind(b.Factor) {
	case factor.TOTP:
		if b.Code == "" || len(b.Code) > 64 {
			errs = append(errs, FieldError{"code", "required for totp; at most 64 characters"})
		}
	case factor.WebAuthn, factor.Push:
	default:
		errs = append(errs, FieldError{"factor", "one of totp, webauthn, push"})
	}
	if len(b.Flow) > 64 {
		errs = append(errs, FieldError{"flow", "at most 64 characters"})
	}
	return errs
}

func handleStepUp(d sessionDeps, ld loginDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		// A frozen user's session steps up to unfreeze.
		s, err := d.auth.FrozenSession(r)
		if err != nil {
			return err
		}
		body, err := decode[stepUpRequest](w, r)
		if err != nil {
			return err
		}
		res, err := ld.svc.Step(r.Context(), s, login.StepUp{Factor: factor.Kind(body.Factor), Code: body.Code, Flow: body.Flow, Response: body.Response,
			IP: edge.ClientAddr(r, d.proxies).String()})
		if err != nil {
			return err
		}
		out := map[string]any{"status": res.Status}
		if res.Flow != "" {
			out["flow"] = res.Flow
		}
		if res.Options != nil {
			out["options"] = res.Options
		}
		if res.Number != 0 {
			out["number"] = res.Number
		}
		if res.Status == "raised" {
			d.auth.Sessions.Forget(s.ID)
			out["session"] = viewSession(res.Session, res.Session.ID)
			out["assurance"] = res.Session.Assurance.String()
			if res.Session.Door.KeyBound() {
				out["token"], out["token_type"] = res.Token, "DPoP"
			} else {
				d.auth.Cookies.Set(w, d.auth.Cookies.Session(), res.Token, time.Until(res.Session.ExpiresAt))
			}
		}
		return writeJSON(w, http.StatusOK, out)
	}
}
