package notice_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/audit"
	"gatehouse/internal/fault"
	"gatehouse/internal/notice"
)

func TestCatalogue(t *testing.T) {
	seen := map[notice.Event]bool{}
	for _, s := range notice.Catalogue() {
		if seen[s.Event] {
			t.Errorf("%s listed twice", s.Event)
		}
		seen[s.Event] = true
		if parts := strings.Split(string(s.Event), "."); len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			t.Errorf("%q is not a dotted type", s.Event)
		}
		if !slices.Contains(s.Default, notice.Mail) {
			t.Errorf("%s: default %v has no mail", s.Event, s.Default)
		}
		if s.Subject == "" || s.Says == "" || s.Advice == "" {
			t.Errorf("%s: subject, sentence or advice missing", s.Event)
		}
	}
	// The issue names these as the ones that cannot be switched off.
	for _, e := range []notice.Event{notice.DevicePending, notice.DeviceApproved, notice.FactorAdded, notice.FactorRemoved,
		notice.PasswordChanged, notice.KeyCreated, notice.AccountFrozen, notice.AccountUnfrozen} {
		if !notice.Critical(e) {
			t.Errorf("Critical(%s) = false, want true", e)
		}
	}
	for _, e := range []notice.Event{notice.SessionCreated, notice.KeyRotated, notice.PermissionChanged, "no.such"} {
		if notice.Critical(e) {
			t.Errorf("Critical(%s) = true, want false", e)
		}
	}
}

func TestFromAudit(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name string
		e    audit.Event
		want notice.Event // "" for no notice
	}{
		{"SignIn", audit.Event{Type: audit.SessionStarted, UserID: "usr_a"}, notice.SessionCreated},
		{"NewDevice", audit.Event{Type: audit.DeviceNew, UserID: "usr_a", Detail: map[string]string{"name": "Firefox on Linux"}}, notice.DevicePending},
		{"KeyCreated", audit.Event{Type: audit.KeyCreated, UserID: "usr_a", Detail: map[string]string{"account": "acc_1", "key": "gh_live_x"}}, notice.KeyCreated},
		{"KeyNewAddress", audit.Event{Type: audit.KeyNewAddress, UserID: "usr_a"}, notice.KeyNewNetwork},
		{"KeyHeld", audit.Event{Type: audit.KeyNewNetwork, UserID: "usr_a", Detail: map[string]string{"key": "k", "network": "198.51.100.0/24", "held": "true"}}, notice.KeyHeld},
		{"KeyNewNetworkNotHeld", audit.Event{Type: audit.KeyNewNetwork, UserID: "usr_a", Detail: map[string]string{"key": "k", "network": "198.51.100.0/24", "held": "false"}}, ""},
		{"KeyNetworkApproved", audit.Event{Type: audit.KeyNetworkApproved, UserID: "usr_a", Detail: map[string]string{"key": "k", "network": "198.51.100.0/24"}}, notice.KeyNetworkApproved},
		{"Guessing", audit.Event{Type: audit.FactorGuessing, UserID: "usr_a"}, notice.FactorGuessing},
		{"Closed", audit.Event{Type: audit.AccountClosed, UserID: "usr_a"}, notice.AccountClosed},
		{"EndedFromOther", audit.Event{Type: audit.SessionEnded, UserID: "usr_a", Actor: "usr_a", Detail: map[string]string{"session": "ses_1", "by_session": "ses_2"}}, notice.SessionEndedByOther},
		{"EndedByOperator", audit.Event{Type: audit.SessionEnded, UserID: "usr_a", Actor: "admin", Detail: map[string]string{"session": "ses_1"}}, notice.SessionEndedByOther},
		{"Logout", audit.Event{Type: audit.SessionEnded, UserID: "usr_a", Actor: "usr_a", Detail: map[string]string{"session": "ses_1", "by_session": "ses_1"}}, ""},
		{"EndedByPasswordChange", audit.Event{Type: audit.SessionEnded, UserID: "usr_a", Actor: "usr_a", Detail: map[string]string{"session": "ses_1", "reason": "password_change"}}, ""},
		{"LoginFailed", audit.Event{Type: audit.LoginFailed, UserID: "usr_a"}, ""},
		{"NobodysEvent", audit.Event{Type: audit.KeyCreated}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.e.Time = at
			n, ok := notice.FromAudit(&tt.e)
			if got := map[bool]notice.Event{true: n.Event}[ok]; got != tt.want {
				t.Fatalf("FromAudit(%s) = %q, %v; want %q", tt.e.Type, n.Event, ok, tt.want)
			}
			if ok && (n.UserID != tt.e.UserID || !n.Time.Equal(at)) {
				t.Errorf("FromAudit(%s) = user %q at %v, want %q at %v", tt.e.Type, n.UserID, n.Time, tt.e.UserID, at)
			}
		})
	}
	// The notice holds a copy: changing it leaves the audit event alone.
	e := audit.Event{Type: audit.KeyCreated, UserID: "usr_a", Detail: map[string]string{"key": "k"}}
	n, _ := notice.FromAudit(&e)
	n.Detail["key"] = "changed"
	if e.Detail["key"] != "k" {
		t.Errorf("FromAudit shares its detail with the audit event")
	}
}

