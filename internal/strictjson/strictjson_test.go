package strictjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"gatehouse/internal/strictjson"
)

type device struct {
	Name string `json:"name"`
	Kind string `json:"kind,omitempty"`
}

type base struct {
	Interface string `json:"interface"`
}

// login has the shapes request bodies use: plain, nested, embedded,
// slice, map and raw fields.
type login struct {
	base
	Username string            `json:"username"`
	Password string            `json:"password"`
	Device   *device           `json:"device,omitempty"`
	Scopes   []string          `json:"scopes,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Extra    json.RawMessage   `json:"extra,omitempty"`
	Skipped  string            `json:"-"`
}

func TestUnmarshalRefuses(t *testing.T) {
	tests := []struct {
		name string
		body string
		want error
	}{
		{"DuplicateKeyAttack", `{"username":"nobody","USERNAME":"maya","password":"pw"}`, strictjson.ErrKeyCase},
		{"CaseVariantAlone", `{"USERNAME":"maya","password":"pw"}`, strictjson.ErrKeyCase},
		{"CaseVariantEmbedded", `{"Interface":"web"}`, strictjson.ErrKeyCase},
		{"CaseVariantNested", `{"device":{"NAME":"x"}}`, strictjson.ErrKeyCase},
		{"CaseVariantInSlice", `{"scopes":["a"],"Scopes":["b"]}`, strictjson.ErrKeyCase},
		{"DuplicateKey", `{"username":"nobody","username":"maya"}`, strictjson.ErrDuplicateKey},
		{"DuplicateKeyNested", `{"device":{"name":"a","name":"b"}}`, strictjson.ErrDuplicateKey},
		{"DuplicateKeyInMap", `{"labels":{"a":"1","a":"2"}}`, strictjson.ErrDuplicateKey},
		{"DuplicateKeyInRaw", `{"extra":{"x":{"y":1,"y":2}}}`, strictjson.ErrDuplicateKey},
		{"CaseVariantsInRaw", `{"extra":{"type":"public-key","TYPE":"x"}}`, strictjson.ErrKeyCase},
		{"DuplicateKeyEscaped", `{"username":"a","user\u006eame":"b"}`, strictjson.ErrDuplicateKey},
		{"InvalidUTF8", "{\"username\":\"\xff\xfe\"}", strictjson.ErrEncoding},
		{"InvalidUTF8InKey", "{\"\xc0\":1}", strictjson.ErrEncoding},
		{"NULEscape", `{"username":"al\u0000ice"}`, strictjson.ErrEncoding},
		{"NULInKey", `{"a\u0000":1}`, strictjson.ErrEncoding},
		{"LoneHighSurrogate", `{"username":"\ud800"}`, strictjson.ErrEncoding},
		{"LoneLowSurrogate", `{"username":"\udc00x"}`, strictjson.ErrEncoding},
		{"HighThenNonLow", `{"username":"\ud800\u0041"}`, strictjson.ErrEncoding},
		{"Trailing", `{"username":"a"}{}`, strictjson.ErrTrailing},
		{"DuplicateAmongMany", `{"labels":{` + manyKeys(40) + `,"k7":"again"}}`, strictjson.ErrDuplicateKey},
		{"CaseVariantAmongManyInRaw", `{"extra":{` + manyKeys(40) + `,"K7":"again"}}`, strictjson.ErrKeyCase},
		{"TooDeep", `{"extra":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, strictjson.ErrDepth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v login
			err := strictjson.Unmarshal([]byte(tt.body), &v)
			if !errors.Is(err, tt.want) {
				t.Errorf("Unmarshal(%q) = %v, want %v", tt.body, err, tt.want)
			}
		})
	}
}

func TestUnmarshalAccepts(t *testing.T) {
	tests := []struct {
		name string
		body string
		want login
	}{
		{"Plain", `{"username":"alice","password":"pw"}`, login{Username: "alice", Password: "pw"}},
		{"Embedded", `{"interface":"web"}`, login{base: base{Interface: "web"}}},
		{"Nested", `{"device":{"name":"Desk"}}`, login{Device: &device{Name: "Desk"}}},
		{"SameKeyInTwoObjects", `{"labels":{"name":"a"},"device":{"name":"b"}}`, login{Labels: map[string]string{"name": "a"}, Device: &device{Name: "b"}}},
		{"ManyKeys", `{"labels":{` + manyKeys(40) + `,"K7":"other"}}`, login{Labels: manyLabels(40, "K7")}},
		{"DeepEnough", `{"extra":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}`, login{Extra: json.RawMessage(strings.Repeat("[", 20) + strings.Repeat("]", 20))}},
		{"MapKeysAnyCase", `{"labels":{"a":"1","A":"2"}}`, login{Labels: map[string]string{"a": "1", "A": "2"}}},
		{"RawKeysDistinct", `{"extra":{"id":"a","rawId":"b"}}`, login{Extra: json.RawMessage(`{"id":"a","rawId":"b"}`)}},
		{"SurrogatePair", `{"username":"\ud83d\ude00"}`, login{Username: "😀"}},
		{"EscapedBackslashU", `{"username":"\\u0000"}`, login{Username: `\u0000`}},
		{"ReplacementCharacter", `{"username":"\ufffd�"}`, login{Username: "��"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got login
			if err := strictjson.Unmarshal([]byte(tt.body), &got); err != nil {
				t.Fatalf("Unmarshal(%q) = %v", tt.body, err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(login{})); diff != "" {
				t.Errorf("Unmarshal(%q) (-want +got):\n%s", tt.body, diff)
			}
		})
	}
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":"v"`, i)
	}
	return b.String()
}

