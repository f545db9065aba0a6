package posture

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Profile is the kind of trader a user is. It turns the heuristics of the
// rules into policy: what a professional must have, an occasional trader
// need only be told.
type Profile string

// The trader profiles.
const (
	// Professional trades algorithmically and through the API: hardware key
	// on the desktop, separate paper and live keys, keys rotated at least
	// every 90 days, narrow scopes.
	Professional Profile = "professional"
	// Occasional uses the web portal: app or push MFA, session
	// notifications on, no SMS where an alternative exists.
	Occasional Profile = "occasional"
	// Mobile trades from the phone: device lock, push rather than SMS, the
	// phone as a factor and not also the password store.
	Mobile Profile = "mobile"
)

// Profiles lists the profiles in a stable order.
var Profiles = []Profile{Professional, Occasional, Mobile}

// Policy returns, in one sentence, what the profile asks for. The report
// quotes it so the reader knows what they were judged against.
func (p Profile) Policy() string {
	switch p {
	case Professional:
		return "a hardware security key on the desktop, separate paper and live API keys, keys rotated at least every 90 days, and scopes no wider than their use"
	case Occasional:
		return "an authenticator app or push approval as second factor, notifications of new sessions switched on, and no SMS codes where an alternative exists"
	case Mobile:
		return "a screen lock on the phone, push approval rather than SMS codes, and the phone used as a factor but not also as the password store"
	}
	return "no known profile"
}

// RotationPeriod is the longest an API key should live before it is
// replaced, for users of profile p.
func (p Profile) RotationPeriod() time.Duration {
	if p == Professional {
		return 90 * day
	}
	return 180 * day
}

// The doors to an account. Plain strings keep this package independent of
// the session and apikey packages; the server maps its own types.
const (
	DoorDesktop = "desktop"
	DoorWeb     = "web"
	DoorMobile  = "mobile"
	DoorAPI     = "api"
)

// Doors lists the four interfaces in the order the report draws them.
var Doors = []string{DoorDesktop, DoorWeb, DoorMobile, DoorAPI}

// FactorKind is the kind of a second factor.
type FactorKind string

// The factor kinds, from weakest to strongest, and recovery codes.
const (
	SMS      FactorKind = "sms"
	TOTP     FactorKind = "totp"
	Push     FactorKind = "push"
	WebAuthn FactorKind = "webauthn"
	Recovery FactorKind = "recovery"
)

// FactorKinds lists the factor kinds in a stable order.
var FactorKinds = []FactorKind{SMS, TOTP, Push, WebAuthn, Recovery}

// Factor is an enrolled authentication factor.
type Factor struct {
	ID   string
	Kind FactorKind
	Name string // as the user named it: "YubiKey 5C", "phone ending 0142"
	// DeviceBound is set for a WebAuthn credential whose key cannot leave
	// its authenticator (a security key), which gives AAL3; a synced passkey
	// is not device-bound and counts as AAL2.
	DeviceBound bool
	// Device names the device that holds the factor ("phone"), if known.
	Device   string
	Created  time.Time
	LastUsed time.Time // zero: never used
}

// Strong reports whether f is a second factor stronger than SMS: an
// authenticator app, push approval or a WebAuthn credential.
func (f Factor) Strong() bool {
	return f.Kind == TOTP || f.Kind == Push || f.Kind == WebAuthn
}

// Device locks.
const (
	LockOn      = "on"
	LockOff     = "off"
	LockUnknown = "unknown"
)

// Device is a device the user signs in from.
type Device struct {
	ID        string
	Interface string // desktop, web or mobile
	Name      string
	Trusted   bool
	Lock      string // LockOn, LockOff or LockUnknown ("" means unknown)
	// HoldsPassword is set when the account's password is saved on the
	// device, in a browser or password manager.
	HoldsPassword bool
}

// Session is a signed-in client.
type Session struct {
	ID        string
	Interface string // desktop, web or mobile
	Device    string // the device's name
	Created   time.Time
	LastSeen  time.Time
	Expires   time.Time // zero: never expires
	Assurance int       // authenticator assurance level, 1 to 3
}

// Valid reports whether s can still be used at now.
func (s Session) Valid(now time.Time) bool {
	return s.Expires.IsZero() || s.Expires.After(now)
}

// Lifetime is how long s lasts from its start; zero when it never expires.
func (s Session) Lifetime() time.Duration {
	if s.Expires.IsZero() {
		return 0
	}
	return s.Expires.Sub(s.Created)
}

// The API key scopes.
const (
	ScopeAccountRead    = "account:read"
	ScopeMarketdataRead = "marketdata:read"
	ScopeOrdersRead     = "orders:read"
	ScopeOrdersWrite    = "orders:write"
	ScopeTransfersWrite = "transfers:write"
)