func TestPreferencesValidate(t *testing.T) {
	tests := []struct {
		name     string
		p        notice.Preferences
		fields   []string // the fields refused, in order
		critical bool     // the error wraps ErrCritical
	}{
		{"OK", notice.Preferences{notice.KeyRotated: {notice.Mail}, notice.SessionCreated: {}, notice.KeyCreated: {notice.Mail, notice.Push, notice.Webhook}}, nil, false},
		{"Empty", notice.Preferences{}, nil, false},
		{"CriticalOff", notice.Preferences{notice.KeyCreated: {}}, []string{"events.key.created"}, true},
		{"CriticalWithoutMail", notice.Preferences{notice.PasswordChanged: {notice.Push, notice.Webhook}}, []string{"events.password.changed"}, true},
		{"UnknownEvent", notice.Preferences{"key.stolen": {notice.Mail}}, []string{"events.key.stolen"}, false},
		{"UnknownChannel", notice.Preferences{notice.KeyRotated: {"sms"}}, []string{"events.key.rotated"}, false},
		{"ChannelTwice", notice.Preferences{notice.KeyRotated: {notice.Mail, notice.Mail}}, []string{"events.key.rotated"}, false},
		{"EveryBadOne", notice.Preferences{notice.FactorAdded: {}, "x.y": nil, notice.KeyRevoked: {"fax"}}, []string{"events.factor.added", "events.key.revoked", "events.x.y"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			var got []string
			for _, f := range fault.Fields(err) {
				got = append(got, f.Name)
			}
			if diff := cmp.Diff(tt.fields, got); diff != "" {
				t.Errorf("Validate() refused fields (-want +got):\n%s", diff)
			}
			if err != nil && fault.Of(err) != fault.Invalid {
				t.Errorf("Validate() kind = %v, want invalid", fault.Of(err))
			}
			if got := errors.Is(err, notice.ErrCritical); got != tt.critical {
				t.Errorf("errors.Is(Validate(), ErrCritical) = %v, want %v", got, tt.critical)
			}
		})
	}
}

func TestPreferencesChannels(t *testing.T) {
	p := notice.Preferences{notice.SessionCreated: {}, notice.KeyRotated: {notice.Webhook, notice.Mail}, notice.KeyCreated: {notice.Mail}}
	tests := []struct {
		e    notice.Event
		want []notice.Channel
	}{
		{notice.SessionCreated, nil},                                                    // switched off
		{notice.KeyRotated, []notice.Channel{notice.Mail, notice.Webhook}},              // chosen, in order
		{notice.KeyRevoked, []notice.Channel{notice.Mail, notice.Webhook}},              // the default
		{notice.KeyCreated, []notice.Channel{notice.Mail, notice.Push, notice.Webhook}}, // critical: never less than the default
		{"no.such", nil},
	}
	for _, tt := range tests {
		if got := p.Channels(tt.e); !slices.Equal(got, tt.want) {
			t.Errorf("Channels(%s) = %v, want %v", tt.e, got, tt.want)
		}
	}
	if p.Wants(notice.SessionCreated, notice.Mail) || !p.Wants(notice.KeyCreated, notice.Push) {
		t.Errorf("Wants disagrees with Channels")
	}
}

func TestCleanPhrase(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"blue heron at dawn", "blue heron at dawn", true},
		{"  Grüße aus Köln  ", "Grüße aus Köln", true},
		{"猫と月", "猫と月", true},
		{"", "", true},    // clears
		{"   ", "", true}, // clears
		{"ab", "", false},
		{strings.Repeat("a", 64), strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), "", false},
		{"line\nbreak", "", false},
		{"tab\there", "", false},
		{"Subject: x\r\nBcc: y", "", false},
		{"hidden\u200btext", "", false}, // a format character
		{"rtl\u202etxt", "", false},
		{"bad \xff utf8", "", false},
		{"nul\x00", "", false},
	}
	for _, tt := range tests {
		got, err := notice.CleanPhrase(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("CleanPhrase(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && (!errors.Is(err, notice.ErrPhrase) || fault.Of(err) != fault.Invalid) {
			t.Errorf("CleanPhrase(%q) error = %v, want ErrPhrase (invalid)", tt.in, err)
		}
	}
}
