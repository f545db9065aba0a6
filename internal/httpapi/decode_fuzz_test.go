package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"unicode"

	"gatehouse/internal/notice"
	"gatehouse/internal/session"
)

// FuzzDecodeLogin feeds the login body decoder arbitrary bytes: it never
// panics, never accepts a key spelled otherwise than its field or named
// twice, and whatever it accepts satisfies every rule of the request.
func FuzzDecodeLogin(f *testing.F) {
	for _, s := range []string{
		`{"username":"alice","password":"a long passphrase","interface":"web"}`,
		`{"username":"alice","password":"x","interface":"desktop","device":{"name":"Desk"}}`,
		`{"username":"al\u0000ice","password":"x","interface":"web"}`,
		`{"username":"alice","password":"x","interface":"web","extra":1}`,
		`{"username":"alice","password":"x","interface":"web"}{}`,
		`{"username":["a"],"password":"x","interface":"web"}`,
		`{"username":"nobody","USERNAME":"maya","password":"x","interface":"web"}`,
		`{"username":"nobody","username":"maya","password":"x","interface":"web"}`,
		`{"username":"maya","password":"x","interface":"web","device":{"Name":"a"}}`,
		`{`, ``, `null`, `[]`, `"x"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/v1/login", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		got, err := decode[loginRequest](w, r)
		if err != nil {
			e := toError(err)
			if e.Problem.Status < 400 || e.Problem.Status >= 500 {
				t.Fatalf("decode error maps to status %d", e.Problem.Status)
			}
			return
		}
		keys := loginKeys(t, body)
		for i, k := range keys {
			if !slices.Contains([]string{"username", "password", "interface", "device", "device.name"}, k) {
				t.Fatalf("accepted key %q in %q", k, body)
			}
			if slices.Contains(keys[:i], k) {
				t.Fatalf("accepted key %q twice in %q", k, body)
			}
		}
		if _, err := session.ParseDoor(got.Interface); err != nil {
			t.Fatalf("accepted interface %q", got.Interface)
		}
		if got.Username == "" || len(got.Username) > 256 || got.Password == "" || len(got.Password) > 1024 || len(got.Device.Name) > 64 {
			t.Fatalf("accepted out-of-bounds fields: %q", body)
		}
		for _, r := range got.Username + got.Device.Name {
			if unicode.IsControl(r) {
				t.Fatalf("accepted a control character in %q", body)
			}
		}
		// What it accepts round-trips: written back and read again, the
		// same request.
		out, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("Marshal(%+v) = %v", got, err)
		}
		r2 := httptest.NewRequest("POST", "/v1/login", bytes.NewReader(out))
		again, err := decode[loginRequest](httptest.NewRecorder(), r2)
		if err != nil || again != got {
			t.Fatalf("decode(Marshal(decode(%q))) = %+v, %v; want %+v", body, again, err, got)
		}
	})
}

// loginKeys lists the keys of the accepted body's object and of its device
// object ("device.name"), in order, duplicates included.
func loginKeys(t *testing.T, body string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(body))
	var keys []string
	var walk func(prefix string, depth int)
	walk = func(prefix string, depth int) {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("accepted %q, which encoding/json cannot read: %v", body, err)
		}
		switch tok {
		case json.Delim('{'):
			for dec.More() {
				k, _ := dec.Token()
				key, _ := k.(string)
				if depth < 2 {
					keys = append(keys, prefix+key)
				}
				walk(prefix+key+".", depth+1)
			}
			dec.Token()
		case json.Delim('['):
			for dec.More() {
				walk(prefix, depth+1)
			}
			dec.Token()
		}
	}
	walk("", 0)
	return keys
}

// FuzzDecodePreferences feeds the preferences body, decoder and rules,
// arbitrary bytes: it never panics, refuses with a 4xx, and whatever it
// accepts names known events only, each with a list of known channels,
// none twice, every critical event's defaults kept.
func FuzzDecodePreferences(f *testing.F) {
	for _, s := range []string{
		`{"events":{}}`,
		`{"events":{"key.rotated":[],"session.created":["mail","push"]}}`,
		`{"events":{"password.changed":[]}}`,
		`{"events":{"key.rotated":null}}`,
		`{"events":{"key.rotated":["mail","mail"]}}`,
		`{"events":{"key.rotated":[],"key.rotated":["mail"]}}`,
		`{"events":{"KEY.rotated":["mail"]}}`,
		`{"events":{"key.rotated":["Mail"]}}`,
		`{"Events":{}}`, `{"events":[]}`, `{`, ``, `null`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("PUT", "/v1/notifications/preferences", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		got, err := decode[preferencesRequest](httptest.NewRecorder(), r)
		if err == nil {
			err = notice.Preferences(got.Events).Validate()
		}
		if err != nil {
			if e := toError(err); e.Problem.Status < 400 || e.Problem.Status >= 500 {
				t.Fatalf("refusal of %q maps to status %d", body, e.Problem.Status)
			}
			return
		}
		for e, cs := range got.Events {
			spec, ok := notice.Lookup(e)
			if !ok || cs == nil {
				t.Fatalf("accepted event %q with %v in %q", e, cs, body)
			}
			for i, c := range cs {
				if !slices.Contains(notice.Channels(), c) || slices.Contains(cs[:i], c) {
					t.Fatalf("accepted channels %v for %s in %q", cs, e, body)
				}
			}
			for _, c := range spec.Default {
				if spec.Critical && !slices.Contains(cs, c) {
					t.Fatalf("accepted %s without %s, a critical default, in %q", e, c, body)
				}
			}
		}
	})
}
