package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"

	"gatehouse/internal/freeze"
)

// FuzzDecodeFreeze feeds the freeze link's body decoder arbitrary bytes:
// it never panics, answers a client error for whatever it refuses, and
// accepts only one "token" key holding a token of a link's form.
func FuzzDecodeFreeze(f *testing.F) {
	for _, s := range []string{
		`{"token":"GOOD-freeze-link-token-0123456789abcdefghij"}`,
		`{"token":"GOOD-freeze-link-token-0123456789abcdefghi\u0000"}`,
		`{"token":"GOOD-freeze-link-token-0123456789abcdefghij","Token":"x"}`,
		`{"token":"GOOD-freeze-link-token-0123456789abcdefghij","token":"GOOD-freeze-link-token-0123456789abcdefghik"}`,
		`{"token":"short"}`, `{"token":1}`, `{"token":null}`, `{}`, `{`, ``, `null`, `[]`,
		`{"token":"GOOD-freeze-link-token-0123456789abcdefghi=="}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/v1/freeze", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		got, err := decode[freezeRequest](httptest.NewRecorder(), r)
		if err != nil {
			if e := toError(err); e.Problem.Status < 400 || e.Problem.Status >= 500 {
				t.Fatalf("decode(%q) error maps to status %d", body, e.Problem.Status)
			}
			return
		}
		if !freeze.ValidToken(got.Token) {
			t.Fatalf("decode(%q) accepted token %q", body, got.Token)
		}
		keys := loginKeys(t, body)
		if len(keys) != 1 || keys[0] != "token" {
			t.Fatalf("decode(%q) accepted keys %q", body, keys)
		}
	})
}
