package apikey_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
)

var t0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

const day = 24 * time.Hour

// cmpNetip compares netip values, whose fields are unexported, with ==.
var cmpNetip = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

func TestUsable(t *testing.T) {
	base := apikey.Key{ID: "k", CreatedAt: t0, ExpiresAt: t0.Add(90 * day)}
	with := func(f func(*apikey.Key)) apikey.Key { k := base; f(&k); return k }
	tests := []struct {
		name string
		key  apikey.Key
		now  time.Time
		want error
	}{
		{"OK", base, t0.Add(time.Hour), nil},
		{"OKAtCreation", base, t0, nil},
		{"OKJustBeforeExpiry", base, t0.Add(90*day - time.Nanosecond), nil},
		{"ErrExpired", base, t0.Add(90 * day), apikey.ErrExpired},
		{"ErrExpiredNoExpiry", with(func(k *apikey.Key) { k.ExpiresAt = time.Time{} }), t0, apikey.ErrExpired},
		{"ErrRevoked", with(func(k *apikey.Key) { k.RevokedAt = t0.Add(time.Hour) }), t0.Add(2 * time.Hour), apikey.ErrRevoked},
		{"ErrRevokedAndExpired", with(func(k *apikey.Key) { k.RevokedAt = t0.Add(time.Hour) }), t0.Add(100 * day), apikey.ErrRevoked},
		{"OKInOverlap", with(func(k *apikey.Key) { k.SuccessorID = "n"; k.OverlapEndsAt = t0.Add(2 * day) }), t0.Add(2*day - time.Second), nil},
		{"ErrRotated", with(func(k *apikey.Key) { k.SuccessorID = "n"; k.OverlapEndsAt = t0.Add(2 * day) }), t0.Add(2 * day), apikey.ErrRotated},
		{"ErrRotatedNoOverlapEnd", with(func(k *apikey.Key) { k.SuccessorID = "n" }), t0, apikey.ErrRotated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.key.Usable(tt.now); got != tt.want {
				t.Errorf("Usable(%v) = %v, want %v", tt.now, got, tt.want)
			}
		})
	}
}

