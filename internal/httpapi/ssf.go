package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	jose "github.com/go-jose/go-jose/v4"

	"gatehouse/internal/ssf"
)

// ssfRoutes are the Shared Signals transmitter's: its configuration and
// keys, public; the stream endpoints, each with the receiver's bearer
// token.
func ssfRoutes(rt router) {
	if t := rt.d.SSF; t != nil {
		rt.handle("GET /.well-known/ssf-configuration", func(w http.ResponseWriter, r *http.Request) error {
			return writeJSON(w, http.StatusOK, t.Metadata())
		})
		rt.handle("GET /v1/ssf/stream", handleReadStream(t))
		rt.handle("PATCH /v1/ssf/stream", handleUpdateStream(t))
		rt.handle("POST /v1/ssf/stream", func(w http.ResponseWriter, r *http.Request) error {
			if _, err := ssfReceiver(w, r, t); err != nil {
				return err
			}
			// One stream per receiver, configured by the operator: it
			// exists already (SSF 1.0 §8.1.1.1 answers 409).
			return problem(http.StatusConflict, "stream-exists", "Stream exists",
				"Your stream is configured by the operator; read it with GET and change it with PATCH.")
		})
		rt.handle("DELETE /v1/ssf/stream", func(w http.ResponseWriter, r *http.Request) error {
			if _, err := ssfReceiver(w, r, t); err != nil {
				return err
			}
			return problem(http.StatusForbidden, "stream-configured", "Stream is configured",
				"Streams are removed by the operator; to stop events, set the status to disabled.")
		})
		rt.handle("GET /v1/ssf/status", handleReadStatus(t))
		rt.handle("POST /v1/ssf/status", handleUpdateStatus(t))
		rt.handle("POST /v1/ssf/verify", handleVerify(t))
		rt.handle("POST /v1/ssf/poll", handlePoll(t))
	}
	if keys := rt.d.JWKS; keys != nil {
		rt.handle("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Content-Type", "application/jwk-set+json")
			w.Header().Set("Cache-Control", "public, max-age=300")
			return json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: keys()})
		})
	}
}

// ssfReceiver authenticates the receiver by its bearer token; a missing or
// wrong one is 401 with a Bearer challenge.
func ssfReceiver(w http.ResponseWriter, r *http.Request, t *ssf.Transmitter) (*ssf.Receiver, error) {
	rc, err := t.Authenticate(r.Header.Get("Authorization"))
	if err != nil {
		e := errUnauthenticated()
		e.Header = http.Header{"Www-Authenticate": {`Bearer realm="gatehouse-ssf"`}}
		return nil, e
	}
	return rc, nil
}

// Bounds of what a receiver sends.
const (
	maxStreamID    = 64
	maxSSFText     = 256
	maxEventTypes  = 64
	maxEventTypeID = 256
)

func handleReadStream(t *ssf.Transmitter) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		rc, err := ssfReceiver(w, r, t)
		if err != nil {
			return err
		}
		id := r.URL.Query().Get("stream_id")
		c, err := t.Streams(r.Context(), rc, id)
		if err != nil {
			return err
		}
		if id == "" {
			// No stream_id: the list of the receiver's streams.
			return writeJSON(w, http.StatusOK, []ssf.StreamConfig{c})
		}
		return writeJSON(w, http.StatusOK, c)
	}
}

// streamPatchRequest is the body of PATCH /v1/ssf/stream.
type streamPatchRequest ssf.StreamPatch

func (b streamPatchRequest) Valid(context.Context) []FieldError {
	var errs []FieldError
	if b.StreamID == "" || len(b.StreamID) > maxStreamID {
		errs = append(errs, FieldError{"stream_id", "the stream's id"})
	}
	for _, f := range []struct {
		name string
		list *[]string
	}{{"events_requested", b.EventsRequested}, {"events_supported", b.EventsSupported}, {"events_delivered", b.EventsDelivered}} {
		if f.list != nil && !boundedList(*f.list, maxEventTypes, maxEventTypeID) {
			errs = append(errs, FieldError{f.name, "at most 64 event type URIs"})
		}
	}
	if b.Aud != nil && !boundedList(*b.Aud, maxEventTypes, maxEventTypeID) {
		errs = append(errs, FieldError{"aud", "the stream's audience"})
	}
	if b.Description != nil && len(*b.Description) > maxSSFText {
		errs = append(errs, FieldError{"description", "at most 256 bytes"})
	}
	if b.Delivery != nil && (len(b.Delivery.Method) > maxEventTypeID || len(b.Delivery.EndpointURL) > 2048) {
		errs = append(errs, FieldError{"delivery", "the stream's delivery"})
	}
	return errs
}

