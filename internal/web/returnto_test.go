package web_test

import (
	"net/http"
	"net/url"
	"testing"

	"gatehouse/internal/user"
)

// TestReturnAfterSignIn: forward-auth sends a signed-out browser to
// /login?rd=…; after signing in it goes back there once, and only to a
// host the configuration names.
func TestReturnAfterSignIn(t *testing.T) {
	tests := []struct {
		name, rd, want string // want "" means the overview, no redirect
	}{
		{"RuleHost", "https://portal.localhost/portal/home?tab=keys", "https://portal.localhost/portal/home?tab=keys"},
		{"PortalPath", "/sessions", "/sessions"},
		{"ForeignHost", "https://evil.example/portal/home", ""},
		{"SchemeRelative", "//evil.example/x", ""},
		{"Backslash", "/\\evil.example", ""},
		{"Javascript", "javascript:alert(1)", ""},
		{"UserInfo", "https://portal.localhost@evil.example/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.addUser(t, "alice", alicePW, user.Occasional)
			b := e.browser(firefoxUA)
			b.get(t, "/login?rd="+url.QueryEscape(tt.rd))
			b.mustLogin(t, "alice", alicePW)
			a := b.get(t, "/")
			if tt.want == "" {
				if a.Code != http.StatusOK {
					t.Errorf("overview after rd=%q = %d → %q, want 200 and no redirect", tt.rd, a.Code, a.Location())
				}
				return
			}
			if a.Code != http.StatusSeeOther || a.Location() != tt.want {
				t.Fatalf("overview after rd=%q = %d → %q, want 303 → %q", tt.rd, a.Code, a.Location(), tt.want)
			}
			if again := b.get(t, "/"); again.Code != http.StatusOK {
				t.Errorf("the destination was followed twice: %d → %q", again.Code, again.Location())
			}
		})
	}
}
