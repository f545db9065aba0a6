package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"

	"gatehouse/internal/session"
)

// FuzzDecodeLogin feeds the login body decoder arbitrary bytes: it never
// panics, and whatever it accepts satisfies every rule of the request.
func FuzzDecodeLogin(f *testing.F) {
	for _, s := range []string{
		`{"username":"alice","password":"a long passphrase","interface":"web"}`,
		`{"username":"alice","password":"x","interface":"desktop","device":{"name":"Desk"}}`,
		`{"username":"al\u0000ice","password":"x","interface":"web"}`,
		`{"username":"alice","password":"x","interface":"web","extra":1}`,
		`{"username":"alice","password":"x","interface":"web"}{}`,
		`{"username":["a"],"password":"x","interface":"web"}`,
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
		if _, err := session.ParseInterface(got.Interface); err != nil {
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
	})
}