func boundedList(l []string, n, each int) bool {
	if len(l) > n {
		return false
	}
	for _, s := range l {
		if s == "" || len(s) > each {
			return false
		}
	}
	return true
}

func handleUpdateStream(t *ssf.Transmitter) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		rc, err := ssfReceiver(w, r, t)
		if err != nil {
			return err
		}
		body, err := decode[streamPatchRequest](w, r)
		if err != nil {
			return err
		}
		c, err := t.UpdateStream(r.Context(), rc, ssf.StreamPatch(body))
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, c)
	}
}

func handleReadStatus(t *ssf.Transmitter) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		rc, err := ssfReceiver(w, r, t)
		if err != nil {
			return err
		}
		id := r.URL.Query().Get("stream_id")
		if id == "" {
			return errBadRequest("The stream_id query parameter is required.", FieldError{"stream_id", "the stream's id"})
		}
		s, err := t.Status(r.Context(), rc, id)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, s)
	}
}

// statusRequest is the body of POST /v1/ssf/status.
type statusRequest ssf.StreamStatus

func (b statusRequest) Valid(context.Context) []FieldError {
	var errs []FieldError
	if b.StreamID == "" || len(b.StreamID) > maxStreamID {
		errs = append(errs, FieldError{"stream_id", "the stream's id"})
	}
	if b.Status == "" {
		errs = append(errs, FieldError{"status", "enabled, paused or disabled"})
	}
	if len(b.Reason) > maxSSFText {
		errs = append(errs, FieldError{"reason", "at most 256 bytes"})
	}
	return errs
}

func handleUpdateStatus(t *ssf.Transmitter) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		rc, err := ssfReceiver(w, r, t)
		if err != nil {
			return err
		}
		body, err := decode[statusRequest](w, r)
		if err != nil {
			return err
		}
		s, err := t.SetStatus(r.Context(), rc, ssf.StreamStatus(body))
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, s)
	}
}

// verifyRequest is the body of POST /v1/ssf/verify.
type verifyRequest struct {
	StreamID string `json:"stream_id"`
	State    string `json:"state"`
}

func (b verifyRequest) Valid(context.Context) []FieldError {
	var errs []FieldError
	if b.StreamID == "" || len(b.StreamID) > maxStreamID {
		errs = append(errs, FieldError{"stream_id", "the stream's id"})
	}
	if len(b.State) > maxSSFText {
		errs = append(errs, FieldError{"state", "at most 256 bytes"})
	}
	return errs
}

func handleVerify(t *ssf.Transmitter) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		rc, err := ssfReceiver(w, r, t)
		if err != nil {
			return err
		}
		body, err := decode[verifyRequest](w, r)
		if err != nil {
			return err
		}
		if err := t.Verify(r.Context(), rc, body.StreamID, body.State); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// pollRequest is the body of POST /v1/ssf/poll (RFC 8936 §2.2).
type pollRequest ssf.PollRequest

func (b pollRequest) Valid(context.Context) []FieldError {
	var errs []FieldError
	if b.MaxEvents != nil && (*b.MaxEvents < 0 || *b.MaxEvents > ssf.MaxMaxEvents) {
		errs = append(errs, FieldError{"maxEvents", "0 to 1000"})
	}
	if len(b.Ack)+len(b.SetErrs) > ssf.MaxAcks || !boundedList(b.Ack, ssf.MaxAcks, maxStreamID) {
		errs = append(errs, FieldError{"ack", "at most 1000 token ids, acknowledged or refused"})
	}
	for jti, e := range b.SetErrs {
		if jti == "" || len(jti) > maxStreamID || len(e.Err) > maxStreamID || len(e.Description) > maxSSFText*4 {
			errs = append(errs, FieldError{"setErrs", "token ids, each with an err code and a short description"})
			break
		}
	}
	return errs
}

func handlePoll(t *ssf.Transmitter) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		rc, err := ssfReceiver(w, r, t)
		if err != nil {
			return err
		}
		body, err := decode[pollRequest](w, r)
		if err != nil {
			return err
		}
		res, err := t.Poll(r.Context(), rc, ssf.PollRequest(body))
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, res)
	}
}
