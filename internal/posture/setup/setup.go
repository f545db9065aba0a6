// Package setup reads SETUP.yaml, a trader's own description of how they
// reach their brokerage account (the doors they use, their factors,
// devices, sessions, where their API keys live, their accounts'
// permissions), into a [posture.Snapshot] that [posture.Assess] can judge
// without a server.
//
// Bad input is reported in full: every problem, each with its line and
// field ("setup.yaml:12: keys[0].scopes: unknown scope "orders:all""), and
// unknown fields are errors, never ignored.
package setup

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"gatehouse/internal/posture"
)

// Example is a commented SETUP.yaml: an options trader with a desktop
// workstation, the web portal, a phone with SMS as second factor, and a
// live trading key on a cloud VM without an IP allowlist.
//
//go:embed example.yaml
var Example string

// MaxSize is the largest SETUP.yaml [Load] reads.
const MaxSize = 1 << 20

// ErrInvalid is what every [*Error] wraps.
var ErrInvalid = errors.New("setup: invalid set-up")

// Problem is one thing wrong with a SETUP.yaml.
type Problem struct {
	Line  int    // 1-based; 0 when the problem has no place
	Field string // path such as "keys[0].scopes"; empty for the whole file
	Msg   string
}

// Error lists every problem of one SETUP.yaml, sorted by line.
type Error struct {
	File     string // the name problems are reported against
	Problems []Problem
}

// Error returns one line per problem, as "file:line: field: message".
func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
		if p.Field != "" {
			b.WriteString(p.Field + ": ")
		}
		b.WriteString(p.Msg)
	}
	return b.String()
}

// Unwrap returns [ErrInvalid].
func (e *Error) Unwrap() error { return ErrInvalid }

// Loader reads SETUP.yaml files.
type Loader struct {
	// Name is the file name problems are reported against; empty means
	// "setup.yaml".
	Name string
	// Entities resolves the entity codes of accounts; nil means
	// [posture.DefaultEntities].
	Entities posture.EntityTable
}

// Load reads a SETUP.yaml with the default [Loader].
func Load(data []byte, now time.Time) (posture.Snapshot, error) {
	return Loader{}.Load(data, now)
}

// The file's shape. Every field is a string, list or bool so that the
// yaml decoder does the type checks and [Loader.Load] the domain checks;
// times and spans are strings read relative to now.
type file struct {
	User              string        `yaml:"user,omitempty"`
	Name              string        `yaml:"name,omitempty"`
	Profile           string        `yaml:"profile"`
	Interfaces        []string      `yaml:"interfaces,flow,omitempty"`
	Settings          settingsFile  `yaml:"settings"`
	Factors           []factorFile  `yaml:"factors,omitempty"`
	RecoveryCodesLeft int           `yaml:"recovery_codes_left"`
	Devices           []deviceFile  `yaml:"devices,omitempty"`
	Sessions          []sessionFile `yaml:"sessions,omitempty"`
	Keys              []keyFile     `yaml:"keys,omitempty"`
	Accounts          []accountFile `yaml:"accounts,omitempty"`
	Pushes            []pushFile    `yaml:"pushes,omitempty"`
}

type settingsFile struct {
	SessionNotifications bool `yaml:"session_notifications"`
}

type factorFile struct {
	ID          string `yaml:"id,omitempty"`
	Kind        string `yaml:"kind"`
	Name        string `yaml:"name,omitempty"`
	DeviceBound bool   `yaml:"device_bound,omitempty"`
	Device      string `yaml:"device,omitempty"`
	Added       string `yaml:"added,omitempty"`
	LastUsed    string `yaml:"last_used,omitempty"`
}

type deviceFile struct {
	ID            string `yaml:"id,omitempty"`
	Name          string `yaml:"name"`
	Interface     string `yaml:"interface"`
	Trusted       *bool  `yaml:"trusted,omitempty"`
	DeviceLock    string `yaml:"device_lock,omitempty"`
	HoldsPassword bool   `yaml:"holds_password,omitempty"`
}

