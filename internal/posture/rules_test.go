package posture_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/posture"
)

var now = time.Date(2025, 6, 2, 14, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return now.Add(-d) }

const day = 24 * time.Hour

// clean is a professional set-up that every rule finds in order: two
// security keys and push, recovery codes, AAL3 desktop sessions, an
// allowlisted live key and a paper key, notifications on.
func clean() posture.Snapshot {
	return posture.Snapshot{
		UserID: "ada", UserName: "Ada Byron", Profile: posture.Professional,
		Interfaces: []string{"desktop", "web", "mobile", "api"},
		Factors: []posture.Factor{
			{ID: "yk1", Kind: posture.WebAuthn, Name: "YubiKey 5C", DeviceBound: true, Created: ago(200 * day), LastUsed: ago(2 * time.Hour)},
			{ID: "yk2", Kind: posture.WebAuthn, Name: "backup YubiKey", DeviceBound: true, Created: ago(200 * day)},
			{ID: "push", Kind: posture.Push, Name: "phone app", Device: "phone", Created: ago(100 * day), LastUsed: ago(day)},
		},
		RecoveryCodesLeft: 10,
		Devices: []posture.Device{
			{ID: "ws", Interface: "desktop", Name: "workstation", Trusted: true, Lock: posture.LockOn},
			{ID: "phone", Interface: "mobile", Name: "phone", Trusted: true, Lock: posture.LockOn},
		},
		Sessions: []posture.Session{
			{ID: "desk-1", Interface: "desktop", Device: "workstation", Created: ago(2 * time.Hour), LastSeen: ago(10 * time.Minute), Expires: now.Add(22 * time.Hour), Assurance: 3},
			{ID: "web-1", Interface: "web", Device: "laptop", Created: ago(time.Hour), LastSeen: ago(time.Minute), Expires: now.Add(11 * time.Hour), Assurance: 2},
		},
		Keys: []posture.APIKey{
			{
				ID: "live-bot", Name: "live bot", Account: "LIVE-1", Environment: "live",
				Scopes:    []string{"marketdata:read", "orders:read", "orders:write"},
				Allowlist: []string{"203.0.113.7/32"}, Created: ago(30 * day), LastUsed: ago(time.Hour),
				UsedScopes: []string{"marketdata:read", "orders:read", "orders:write"}, UsedEnvironments: []string{"live"},
				Location: "cloud VM",
			},
			{
				ID: "paper-bot", Name: "paper bot", Account: "PAPER-1", Environment: "paper",
				Scopes: []string{"marketdata:read", "orders:read", "orders:write"}, Created: ago(10 * day), LastUsed: ago(day),
			},
		},
		Accounts: []posture.Account{
			{ID: "LIVE-1", Name: "Options", Environment: "live", Permissions: posture.Permissions{Options: true}, Entity: mustEntity("US")},
			{ID: "PAPER-1", Name: "Paper", Environment: "paper"},
		},
		Pushes:   []posture.PushAttempt{{Time: ago(day), Outcome: posture.PushApproved}},
		Settings: posture.Settings{SessionNotifications: true},
	}
}

func mustEntity(code string) posture.Entity {
	e, ok := posture.DefaultEntities().Lookup(code)
	if !ok {
		panic("no entity " + code)
	}
	return e
}

type ruleCase struct {
	name string
	edit func(s *posture.Snapshot)
	want []string // "id exposure"
}

func runRule(t *testing.T, name string, cases []ruleCase) {
	t.Helper()
	var rule posture.Rule
	for _, r := range posture.Rules() {
		if r.Name == name {
			rule = r
		}
	}
	if rule.Check == nil {
		t.Fatalf("no rule %q", name)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := clean()
			if tc.edit != nil {
				tc.edit(&s)
			}
			if err := s.Validate(); err != nil {
				t.Fatalf("test snapshot invalid: %v", err)
			}
			var got []string
			for _, f := range rule.Check(s, now) {
				got = append(got, fmt.Sprintf("%s %s", f.ID, f.Exposure))
				// Every finding but the account's own names the doors it opens.
				if f.NextStep == "" || f.Summary == "" || (len(f.Doors) == 0) != (f.FailureMode == posture.PermissionsAhead) || len(f.Evidence) == 0 {
					t.Errorf("finding %s lacks summary, next step, doors or evidence: %+v", f.ID, f)
				}
				// A next step is for the trader: a portal page or their own
				// API call, never an operator's command.
				if strings.Contains(f.NextStep, "gatehouse ") {
					t.Errorf("finding %s: next step names an operator command: %q", f.ID, f.NextStep)
				}
				if f.FailureMode.Title() == string(f.FailureMode) {
					t.Errorf("finding %s: failure mode %q has no title", f.ID, f.FailureMode)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s findings (-want +got):\n%s", name, diff)
			}
		})
	}
}

