package sms_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/factor/sms"
	"gatehouse/internal/token"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// The sub-package twilio has the other implementation.
var _ sms.Sender = sms.LogSender{}

func TestLogSender(t *testing.T) {
	var buf bytes.Buffer
	s := sms.LogSender{Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	if err := s.Send(context.Background(), "+441234561234", "Your code is 123456"); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"level=INFO", "to=+441234561234", `body="Your code is 123456"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	buf.Reset()
	if err := s.Send(ctx, "+441234561234", "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Send(cancelled ctx) error = %v, want context.Canceled", err)
	}
	if buf.Len() != 0 {
		t.Errorf("Send(cancelled ctx) logged %q", buf.String())
	}
}

func TestLogSenderDefaultLogger(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	t.Cleanup(func() { slog.SetDefault(old) })
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	if err := (sms.LogSender{}).Send(context.Background(), "+15551234567", "hello"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "body=hello") {
		t.Errorf("default logger got %q, want the body", buf.String())
	}
}

func TestNewCode(t *testing.T) {
	got, err := sms.NewCode(bytes.NewReader([]byte{255, 1, 2, 3, 4, 5, 250, 6}))
	if err != nil {
		t.Fatal(err)
	}
	if want := "123456"; got != want {
		t.Errorf("NewCode = %q, want %q", got, want)
	}
	if _, err := sms.NewCode(bytes.NewReader([]byte{1, 2})); err == nil {
		t.Error("NewCode(short reader) succeeded, want error")
	}
	c, err := sms.NewCode(nil)
	if err != nil || len(c) != 6 || strings.Trim(c, "0123456789") != "" {
		t.Errorf("NewCode(nil) = %q, %v; want 6 digits", c, err)
	}
}

func newChallenge(t *testing.T) (sms.Challenge, string) {
	t.Helper()
	c, code, err := sms.NewChallenge(nil, "+441234561234", now)
	if err != nil {
		t.Fatal(err)
	}
	return c, code
}

func TestNewChallenge(t *testing.T) {
	c, code := newChallenge(t)
	if !bytes.Equal(c.CodeHash, token.Hash(code)) {
		t.Error("CodeHash is not the hash of the code")
	}
	if bytes.Contains(c.CodeHash, []byte(code)) {
		t.Error("Challenge holds the code")
	}
	if got, want := c.ExpiresAt, now.Add(5*time.Minute); !got.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", got, want)
	}
	if c.Phone != "+441234561234" || c.Attempts != 0 || c.Used {
		t.Errorf("NewChallenge = %+v", c)
	}

	if _, _, err := sms.NewChallenge(nil, "01234 561234", now); !errors.Is(err, sms.ErrPhone) {
		t.Errorf("NewChallenge(bad phone) error = %v, want ErrPhone", err)
	}
	if _, _, err := sms.NewChallenge(bytes.NewReader(nil), "+441234561234", now); err == nil {
		t.Error("NewChallenge(empty reader) succeeded, want error")
	}
}

func wrongCode(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*sms.Challenge)
		code  func(code string) string
		at    time.Time
		want  error
	}{
		{"OK", nil, nil, now, nil},
		{"OK/last moment", nil, nil, now.Add(sms.CodeLifetime - time.Nanosecond), nil},
		{"OK/last attempt", func(c *sms.Challenge) { c.Attempts = sms.MaxAttempts - 1 }, nil, now, nil},
		{"ErrInvalid", nil, wrongCode, now, sms.ErrInvalid},
		{"ErrMalformed/short", nil, func(string) string { return "12345" }, now, sms.ErrMalformed},
		{"ErrMalformed/letters", nil, func(string) string { return "12345a" }, now, sms.ErrMalformed},
		{"ErrMalformed/space", nil, func(c string) string { return " " + c[1:] }, now, sms.ErrMalformed},
		{"ErrMalformed/long", nil, func(c string) string { return c + "0" }, now, sms.ErrMalformed},
		{"ErrExpired", nil, nil, now.Add(sms.CodeLifetime), sms.ErrExpired},
		{"ErrAttempts", func(c *sms.Challenge) { c.Attempts = sms.MaxAttempts }, nil, now, sms.ErrAttempts},
		{"ErrUsed", func(c *sms.Challenge) { c.Used = true }, nil, now, sms.ErrUsed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, code := newChallenge(t)
			if tt.setup != nil {
				tt.setup(&c)
			}
			typed := code
			if tt.code != nil {
				typed = tt.code(code)
			}
			before, wasUsed := c.Attempts, c.Used
			err := c.Verify(typed, tt.at)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			counted := errors.Is(err, sms.ErrInvalid) || errors.Is(err, sms.ErrMalformed) || err == nil
			if counted && c.Attempts != before+1 {
				t.Errorf("Attempts = %d after a try, want %d", c.Attempts, before+1)
			}
			if !counted && c.Attempts != before {
				t.Errorf("Attempts = %d after a refused challenge, want %d", c.Attempts, before)
			}
			if want := wasUsed || err == nil; c.Used != want {
				t.Errorf("Used = %v, want %v", c.Used, want)
			}
		})
	}
}

func TestVerifySingleUse(t *testing.T) {
	c, code := newChallenge(t)
	if err := c.Verify(code, now); err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(code, now); !errors.Is(err, sms.ErrUsed) {
		t.Errorf("second Verify error = %v, want ErrUsed", err)
	}
}

// TestVerifyAttemptLimit guesses wrong until the limit: the right code is
// then refused too.
func TestVerifyAttemptLimit(t *testing.T) {
	c, code := newChallenge(t)
	for i := range sms.MaxAttempts {
		if err := c.Verify(wrongCode(code), now); !errors.Is(err, sms.ErrInvalid) {
			t.Fatalf("guess %d error = %v, want ErrInvalid", i+1, err)
		}
	}
	if err := c.Verify(code, now); !errors.Is(err, sms.ErrAttempts) {
		t.Errorf("right code after %d wrong guesses: error = %v, want ErrAttempts", sms.MaxAttempts, err)
	}
}

func TestValidPhone(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"+441234561234", true},
		{"+14155550123", true},
		{"+6834002", true},           // 7 digits, the shortest
		{"+123456789012345", true},   // 15 digits, the longest
		{"+1234567890123456", false}, // 16 digits
		{"+683400", false},
		{"441234561234", false},
		{"+0441234561234", false},
		{"+44 1234 561234", false},
		{"+44-1234-561234", false},
		{"+44(0)1234561234", false},
		{"++441234561234", false},
		{"+٤٤1234561234", false},
		{"", false},
		{"+", false},
	}
	for _, tt := range tests {
		if got := sms.ValidPhone(tt.in); got != tt.want {
			t.Errorf("ValidPhone(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+441234561234", "+44 •••• ••12 34"},
		{"+14155550123", "+1 •••• ••01 23"},
		{"+33612345678", "+33 ••• ••56 78"},
		{"+353851234567", "+353 ••• ••45 67"},
		{"+79161234567", "+7 •••• ••45 67"},
		{"+8613812345678", "+86 • •••• ••56 78"},
		{"+6834002", "+683 •• 02"},
		{"+3541234567", "+354 • ••45 67"},
		{"not a phone", ""},
		{"+44 1234 561234", ""},
	}
	for _, tt := range tests {
		if got := sms.MaskPhone(tt.in); got != tt.want {
			t.Errorf("MaskPhone(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzMaskPhone(f *testing.F) {
	for _, s := range []string{"+441234561234", "+6834002", "+1", "", "+٤٤"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := sms.MaskPhone(s)
		if !sms.ValidPhone(s) {
			if got != "" {
				t.Fatalf("MaskPhone(%q) = %q for an invalid number", s, got)
			}
			return
		}
		digits := strings.Count(got, "•")
		for _, c := range got {
			if c >= '0' && c <= '9' {
				digits++
			}
		}
		if digits != len(s)-1 {
			t.Fatalf("MaskPhone(%q) = %q: %d digit places, want %d", s, got, digits, len(s)-1)
		}
		if !strings.HasSuffix(strings.ReplaceAll(got, " ", ""), s[len(s)-2:]) {
			t.Fatalf("MaskPhone(%q) = %q does not end with the last two digits", s, got)
		}
	})
}
