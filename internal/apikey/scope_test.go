package apikey_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
)

func TestParseScopes(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want apikey.Scopes
	}{
		{"Empty", nil, 0},
		{"One", []string{"orders:read"}, apikey.ScopesOf(apikey.OrdersRead)},
		{"All", []string{"account:read", "marketdata:read", "orders:read", "orders:write", "transfers:write"}, apikey.AllScopes},
		{"Duplicates", []string{"orders:write", "orders:write"}, apikey.ScopesOf(apikey.OrdersWrite)},
		{"AnyOrder", []string{"transfers:write", "account:read"}, apikey.ScopesOf(apikey.AccountRead, apikey.TransfersWrite)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := apikey.ParseScopes(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("ParseScopes(%q) = %v, %v; want %v, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseScopesUnknown(t *testing.T) {
	for _, name := range []string{"orders:all", "Orders:Read", "orders:read ", "", "orders"} {
		_, err := apikey.ParseScopes([]string{"account:read", name})
		if !errors.Is(err, apikey.ErrUnknownScope) {
			t.Errorf("ParseScopes([account:read %q]) = %v, want ErrUnknownScope", name, err)
			continue
		}
		if !strings.Contains(err.Error(), `"`+name+`"`) {
			t.Errorf("ParseScopes(%q) error %q does not name the scope", name, err)
		}
	}
}

func TestScopeNamesRoundTrip(t *testing.T) {
	for s := apikey.Scopes(0); s <= apikey.AllScopes; s++ {
		got, err := apikey.ParseScopes(s.Names())
		if err != nil || got != s {
			t.Errorf("ParseScopes(%v.Names()) = %v, %v; want %v", uint32(s), got, err, s)
		}
		if got, err := apikey.ParseScopes(strings.Fields(s.String())); err != nil || got != s {
			t.Errorf("ParseScopes(Fields(%q)) = %v, %v; want %v", s.String(), got, err, s)
		}
		if !s.Valid() {
			t.Errorf("Scopes(%#x).Valid() = false, want true", uint32(s))
		}
	}
	if s := apikey.AllScopes + 1; s.Valid() {
		t.Errorf("Scopes(%#x).Valid() = true, want false", uint32(s))
	}
	if got, want := apikey.ScopesOf(apikey.OrdersWrite, apikey.AccountRead).String(), "account:read orders:write"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := apikey.TransfersWrite.String(), "transfers:write"; got != want {
		t.Errorf("TransfersWrite.String() = %q, want %q", got, want)
	}
	if got := apikey.Scope(3).String(); got != "Scope(0x3)" {
		t.Errorf("Scope(3).String() = %q, want Scope(0x3)", got)
	}
}

func TestScopesHasContains(t *testing.T) {
	rw := apikey.ScopesOf(apikey.OrdersRead, apikey.OrdersWrite)
	tests := []struct {
		s     apikey.Scopes
		x     apikey.Scope
		has   bool
		other apikey.Scopes
		cont  bool
	}{
		{rw, apikey.OrdersRead, true, apikey.ScopesOf(apikey.OrdersRead), true},
		{rw, apikey.OrdersWrite, true, rw, true},
		{rw, apikey.AccountRead, false, apikey.ScopesOf(apikey.OrdersRead, apikey.AccountRead), false},
		{rw, 0, false, 0, true},
		{rw, apikey.OrdersRead | apikey.OrdersWrite, true, apikey.AllScopes, false},
		{rw, apikey.OrdersRead | apikey.TransfersWrite, false, apikey.ScopesOf(apikey.TransfersWrite), false},
		{0, apikey.OrdersRead, false, 0, true},
	}
	for _, tt := range tests {
		if got := tt.s.Has(tt.x); got != tt.has {
			t.Errorf("%v.Has(%v) = %v, want %v", tt.s, tt.x, got, tt.has)
		}
		if got := tt.s.Contains(tt.other); got != tt.cont {
			t.Errorf("%v.Contains(%v) = %v, want %v", tt.s, tt.other, got, tt.cont)
		}
	}
}

func TestCanTrade(t *testing.T) {
	tests := []struct {
		s    apikey.Scopes
		want bool
	}{
		{0, false},
		{apikey.ReadScopes, false},
		{apikey.ScopesOf(apikey.OrdersWrite), true},
		{apikey.ScopesOf(apikey.TransfersWrite), true},
		{apikey.AllScopes, true},
	}
	for _, tt := range tests {
		if got := tt.s.CanTrade(); got != tt.want {
			t.Errorf("%q.CanTrade() = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestRoleScopes(t *testing.T) {
	tests := []struct {
		role account.Role
		want []string
	}{
		{account.Owner, []string{"account:read", "marketdata:read", "orders:read", "orders:write", "transfers:write"}},
		{account.Trader, []string{"account:read", "marketdata:read", "orders:read", "orders:write"}},
		{account.Viewer, []string{"account:read", "marketdata:read", "orders:read"}},
		{"admin", []string{}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, apikey.RoleScopes(tt.role).Names()); diff != "" {
			t.Errorf("RoleScopes(%q) mismatch (-want +got):\n%s", tt.role, diff)
		}
	}
}

func BenchmarkScopesHas(b *testing.B) {
	s := apikey.ScopesOf(apikey.AccountRead, apikey.OrdersRead, apikey.OrdersWrite)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if s.Has(apikey.OrdersWrite) {
			n++
		}
	}
	if n == 0 {
		b.Fatal("Has returned false")
	}
}