// Edits shared by several tables.

func onlyFactors(fs ...posture.Factor) func(*posture.Snapshot) {
	return func(s *posture.Snapshot) { s.Factors = fs }
}

var (
	sms      = posture.Factor{ID: "sms", Kind: posture.SMS, Name: "phone 0142"}
	totp     = posture.Factor{ID: "totp", Kind: posture.TOTP}
	push     = posture.Factor{ID: "push", Kind: posture.Push}
	yubikey  = posture.Factor{ID: "yk1", Kind: posture.WebAuthn, DeviceBound: true}
	passkey  = posture.Factor{ID: "pk", Kind: posture.WebAuthn}
	recovery = posture.Factor{ID: "rc", Kind: posture.Recovery}
)

func TestDesktopRule(t *testing.T) {
	runRule(t, "desktop", []ruleCase{
		{name: "AAL3 sessions", want: []string{"desktop-sessions mitigated"}},
		{name: "no sessions", edit: func(s *posture.Snapshot) { s.Sessions = nil }},
		{
			name: "hardware key but AAL2 session",
			edit: func(s *posture.Snapshot) { s.Sessions[0].Assurance = 2 },
			want: []string{"desktop-session-below-aal3 medium"},
		},
		{
			name: "no hardware key, professional",
			edit: func(s *posture.Snapshot) { s.Factors = []posture.Factor{push}; s.Sessions[0].Assurance = 2 },
			want: []string{"desktop-no-hardware-key high"},
		},
		{
			name: "no hardware key, occasional, one-day session",
			edit: func(s *posture.Snapshot) {
				s.Profile, s.Factors, s.Accounts = posture.Occasional, []posture.Factor{push}, nil
				s.Sessions[0].Assurance = 2
			},
			want: []string{"desktop-long-session low"},
		},
		{
			name: "no hardware key, occasional, options account",
			edit: func(s *posture.Snapshot) {
				s.Profile, s.Factors = posture.Occasional, []posture.Factor{push}
				s.Sessions[0].Assurance = 2
			},
			want: []string{"desktop-long-session medium"},
		},
		{
			name: "no hardware key, occasional, 30-day session",
			edit: func(s *posture.Snapshot) {
				s.Profile, s.Factors, s.Accounts = posture.Occasional, []posture.Factor{push}, nil
				s.Sessions[0].Assurance, s.Sessions[0].Expires = 2, s.Sessions[0].Created.Add(30*day)
			},
			want: []string{"desktop-long-session medium"},
		},
		{
			name: "passkey is not device-bound",
			edit: func(s *posture.Snapshot) {
				s.Profile, s.Factors, s.Accounts = posture.Occasional, []posture.Factor{passkey}, nil
				s.Sessions[0].Assurance, s.Sessions[0].Expires = 2, time.Time{}
			},
			want: []string{"desktop-long-session medium"},
		},
		{
			name: "short session is not long-lived",
			edit: func(s *posture.Snapshot) {
				s.Profile, s.Factors = posture.Occasional, []posture.Factor{push}
				s.Sessions[0].Assurance, s.Sessions[0].Expires = 2, s.Sessions[0].Created.Add(8*time.Hour)
			},
		},
		{
			name: "expired session, professional without hardware key",
			edit: func(s *posture.Snapshot) {
				s.Factors = []posture.Factor{push}
				s.Sessions[0].Assurance, s.Sessions[0].Expires = 2, ago(time.Minute)
			},
			want: []string{"desktop-no-hardware-key high"},
		},
	})
}

