package setup

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"

	"gatehouse/internal/posture"
)

// checker collects the domain problems of a decoded file while it builds
// the snapshot.
type checker struct {
	idx      *index
	now      time.Time
	problems []Problem
}

func (c *checker) bad(path, format string, args ...any) {
	c.problems = append(c.problems, Problem{Line: c.idx.line(path), Field: path, Msg: fmt.Sprintf(format, args...)})
}

// text checks that a free-text field holds no control characters and is
// of a sane length.
func (c *checker) text(path, s string) string {
	if len(s) > 200 {
		c.bad(path, "longer than 200 characters")
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		c.bad(path, "contains control characters")
	}
	return strings.TrimSpace(s)
}

// when parses a time field; past requires it not to be in the future.
func (c *checker) when(path, s string, never, past bool) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := parseWhen(s, c.now, never)
	if err != nil {
		c.bad(path, "%q: %v", s, err)
		return time.Time{}
	}
	if past && t.After(c.now) {
		c.bad(path, "%q is in the future", s)
	}
	return t
}

// oneOf checks that s is one of allowed; empty is "required" when
// required, else fine.
func (c *checker) oneOf(path, s string, required bool, allowed ...string) string {
	if s == "" {
		if required {
			c.bad(path, "required (one of %s)", strings.Join(allowed, ", "))
		}
		return ""
	}
	if !slices.Contains(allowed, s) {
		c.bad(path, "unknown value %q (want one of %s)", s, strings.Join(allowed, ", "))
	}
	return s
}

// words checks each element of a list against allowed, and repeats.
func (c *checker) words(path, what string, list []string, allowed []string) []string {
	var out []string
	for i, w := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case !slices.Contains(allowed, w):
			c.problems = append(c.problems, Problem{Line: c.idx.line(p), Field: path, Msg: fmt.Sprintf("unknown %s %q (want one of %s)", what, w, strings.Join(allowed, ", "))})
		case slices.Contains(out, w):
			c.problems = append(c.problems, Problem{Line: c.idx.line(p), Field: path, Msg: fmt.Sprintf("%s %q listed twice", what, w)})
		default:
			out = append(out, w)
		}
	}
	return out
}

