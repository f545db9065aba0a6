package twilio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/factor/sms"
	"gatehouse/internal/factor/sms/twilio"
)

const (
	sid       = "AC0123456789abcdef0123456789abcdef"
	authToken = "tok-secret-0123456789"
	from      = "+15005550006"
	to        = "+441234561234"
	body      = "Your gatehouse code is 918273"
)

// twilioStub records the request and answers with status and answer.
func twilioStub(t *testing.T, status int, answer string) (*httptest.Server, *http.Request, *url.Values) {
	t.Helper()
	var got http.Request
	var form url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = *r.Clone(context.Background())
		raw, _ := io.ReadAll(r.Body)
		form, _ = url.ParseQuery(string(raw))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, &got, &form
}

func newSender(base string) *twilio.Sender {
	return &twilio.Sender{BaseURL: base, AccountSID: sid, AuthToken: authToken, From: from}
}

func TestSend(t *testing.T) {
	srv, req, form := twilioStub(t, http.StatusCreated, `{"sid":"SM123","status":"queued"}`)
	s := newSender(srv.URL + "/")
	s.Client = srv.Client()
	if err := s.Send(context.Background(), to, body); err != nil {
		t.Fatalf("Send error = %v", err)
	}
	if req.Method != http.MethodPost {
		t.Errorf("method = %s, want POST", req.Method)
	}
	if want := "/2010-04-01/Accounts/" + sid + "/Messages.json"; req.URL.Path != want {
		t.Errorf("path = %q, want %q", req.URL.Path, want)
	}
	if got := req.Header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q, want application/x-www-form-urlencoded", got)
	}
	user, pass, ok := req.BasicAuth()
	if !ok || user != sid || pass != authToken {
		t.Errorf("basic auth = %q, %q, %v; want the SID and auth token", user, pass, ok)
	}
	want := url.Values{"To": {to}, "From": {from}, "Body": {body}}
	if diff := cmp.Diff(want, *form); diff != "" {
		t.Errorf("form (-want +got):\n%s", diff)
	}
}

func TestSendTwilioError(t *testing.T) {
	srv, _, _ := twilioStub(t, http.StatusBadRequest,
		`{"code": 21211, "message": "Invalid 'To' Phone Number", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}`)
	err := newSender(srv.URL).Send(context.Background(), to, body)
	var te *twilio.Error
	if !errors.As(err, &te) {
		t.Fatalf("Send error = %v, want *twilio.Error", err)
	}
	want := &twilio.Error{Status: 400, Code: 21211, Message: "Invalid 'To' Phone Number", MoreInfo: "https://www.twilio.com/docs/errors/21211"}
	if diff := cmp.Diff(want, te); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	if got, want := err.Error(), "twilio: HTTP 400, code 21211: Invalid 'To' Phone Number"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestSendServerError(t *testing.T) {
	for _, tt := range []struct {
		status int
		answer string
		want   string
	}{
		{http.StatusBadGateway, "<html>bad gateway</html>", "twilio: HTTP 502: Bad Gateway"},
		{599, "", "twilio: HTTP 599: status 599"},
		{http.StatusUnauthorized, `{"code":20003}`, "twilio: HTTP 401: Unauthorized"},
	} {
		srv, _, _ := twilioStub(t, tt.status, tt.answer)
		err := newSender(srv.URL).Send(context.Background(), to, body)
		var te *twilio.Error
		if !errors.As(err, &te) || err.Error() != tt.want {
			t.Errorf("Send (HTTP %d) error = %v, want %q", tt.status, err, tt.want)
		}
	}
}

func TestSendErrorsHideSecrets(t *testing.T) {
	srv, _, _ := twilioStub(t, http.StatusBadRequest, `{"code":21211,"message":"nope"}`)
	s := newSender(srv.URL)
	err := s.Send(context.Background(), to, body)
	if err == nil {
		t.Fatal("Send succeeded, want error")
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("sender", "s", s)
	for _, out := range []string{err.Error(), fmt.Sprint(s), fmt.Sprintf("%v %+v", s, s), logged.String()} {
		if strings.Contains(out, authToken) || strings.Contains(out, "918273") {
			t.Errorf("%q shows the auth token or the code", out)
		}
	}
}

func TestSendRefusesBeforeRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request to %s", r.URL)
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name   string
		mutate func(*twilio.Sender)
		to     string
		body   string
		want   error
	}{
		{"ErrConfig/no SID", func(s *twilio.Sender) { s.AccountSID = "" }, to, body, twilio.ErrConfig},
		{"ErrConfig/no token", func(s *twilio.Sender) { s.AuthToken = "" }, to, body, twilio.ErrConfig},
		{"ErrConfig/no From", func(s *twilio.Sender) { s.From = "" }, to, body, twilio.ErrConfig},
		{"ErrPhone", nil, "07700 900123", body, sms.ErrPhone},
		{"ErrBody/empty", nil, to, "", twilio.ErrBody},
		{"ErrBody/too long", nil, to, strings.Repeat("é", twilio.MaxBody+1), twilio.ErrBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSender(srv.URL)
			if tt.mutate != nil {
				tt.mutate(s)
			}
			if err := s.Send(context.Background(), tt.to, tt.body); !errors.Is(err, tt.want) {
				t.Errorf("Send error = %v, want %v", err, tt.want)
			}
		})
	}
	// The longest allowed body counts characters, not bytes.
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) }))
	t.Cleanup(ok.Close)
	if err := newSender(ok.URL).Send(context.Background(), to, strings.Repeat("é", twilio.MaxBody)); err != nil {
		t.Errorf("Send(1600 characters) error = %v", err)
	}
}

func TestSendContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := newSender(srv.URL).Send(ctx, to, body); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send past deadline error = %v, want context.DeadlineExceeded", err)
	}
}

func TestSendUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	if err := newSender(base).Send(context.Background(), to, body); err == nil || strings.Contains(err.Error(), authToken) {
		t.Errorf("Send to a closed server error = %v, want a transport error without the token", err)
	}
}
