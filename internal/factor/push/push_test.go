package push_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/factor/push"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

var login = push.Login{UserID: "u-1", Interface: "web", IP: "203.0.113.7", DeviceName: "Firefox on Windows"}

func TestNewChallenge(t *testing.T) {
	id := bytes.Repeat([]byte{0xfb}, 16)
	// 0x00000103 = 259; 259 mod 90 = 79, so Number = 89.
	r := bytes.NewReader(append(id, 0, 0, 1, 3))
	c, err := push.NewChallenge(r, login, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	want := push.Challenge{
		ID:         base64.RawURLEncoding.EncodeToString(id),
		UserID:     "u-1",
		Number:     89,
		Interface:  "web",
		IP:         "203.0.113.7",
		DeviceName: "Firefox on Windows",
		CreatedAt:  now,
		ExpiresAt:  now.Add(120 * time.Second),
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("NewChallenge (-want +got):\n%s", diff)
	}

	c, err = push.NewChallenge(nil, login, push.MaxLifetime, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ExpiresAt.Sub(c.CreatedAt); got != push.MaxLifetime {
		t.Errorf("lifetime = %v, want %v", got, push.MaxLifetime)
	}
	if len(c.ID) != 22 {
		t.Errorf("ID = %q, want 22 base64url characters", c.ID)
	}
}

func TestNewChallengeNumbers(t *testing.T) {
	seen := map[int]bool{}
	for range 2000 {
		c, err := push.NewChallenge(nil, login, 0, now)
		if err != nil {
			t.Fatal(err)
		}
		if c.Number < 10 || c.Number > 99 {
			t.Fatalf("Number = %d, want 10..99", c.Number)
		}
		seen[c.Number] = true
	}
	// 2000 draws miss one of 90 values with probability below 10⁻⁸.
	if len(seen) != 90 {
		t.Errorf("2000 challenges used %d distinct numbers, want all 90", len(seen))
	}
}

func TestNewChallengeRefuses(t *testing.T) {
	tests := []struct {
		name     string
		login    push.Login
		lifetime time.Duration
		r        io.Reader
		want     error
	}{
		{"ErrLifetime/negative", login, -time.Second, nil, push.ErrLifetime},
		{"ErrLifetime/too long", login, push.MaxLifetime + time.Nanosecond, nil, push.ErrLifetime},
		{"ErrUser", push.Login{Interface: "web"}, 0, nil, push.ErrUser},
		{"short reader/id", login, 0, bytes.NewReader(make([]byte, 15)), nil},
		{"short reader/number", login, 0, bytes.NewReader(make([]byte, 18)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := push.NewChallenge(tt.r, tt.login, tt.lifetime, now)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("NewChallenge error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestPromptHasNoNumber(t *testing.T) {
	c, err := push.NewChallenge(nil, login, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(c.Prompt())
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"challenge_id": c.ID,
		"interface":    "web",
		"ip":           "203.0.113.7",
		"device_name":  "Firefox on Windows",
		"expires_at":   c.ExpiresAt.Format(time.RFC3339Nano),
	}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("Prompt JSON (-want +got):\n%s", diff)
	}
}

func TestJudge(t *testing.T) {
	c := push.Challenge{ID: "chal-1", UserID: "u-1", Number: 42, CreatedAt: now, ExpiresAt: now.Add(2 * time.Minute)}
	at := now.Add(30 * time.Second)
	resp := func(d push.Decision, n int) push.Response {
		return push.Response{ChallengeID: "chal-1", Decision: d, Number: n, SignedAt: at}
	}
	tests := []struct {
		name    string
		c       push.Challenge
		resp    push.Response
		at      time.Time
		want    push.Outcome
		wantErr error
	}{
		{"Approved", c, resp(push.Approve, 42), at, push.Approved, nil},
		{"Approved/last moment", c, resp(push.Approve, 42), c.ExpiresAt.Add(-time.Nanosecond), push.Approved, nil},
		{"Approved/phone clock behind", c, push.Response{ChallengeID: "chal-1", Decision: push.Approve, Number: 42, SignedAt: now.Add(-push.ClockSkew)}, at, push.Approved, nil},
		{"Approved/phone clock ahead", c, push.Response{ChallengeID: "chal-1", Decision: push.Approve, Number: 42, SignedAt: at.Add(push.ClockSkew)}, at, push.Approved, nil},
		{"Denied", c, resp(push.Deny, 0), at, push.Denied, nil},
		{"Denied/with number", c, resp(push.Deny, 42), at, push.Denied, nil},
		{"Reported", c, resp(push.Report, 0), at, push.Reported, nil},
		{"ErrWrongNumber", c, resp(push.Approve, 24), at, push.Denied, push.ErrWrongNumber},
		{"ErrWrongNumber/none typed", c, resp(push.Approve, 0), at, push.Denied, push.ErrWrongNumber},
		{"ErrExpired", c, resp(push.Approve, 42), c.ExpiresAt, push.Expired, push.ErrExpired},
		{"ErrExpired/deny too late", c, resp(push.Deny, 0), c.ExpiresAt.Add(time.Hour), push.Expired, push.ErrExpired},
		{"ErrExpired/lifetime over the cap", push.Challenge{ID: "chal-1", Number: 42, CreatedAt: now, ExpiresAt: now.Add(push.MaxLifetime + time.Second)}, resp(push.Approve, 42), at, push.Expired, push.ErrExpired},
		{"ErrWrongChallenge", c, push.Response{ChallengeID: "chal-2", Decision: push.Approve, Number: 42, SignedAt: at}, at, push.Pending, push.ErrWrongChallenge},
		{"ErrSignedAt/too early", c, push.Response{ChallengeID: "chal-1", Decision: push.Approve, Number: 42, SignedAt: now.Add(-push.ClockSkew - time.Second)}, at, push.Pending, push.ErrSignedAt},
		{"ErrSignedAt/too late", c, push.Response{ChallengeID: "chal-1", Decision: push.Approve, Number: 42, SignedAt: at.Add(push.ClockSkew + time.Second)}, at, push.Pending, push.ErrSignedAt},
		{"ErrMalformed/decision", c, resp("maybe", 42), at, push.Pending, push.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.c.Judge(tt.resp, tt.at)
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Errorf("Judge = %v, %v; want %v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[push.Outcome]string{
		push.Pending: "pending", push.Approved: "approved", push.Denied: "denied",
		push.Reported: "reported", push.Expired: "expired", push.Outcome(9): "Outcome(9)",
	} {
		if got := o.String(); got != want {
			t.Errorf("Outcome(%d).String() = %q, want %q", int(o), got, want)
		}
	}
}
