// Package twilio sends SMS through Twilio's Programmable Messaging REST API
// (POST /2010-04-01/Accounts/{AccountSid}/Messages.json).
//
// It is kept apart from package sms so that the factor's rules stay free of
// network code; [Sender] implements sms.Sender.
package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gatehouse/internal/factor/sms"
)

// DefaultBaseURL is Twilio's API origin, used when Sender.BaseURL is empty.
const DefaultBaseURL = "https://api.twilio.com"

// MaxBody is the longest message body Twilio accepts, in characters.
const MaxBody = 1600

// maxResponse caps how much of Twilio's answer is read.
const maxResponse = 64 << 10

// defaultClient bounds a send that the caller's context does not.
var defaultClient = &http.Client{Timeout: 15 * time.Second}

var (
	// ErrConfig reports a Sender without an account SID, auth token or From.
	ErrConfig = errors.New("twilio: AccountSID, AuthToken and From must be set")
	// ErrBody reports an empty body or one longer than MaxBody characters.
	ErrBody = errors.New("twilio: message body must be 1 to 1600 characters")
)

// Sender sends messages from one Twilio account. Its zero value is not
// usable: AccountSID, AuthToken and From are required. A Sender is safe for
// concurrent use.
//
// AuthToken is a secret: String and LogValue leave it out, and Send's errors
// never contain it or the message body.
type Sender struct {
	// BaseURL is the API origin; empty means DefaultBaseURL. Tests point it
	// at an httptest.Server.
	BaseURL string
	// AccountSID identifies the account ("AC…"); it is the basic-auth user.
	AccountSID string
	// AuthToken is the account's auth token; it is the basic-auth password.
	AuthToken string
	// From is the sending number in E.164 form, or an alphanumeric sender id.
	From string
	// Client sends the requests; nil means a client with a 15-second timeout.
	Client *http.Client
}

var _ sms.Sender = (*Sender)(nil)

// String describes the Sender without its auth token.
func (s *Sender) String() string {
	return fmt.Sprintf("twilio.Sender{BaseURL:%q AccountSID:%q From:%q}", s.BaseURL, s.AccountSID, s.From)
}

// LogValue describes the Sender without its auth token.
func (s *Sender) LogValue() slog.Value {
	return slog.GroupValue(slog.String("base_url", s.BaseURL), slog.String("account_sid", s.AccountSID), slog.String("from", s.From))
}

// Error is an error answer from Twilio, with the fields of its JSON error
// body (https://www.twilio.com/docs/usage/twilios-response).
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is Twilio's error code (e.g. 21211 for an invalid To number), or 0.
	Code int
	// Message is Twilio's explanation, or the HTTP status text.
	Message string
	// MoreInfo is a link to Twilio's documentation of Code.
	MoreInfo string
}

// Error formats the answer as "twilio: HTTP 400, code 21211: message".
func (e *Error) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("twilio: HTTP %d, code %d: %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("twilio: HTTP %d: %s", e.Status, e.Message)
}

// Send sends body to the E.164 number to. It makes one request and never
// retries, since a retry after a lost answer could deliver the message
// twice; ctx bounds the request.
func (s *Sender) Send(ctx context.Context, to, body string) error {
	if s.AccountSID == "" || s.AuthToken == "" || s.From == "" {
		return ErrConfig
	}
	if !sms.ValidPhone(to) {
		return sms.ErrPhone
	}
	if body == "" || utf8.RuneCountInString(body) > MaxBody {
		return ErrBody
	}
	base := s.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	endpoint := strings.TrimRight(base, "/") + "/2010-04-01/Accounts/" + url.PathEscape(s.AccountSID) + "/Messages.json"
	form := url.Values{"To": {to}, "From": {s.From}, "Body": {body}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("twilio: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(s.AccountSID, s.AuthToken)

	client := s.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("twilio: send: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("twilio: read answer: %w", err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return parseError(resp.StatusCode, raw)
}

func parseError(status int, raw []byte) *Error {
	var body struct {
		Code     int    `json:"code"`
		Message  string `json:"message"`
		MoreInfo string `json:"more_info"`
	}
	e := &Error{Status: status}
	if json.Unmarshal(raw, &body) == nil && body.Message != "" {
		e.Code, e.Message, e.MoreInfo = body.Code, body.Message, body.MoreInfo
	} else {
		e.Message = http.StatusText(status)
		if e.Message == "" {
			e.Message = "status " + strconv.Itoa(status)
		}
	}
	return e
}