func manyLabels(n int, more ...string) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("k%d", i)] = "v"
	}
	for _, k := range more {
		m[k] = "other"
	}
	return m
}

// BenchmarkManyKeys is a 64 KiB body of distinct keys, the most an API
// body may hold: checking it must cost linear time, not quadratic.
func BenchmarkManyKeys(b *testing.B) {
	body := []byte(`{"labels":{` + manyKeys(6000) + `}}`)
	for b.Loop() {
		var v login
		if err := strictjson.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
	}
}

// TestUnmarshalKeepsJSONErrors shows callers still get encoding/json's
// errors for what encoding/json refuses, so they can describe them.
func TestUnmarshalKeepsJSONErrors(t *testing.T) {
	var v login
	var syn *json.SyntaxError
	if err := strictjson.Unmarshal([]byte(`{"username":`), &v); err == nil {
		t.Error("Unmarshal of a cut body succeeded")
	}
	if err := strictjson.Unmarshal([]byte(`{"username" 1}`), &v); !errors.As(err, &syn) {
		t.Errorf("Unmarshal of bad syntax = %v, want a *json.SyntaxError", err)
	}
	var typ *json.UnmarshalTypeError
	if err := strictjson.Unmarshal([]byte(`{"username":1}`), &v); !errors.As(err, &typ) {
		t.Errorf("Unmarshal of a number for a string = %v, want a *json.UnmarshalTypeError", err)
	}
	if err := strictjson.Unmarshal([]byte(`{"nope":1}`), &v); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Errorf("Unmarshal of an unknown field = %v, want unknown field", err)
	}
}

// FuzzDecodeStrict feeds Unmarshal arbitrary bytes: it never panics, never
// accepts a body that another JSON parser finds duplicate names in, or
// that names a field in another case, or invalid text; and what it
// accepts round-trips through encoding/json to the same value.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{
		`{"username":"nobody","USERNAME":"maya","password":"x"}`,
		`{"username":"alice","password":"x","interface":"web","device":{"name":"Desk"}}`,
		`{"username":"a","username":"b"}`,
		`{"device":{"name":"a","Name":"b"}}`,
		`{"labels":{"a":"1","A":"2"},"scopes":["x","y"],"extra":{"k":[1,{"k":2}]}}`,
		`{"extra":{"k":1,"k":2}}`,
		`{"username":"\ud83d\ude00\u0000"}`,
		"{\"username\":\"\xff\"}",
		`{"Interface":"web"}`,
		`{`, ``, `null`, `[]`, `"x"`, `{}{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got login
		if err := strictjson.Unmarshal(body, &got); err != nil {
			return
		}
		// Another parser, jsontext, refuses duplicate names and invalid
		// UTF-8 by default: what we accept, it must accept.
		dec := jsontext.NewDecoder(bytes.NewReader(body))
		for {
			tok, err := dec.ReadToken()
			if err != nil {
				if err != io.EOF {
					t.Fatalf("accepted %q, which jsontext refuses: %v", body, err)
				}
				break
			}
			if tok.Kind() == '"' {
				s := tok.String()
				if strings.IndexByte(s, 0) >= 0 {
					t.Fatalf("accepted NUL in %q", body)
				}
				if strings.ContainsRune(s, '\ufffd') && !bytes.Contains(body, []byte("\ufffd")) && !bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`)) {
					t.Fatalf("accepted text that decodes to U+FFFD in %q", body)
				}
			}
		}
		for _, k := range keysOf(t, body, "") {
			for _, name := range []string{"interface", "username", "password", "device", "scopes", "labels", "extra", "device.name", "device.kind"} {
				if k != name && strings.EqualFold(k, name) {
					t.Fatalf("accepted key %q for field %q in %q", k, name, body)
				}
			}
		}
		out, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("Marshal(%+v) = %v", got, err)
		}
		var again login
		if err := strictjson.Unmarshal(out, &again); err != nil {
			t.Fatalf("Unmarshal(Marshal(Unmarshal(%q))) = %v", body, err)
		}
		got.Extra, again.Extra = compact(got.Extra), compact(again.Extra)
		// EquateEmpty: omitempty writes no empty map or slice back.
		if diff := cmp.Diff(got, again, cmp.AllowUnexported(login{}), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip of %q (-first +second):\n%s", body, diff)
		}
	})
}

func compact(r json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, r) != nil {
		return r
	}
	return b.Bytes()
}

// keysOf returns the keys of the top-level object and of its "device"
// object, the ones that are struct fields, prefixed by their path.
func keysOf(t *testing.T, body []byte, prefix string) []string {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return nil
	}
	var keys []string
	for k, v := range top {
		keys = append(keys, prefix+k)
		if strings.EqualFold(k, "device") && prefix == "" {
			keys = append(keys, keysOf(t, v, "device.")...)
		}
	}
	return keys
}
