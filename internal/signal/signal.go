// Package signal is the domain of security signals: an advisory an
// operator records (a disclosed vulnerability, a phishing campaign, a
// change of policy) with the playbook steps it runs on the users in its
// scope. It is pure: the store keeps signals and their effects, package
// playbook plans and applies them.
package signal

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/session"
	"gatehouse/internal/user"
)

// Kind is what a signal is about.
type Kind string

// The kinds of signal.
const (
	Vulnerability Kind = "vulnerability"
	Phishing      Kind = "phishing"
	Policy        Kind = "policy"
	Other         Kind = "other"
)

// Severity is how grave a signal is.
type Severity string

// The severities.
const (
	Low    Severity = "low"
	Medium Severity = "medium"
	High   Severity = "high"
)

// State is where a signal stands: open while its rules are in force.
type State string

// The states. A closed signal stays, with its history.
const (
	Open   State = "open"
	Closed State = "closed"
)

// Signal is one advisory and its playbook.
type Signal struct {
	ID       string
	Title    string
	Kind     Kind
	Severity Severity
	// Doors and Profiles bound the scope: users of any of the profiles
	// (all when empty), on any of the doors (all when empty). A door
	// limits the steps that act on sessions (end-sessions, reauth); the
	// "api" door names API keys.
	Doors    []string
	Profiles []user.Profile
	Link     string // the advisory's public page, may be empty
	Steps    []Step
	State    State
	// CreatedAt, CreatedBy: when and by whom it was recorded;
	// AppliedAt: when it was first applied (zero until then); ClosedAt,
	// ClosedBy: zero and "" while open.
	CreatedAt time.Time
	CreatedBy string
	AppliedAt time.Time
	ClosedAt  time.Time
	ClosedBy  string
}

// Errors of signal validation.
var (
	ErrTitle = errors.New("signal: a title of 1 to 200 characters is needed")
	ErrKind  = errors.New("signal: kind must be vulnerability, phishing, policy or other")
	ErrSev   = errors.New("signal: severity must be low, medium or high")
	ErrDoor  = errors.New("signal: door must be web, desktop, mobile or api")
	ErrLink  = errors.New("signal: link must be an absolute http or https URL")
	ErrSteps = errors.New("signal: at most 20 steps")
)

// Validate returns every problem of s, joined, or nil.
func (s *Signal) Validate() error {
	var errs []error
	if t := strings.TrimSpace(s.Title); t == "" || len(t) > 200 || strings.ContainsAny(t, "\r\n") {
		errs = append(errs, ErrTitle)
	}
	switch s.Kind {
	case Vulnerability, Phishing, Policy, Other:
	default:
		errs = append(errs, ErrKind)
	}
	switch s.Severity {
	case Low, Medium, High:
	default:
		errs = append(errs, ErrSev)
	}
	for _, d := range s.Doors {
		if d != "api" {
			if _, err := session.ParseDoor(d); err != nil {
				errs = append(errs, fmt.Errorf("%w: %q", ErrDoor, d))
			}
		}
	}
	for _, p := range s.Profiles {
		if _, err := user.ParseProfile(string(p)); err != nil {
			errs = append(errs, err)
		}
	}
	if s.Link != "" {
		u, err := url.Parse(s.Link)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(s.Link) > 2000 {
			errs = append(errs, ErrLink)
		}
	}
	if len(s.Steps) > 20 {
		errs = append(errs, ErrSteps)
	}
	return errors.Join(errs...)
}

// InForce reports whether the signal's rules hold: it is open.
func (s *Signal) InForce() bool { return s.State == Open }

// UserInScope reports whether u is among the users the signal concerns.
func (s *Signal) UserInScope(u *user.User) bool {
	return len(s.Profiles) == 0 || slices.Contains(s.Profiles, u.Profile)
}

// DoorInScope reports whether the signal's session steps act on door.
func (s *Signal) DoorInScope(door string) bool {
	return len(s.Doors) == 0 || slices.Contains(s.Doors, door)
}

// StepKind names a playbook step.
type StepKind string

// The playbook steps.
const (
	// EndSessions ends the sessions of the users in scope on the doors
	// in scope: all of them, or those begun before Before.
	EndSessions StepKind = "end-sessions"
	// Reauth asks sessions on the doors in scope for AAL at least, from
	// the signal's application on, until it is closed.
	Reauth StepKind = "reauth"
	// RotateKeys marks the API keys of the users in scope for rotation
	// within Within; those not rotated by then are suspended.
	RotateKeys StepKind = "rotate-keys"
	// RequirePhishingResistant asks the users in scope for a security
	// key or passkey by Deadline; after it, the sessions of those
	// without one reach only enrolment and read-only routes.
	RequirePhishingResistant StepKind = "require-phishing-resistant"
	// ForbidSMS refuses SMS as a factor to the users in scope.
	ForbidSMS StepKind = "forbid-sms"
	// RouteAAL raises the assurance the route Host+Path asks to AAL.
	RouteAAL StepKind = "route-aal"
)

// Step is one playbook step, written as in `--step`: "end-sessions",
// "end-sessions:2026-12-01", "reauth:aal3", "rotate-keys:14d",
// "require-phishing-resistant:2027-01-31", "forbid-sms",
// "route-aal:api.example.com/v1/orders=3".
type Step struct {
	Kind     StepKind
	Before   time.Time         // end-sessions; zero for every session
	AAL      session.Assurance // reauth, route-aal
	Within   time.Duration     // rotate-keys
	Deadline time.Time         // require-phishing-resistant
	Host     string            // route-aal
	Path     string            // route-aal: a path prefix
}