func TestSMSRule(t *testing.T) {
	runRule(t, "sms", []ruleCase{
		{name: "no SMS"},
		{name: "SMS beside stronger", edit: onlyFactors(sms, push), want: []string{"sms-enrolled medium"}},
		{name: "SMS only", edit: onlyFactors(sms), want: []string{"sms-only-second-factor high"}},
		{name: "SMS and recovery codes", edit: onlyFactors(sms, recovery), want: []string{"sms-only-second-factor high"}},
	})
}

func TestGuessingRule(t *testing.T) {
	run := func(n, limit int) func(*posture.Snapshot) {
		return func(s *posture.Snapshot) { s.FactorFailures, s.FactorLimit = n, limit }
	}
	runRule(t, "second-factor-guessing", []ruleCase{
		{name: "none"},
		{name: "a typo or two", edit: run(2, 30)},
		{name: "a run of wrong answers", edit: run(3, 30), want: []string{"second-factor-guessing high"}},
		{name: "closed", edit: run(30, 30), want: []string{"second-factor-closed high"}},
		{name: "no cap", edit: run(50, 0), want: []string{"second-factor-guessing high"}},
	})
}

func TestPushRule(t *testing.T) {
	pushes := func(outcomes ...string) func(*posture.Snapshot) {
		return func(s *posture.Snapshot) {
			s.Pushes = nil
			for i, o := range outcomes {
				s.Pushes = append(s.Pushes, posture.PushAttempt{Time: ago(time.Duration(i+1) * day), Outcome: o})
			}
		}
	}
	runRule(t, "push", []ruleCase{
		{name: "no push factor", edit: onlyFactors(yubikey)},
		{name: "approved only", want: []string{"push-fatigue mitigated"}},
		{name: "one denied", edit: pushes("approved", "denied"), want: []string{"push-unexpected medium"}},
		{name: "three unanswered", edit: pushes("expired", "expired", "expired"), want: []string{"push-unexpected high"}},
		{name: "one reported", edit: pushes("reported"), want: []string{"push-unexpected high"}},
		{
			name: "old denial",
			edit: func(s *posture.Snapshot) {
				s.Pushes = []posture.PushAttempt{{Time: ago(40 * day), Outcome: "denied"}}
			},
			want: []string{"push-fatigue mitigated"},
		},
		{
			name: "future time ignored",
			edit: func(s *posture.Snapshot) {
				s.Pushes = []posture.PushAttempt{{Time: now.Add(day), Outcome: "denied"}}
			},
			want: []string{"push-fatigue mitigated"},
		},
	})
}

func TestPhishingRule(t *testing.T) {
	occasional := func(fs ...posture.Factor) func(*posture.Snapshot) {
		return func(s *posture.Snapshot) { s.Profile, s.Factors = posture.Occasional, fs }
	}
	runRule(t, "phishing", []ruleCase{
		{name: "security keys and push", want: []string{"phishing mitigated"}},
		{name: "no factors", edit: onlyFactors()},
		{name: "passkey beside TOTP, professional", edit: onlyFactors(passkey, totp), want: []string{"phishing-fallback medium"}},
		{name: "passkey beside SMS, occasional", edit: occasional(passkey, sms), want: []string{"phishing-fallback low"}},
		{name: "TOTP only, professional", edit: onlyFactors(totp), want: []string{"phishing-no-resistant-factor high"}},
		{name: "push only, professional", edit: onlyFactors(push), want: []string{"phishing-no-resistant-factor medium"}},
		{name: "TOTP only, occasional", edit: occasional(totp), want: []string{"phishing-no-resistant-factor low"}},
		{
			name: "TOTP only, occasional with withdrawals",
			edit: func(s *posture.Snapshot) {
				occasional(totp)(s)
				s.Accounts[0].Permissions.Withdrawals = true
			},
			want: []string{"phishing-no-resistant-factor high"},
		},
		{
			name: "withdrawals on a paper account do not count",
			edit: func(s *posture.Snapshot) {
				occasional(totp)(s)
				s.Accounts[1].Permissions.Withdrawals = true
			},
			want: []string{"phishing-no-resistant-factor low"},
		},
	})
}

func TestSecondFactorRule(t *testing.T) {
	runRule(t, "second-factor", []ruleCase{
		{name: "factors enrolled"},
		{name: "SMS counts", edit: onlyFactors(sms)},
		{name: "none", edit: onlyFactors(), want: []string{"no-second-factor high"}},
		{name: "recovery codes only", edit: onlyFactors(recovery), want: []string{"no-second-factor high"}},
	})
}

