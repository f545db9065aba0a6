package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// requestsCounted returns gatehouse_http_requests_total by code for route.
func requestsCounted(t *testing.T, reg *prometheus.Registry, route string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route {
				out[labels["code"]] += m.GetCounter().GetValue()
			}
		}
	}
	return out
}

// TestClientClosedRequestIsNotAServerError: a client that closes its
// connection early makes the handler's store call fail with
// context.Canceled. That is counted as 499, apart from server errors, and
// logged at debug, so nobody can inflate the 5xx rate by hanging up; the
// same error while the client is still there is a bug, and a 500.
func TestClientClosedRequestIsNotAServerError(t *testing.T) {
	tests := []struct {
		name       string
		clientGone bool
		code       string
		level      string
	}{
		{"ClientClosed", true, "499", "level=DEBUG"},
		{"CanceledByTheServer", false, "500", "level=ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			h := adapt(log, NewMetrics(reg), "GET /v1/me", func(w http.ResponseWriter, r *http.Request) error {
				ctx, cancel := context.WithCancel(context.Background())
				if tt.clientGone {
					ctx = r.Context()
				}
				cancel()
				<-ctx.Done()
				return fmt.Errorf("read session: %w", ctx.Err())
			})
			ctx, cancel := context.WithCancel(context.Background())
			if tt.clientGone {
				cancel()
			} else {
				defer cancel()
			}
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/me", nil).WithContext(ctx))

			if got := requestsCounted(t, reg, "GET /v1/me"); got[tt.code] != 1 || len(got) != 1 {
				t.Errorf("requests counted by code = %v, want one %s", got, tt.code)
			}
			if got := logs.String(); !strings.Contains(got, tt.level) {
				t.Errorf("log %q, want %s", got, tt.level)
			}
		})
	}
}

// TestBodyOverTheCapIs413: a body over the decoder's cap is refused as
// too large (413 payload-too-large), not as a malformed request (400).
func TestBodyOverTheCapIs413(t *testing.T) {
	h := adapt(slog.New(slog.DiscardHandler), nil, "POST /v1/login", func(w http.ResponseWriter, r *http.Request) error {
		_, err := decode[loginRequest](w, r)
		return err
	})
	tests := []struct {
		name   string
		body   string
		status int
		typ    string
	}{
		{"OverTheCap", `{"username":"` + strings.Repeat("m", maxBody) + `"}`, http.StatusRequestEntityTooLarge, "payload-too-large"},
		{"Malformed", `{"username":`, http.StatusBadRequest, "bad-request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest("POST", "/v1/login", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(w, r)
			var p Problem
			json.Unmarshal(w.Body.Bytes(), &p)
			if w.Code != tt.status || p.Type != "urn:gatehouse:problem:"+tt.typ {
				t.Errorf("POST %d bytes = %d %s, want %d %s", len(tt.body), w.Code, p.Type, tt.status, tt.typ)
			}
		})
	}
}