type sessionFile struct {
	ID        string `yaml:"id,omitempty"`
	Interface string `yaml:"interface"`
	Device    string `yaml:"device,omitempty"`
	Started   string `yaml:"started,omitempty"`
	LastSeen  string `yaml:"last_seen,omitempty"`
	Expires   string `yaml:"expires,omitempty"`
	Lifetime  string `yaml:"lifetime,omitempty"`
	Assurance int    `yaml:"assurance,omitempty"`
}

type keyFile struct {
	ID          string    `yaml:"id,omitempty"`
	Name        string    `yaml:"name"`
	Account     string    `yaml:"account,omitempty"`
	Environment string    `yaml:"environment"`
	Scopes      []string  `yaml:"scopes,flow"`
	Allowlist   []string  `yaml:"allowlist,flow,omitempty"`
	Created     string    `yaml:"created,omitempty"`
	Expires     string    `yaml:"expires,omitempty"`
	LastUsed    string    `yaml:"last_used,omitempty"`
	UsedScopes  *[]string `yaml:"used_scopes,flow,omitempty"`
	UsedFor     []string  `yaml:"used_for,flow,omitempty"`
	LivesOn     string    `yaml:"lives_on,omitempty"`
}

type accountFile struct {
	ID          string   `yaml:"id"`
	Name        string   `yaml:"name,omitempty"`
	Environment string   `yaml:"environment"`
	Entity      string   `yaml:"entity,omitempty"`
	Permissions []string `yaml:"permissions,flow,omitempty"`
}

type pushFile struct {
	At      string `yaml:"at"`
	Outcome string `yaml:"outcome"`
}

// permissionNames are the account permissions SETUP.yaml may list.
var permissionNames = []string{"options", "margin", "futures", "withdrawals"}

// Load reads data, a SETUP.yaml, relative to now. On any problem it
// returns an [*Error] listing all of them; the snapshot it returns
// otherwise passes [posture.Snapshot.Validate].
func (l Loader) Load(data []byte, now time.Time) (posture.Snapshot, error) {
	name := l.Name
	if name == "" {
		name = "setup.yaml"
	}
	entities := l.Entities
	if entities == nil {
		entities = posture.DefaultEntities()
	}
	fail := func(ps ...Problem) (posture.Snapshot, error) {
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
		return posture.Snapshot{}, &Error{File: name, Problems: ps}
	}
	if len(data) > MaxSize {
		return fail(Problem{Msg: fmt.Sprintf("larger than %d bytes", MaxSize)})
	}

	// First the document as a node tree: syntax errors, and the line of
	// every field for the problems found later.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return fail(Problem{Msg: "empty; run gatehouse assess --example for a commented start"})
	case err != nil:
		return fail(syntaxProblem(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			return fail(syntaxProblem(err))
		}
		return fail(Problem{Line: line, Msg: "more than one YAML document"})
	}
	if len(doc.Content) == 0 {
		return fail(Problem{Msg: "empty; run gatehouse assess --example for a commented start"})
	}
	if root := doc.Content[0]; root.Kind != yaml.MappingNode {
		return fail(Problem{Line: root.Line, Msg: "want a mapping of fields (profile:, factors:, keys: ...); gatehouse assess --example prints one"})
	}
	idx := newIndex(&doc)
	if len(idx.aliases) > 0 {
		var ps []Problem
		for _, a := range idx.aliases {
			ps = append(ps, Problem{Line: a.node.Line, Field: a.path, Msg: "anchors and aliases are not supported; write the value out"})
		}
		return fail(ps...)
	}

	// Then the typed decode, which rejects unknown fields and values of
	// the wrong type.
	var f file
	var ps []Problem
	dec = yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return fail(syntaxProblem(err))
		}
		for _, msg := range te.Errors {
			ps = append(ps, idx.typeProblem(msg))
		}
	}

	// Then the domain checks, skipping fields whose type was wrong.
	c := &checker{idx: idx, now: now}
	s := c.build(f, entities)
	for _, p := range c.problems {
		if !underAny(p.Field, ps) {
			ps = append(ps, p)
		}
	}
	if len(ps) > 0 {
		return fail(ps...)
	}
	if err := s.Validate(); err != nil {
		// Every value was checked above; this is a bug in the checks,
		// reported rather than hidden.
		return fail(Problem{Msg: err.Error()})
	}
	return s, nil
}