func TestKeysRule(t *testing.T) {
	live := func(edit func(k *posture.APIKey)) func(*posture.Snapshot) {
		return func(s *posture.Snapshot) { edit(&s.Keys[0]) }
	}
	paper := func(edit func(k *posture.APIKey)) func(*posture.Snapshot) {
		return func(s *posture.Snapshot) { edit(&s.Keys[1]) }
	}
	runRule(t, "keys", []ruleCase{
		{name: "allowlisted live key and paper key"},
		{
			name: "live trading key without allowlist",
			edit: live(func(k *posture.APIKey) { k.Allowlist = nil }),
			want: []string{"key-no-allowlist/live-bot high"},
		},
		{
			name: "allowlist admitting everything",
			edit: live(func(k *posture.APIKey) { k.Allowlist = []string{"203.0.113.7/32", "0.0.0.0/0"} }),
			want: []string{"key-no-allowlist/live-bot high"},
		},
		{
			name: "wide IPv6 allowlist",
			edit: live(func(k *posture.APIKey) { k.Allowlist = []string{"2000::/3"} }),
			want: []string{"key-no-allowlist/live-bot high"},
		},
		{
			name: "read-only live key without allowlist",
			edit: live(func(k *posture.APIKey) {
				k.Allowlist, k.Scopes, k.UsedScopes = nil, []string{"account:read"}, []string{"account:read"}
			}),
			want: []string{"key-no-allowlist/live-bot low"},
		},
		{name: "paper key without allowlist is fine", edit: paper(func(k *posture.APIKey) { k.Allowlist = nil })},
		{
			name: "expired key is skipped",
			edit: live(func(k *posture.APIKey) { k.Allowlist, k.Expires = nil, ago(time.Hour) }),
		},
		{
			name: "live key past 90 days, professional",
			edit: live(func(k *posture.APIKey) { k.Created = ago(100 * day) }),
			want: []string{"key-rotation/live-bot high"},
		},
		{
			name: "live key at 100 days, occasional",
			edit: func(s *posture.Snapshot) { s.Profile = posture.Occasional; s.Keys[0].Created = ago(100 * day) },
		},
		{
			name: "paper key past rotation",
			edit: paper(func(k *posture.APIKey) { k.Created, k.LastUsed = ago(100*day), ago(day) }),
			want: []string{"key-rotation/paper-bot low"},
		},
		{
			name: "live key unused for a month",
			edit: live(func(k *posture.APIKey) { k.LastUsed = ago(30 * day) }),
			want: []string{"key-unused/live-bot high"},
		},
		{
			name: "live key never used",
			edit: live(func(k *posture.APIKey) { k.LastUsed = time.Time{} }),
			want: []string{"key-unused/live-bot high"},
		},
		{
			name: "new key never used",
			edit: live(func(k *posture.APIKey) { k.LastUsed, k.Created = time.Time{}, ago(2*day) }),
		},
		{
			name: "live read-only key unused for a month",
			edit: live(func(k *posture.APIKey) {
				k.Scopes, k.UsedScopes, k.LastUsed = []string{"orders:read"}, nil, ago(30*day)
			}),
			want: []string{"key-unused/live-bot low"},
		},
		{
			name: "unused transfer scope on a live trading key",
			edit: live(func(k *posture.APIKey) {
				k.Scopes, k.UsedScopes = append(k.Scopes, "transfers:write"), k.Scopes
			}),
			want: []string{"key-broad-scopes/live-bot high"},
		},
		{
			name: "paper and live keys made together as one config",
			edit: func(s *posture.Snapshot) {
				for i := range s.Keys[:2] {
					k := &s.Keys[i]
					k.Scopes, k.Allowlist, k.Location, k.Created = []string{"orders:read", "orders:write"}, []string{"203.0.113.7/32"}, "cloud VM", ago(10*day)
					k.UsedScopes = k.Scopes
				}
				s.Keys[1].Created = s.Keys[1].Created.Add(20 * time.Second)
			},
			want: []string{"key-twins/live-bot medium"},
		},
		{
			name: "paper and live keys alike but made apart",
			edit: func(s *posture.Snapshot) {
				for i := range s.Keys[:2] {
					k := &s.Keys[i]
					k.Scopes, k.Allowlist, k.Location, k.Created = []string{"orders:read", "orders:write"}, []string{"203.0.113.7/32"}, "cloud VM", ago(10*day)
					k.UsedScopes = k.Scopes
				}
				s.Keys[1].Created = s.Keys[1].Created.Add(2 * time.Hour)
			},
		},
		{
			name: "paper key used for live reads",
			edit: paper(func(k *posture.APIKey) {
				k.Scopes, k.UsedScopes, k.UsedEnvironments = []string{"orders:read"}, nil, []string{"live", "paper"}
			}),
			want: []string{"key-shared-environments/paper-bot medium"},
		},
		{
			name: "paper key unused",
			edit: paper(func(k *posture.APIKey) { k.LastUsed = ago(40 * day) }),
			want: []string{"key-unused/paper-bot low"},
		},
		{
			name: "unused write scope on live key",
			edit: live(func(k *posture.APIKey) { k.UsedScopes = []string{"marketdata:read", "orders:read"} }),
			want: []string{"key-broad-scopes/live-bot high"},
		},
		{
			name: "unused read scope",
			edit: live(func(k *posture.APIKey) {
				k.Scopes = append(k.Scopes, "account:read")
			}),
			want: []string{"key-broad-scopes/live-bot low"},
		},
		{
			name: "no use at all shows every scope is extra",
			edit: live(func(k *posture.APIKey) { k.UsedScopes = []string{} }),
			want: []string{"key-broad-scopes/live-bot high"},
		},
		{
			name: "unknown use, trades and transfers",
			edit: live(func(k *posture.APIKey) {
				k.Scopes, k.UsedScopes = append(k.Scopes, "transfers:write"), nil
			}),
			want: []string{"key-broad-scopes/live-bot high"},
		},
		{
			name: "unknown use, trades only",
			edit: live(func(k *posture.APIKey) { k.UsedScopes = nil }),
		},
		{
			name: "live key used for paper work",
			edit: live(func(k *posture.APIKey) { k.UsedEnvironments = []string{"paper", "live"} }),
			want: []string{"key-shared-environments/live-bot high"},
		},
		{
			name: "live key on a paper account",
			edit: live(func(k *posture.APIKey) { k.Account = "PAPER-1" }),
			want: []string{"key-shared-environments/live-bot high"},
		},
		{
			name: "paper key used for live work",
			edit: paper(func(k *posture.APIKey) { k.UsedEnvironments = []string{"live", "paper"} }),
			want: []string{"key-shared-environments/paper-bot high"},
		},
		{
			name: "professional without a paper key",
			edit: func(s *posture.Snapshot) { s.Keys = s.Keys[:1] },
			want: []string{"key-no-paper low"},
		},
		{
			name: "occasional without a paper key",
			edit: func(s *posture.Snapshot) { s.Profile, s.Keys = posture.Occasional, s.Keys[:1] },
		},
		{
			name: "several problems of one key, in check order",
			edit: live(func(k *posture.APIKey) {
				k.Allowlist, k.Created, k.LastUsed = nil, ago(200*day), ago(60*day)
			}),
			want: []string{"key-no-allowlist/live-bot high", "key-rotation/live-bot high", "key-unused/live-bot high"},
		},
		{
			name: "live trading key minted by a session later ended",
			edit: live(func(k *posture.APIKey) { k.MinterEnded = true }),
			want: []string{"key-minted-by-ended-session/live-bot high"},
		},
		{
			name: "live read-only key minted by a session later ended",
			edit: live(func(k *posture.APIKey) {
				k.MinterEnded, k.Scopes, k.UsedScopes = true, []string{"orders:read"}, []string{"orders:read"}
			}),
			want: []string{"key-minted-by-ended-session/live-bot medium"},
		},
		{
			name: "paper key minted by a session later ended",
			edit: paper(func(k *posture.APIKey) { k.MinterEnded = true }),
		},
	})
}