func strs[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// build checks f and returns the snapshot it describes.
func (c *checker) build(f file, entities posture.EntityTable) posture.Snapshot {
	s := posture.Snapshot{
		UserID:            c.text("user", f.User),
		UserName:          c.text("name", f.Name),
		Profile:           posture.Profile(c.oneOf("profile", f.Profile, true, strs(posture.Profiles)...)),
		RecoveryCodesLeft: f.RecoveryCodesLeft,
		Settings:          posture.Settings{SessionNotifications: f.Settings.SessionNotifications},
	}
	if s.UserID == "" {
		s.UserID = "trader"
	}
	if s.RecoveryCodesLeft < 0 || s.RecoveryCodesLeft > 100 {
		c.bad("recovery_codes_left", "%d is not a count of recovery codes (0 to 100)", s.RecoveryCodesLeft)
	}
	if ifs := c.words("interfaces", "interface", f.Interfaces, posture.Doors); len(ifs) > 0 {
		s.Interfaces = ifs
	}

	secondFactor := false
	ids := map[string]bool{}
	for i, ff := range f.Factors {
		p := fmt.Sprintf("factors[%d]", i)
		kind := posture.FactorKind(c.oneOf(p+".kind", ff.Kind, true, strs(posture.FactorKinds)...))
		id := c.text(p+".id", ff.ID)
		if id == "" {
			id = fmt.Sprintf("%s-%d", kind, i+1)
		}
		if ids[id] {
			c.bad(p+".id", "id %q used twice", id)
		}
		ids[id] = true
		if ff.DeviceBound && kind != posture.WebAuthn {
			c.bad(p+".device_bound", "only a webauthn factor can be device-bound")
		}
		if kind != posture.Recovery {
			secondFactor = true
		}
		s.Factors = append(s.Factors, posture.Factor{
			ID: id, Kind: kind, Name: c.text(p+".name", ff.Name), DeviceBound: ff.DeviceBound,
			Device:   c.text(p+".device", ff.Device),
			Created:  c.when(p+".added", ff.Added, false, true),
			LastUsed: c.when(p+".last_used", ff.LastUsed, true, true),
		})
	}

	devices := map[string]string{} // name → interface
	ids = map[string]bool{}
	for i, df := range f.Devices {
		p := fmt.Sprintf("devices[%d]", i)
		name := c.text(p+".name", df.Name)
		if name == "" {
			c.bad(p+".name", "required")
		} else if _, dup := devices[name]; dup {
			c.bad(p+".name", "device %q listed twice", name)
		}
		iface := c.oneOf(p+".interface", df.Interface, true, posture.DoorDesktop, posture.DoorWeb, posture.DoorMobile)
		devices[name] = iface
		id := c.text(p+".id", df.ID)
		if id == "" {
			id = name // a repeat is reported on the name
		} else if ids[id] {
			c.bad(p+".id", "id %q used twice", id)
		}
		ids[id] = true
		lock := c.oneOf(p+".device_lock", df.DeviceLock, false, posture.LockOn, posture.LockOff, posture.LockUnknown)
		if lock == "" {
			lock = posture.LockUnknown
		}
		trusted := df.Trusted == nil || *df.Trusted
		s.Devices = append(s.Devices, posture.Device{
			ID: id, Interface: iface, Name: name, Trusted: trusted, Lock: lock, HoldsPassword: df.HoldsPassword,
		})
	}

	ids = map[string]bool{}
	for i, sf := range f.Sessions {
		p := fmt.Sprintf("sessions[%d]", i)
		iface := c.oneOf(p+".interface", sf.Interface, true, posture.DoorDesktop, posture.DoorWeb, posture.DoorMobile)
		device := c.text(p+".device", sf.Device)
		if device != "" && len(f.Devices) > 0 {
			di, ok := devices[device]
			switch {
			case !ok:
				c.bad(p+".device", "no device named %q in devices", device)
			case iface != "" && di != iface:
				c.bad(p+".device", "device %q is a %s device, not %s", device, di, iface)
			}
		}
		id := c.text(p+".id", sf.ID)
		if id == "" {
			id = fmt.Sprintf("%s-%d", iface, i+1)
		}
		if ids[id] {
			c.bad(p+".id", "id %q used twice", id)
		}
		ids[id] = true
		started := c.when(p+".started", sf.Started, false, true)
		if started.IsZero() {
			started = c.now
		}
		seen := c.when(p+".last_seen", sf.LastSeen, false, true)
		if seen.IsZero() {
			seen = started
		} else if seen.Before(started) {
			c.bad(p+".last_seen", "before the session started")
		}
		var expires time.Time
		switch {
		case sf.Expires != "" && sf.Lifetime != "":
			c.bad(p+".lifetime", "give expires or lifetime, not both")
		case sf.Expires != "":
			expires = c.when(p+".expires", sf.Expires, true, false)
			if !expires.IsZero() && expires.Before(started) {
				c.bad(p+".expires", "before the session started")
			}
		case sf.Lifetime != "":
			n, unit, err := parseSpan(strings.ToLower(sf.Lifetime))
			if err == nil {
				expires, err = add(started, n, unit)
			}
			if err != nil {
				c.bad(p+".lifetime", "%q: %v", sf.Lifetime, err)
			}
		default:
			c.bad(p, `expires or lifetime is required ("never" if it never ends)`)
		}
		assurance := sf.Assurance
		switch {
		case assurance == 0 && secondFactor:
			assurance = 2
		case assurance == 0:
			assurance = 1
		case assurance < 1 || assurance > 3:
			c.bad(p+".assurance", "%d: want 1 (password), 2 (second factor) or 3 (security key)", assurance)
		}
		s.Sessions = append(s.Sessions, posture.Session{
			ID: id, Interface: iface, Device: device, Created: started, LastSeen: seen, Expires: expires, Assurance: assurance,
		})
	}

	accounts := map[string]bool{}
	for i, af := range f.Accounts {
		p := fmt.Sprintf("accounts[%d]", i)
		id := c.text(p+".id", af.ID)
		switch {
		case id == "":
			c.bad(p+".id", "required")
		case accounts[id]:
			c.bad(p+".id", "account %q listed twice", id)
		}
		accounts[id] = true
		perms := c.words(p+".permissions", "permission", af.Permissions, permissionNames)
		var ent posture.Entity
		if code := c.text(p+".entity", af.Entity); code != "" {
			ent, _ = entities.Lookup(code)
		}
		s.Accounts = append(s.Accounts, posture.Account{
			ID: id, Name: c.text(p+".name", af.Name),
			Environment: c.oneOf(p+".environment", af.Environment, true, posture.Paper, posture.Live),
			Permissions: posture.Permissions{
				Options:     slices.Contains(perms, "options"),
				Margin:      slices.Contains(perms, "margin"),
				Futures:     slices.Contains(perms, "futures"),
				Withdrawals: slices.Contains(perms, "withdrawals"),
			},
			Entity: ent,
		})
	}

	ids = map[string]bool{}
	for i, kf := range f.Keys {
		p := fmt.Sprintf("keys[%d]", i)
		name := c.text(p+".name", kf.Name)
		if name == "" {
			c.bad(p+".name", "required")
		}
		id, idPath := c.text(p+".id", kf.ID), p+".id"
		if id == "" {
			id, idPath = name, p+".name"
		}
		if ids[id] && id != "" {
			c.bad(idPath, "key %q listed twice", id)
		}
		ids[id] = true
		account := c.text(p+".account", kf.Account)
		if account != "" && len(f.Accounts) > 0 && !accounts[account] {
			c.bad(p+".account", "no account %q in accounts", account)
		}
		scopes := c.words(p+".scopes", "scope", kf.Scopes, posture.Scopes)
		if len(kf.Scopes) == 0 {
			c.bad(p+".scopes", "required (some of %s)", strings.Join(posture.Scopes, ", "))
		}
		var allow []string
		for j, a := range kf.Allowlist {
			pr, err := parseCIDR(a)
			if err != nil {
				c.problems = append(c.problems, Problem{Line: c.idx.line(fmt.Sprintf("%s.allowlist[%d]", p, j)), Field: p + ".allowlist", Msg: fmt.Sprintf("%q is not an address or CIDR prefix", a)})
				continue
			}
			allow = append(allow, pr)
		}
		var used []string
		if kf.UsedScopes != nil {
			used = c.words(p+".used_scopes", "scope", *kf.UsedScopes, posture.Scopes)
			if used == nil {
				used = []string{}
			}
		}
		created := c.when(p+".created", kf.Created, false, true)
		expires := c.when(p+".expires", kf.Expires, true, false)
		if !created.IsZero() && !expires.IsZero() && expires.Before(created) {
			c.bad(p+".expires", "before the key was created")
		}
		s.Keys = append(s.Keys, posture.APIKey{
			ID: id, Name: name, Account: account,
			Environment:      c.oneOf(p+".environment", kf.Environment, true, posture.Paper, posture.Live),
			Scopes:           scopes,
			Allowlist:        allow,
			Created:          created,
			Expires:          expires,
			LastUsed:         c.when(p+".last_used", kf.LastUsed, true, true),
			UsedScopes:       used,
			UsedEnvironments: c.words(p+".used_for", "environment", kf.UsedFor, []string{posture.Paper, posture.Live}),
			Location:         c.text(p+".lives_on", kf.LivesOn),
		})
	}

	for i, pf := range f.Pushes {
		p := fmt.Sprintf("pushes[%d]", i)
		at := c.when(p+".at", pf.At, false, true)
		if pf.At == "" {
			c.bad(p+".at", "required")
		}
		s.Pushes = append(s.Pushes, posture.PushAttempt{
			Time:    at,
			Outcome: c.oneOf(p+".outcome", pf.Outcome, true, posture.PushApproved, posture.PushDenied, posture.PushReported, posture.PushExpired),
		})
	}
	return s
}

// parseCIDR accepts a CIDR prefix or a bare address (a /32 or /128).
func parseCIDR(s string) (string, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.String(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return "", errors.New("bad address")
	}
	return netip.PrefixFrom(a, a.BitLen()).String(), nil
}
