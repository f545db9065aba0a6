package authz

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"gatehouse/internal/approval"
	"gatehouse/internal/store/storetest"
)

// TestMintedSetHoldsTokensStillToUse: a spent token leaves the set, so a
// steady flow of approvals never fills it; a full set takes no token
// until its expired ones are dropped, and then takes them again.
func TestMintedSetHoldsTokensStillToUse(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tok := func(i int) string { return fmt.Sprintf("header.payload.signature-%030d", i) }
	var m mintedSet
	for i := range 3 * maxMinted {
		id := fmt.Sprint("apr_", i)
		m.add(tok(i), approval.Claims{ID: id, Expiry: now.Add(2 * time.Minute).Unix()}, now)
		if _, ok := m.claims(tok(i)); !ok {
			t.Fatalf("token %d, minted after %d were spent, is not known", i, i)
		}
		m.drop([]spentRecord{{c: &approval.Claims{ID: id}}})
		if _, ok := m.claims(tok(i)); ok {
			t.Fatalf("token %d is still known once spent", i)
		}
	}
	if len(m.byID) != 0 || len(m.byTok) != 0 {
		t.Fatalf("after every token was spent the set holds %d and %d", len(m.byID), len(m.byTok))
	}

	for i := range maxMinted + 1 {
		m.add(tok(i), approval.Claims{ID: fmt.Sprint("apr_", i), Expiry: now.Add(2 * time.Minute).Unix()}, now)
	}
	if _, ok := m.claims(tok(maxMinted)); ok {
		t.Errorf("a full set took one more token")
	}
	if _, ok := m.claims(tok(0)); !ok {
		t.Errorf("a full set lost a token still good")
	}
	later := now.Add(3 * time.Minute)
	m.add(tok(-1), approval.Claims{ID: "apr_late", Expiry: later.Add(2 * time.Minute).Unix()}, later)
	if _, ok := m.claims(tok(-1)); !ok {
		t.Errorf("once its tokens expired the set took no new one")
	}
	if len(m.byID) != 1 {
		t.Errorf("the set holds %d tokens after the expired ones went, want 1", len(m.byID))
	}
}

// TestWriterForgetsWhatItRecords: the writer, recording a use, forgets
// the token in the minted set.
func TestWriterForgetsWhatItRecords(t *testing.T) {
	now := time.Now()
	var m mintedSet
	c := approval.Claims{ID: "apr_used", Subject: "usr_x", Account: "ACC-L", Kind: approval.Transfer, Expiry: now.Add(time.Minute).Unix()}
	m.add("header.payload.signature-of-the-used-token", c, now)
	m.add("header.payload.signature-of-another-token", approval.Claims{ID: "apr_other", Expiry: now.Add(time.Minute).Unix()}, now)
	w := newUseWriter(storetest.SQLite(t), slog.New(slog.DiscardHandler), &m)
	w.add(spentRecord{c: &c, b: Binding{UserID: "usr_x", AccountID: "ACC-L", Kind: approval.Transfer}, now: now})
	w.close()
	if _, ok := m.claims("header.payload.signature-of-the-used-token"); ok {
		t.Errorf("the recorded token is still in the minted set")
	}
	if _, ok := m.claims("header.payload.signature-of-another-token"); !ok {
		t.Errorf("a token not used left the minted set")
	}
}