// underAny reports whether field is one of the fields of ps or below one.
func underAny(field string, ps []Problem) bool {
	for _, p := range ps {
		if p.Field == "" {
			continue
		}
		if field == p.Field || strings.HasPrefix(field, p.Field+".") || strings.HasPrefix(field, p.Field+"[") {
			return true
		}
	}
	return false
}

var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// syntaxProblem turns a yaml syntax error into a problem with its line.
func syntaxProblem(err error) Problem {
	msg := err.Error()
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return Problem{Line: n, Msg: m[2]}
	}
	return Problem{Msg: strings.TrimPrefix(msg, "yaml: ")}
}

// index maps the fields of a document to their nodes.
type index struct {
	values  []entry // every value node, in document order
	keys    []entry // every mapping key node
	byPath  map[string]*yaml.Node
	aliases []entry
}

type entry struct {
	path string
	node *yaml.Node
}

func newIndex(doc *yaml.Node) *index {
	idx := &index{byPath: map[string]*yaml.Node{}}
	idx.walk(doc, "")
	return idx
}

func (idx *index) walk(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			idx.walk(c, path)
		}
		return
	case yaml.AliasNode:
		idx.aliases = append(idx.aliases, entry{path, n})
		return
	}
	if n.Anchor != "" {
		idx.aliases = append(idx.aliases, entry{path, n})
	}
	idx.values = append(idx.values, entry{path, n})
	if _, ok := idx.byPath[path]; !ok {
		idx.byPath[path] = n
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			idx.keys = append(idx.keys, entry{p, k})
			idx.walk(v, p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			idx.walk(c, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// line returns the line of path, or of its nearest ancestor present in
// the document (the mapping that lacks a required field).
func (idx *index) line(path string) int {
	for {
		if n, ok := idx.byPath[path]; ok {
			return n.Line
		}
		if path == "" {
			return 0
		}
		path = parent(path)
	}
}

// parent strips the last ".field" or "[i]" of path.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

var (
	unknownRE  = regexp.MustCompile(`^line (\d+): field (.*) not found in type (\S+)$`)
	mismatchRE = regexp.MustCompile("^line (\\d+): cannot unmarshal (!!\\w+)(?: `(.*)`)? into (\\S+)$")
	repeatRE   = regexp.MustCompile(`^line (\d+): mapping key "(.*)" already defined at line (\d+)$`)
)

// typeProblem turns one message of a yaml.TypeError into a problem that
// names its field.
func (idx *index) typeProblem(msg string) Problem {
	if m := unknownRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		field := m[2]
		for _, k := range idx.keys {
			if k.node.Line == line && k.node.Value == m[2] {
				field = k.path
				break
			}
		}
		known := knownFields[m[3]]
		return Problem{Line: line, Field: field, Msg: fmt.Sprintf("unknown field %q (known: %s)", m[2], strings.Join(known, ", "))}
	}
	if m := mismatchRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		value := strings.TrimSuffix(m[3], "...")
		var field string
		for _, v := range idx.values {
			if v.node.Line == line && strings.HasPrefix(v.node.Value, value) && (m[2] == v.node.ShortTag()) {
				field = v.path
				break
			}
		}
		got := describeTag(m[2])
		if m[3] != "" {
			got += " " + strconv.Quote(m[3])
		}
		return Problem{Line: line, Field: field, Msg: fmt.Sprintf("want %s, got %s", describeType(m[4]), got)}
	}
	if m := repeatRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		field := m[2]
		for _, k := range idx.keys {
			if k.node.Line == line && k.node.Value == m[2] {
				field = k.path
			}
		}
		return Problem{Line: line, Field: field, Msg: "repeated field (first at line " + m[3] + ")"}
	}
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{Line: line, Msg: m[2]}
	}
	return Problem{Msg: msg}
}

