package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"gatehouse/internal/login"
)

// binding returns how the client proves a flow is its own: a DPoP proof
// of the device key (desktop, mobile, the phone), or the flow cookie.
func (d loginDeps) binding(r *http.Request) (string, error) {
	if len(r.Header.Values("DPoP")) > 0 {
		jkt, err := d.loginProof(r)
		if err != nil {
			return "", err
		}
		return login.BindingForKey(jkt), nil
	}
	c, err := r.Cookie(d.cookies.Flow())
	if err != nil || len(c.Value) > 128 {
		return "", login.ErrFlow
	}
	return login.BindingForSecret(c.Value), nil
}

type codeRequest struct {
	Code string `json:"code"`
}

func (b codeRequest) Valid(context.Context) []FieldError {
	if b.Code == "" || len(b.Code) > 64 {
		return []FieldError{{"code", "required; at most 64 characters"}}
	}
	return nil
}

func handleFlowCode(d loginDeps, answer func(ctx context.Context, flow, binding, code string) (*login.Result, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		binding, err := d.binding(r)
		if err != nil {
			return err
		}
		body, err := decode[codeRequest](w, r)
		if err != nil {
			return err
		}
		res, err := answer(r.Context(), r.PathValue("flow"), binding, body.Code)
		if err != nil {
			return err
		}
		return d.writeResult(w, res, "")
	}
}

func handleFlowState(d loginDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		binding, err := d.binding(r)
		if err != nil {
			return err
		}
		res, state, err := d.svc.Poll(r.Context(), r.PathValue("flow"), binding)
		if err != nil {
			return err
		}
		if res == nil {
			return writeJSON(w, http.StatusOK, loginResponse{Status: state, State: state})
		}
		return d.writeResult(w, res, state)
	}
}

func handleFlowPush(d loginDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		binding, err := d.binding(r)
		if err != nil {
			return err
		}
		n, err := d.svc.StartPush(r.Context(), r.PathValue("flow"), binding)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, map[string]any{"number": n,
			"detail": "Type this number into the gatehouse authenticator on your phone; this page updates when it answers (poll GET /v1/login/{flow})."})
	}
}

func handleFlowSMS(d loginDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		binding, err := d.binding(r)
		if err != nil {
			return err
		}
		to, err := d.svc.SendSMS(r.Context(), r.PathValue("flow"), binding)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, map[string]any{"sent_to": to, "weak": true})
	}
}

func handleFlowWebAuthnBegin(d loginDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		binding, err := d.binding(r)
		if err != nil {
			return err
		}
		opts, err := d.svc.BeginWebAuthn(r.Context(), r.PathValue("flow"), binding)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, map[string]any{"options": json.RawMessage(opts)})
	}
}

type webauthnResponse struct {
	Response json.RawMessage `json:"response"`
	Name     string          `json:"name,omitempty"`
}

func (b webauthnResponse) Valid(context.Context) []FieldError {
	if len(b.Response) == 0 || string(b.Response) == "null" {
		return []FieldError{{"response", "required: the PublicKeyCredential as JSON"}}
	}
	return nil
}

func handleFlowWebAuthnFinish(d loginDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		binding, err := d.binding(r)
		if err != nil {
			return err
		}
		body, err := decode[webauthnResponse](w, r)
		if err != nil {
			return err
		}
		res, err := d.svc.FinishWebAuthn(r.Context(), r.PathValue("flow"), binding, body.Response)
		if err != nil {
			return err
		}
		return d.writeResult(w, res, "")
	}
}