// ErrStep is the error of a step that cannot be parsed.
var ErrStep = errors.New("signal: unknown step (want end-sessions[:DATE], reauth:aal2|aal3, rotate-keys:Nd, require-phishing-resistant:DATE, forbid-sms, route-aal:HOST/PATH=N)")

// ParseStep parses one step.
func ParseStep(s string) (Step, error) {
	name, arg, hasArg := strings.Cut(strings.TrimSpace(s), ":")
	bad := func(why string) (Step, error) { return Step{}, fmt.Errorf("%w: %q: %s", ErrStep, s, why) }
	switch StepKind(name) {
	case EndSessions:
		if !hasArg {
			return Step{Kind: EndSessions}, nil
		}
		t, err := parseTime(arg)
		if err != nil {
			return bad("the time must be a date (2006-01-02) or RFC 3339")
		}
		return Step{Kind: EndSessions, Before: t}, nil
	case Reauth:
		switch arg {
		case "aal2":
			return Step{Kind: Reauth, AAL: session.AAL2}, nil
		case "aal3":
			return Step{Kind: Reauth, AAL: session.AAL3}, nil
		}
		return bad("want reauth:aal2 or reauth:aal3")
	case RotateKeys:
		n, err := strconv.Atoi(strings.TrimSuffix(arg, "d"))
		if !strings.HasSuffix(arg, "d") || err != nil || n < 1 || n > 365 {
			return bad("want rotate-keys:Nd with N from 1 to 365")
		}
		return Step{Kind: RotateKeys, Within: time.Duration(n) * 24 * time.Hour}, nil
	case RequirePhishingResistant:
		t, err := parseTime(arg)
		if err != nil {
			return bad("the deadline must be a date (2006-01-02) or RFC 3339")
		}
		return Step{Kind: RequirePhishingResistant, Deadline: t}, nil
	case ForbidSMS:
		if hasArg {
			return bad("forbid-sms takes no argument")
		}
		return Step{Kind: ForbidSMS}, nil
	case RouteAAL:
		route, level, ok := strings.Cut(arg, "=")
		n, err := strconv.Atoi(level)
		host, path, _ := strings.Cut(route, "/")
		if !ok || err != nil || n < 1 || n > 3 || host == "" || strings.ContainsAny(route, " \t?#") {
			return bad("want route-aal:HOST/PATH=1|2|3")
		}
		return Step{Kind: RouteAAL, AAL: session.Assurance(n), Host: strings.ToLower(host), Path: "/" + path}, nil
	}
	return bad("unknown step")
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	return t.UTC(), err
}

// String writes the step as [ParseStep] reads it.
func (s Step) String() string {
	switch s.Kind {
	case EndSessions:
		if s.Before.IsZero() {
			return string(s.Kind)
		}
		return string(s.Kind) + ":" + formatTime(s.Before)
	case Reauth:
		return fmt.Sprintf("%s:aal%d", s.Kind, s.AAL)
	case RotateKeys:
		return fmt.Sprintf("%s:%dd", s.Kind, int(s.Within/(24*time.Hour)))
	case RequirePhishingResistant:
		return string(s.Kind) + ":" + formatTime(s.Deadline)
	case RouteAAL:
		return fmt.Sprintf("%s:%s%s=%d", s.Kind, s.Host, s.Path, s.AAL)
	}
	return string(s.Kind)
}

func formatTime(t time.Time) string {
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}

// Todo is what a user affected by the step must do, as a notice says it.
func (s Step) Todo() string {
	switch s.Kind {
	case EndSessions:
		return "sign in again"
	case Reauth:
		return fmt.Sprintf("sign in again with a second factor (%s) when asked", s.AAL)
	case RotateKeys:
		return fmt.Sprintf("rotate your API keys within %d days, or they will be suspended", int(s.Within/(24*time.Hour)))
	case RequirePhishingResistant:
		return "enrol a security key or a passkey by " + s.Deadline.Format(time.DateOnly)
	case ForbidSMS:
		return "enrol an authenticator app, a passkey or a security key: SMS codes are no longer accepted"
	case RouteAAL:
		return fmt.Sprintf("step up to %s for %s%s", s.AAL, s.Host, s.Path)
	}
	return ""
}

// Action is one thing applying a step does to one target: the unit the
// dry run lists and apply performs, once.
type Action struct {
	// Step is the index of the step in the signal's playbook.
	Step int `json:"step"`
	// Op is what is done: "end-session", "mark-key", "suspend-key",
	// "tell" (the user is told of a rule now in force).
	Op string `json:"op"`
	// UserID is the user concerned; Target the session or key id
	// (the user id for "tell").
	UserID string `json:"user"`
	Target string `json:"target"`
}

// The action operations.
const (
	OpEndSession = "end-session"
	OpMarkKey    = "mark-key"
	OpSuspendKey = "suspend-key"
	OpTell       = "tell"
)

// Effect is an action done, as the store records it so that applying
// again does nothing twice.
type Effect struct {
	SignalID string
	Action
	At time.Time
}