func TestRecoveryRule(t *testing.T) {
	noCodes := func(fs ...posture.Factor) func(*posture.Snapshot) {
		return func(s *posture.Snapshot) { s.Factors, s.RecoveryCodesLeft = fs, 0 }
	}
	runRule(t, "recovery", []ruleCase{
		{name: "two keys and codes", want: []string{"recovery mitigated"}},
		{name: "two factors, no codes", edit: noCodes(yubikey, push), want: []string{"recovery mitigated"}},
		{
			name: "one security key, no codes, no risky permissions",
			edit: func(s *posture.Snapshot) { noCodes(yubikey)(s); s.Accounts[0].Permissions = posture.Permissions{} },
			want: []string{"recovery-single-factor medium"},
		},
		{name: "one security key, no codes, options on", edit: noCodes(yubikey), want: []string{"recovery-single-factor high"}},
		{name: "SMS is no backup", edit: noCodes(yubikey, sms), want: []string{"recovery-single-factor high"}},
		{
			name: "one factor, two codes",
			edit: func(s *posture.Snapshot) { s.Factors, s.RecoveryCodesLeft = []posture.Factor{push}, 2 },
			want: []string{"recovery-codes-low low"},
		},
		{
			name: "one factor, plenty of codes",
			edit: func(s *posture.Snapshot) { s.Factors = []posture.Factor{push, recovery} },
			want: []string{"recovery mitigated"},
		},
		{name: "SMS only: nothing strong to lose", edit: noCodes(sms)},
	})
}