func describeTag(tag string) string {
	switch tag {
	case "!!map":
		return "a mapping"
	case "!!seq":
		return "a list"
	case "!!str":
		return "text"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "true or false"
	case "!!null":
		return "nothing"
	}
	return tag
}

func describeType(t string) string {
	switch {
	case t == "int":
		return "a whole number"
	case t == "bool", t == "*bool":
		return "true or false (on or off)"
	case t == "string":
		return "text"
	case strings.HasPrefix(t, "[]"), strings.HasPrefix(t, "*[]"):
		return "a list"
	}
	return "a mapping"
}

// knownFields maps each file type's name, as yaml errors print it, to its
// field names, for the hint after an unknown field.
var knownFields = func() map[string][]string {
	out := map[string][]string{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		if _, ok := out[t.String()]; ok {
			return
		}
		var names []string
		for i := range t.NumField() {
			sf := t.Field(i)
			names = append(names, strings.Split(sf.Tag.Get("yaml"), ",")[0])
			walk(sf.Type)
		}
		out[t.String()] = names
	}
	walk(reflect.TypeOf(file{}))
	return out
}()

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

// Marshal writes s as a SETUP.yaml that [Load] reads back to the same
// snapshot: times absolute (RFC 3339), every default written out. An
// account's entity is written as its code.
func Marshal(s posture.Snapshot) ([]byte, error) {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format(time.RFC3339Nano)
	}
	f := file{
		User: s.UserID, Name: s.UserName, Profile: string(s.Profile), Interfaces: s.Interfaces,
		Settings:          settingsFile{SessionNotifications: s.Settings.SessionNotifications},
		RecoveryCodesLeft: s.RecoveryCodesLeft,
	}
	for _, x := range s.Factors {
		f.Factors = append(f.Factors, factorFile{
			ID: x.ID, Kind: string(x.Kind), Name: x.Name, DeviceBound: x.DeviceBound, Device: x.Device,
			Added: ts(x.Created), LastUsed: ts(x.LastUsed),
		})
	}
	for _, d := range s.Devices {
		trusted := d.Trusted
		f.Devices = append(f.Devices, deviceFile{
			ID: d.ID, Name: d.Name, Interface: d.Interface, Trusted: &trusted, DeviceLock: d.Lock, HoldsPassword: d.HoldsPassword,
		})
	}
	for _, se := range s.Sessions {
		exp := ts(se.Expires)
		if exp == "" {
			exp = "never"
		}
		f.Sessions = append(f.Sessions, sessionFile{
			ID: se.ID, Interface: se.Interface, Device: se.Device, Started: ts(se.Created), LastSeen: ts(se.LastSeen),
			Expires: exp, Assurance: se.Assurance,
		})
	}
	for _, k := range s.Keys {
		kf := keyFile{
			ID: k.ID, Name: k.Name, Account: k.Account, Environment: k.Environment, Scopes: k.Scopes,
			Allowlist: k.Allowlist, Created: ts(k.Created), Expires: ts(k.Expires), LastUsed: ts(k.LastUsed),
			UsedFor: k.UsedEnvironments, LivesOn: k.Location,
		}
		if k.UsedScopes != nil {
			used := slices.Clone(k.UsedScopes)
			if used == nil {
				used = []string{}
			}
			kf.UsedScopes = &used
		}
		f.Keys = append(f.Keys, kf)
	}
	for _, a := range s.Accounts {
		f.Accounts = append(f.Accounts, accountFile{
			ID: a.ID, Name: a.Name, Environment: a.Environment, Entity: a.Entity.Code, Permissions: a.Permissions.List(),
		})
	}
	for _, p := range s.Pushes {
		f.Pushes = append(f.Pushes, pushFile{At: ts(p.Time), Outcome: p.Outcome})
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("setup: marshal: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("setup: marshal: %w", err)
	}
	return b.Bytes(), nil
}