// Scopes lists every API key scope.
var Scopes = []string{ScopeAccountRead, ScopeMarketdataRead, ScopeOrdersRead, ScopeOrdersWrite, ScopeTransfersWrite}

// The account and key environments.
const (
	Paper = "paper"
	Live  = "live"
)

// APIKey is an API key as the posture rules see it: never its secret.
type APIKey struct {
	ID          string
	Name        string
	Account     string // the account's ID
	Environment string // paper or live
	Scopes      []string
	Allowlist   []string // CIDRs the key is accepted from; empty: anywhere
	Created     time.Time
	Expires     time.Time // zero: never
	LastUsed    time.Time // zero: never used
	// UsedScopes are the scopes its recent use shows; nil means unknown.
	UsedScopes []string
	// UsedEnvironments are the environments its recent use shows (paper,
	// live); nil means unknown. Both means the key is shared between paper
	// and live work.
	UsedEnvironments []string
	// Location says where the key lives, in the user's words: "cloud VM",
	// "laptop keychain", "CI secret".
	Location string
	// MinterEnded is set when the session that minted the key was later
	// ended as untrusted (revoked by the user or an operator, or by a
	// password change). The key outlived it: if that session was a
	// thief's, so is the key.
	MinterEnded bool
}

// Valid reports whether k can still be used at now.
func (k APIKey) Valid(now time.Time) bool {
	return k.Expires.IsZero() || k.Expires.After(now)
}

// Has reports whether k holds scope.
func (k APIKey) Has(scope string) bool { return slices.Contains(k.Scopes, scope) }

// CanMoveMoney reports whether k may place orders or transfer funds.
func (k APIKey) CanMoveMoney() bool {
	return k.Has(ScopeOrdersWrite) || k.Has(ScopeTransfersWrite)
}

// Permissions are an account's trading permissions.
type Permissions struct {
	Options     bool
	Margin      bool
	Futures     bool
	Withdrawals bool
}

// List names the permissions that are on, in a stable order.
func (p Permissions) List() []string {
	var out []string
	if p.Options {
		out = append(out, "options")
	}
	if p.Margin {
		out = append(out, "margin")
	}
	if p.Futures {
		out = append(out, "futures")
	}
	if p.Withdrawals {
		out = append(out, "withdrawals")
	}
	return out
}

// Account is a brokerage account the user reaches.
type Account struct {
	ID          string
	Name        string
	Environment string // paper or live
	Permissions Permissions
	Entity      Entity
}

// Push outcomes.
const (
	PushApproved = "approved"
	PushDenied   = "denied"
	PushReported = "reported" // denied and reported as "not me"
	PushExpired  = "expired"  // unanswered
)

// PushAttempt is one push approval request sent to the user's phone.
type PushAttempt struct {
	Time    time.Time
	Outcome string
}

// Settings are the user's account settings that bear on posture.
type Settings struct {
	// SessionNotifications is set when the user is told of every new
	// session (email or push).
	SessionNotifications bool
}

// Snapshot is one user's state at a moment: what the rules judge. The
// server builds it from the store; package setup builds it from a
// trader's own description.
type Snapshot struct {
	UserID   string
	UserName string
	Profile  Profile
	// Interfaces are the doors the user says they use; the doors that
	// sessions, devices and keys show are added to them.
	Interfaces        []string
	Factors           []Factor
	RecoveryCodesLeft int
	Devices           []Device
	Sessions          []Session
	Keys              []APIKey
	Accounts          []Account
	Pushes            []PushAttempt
	// FactorFailures is the run of wrong second-factor answers the server
	// counts now, over every sign-in (0: none, or forgotten), and
	// FactorLimit the run at which it refuses every answer (0: no cap).
	FactorFailures int
	FactorLimit    int
	Settings       Settings
	// Unstated lists the fields of [StatedFields] the set-up's author
	// left out: not "none", but not known. The server knows its own state
	// and leaves this empty.
	Unstated []string
}

// ErrInvalid is wrapped by every problem [Snapshot.Validate] reports.
var ErrInvalid = errors.New("posture: invalid snapshot")