func TestSessionsRule(t *testing.T) {
	desktop := func(n, devices int) func(*posture.Snapshot) {
		return func(s *posture.Snapshot) {
			s.Sessions = nil
			for i := range n {
				s.Sessions = append(s.Sessions, posture.Session{
					ID: fmt.Sprintf("d%d", i), Interface: "desktop", Created: ago(time.Hour), LastSeen: ago(time.Minute),
					Expires: now.Add(23 * time.Hour), Assurance: 3,
				})
			}
			s.Devices = nil
			for i := range devices {
				s.Devices = append(s.Devices, posture.Device{ID: fmt.Sprint(i), Interface: "desktop", Name: fmt.Sprint("ws", i)})
			}
		}
	}
	runRule(t, "sessions", []ruleCase{
		{name: "fresh sessions"},
		{
			name: "web session unseen for 5 days",
			edit: func(s *posture.Snapshot) {
				s.Sessions[1].Created, s.Sessions[1].LastSeen, s.Sessions[1].Expires = ago(6*day), ago(5*day), now.Add(3*day)
			},
			want: []string{"session-stale/web-1 medium"},
		},
		{
			name: "stale session that never expires",
			edit: func(s *posture.Snapshot) {
				s.Sessions[1].Created, s.Sessions[1].LastSeen, s.Sessions[1].Expires = ago(6*day), time.Time{}, time.Time{}
			},
			want: []string{"session-stale/web-1 medium"},
		},
		{
			name: "stale session about to expire",
			edit: func(s *posture.Snapshot) {
				s.Sessions[1].Created, s.Sessions[1].LastSeen, s.Sessions[1].Expires = ago(6*day), ago(5*day), now.Add(12*time.Hour)
			},
			want: []string{"session-stale/web-1 low"},
		},
		{
			name: "stale but expired",
			edit: func(s *posture.Snapshot) {
				s.Sessions[1].Created, s.Sessions[1].LastSeen, s.Sessions[1].Expires = ago(6*day), ago(5*day), ago(time.Hour)
			},
		},
		{name: "two desktop sessions, one workstation", edit: desktop(2, 1)},
		{name: "three desktop sessions, one workstation", edit: desktop(3, 1), want: []string{"desktop-sessions-many medium"}},
		{name: "three desktop sessions, two workstations", edit: desktop(3, 2)},
		{
			name: "three desktop sessions, one workstation, one unseen for days, professional",
			edit: func(s *posture.Snapshot) { desktop(3, 1)(s); s.Sessions[0].LastSeen = ago(4 * day) },
			want: []string{"session-stale/d0 low", "desktop-sessions-many high"},
		},
		{
			name: "the same for an occasional trader",
			edit: func(s *posture.Snapshot) {
				desktop(3, 1)(s)
				s.Sessions[0].LastSeen, s.Profile = ago(4*day), posture.Occasional
			},
			want: []string{"session-stale/d0 low", "desktop-sessions-many medium"},
		},
		{name: "three desktop sessions, no device listed", edit: desktop(3, 0), want: []string{"desktop-sessions-many medium"}},
	})
}

