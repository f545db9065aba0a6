package posture

import (
	"cmp"
	"slices"
	"time"
)

// Exposure is how open a failure mode is.
type Exposure string

// The exposures, from worst to best.
const (
	// High: the failure mode is open now and would cost money or the
	// account; fix it before anything else.
	High Exposure = "high"
	// Medium: open, but it takes a second mistake or a determined attacker.
	Medium Exposure = "medium"
	// Low: worth fixing when convenient.
	Low Exposure = "low"
	// Mitigated: the set-up has the control this failure mode calls for.
	Mitigated Exposure = "mitigated"
)

// Exposures lists the exposures from worst to best.
var Exposures = []Exposure{High, Medium, Low, Mitigated}

// rank orders exposures, worst first; an unknown exposure sorts last.
func (e Exposure) rank() int {
	if i := slices.Index(Exposures, e); i >= 0 {
		return i
	}
	return len(Exposures)
}

// FailureMode is a way an account can be lost or misused.
type FailureMode string

// The failure modes the rules look for.
const (
	DesktopCompromise FailureMode = "desktop-compromise"
	SMSInterception   FailureMode = "sms-interception"
	PushFatigue       FailureMode = "push-fatigue"
	Phishing          FailureMode = "phishing"
	PasswordOnly      FailureMode = "password-only"
	KeyLeakage        FailureMode = "api-key-leakage"
	NoRecovery        FailureMode = "no-recovery"
	PermissionsAhead  FailureMode = "permissions-ahead-of-controls"
	StaleSessions     FailureMode = "stale-sessions"
	LostPhone         FailureMode = "lost-phone"
	SilentTakeover    FailureMode = "silent-takeover"
	FactorGuessing    FailureMode = "second-factor-guessing"
)

// Title returns the failure mode's name for a person.
func (m FailureMode) Title() string {
	switch m {
	case DesktopCompromise:
		return "Desktop compromise"
	case SMSInterception:
		return "SMS interception and SIM swap"
	case PushFatigue:
		return "Push fatigue"
	case Phishing:
		return "Phishing"
	case PasswordOnly:
		return "Password only"
	case KeyLeakage:
		return "API key leakage"
	case NoRecovery:
		return "No recovery path"
	case PermissionsAhead:
		return "Permissions ahead of controls"
	case StaleSessions:
		return "Stale sessions"
	case LostPhone:
		return "Lost or stolen phone"
	case SilentTakeover:
		return "Unnoticed sign-ins"
	case FactorGuessing:
		return "Second-factor guessing"
	}
	return string(m)
}

// Evidence points at the factor, key, session, device, account, push or
// setting that a finding rests on. It never holds a secret.
type Evidence struct {
	Kind   string `json:"kind"` // factor, key, session, device, account, push, setting
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Detail string `json:"detail"`
}

// Finding is one failure mode of one set-up, or one part of it.
type Finding struct {
	// ID is stable across runs: the check's name, then "/" and the id of
	// the key, session, device or account when the check is per item.
	ID          string      `json:"id"`
	FailureMode FailureMode `json:"failure_mode"`
	Doors       []string    `json:"doors"`
	Exposure    Exposure    `json:"exposure"`
	// Summary says what can go wrong, in a sentence for the account holder.
	Summary  string     `json:"summary"`
	Evidence []Evidence `json:"evidence"`
	NextStep string     `json:"next_step"`
	// Also are the consequences of the same root cause that other checks
	// found: one missing security key is one finding with one next step,
	// whose desktop, phishing and SMS consequences are listed here rather
	// than as findings of their own (see [rootCauses]).
	Also []Consequence `json:"also"`
	// Basis names the rules the finding applies, and where each comes
	// from: the profile judged against, NIST SP 800-63B-4, or the
	// jurisdiction pack of an account's legal entity.
	Basis []Basis `json:"basis"`
}

// Consequence is what another check found that shares a finding's root
// cause: its id, its own exposure and its summary.
type Consequence struct {
	ID          string      `json:"id"`
	FailureMode FailureMode `json:"failure_mode"`
	Doors       []string    `json:"doors"`
	Exposure    Exposure    `json:"exposure"`
	Summary     string      `json:"summary"`
}

// touches reports whether f, or a consequence listed in it, concerns door.
func (f Finding) touches(door string) bool {
	return slices.Contains(f.Doors, door) || slices.ContainsFunc(f.Also, func(c Consequence) bool { return slices.Contains(c.Doors, door) })
}

// User names the user a report is about.
type User struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Guard is something that guards a door: the password, a factor, a device
// or an API key.
type Guard struct {
	Kind string `json:"kind"` // password, factor, device, session, key
	Name string `json:"name"`
	// Note qualifies it: "weak", "security key, AAL3", "live, no IP allowlist".
	Note string `json:"note,omitempty"`
	// Weak is set when the guard is itself the weak point.
	Weak bool `json:"weak,omitempty"`
}

// Door is one interface in the report's login map.
type Door struct {
	Name   string  `json:"name"` // desktop, web, mobile or api
	Used   bool    `json:"used"`
	Guards []Guard `json:"guards"`
}

// Title returns the door's name for a person.
func (d Door) Title() string {
	switch d.Name {
	case DoorDesktop:
		return "Desktop"
	case DoorWeb:
		return "Web portal"
	case DoorMobile:
		return "Phone app"
	case DoorAPI:
		return "API"
	}
	return d.Name
}

