package pathid_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"gatehouse/internal/pathid"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		values  map[string]string
		want    bool
	}{
		{"Session", "DELETE /v1/sessions/{id}", map[string]string{"id": "Zx9_-Q1aBcDeFgHi"}, true},
		{"SessionNUL", "DELETE /v1/sessions/{id}", map[string]string{"id": "\x00"}, false},
		{"SessionInvalidUTF8", "DELETE /v1/sessions/{id}", map[string]string{"id": "\xff\xfe"}, false},
		{"SessionOverLong", "DELETE /v1/sessions/{id}", map[string]string{"id": strings.Repeat("a", 44)}, false},
		{"SessionEmpty", "DELETE /v1/sessions/{id}", map[string]string{"id": ""}, false},
		{"Flow", "POST /v1/login/{flow}/totp", map[string]string{"flow": "AAAAAAAAAAAAAAAAAAAAAA"}, true},
		{"FlowSlashless", "GET /login/{flow}", map[string]string{"flow": "a.b"}, false},
		{"Key", "DELETE /v1/accounts/{account}/keys/{id}", map[string]string{"account": "ACC-L", "id": "0123456789abcdef"}, true},
		{"KeyWrongAlphabet", "DELETE /v1/accounts/{account}/keys/{id}", map[string]string{"account": "ACC-L", "id": "0123456789ABCDEF"}, false},
		{"KeyShort", "POST /keys/{account}/{id}/revoke", map[string]string{"account": "ACC-L", "id": "0123"}, false},
		{"AccountNUL", "GET /v1/accounts/{account}/keys", map[string]string{"account": "ACC\x00"}, false},
		{"AccountOverLong", "GET /v1/accounts/{account}/keys", map[string]string{"account": strings.Repeat("A", 65)}, false},
		{"Username", "GET /v1/admin/posture/{user}", map[string]string{"user": "Maya@example.com"}, true},
		{"UserID", "GET /v1/admin/posture/{user}", map[string]string{"user": "usr_Zx9_-Q1aBcDeFgHi"}, true},
		{"UserInvalidUTF8", "GET /v1/admin/posture/{user}", map[string]string{"user": "\xff\xfe"}, false},
		{"FactorKindUnchecked", "POST /v1/factors/{kind}", map[string]string{"kind": "\x00"}, true},
		{"NoWildcard", "GET /v1/me", nil, true},
		{"AnchoredRoot", "GET /{$}", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for k, v := range tt.values {
				r.SetPathValue(k, v)
			}
			if got := pathid.Check(tt.pattern)(r); got != tt.want {
				t.Errorf("Check(%q)(%q) = %v, want %v", tt.pattern, tt.values, got, tt.want)
			}
		})
	}
}

// TestCheckUnknownWildcardPanics proves a route cannot serve ids of a kind
// nobody declared: registering it fails at start.
func TestCheckUnknownWildcardPanics(t *testing.T) {
	for _, pattern := range []string{"GET /v1/widgets/{id}", "GET /v1/things/{thing}"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Check(%q) did not panic", pattern)
				}
			}()
			pathid.Check(pattern)
		}()
	}
}