func TestNotificationsRule(t *testing.T) {
	off := func(p posture.Profile) func(*posture.Snapshot) {
		return func(s *posture.Snapshot) { s.Profile, s.Settings.SessionNotifications = p, false }
	}
	runRule(t, "notifications", []ruleCase{
		{name: "on", want: []string{"notifications mitigated"}},
		{name: "off, professional", edit: off(posture.Professional), want: []string{"notifications-off low"}},
		{name: "off, occasional", edit: off(posture.Occasional), want: []string{"notifications-off medium"}},
		{name: "off, mobile", edit: off(posture.Mobile), want: []string{"notifications-off medium"}},
	})
}

func TestPhoneRule(t *testing.T) {
	phone := func(p posture.Profile, lock string, password bool, fs ...posture.Factor) func(*posture.Snapshot) {
		return func(s *posture.Snapshot) {
			s.Profile, s.Factors = p, fs
			s.Devices[1].Lock, s.Devices[1].HoldsPassword = lock, password
		}
	}
	runRule(t, "phone", []ruleCase{
		{name: "locked phone"},
		{name: "no phone", edit: func(s *posture.Snapshot) { s.Devices = s.Devices[:1] }},
		{name: "no lock, push on the phone", edit: phone(posture.Professional, "off", false, push), want: []string{"phone-no-lock/phone high"}},
		{name: "no lock, phone no factor", edit: phone(posture.Professional, "off", false, yubikey), want: []string{"phone-no-lock/phone medium"}},
		{name: "no lock, mobile trader", edit: phone(posture.Mobile, "off", false, yubikey), want: []string{"phone-no-lock/phone high"}},
		{name: "lock unknown, mobile trader", edit: phone(posture.Mobile, "", false, push), want: []string{"phone-lock-unknown/phone medium"}},
		{name: "lock unknown, professional", edit: phone(posture.Professional, "unknown", false, push), want: []string{"phone-lock-unknown/phone low"}},
		{name: "password store and factor", edit: phone(posture.Professional, "on", true, push), want: []string{"phone-password-store/phone medium"}},
		{name: "password store and factor, mobile", edit: phone(posture.Mobile, "on", true, totp), want: []string{"phone-password-store/phone high"}},
		{name: "password store, no phone factor", edit: phone(posture.Professional, "on", true, yubikey)},
		{
			name: "no lock and password store",
			edit: phone(posture.Occasional, "off", true, sms),
			want: []string{"phone-no-lock/phone high", "phone-password-store/phone high"},
		},
	})
}

func TestPermissionsRule(t *testing.T) {
	openKey := func(s *posture.Snapshot) { s.Keys[0].Allowlist = nil }
	runRule(t, "permissions", []ruleCase{
		{name: "no high finding"},
		{name: "high finding, options on", edit: openKey, want: []string{"permissions-ahead/LIVE-1 high"}},
		{
			name: "high finding, permissions only on paper",
			edit: func(s *posture.Snapshot) {
				openKey(s)
				s.Accounts[0].Permissions = posture.Permissions{}
				s.Accounts[1].Permissions = posture.Permissions{Margin: true, Withdrawals: true}
			},
		},
		{
			name: "high finding, withdrawals on",
			edit: func(s *posture.Snapshot) {
				openKey(s)
				s.Accounts[0].Permissions = posture.Permissions{Withdrawals: true}
			},
			want: []string{"permissions-ahead/LIVE-1 high"},
		},
		{
			name: "medium findings only",
			edit: func(s *posture.Snapshot) {
				s.Keys[0].Scopes, s.Keys[0].UsedEnvironments = []string{"orders:read"}, []string{"paper", "live"}
			},
		},
	})
}

// TestEveryRuleTested fails when a rule is added without its table test
// above: add the test, then the rule's name here.
func TestEveryRuleTested(t *testing.T) {
	withTables := []string{"desktop", "sms", "push", "second-factor-guessing", "phishing", "second-factor", "keys", "recovery", "sessions", "notifications", "phone", "permissions"}
	var got []string
	for _, r := range posture.Rules() {
		got = append(got, r.Name)
	}
	if diff := cmp.Diff(withTables, got); diff != "" {
		t.Errorf("rules (-with table tests +in posture.Rules):\n%s", diff)
	}
}