// Validate reports every value of s that is outside its domain: an
// unknown profile, factor kind, interface, environment, scope, lock or
// push outcome, an assurance level outside 1 to 3, a malformed CIDR or a
// negative count. The problems are joined; each wraps [ErrInvalid].
func (s Snapshot) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...)))
	}
	if !slices.Contains(Profiles, s.Profile) {
		bad("profile %q", s.Profile)
	}
	for i, d := range s.Interfaces {
		if !slices.Contains(Doors, d) {
			bad("interfaces[%d] %q", i, d)
		}
	}
	for i, f := range s.Factors {
		if !slices.Contains(FactorKinds, f.Kind) {
			bad("factors[%d].kind %q", i, f.Kind)
		}
		if f.DeviceBound && f.Kind != WebAuthn {
			bad("factors[%d]: only a webauthn factor can be device-bound", i)
		}
	}
	if s.FactorFailures < 0 || s.FactorLimit < 0 {
		bad("factor failures %d, limit %d", s.FactorFailures, s.FactorLimit)
	}
	if s.RecoveryCodesLeft < 0 {
		bad("recovery codes left %d", s.RecoveryCodesLeft)
	}
	for i, d := range s.Devices {
		if !interactive(d.Interface) {
			bad("devices[%d].interface %q", i, d.Interface)
		}
		switch d.Lock {
		case "", LockOn, LockOff, LockUnknown:
		default:
			bad("devices[%d].lock %q", i, d.Lock)
		}
	}
	for i, se := range s.Sessions {
		if !interactive(se.Interface) {
			bad("sessions[%d].interface %q", i, se.Interface)
		}
		if se.Assurance < 1 || se.Assurance > 3 {
			bad("sessions[%d].assurance %d", i, se.Assurance)
		}
	}
	for i, k := range s.Keys {
		if k.Environment != Paper && k.Environment != Live {
			bad("keys[%d].environment %q", i, k.Environment)
		}
		for j, sc := range k.Scopes {
			if !slices.Contains(Scopes, sc) {
				bad("keys[%d].scopes[%d] %q", i, j, sc)
			}
		}
		for j, sc := range k.UsedScopes {
			if !slices.Contains(Scopes, sc) {
				bad("keys[%d].used_scopes[%d] %q", i, j, sc)
			}
		}
		for j, e := range k.UsedEnvironments {
			if e != Paper && e != Live {
				bad("keys[%d].used_for[%d] %q", i, j, e)
			}
		}
		for j, c := range k.Allowlist {
			if _, err := netip.ParsePrefix(c); err != nil {
				bad("keys[%d].allowlist[%d] %q", i, j, c)
			}
		}
	}
	for i, a := range s.Accounts {
		if a.Environment != Paper && a.Environment != Live {
			bad("accounts[%d].environment %q", i, a.Environment)
		}
	}
	for i, p := range s.Pushes {
		switch p.Outcome {
		case PushApproved, PushDenied, PushReported, PushExpired:
		default:
			bad("pushes[%d].outcome %q", i, p.Outcome)
		}
	}
	return errors.Join(errs...)
}

// interactive reports whether door is one a person signs in through.
func interactive(door string) bool {
	return door == DoorDesktop || door == DoorWeb || door == DoorMobile
}

// DoorsUsed returns the doors s uses, in the order of [Doors]: those the
// user named, and those that a device, session, API key or push factor
// shows.
func (s Snapshot) DoorsUsed() []string {
	used := map[string]bool{}
	for _, d := range s.Interfaces {
		used[d] = true
	}
	for _, d := range s.Devices {
		used[d.Interface] = true
	}
	for _, se := range s.Sessions {
		used[se.Interface] = true
	}
	if len(s.Keys) > 0 {
		used[DoorAPI] = true
	}
	for _, f := range s.Factors {
		if f.Kind == Push {
			used[DoorMobile] = true // push approvals arrive in the phone app
		}
	}
	var out []string
	for _, d := range Doors {
		if used[d] {
			out = append(out, d)
		}
	}
	return out
}

// signInDoors returns the interactive doors s uses; when none is known,
// it assumes the web portal, which every account has.
func (s Snapshot) signInDoors() []string {
	var out []string
	for _, d := range s.DoorsUsed() {
		if interactive(d) {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		out = []string{DoorWeb}
	}
	return out
}

// account returns the account with id.
func (s Snapshot) account(id string) (Account, bool) {
	for _, a := range s.Accounts {
		if a.ID == id {
			return a, true
		}
	}
	return Account{}, false
}

// factors returns the factors of kind k.
func (s Snapshot) factors(k FactorKind) []Factor {
	var out []Factor
	for _, f := range s.Factors {
		if f.Kind == k {
			out = append(out, f)
		}
	}
	return out
}

// hasDeviceBoundKey reports whether a device-bound WebAuthn key is enrolled.
func (s Snapshot) hasDeviceBoundKey() bool {
	for _, f := range s.Factors {
		if f.Kind == WebAuthn && f.DeviceBound {
			return true
		}
	}
	return false
}

// riskyPermissions reports whether any live account has options, margin,
// futures or withdrawals on.
func (s Snapshot) riskyPermissions() bool {
	for _, a := range s.Accounts {
		if a.Environment == Live && len(a.Permissions.List()) > 0 {
			return true
		}
	}
	return false
}

const day = 24 * time.Hour