// AccountSummary is an account as the report shows it.
type AccountSummary struct {
	ID          string   `json:"id"`
	Name        string   `json:"name,omitempty"`
	Environment string   `json:"environment"`
	Permissions []string `json:"permissions"`      // options, margin, futures, withdrawals: those on
	Entity      string   `json:"entity,omitempty"` // the entity's code
}

// Report is the posture of one user at one moment.
type Report struct {
	User    User    `json:"user"`
	Profile Profile `json:"profile"`
	// Policy is what the profile asks for, as [Profile.Policy] says it.
	Policy     string    `json:"policy"`
	AssessedAt time.Time `json:"assessed_at"`
	// Doors are all four interfaces, used or not, with their guards.
	Doors []Door `json:"doors"`
	// Accounts are the accounts the user reaches, with their permissions.
	Accounts []AccountSummary `json:"accounts"`
	// Findings are sorted by exposure, high first, then by ID.
	Findings []Finding      `json:"findings"`
	Entities []EntityReport `json:"entities"`
	// Unstated are the questions the set-up left open: the checks that
	// need their answers were not run, rather than run on a guess.
	Unstated []Question `json:"unstated"`
	// Packs are the rule sets the findings were judged by: NIST SP
	// 800-63B-4 always, and the jurisdiction pack of each legal entity
	// that has one.
	Packs []PackReport `json:"packs"`
	// Signals are the security signals in force that concern the user:
	// the platform's advisories, with what the user still owes.
	Signals []SignalNotice `json:"signals"`
}

// SignalNotice is one security signal in force for the user of a report.
type SignalNotice struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Severity string `json:"severity"`
	Link     string `json:"link,omitempty"`
	// Owed are the steps the user has still to take (enrol a security
	// key, replace SMS); Rules the rules in force meanwhile (sign in
	// again, step up for a route).
	Owed  []string `json:"owed"`
	Rules []string `json:"rules"`
}

// HasHigh reports whether a high finding is open.
func (r Report) HasHigh() bool {
	for _, f := range r.Findings {
		if f.Exposure == High {
			return true
		}
	}
	return false
}

// Count returns how many findings have exposure e.
func (r Report) Count(e Exposure) int {
	n := 0
	for _, f := range r.Findings {
		if f.Exposure == e {
			n++
		}
	}
	return n
}

// DoorExposure returns the worst exposure of the findings that touch
// door, and false when none does.
func (r Report) DoorExposure(door string) (Exposure, bool) {
	worst, ok := Mitigated, false
	for _, f := range r.Findings {
		if f.touches(door) {
			if !ok || f.Exposure.rank() < worst.rank() {
				worst = f.Exposure
			}
			ok = true
		}
	}
	return worst, ok
}

// Rule is one check of a snapshot. Check reads nothing but its arguments.
type Rule struct {
	Name  string
	Check func(s Snapshot, now time.Time) []Finding
}

// baseRules are the rules that do not depend on other findings.
var baseRules = []Rule{
	{"desktop", checkDesktop},
	{"sms", checkSMS},
	{"push", checkPush},
	{"second-factor-guessing", checkGuessing},
	{"phishing", checkPhishing},
	{"second-factor", checkSecondFactor},
	{"keys", checkKeys},
	{"recovery", checkRecovery},
	{"sessions", checkSessions},
	{"notifications", checkNotifications},
	{"phone", checkPhone},
}

// Rules returns every rule [Assess] runs, in order. The last,
// "permissions", runs the others to learn whether a high finding is open.
func Rules() []Rule {
	return append(slices.Clip(baseRules), Rule{"permissions", checkPermissions})
}

// Assess judges s at now against its profile and the packs of its
// accounts' entities. It is pure: the same snapshot and time give the
// same report.
func Assess(s Snapshot, now time.Time) Report {
	fs := baseFindings(s, now)
	fs = append(fs, mergeCauses(checkPermissions(s, now))...)
	sortFindings(fs)
	name := s.UserName
	if name == "" {
		name = s.UserID
	}
	return Report{
		User:       User{ID: s.UserID, Name: name},
		Profile:    s.Profile,
		Policy:     s.Profile.Policy(),
		AssessedAt: now,
		Doors:      doors(s, now),
		Accounts:   accountSummaries(s),
		Findings:   fs,
		Entities:   entityReports(s),
		Unstated:   askFor(s, Rules()),
		Packs:      packReports(s),
	}
}

// baseFindings runs every rule but the permission gate on s (those whose
// fields s states), applies the jurisdiction packs, and merges the
// findings of one root cause into one.
func baseFindings(s Snapshot, now time.Time) []Finding {
	var fs []Finding
	for _, r := range baseRules {
		if s.runs(r.Name) {
			fs = append(fs, r.Check(s, now)...)
		}
	}
	fs = applyPacks(s, withBases(s, fs))
	return mergeCauses(fs)
}

// sortFindings orders fs by exposure, high first, then by ID; among
// equals the permission findings come last, since their step is to fix
// the others first.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		if c := cmp.Compare(a.Exposure.rank(), b.Exposure.rank()); c != 0 {
			return c
		}
		last := func(f Finding) int {
			if f.FailureMode == PermissionsAhead {
				return 1
			}
			return 0
		}
		if c := cmp.Compare(last(a), last(b)); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

func accountSummaries(s Snapshot) []AccountSummary {
	out := make([]AccountSummary, 0, len(s.Accounts))
	for _, a := range s.Accounts {
		out = append(out, AccountSummary{
			ID: a.ID, Name: a.Name, Environment: a.Environment,
			Permissions: a.Permissions.List(), Entity: a.Entity.Code,
		})
	}
	return out
}