func TestAllowsAddr(t *testing.T) {
	restricted := apikey.Key{AllowIPs: []netip.Prefix{
		netip.MustParsePrefix("203.0.113.0/24"),
		netip.MustParsePrefix("2001:db8:1::/48"),
		netip.MustParsePrefix("198.51.100.7/32"),
	}}
	tests := []struct {
		name string
		key  apikey.Key
		addr netip.Addr
		want bool
	}{
		{"EmptyAllowsAny", apikey.Key{}, netip.MustParseAddr("192.0.2.1"), true},
		{"EmptyAllowsInvalid", apikey.Key{}, netip.Addr{}, true},
		{"IPv4In", restricted, netip.MustParseAddr("203.0.113.200"), true},
		{"IPv4Out", restricted, netip.MustParseAddr("203.0.114.1"), false},
		{"HostIn", restricted, netip.MustParseAddr("198.51.100.7"), true},
		{"HostNeighbourOut", restricted, netip.MustParseAddr("198.51.100.8"), false},
		{"MappedIn", restricted, netip.MustParseAddr("::ffff:203.0.113.5"), true},
		{"MappedOut", restricted, netip.MustParseAddr("::ffff:10.0.0.1"), false},
		{"IPv6In", restricted, netip.MustParseAddr("2001:db8:1:ffff::1"), true},
		{"IPv6Out", restricted, netip.MustParseAddr("2001:db8:2::1"), false},
		{"IPv6ZoneIn", restricted, netip.MustParseAddr("2001:db8:1::1%eth0"), true},
		{"InvalidOut", restricted, netip.Addr{}, false},
		{"IPv4CompatibleOut", restricted, netip.MustParseAddr("::203.0.113.5"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.key.AllowsAddr(tt.addr); got != tt.want {
				t.Errorf("AllowsAddr(%v) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}

func TestDormant(t *testing.T) {
	never := apikey.Key{CreatedAt: t0}
	used := apikey.Key{CreatedAt: t0, LastUsedAt: t0.Add(20 * day)}
	revoked := apikey.Key{CreatedAt: t0, RevokedAt: t0.Add(day)}
	tests := []struct {
		name  string
		key   apikey.Key
		now   time.Time
		after time.Duration
		want  bool
	}{
		{"NeverUsedYoung", never, t0.Add(29 * day), 30 * day, false},
		{"NeverUsedDormant", never, t0.Add(30 * day), 30 * day, true},
		{"UsedRecently", used, t0.Add(49 * day), 30 * day, false},
		{"UsedLongAgo", used, t0.Add(50 * day), 30 * day, true},
		{"Disabled", never, t0.Add(1000 * day), 0, false},
		{"Revoked", revoked, t0.Add(1000 * day), 30 * day, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.key.Dormant(tt.now, tt.after); got != tt.want {
				t.Errorf("Dormant(%v, %v) = %v, want %v", tt.now, tt.after, got, tt.want)
			}
		})
	}
}

func TestRevoke(t *testing.T) {
	k := apikey.Key{CreatedAt: t0, ExpiresAt: t0.Add(day)}
	if err := k.Revoke(apikey.RevokedByUser, t0.Add(time.Hour)); err != nil {
		t.Fatalf("Revoke = %v, want nil", err)
	}
	if err := k.Usable(t0.Add(time.Hour)); err != apikey.ErrRevoked {
		t.Errorf("Usable after Revoke = %v, want ErrRevoked", err)
	}
	if err := k.Revoke(apikey.RevokedDormant, t0.Add(2*time.Hour)); err != apikey.ErrRevoked {
		t.Errorf("second Revoke = %v, want ErrRevoked", err)
	}
	if k.RevokeReason != apikey.RevokedByUser || !k.RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("after two revocations: %q at %v, want the first (user at %v)", k.RevokeReason, k.RevokedAt, t0.Add(time.Hour))
	}
}

func liveKey(scopes apikey.Scopes, allow ...string) apikey.Key {
	k := apikey.Key{
		ID: "0000000000000000", AccountID: "acc-1", Name: "bot", Environment: account.Live,
		Scopes: scopes, SecretHash: []byte("old"), CreatedBy: "u1",
		CreatedAt: t0, ExpiresAt: t0.Add(90 * day),
	}
	for _, a := range allow {
		k.AllowIPs = append(k.AllowIPs, netip.MustParsePrefix(a))
	}
	return k
}

func TestRotate(t *testing.T) {
	l := apikey.DefaultLimits()
	old := liveKey(apikey.ScopesOf(apikey.OrdersRead, apikey.OrdersWrite), "203.0.113.0/24")
	tok := mustGenerate(t, account.Live, &counter{n: 3})
	now := t0.Add(10 * day)

	next, err := old.Rotate(tok, "u2", 2, l, now)
	if err != nil {
		t.Fatalf("Rotate = %v", err)
	}
	want := apikey.Key{
		ID: tok.ID, AccountID: "acc-1", Name: "bot", Environment: account.Live,
		Scopes: old.Scopes, AllowIPs: old.AllowIPs, SecretHash: tok.Hash, CreatedBy: "u2",
		CreatedAt: now, ExpiresAt: now.Add(90 * day), PredecessorID: old.ID,
	}
	if diff := cmp.Diff(want, next, cmpNetip); diff != "" {
		t.Errorf("successor mismatch (-want +got):\n%s", diff)
	}
	if &next.AllowIPs[0] == &old.AllowIPs[0] {
		t.Error("successor shares its allowlist with the old key")
	}
	if old.SuccessorID != tok.ID || !old.OverlapEndsAt.Equal(now.Add(24*time.Hour)) {
		t.Errorf("old key: successor %q, overlap end %v; want %q, %v", old.SuccessorID, old.OverlapEndsAt, tok.ID, now.Add(24*time.Hour))
	}
	if err := old.Usable(now.Add(24*time.Hour - time.Second)); err != nil {
		t.Errorf("old key in the overlap: Usable = %v, want nil", err)
	}
	if err := old.Usable(now.Add(24 * time.Hour)); err != apikey.ErrRotated {
		t.Errorf("old key after the overlap: Usable = %v, want ErrRotated", err)
	}
	if _, err := old.Rotate(mustGenerate(t, account.Live, nil), "u2", 2, l, now); err != apikey.ErrRotated {
		t.Errorf("second Rotate = %v, want ErrRotated", err)
	}
}

func TestRotateOverlapEndsAtExpiry(t *testing.T) {
	old := liveKey(apikey.ReadScopes)
	now := old.ExpiresAt.Add(-time.Hour)
	if _, err := old.Rotate(mustGenerate(t, account.Live, nil), "u1", 1, apikey.DefaultLimits(), now); err != nil {
		t.Fatal(err)
	}
	if !old.OverlapEndsAt.Equal(old.ExpiresAt) {
		t.Errorf("OverlapEndsAt = %v, want the key's expiry %v", old.OverlapEndsAt, old.ExpiresAt)
	}
}

func TestRotateAppliesTodaysLimits(t *testing.T) {
	l := apikey.DefaultLimits()
	// A live trading key without allowlist, made when the cap was 90 days.
	old := liveKey(apikey.ScopesOf(apikey.OrdersWrite))
	next, err := old.Rotate(mustGenerate(t, account.Live, nil), "u1", 1, l, t0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := next.ExpiresAt.Sub(next.CreatedAt), l.UnrestrictedTradingMaxTTL; got != want {
		t.Errorf("successor lifetime = %v, want %v", got, want)
	}
	l.MaxTTL = 10 * day
	old = liveKey(apikey.ReadScopes)
	next, err = old.Rotate(mustGenerate(t, account.Live, nil), "u1", 1, l, t0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := next.ExpiresAt.Sub(next.CreatedAt), 10*day; got != want {
		t.Errorf("successor lifetime = %v, want %v", got, want)
	}
}

func TestRotateErrors(t *testing.T) {
	l := apikey.DefaultLimits()
	live := mustGenerate(t, account.Live, nil)
	paper := mustGenerate(t, account.Paper, nil)
	transfers := liveKey(apikey.ScopesOf(apikey.TransfersWrite), "203.0.113.0/24")
	revoked := liveKey(apikey.ReadScopes)
	revoked.RevokedAt = t0
	tests := []struct {
		name string
		key  apikey.Key
		tok  apikey.Token
		aal  int
		now  time.Time
		want error
	}{
		{"ErrEnvironment", liveKey(apikey.ReadScopes), paper, 3, t0, apikey.ErrEnvironment},
		{"ErrEnvironmentEmptyToken", liveKey(apikey.ReadScopes), apikey.Token{Environment: account.Live}, 3, t0, apikey.ErrEnvironment},
		{"ErrAssurance", transfers, live, 2, t0, apikey.ErrAssurance},
		{"ErrRevoked", revoked, live, 3, t0, apikey.ErrRevoked},
		{"ErrExpired", liveKey(apikey.ReadScopes), live, 3, t0.Add(100 * day), apikey.ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := tt.key
			if _, err := k.Rotate(tt.tok, "u1", tt.aal, l, tt.now); !errors.Is(err, tt.want) {
				t.Errorf("Rotate = %v, want %v", err, tt.want)
			}
			if k.SuccessorID != "" || !k.OverlapEndsAt.IsZero() {
				t.Errorf("failed Rotate changed the key: successor %q, overlap end %v", k.SuccessorID, k.OverlapEndsAt)
			}
		})
	}
	k := transfers
	if _, err := k.Rotate(live, "u1", 3, l, t0); err != nil {
		t.Errorf("Rotate of a transfers key at AAL3 = %v, want nil", err)
	}
}
