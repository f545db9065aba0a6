package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"gatehouse/internal/ssf"
)

// FuzzDecodeSSF feeds the bodies a Shared Signals receiver sends (a poll,
// a stream change, a status change, a verification request) arbitrary
// bytes: each decoder never panics, answers a refusal as a 4xx, and what
// it accepts is within every bound and valid UTF-8 without NUL.
func FuzzDecodeSSF(f *testing.F) {
	for _, s := range []string{
		`{"maxEvents":10,"returnImmediately":true,"ack":["a","b"],"setErrs":{"c":{"err":"invalid_key","description":"x"}}}`,
		`{"maxEvents":-1}`, `{"maxEvents":1001}`, `{"ack":["a"],"ACK":["b"]}`, `{"ack":["a"],"ack":["b"]}`,
		`{"setErrs":{"a":{"err":"x"},"A":{"err":"y"}}}`, `{"returnImmediately":"yes"}`,
		`{"stream_id":"orders","events_requested":["urn:a"],"description":"d","aud":"x"}`,
		`{"stream_id":"orders","aud":["x","y"],"delivery":{"method":"urn:ietf:rfc:8936"}}`,
		`{"stream_id":"orders","status":"paused","reason":"r"}`, `{"stream_id":"orders","state":"s\u0000"}`,
		`{"stream_id":"\xff"}`, `{`, ``, `null`, `[]`, `{}{}`,
	} {
		f.Add(s)
	}
	req := func(body string) (*httptest.ResponseRecorder, *http.Request) {
		r := httptest.NewRequest("POST", "/v1/ssf/poll", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return httptest.NewRecorder(), r
	}
	refusedAs4xx := func(t *testing.T, err error) {
		if e := toError(err); e.Problem.Status < 400 || e.Problem.Status >= 500 {
			t.Fatalf("decode error maps to status %d", e.Problem.Status)
		}
	}
	text := func(t *testing.T, what string, ss ...string) {
		for _, s := range ss {
			if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
				t.Fatalf("accepted %s %q: not valid text", what, s)
			}
		}
	}
	f.Fuzz(func(t *testing.T, body string) {
		w, r := req(body)
		if p, err := decode[pollRequest](w, r); err != nil {
			refusedAs4xx(t, err)
		} else {
			if p.MaxEvents != nil && (*p.MaxEvents < 0 || *p.MaxEvents > ssf.MaxMaxEvents) || len(p.Ack)+len(p.SetErrs) > ssf.MaxAcks {
				t.Fatalf("accepted poll out of bounds: %q", body)
			}
			text(t, "ack", p.Ack...)
			for jti, e := range p.SetErrs {
				if jti == "" || len(jti) > maxStreamID || len(e.Err) > maxStreamID {
					t.Fatalf("accepted setErrs out of bounds: %q", body)
				}
				text(t, "setErrs", jti, e.Err, e.Description)
			}
		}
		w, r = req(body)
		if p, err := decode[streamPatchRequest](w, r); err != nil {
			refusedAs4xx(t, err)
		} else {
			if p.StreamID == "" || len(p.StreamID) > maxStreamID || (p.Description != nil && len(*p.Description) > maxSSFText) {
				t.Fatalf("accepted stream patch out of bounds: %q", body)
			}
			text(t, "stream_id", p.StreamID)
			if p.EventsRequested != nil {
				if len(*p.EventsRequested) > maxEventTypes {
					t.Fatalf("accepted %d events_requested", len(*p.EventsRequested))
				}
				text(t, "events_requested", *p.EventsRequested...)
			}
		}
		w, r = req(body)
		if s, err := decode[statusRequest](w, r); err != nil {
			refusedAs4xx(t, err)
		} else if s.StreamID == "" || s.Status == "" || len(s.Reason) > maxSSFText {
			t.Fatalf("accepted status out of bounds: %q", body)
		} else {
			text(t, "status", s.StreamID, s.Status, s.Reason)
		}
		w, r = req(body)
		if v, err := decode[verifyRequest](w, r); err != nil {
			refusedAs4xx(t, err)
		} else if v.StreamID == "" || len(v.State) > maxSSFText {
			t.Fatalf("accepted verification out of bounds: %q", body)
		} else {
			text(t, "verify", v.StreamID, v.State)
		}
	})
}
