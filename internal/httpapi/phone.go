package httpapi

import (
	"errors"
	"io"
	"net/http"

	"gatehouse/internal/fault"
	"gatehouse/internal/login"
)

// readBody reads a small raw body for the phone's signed messages, which
// their own decoders check strictly.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<10))
	var big *http.MaxBytesError
	switch {
	case errors.As(err, &big):
		return nil, kindError(fault.TooLarge, err)
	case err != nil:
		return nil, errBadRequest("The body is cut short.")
	}
	return b, nil
}

func handlePhoneRegister(svc *login.Service) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := readBody(w, r)
		if err != nil {
			return err
		}
		f, err := svc.RegisterPhone(r.Context(), body)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusCreated, map[string]any{"factor": viewFactor(f)})
	}
}

// phoneKey checks the DPoP proof of the phone's key on a push request.
func (d loginDeps) phoneKey(r *http.Request) (string, error) {
	if len(r.Header.Values("DPoP")) != 1 {
		return "", errUnauthenticated()
	}
	jkt, err := d.loginProof(r)
	if err != nil {
		return "", &Error{Problem: errUnauthenticated().Problem, Err: err}
	}
	return jkt, nil
}

func handlePhonePending(d loginDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		jkt, err := d.phoneKey(r)
		if err != nil {
			return err
		}
		ps, err := d.svc.PhonePending(r.Context(), jkt)
		if errors.Is(err, login.ErrFactorUnavailable) {
			return errUnauthenticated()
		}
		if err != nil {
			return err
		}
		ns, err := d.svc.PhoneNotices(r.Context(), jkt)
		if err != nil {
			return err
		}
		// Notices wait beside login pushes: the phone shows them and
		// answers each, seen or "This wasn't me", on /v1/push/respond.
		out := map[string]any{"pending": ps, "notices": ns}
		if d.approvals != nil {
			// Approvals wait beside login pushes: the same phone answers both.
			as, err := d.approvals.PhonePending(r.Context(), jkt)
			if err != nil {
				return err
			}
			out["approvals"] = as
		}
		return writeJSON(w, http.StatusOK, out)
	}
}

func handlePhoneRespond(d loginDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		jkt, err := d.phoneKey(r)
		if err != nil {
			return err
		}
		body, err := readBody(w, r)
		if err != nil {
			return err
		}
		outcome, err := d.svc.PhoneAnswer(r.Context(), jkt, body)
		if errors.Is(err, login.ErrFactorUnavailable) {
			return errUnauthenticated()
		}
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, map[string]any{"outcome": outcome})
	}
}
