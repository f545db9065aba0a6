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
	"reflect"
	"sort"
	"strings"
	"time"

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
	// Strict reads a field left out as its worst case ("no factors", "no
	// recovery codes", "notifications off"), for a CI gate. Otherwise a
	// field left out is unstated ([posture.Snapshot.Unstated]): the
	// checks that need it wait for an answer instead of guessing.
	Strict bool
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

	// Then the shape, read from the node tree so that every problem has
	// its node's line and field: every field known and given once, every
	// value of its field's kind. The decode that follows fills what it
	// can; a field whose shape was wrong stays zero and is skipped below.
	ps := shapeProblems(doc.Content[0], reflect.TypeFor[file](), "")
	var f file
	if err := doc.Decode(&f); err != nil && len(ps) == 0 {
		// The shape check passed what the decoder refuses: a bug in the
		// check, reported rather than hidden.
		return fail(Problem{Msg: err.Error()})
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
	if !l.Strict {
		for _, field := range posture.StatedFields {
			if n, ok := idx.byPath[field]; !ok || n.Tag == "!!null" {
				s.Unstated = append(s.Unstated, field)
			}
		}
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
