package authz_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"gatehouse/internal/approval"
	"gatehouse/internal/authz"
	"gatehouse/internal/policy"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
)

// approvedToken asks for a transfer's approval as the owner, approves it
// on the owner's phone, and returns it with a token from via.
func (f *approvalFixture) approvedToken(t *testing.T, via *authz.Approvals) (*approval.Approval, string) {
	t.Helper()
	owner := authz.Requester{Session: f.session(f.owner, 2, f.clock.Now()).Session}
	a, err := f.appr.Create(ctx, owner, "ACC-L", approval.Transfer, []byte(transferDetails))
	if err != nil {
		t.Fatal(err)
	}
	if f.phoneKey == nil {
		f.phoneKey, f.phoneJKT, _ = f.phone(t, f.owner, "fac_phone")
	}
	if _, err := f.answer(t, f.phoneKey, f.phoneJKT, approval.Answer{ApprovalID: a.ID, Decision: approval.Approve, Hash: a.Hash}); err != nil {
		t.Fatal(err)
	}
	_, tok, err := via.Get(ctx, owner, a.ID)
	if err != nil || tok == "" {
		t.Fatalf("Get = %q, %v", tok, err)
	}
	return a, tok
}

// usedEvents counts the approval.used events of approval id.
func (f *approvalFixture) usedEvents(t *testing.T, id string) int {
	t.Helper()
	evs, err := f.st.AuditOfUser(ctx, f.owner.ID, 1<<62, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == "approval.used" && e.Detail["approval"] == id {
			n++
			if e.Detail["rule"] == "" || e.IP != "192.0.2.7" {
				t.Errorf("approval.used event = %+v, want the rule and the client", e)
			}
		}
	}
	return n
}

// TestApprovalUseAcrossInstances: two instances, each with its own
// records of the tokens it signed and spent, and the store's single-use
// table between them: on one SQLite store, and on two PostgreSQL stores
// of one schema, as two processes have. A token signed by one is
// accepted by the other (by its MAC) once, and then refused by both; the
// record (the approval used, one approval.used event) is written off the
// request's path, there by Close at the latest, while Get already says
// used.
func TestApprovalUseAcrossInstances(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		st := storetest.SQLite(t)
		testUseAcrossInstances(t, st, st)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		url := storetest.PostgresURL(t)
		testUseAcrossInstances(t, storetest.OpenPostgres(t, url), storetest.OpenPostgres(t, url))
	})
}

func testUseAcrossInstances(t *testing.T, st1, st2 store.Store) {
	f := newApprovalFixtureOn(t, st1)
	signer := f.appr.Signer()
	open := func(st store.Store) *authz.Approvals {
		a := authz.NewApprovals(authz.ApprovalsConfig{Store: st, Signer: signer, Shared: st, Now: f.clock.Now})
		t.Cleanup(a.Close)
		return a
	}
	one, two := open(st1), open(st2)
	f.appr = one
	f.clock.Add(time.Second) // decided after both began: the off-path record
	rule, _, ok := policy.MustCompile([]policy.RuleSpec{{Host: "live.localhost", Methods: []string{"POST"}, Path: "/api/transfers", Scopes: []string{"transfers:write"}}}).Match("live.localhost", "POST", "/api/transfers")
	if !ok {
		t.Fatal("no rule")
	}
	bind := authz.Binding{UserID: f.owner.ID, AccountID: "ACC-L", Kind: approval.Transfer, Rule: rule, Client: netip.MustParseAddr("192.0.2.7")}

	a, tok := f.approvedToken(t, one)
	if again, _ := f.approvedTokenAgain(t, one, a.ID); again != tok {
		t.Errorf("a second Get gave another token: one approval, one token while it lives")
	}
	c, err := two.Use(ctx, tok, bind)
	if err != nil || c.Hash != a.Hash {
		t.Fatalf("Use on the other instance = %+v, %v", c, err)
	}
	for name, in := range map[string]*authz.Approvals{"signer": one, "spender": two} {
		if _, err := in.Use(ctx, tok, bind); !errors.Is(err, authz.ErrApprovalToken) {
			t.Errorf("the token again on the %s = %v, want ErrApprovalToken", name, err)
		}
	}
	if got, again, _ := two.Get(ctx, authz.Requester{Session: f.session(f.owner, 2, f.clock.Now()).Session}, a.ID); got.Status != approval.Used || again != "" {
		t.Errorf("Get on the spender before the record = %s token %q, want used and none", got.Status, again)
	}
	two.Close()
	if got, err := f.st.ApprovalByID(ctx, a.ID); err != nil || got.Status != approval.Used {
		t.Errorf("stored approval after Close = %+v, %v; want used", got, err)
	}
	if n := f.usedEvents(t, a.ID); n != 1 {
		t.Errorf("approval.used events = %d, want 1", n)
	}

	// After Close a use is recorded on its request's path.
	b, tokB := f.approvedToken(t, one)
	if _, err := two.Use(ctx, tokB, bind); err != nil {
		t.Fatalf("Use after Close = %v", err)
	}
	if got, _ := f.st.ApprovalByID(ctx, b.ID); got.Status != approval.Used || f.usedEvents(t, b.ID) != 1 {
		t.Errorf("a use after Close is not recorded at once: %s", got.Status)
	}
}

// TestApprovalUseAfterRestart: a token whose approval was decided before
// the instance began may have been accepted by the instance before it,
// so it is spent in the store on the request's path: refused when the
// record says used, accepted once otherwise, its record written at once.
func TestApprovalUseAfterRestart(t *testing.T) {
	f := newApprovalFixture(t)
	before := authz.NewApprovals(authz.ApprovalsConfig{Store: f.st, Signer: f.appr.Signer(), Now: f.clock.Now})
	f.appr = before
	f.clock.Add(time.Second)
	bind := authz.Binding{UserID: f.owner.ID, AccountID: "ACC-L", Kind: approval.Transfer}
	used, usedTok := f.approvedToken(t, before)
	if _, err := before.Use(ctx, usedTok, bind); err != nil {
		t.Fatal(err)
	}
	waiting, waitingTok := f.approvedToken(t, before)
	before.Close() // the restart: its records written

	f.clock.Add(time.Second)
	after := authz.NewApprovals(authz.ApprovalsConfig{Store: f.st, Signer: f.appr.Signer(), Now: f.clock.Now})
	defer after.Close()
	if _, err := after.Use(ctx, usedTok, bind); !errors.Is(err, authz.ErrApprovalToken) {
		t.Errorf("a token used before the restart = %v, want ErrApprovalToken", err)
	}
	if _, err := after.Use(ctx, waitingTok, bind); err != nil {
		t.Fatalf("a token not used before the restart = %v", err)
	}
	if got, _ := f.st.ApprovalByID(ctx, waiting.ID); got.Status != approval.Used {
		t.Errorf("its approval = %s, want used at once", got.Status)
	}
	if _, err := after.Use(ctx, waitingTok, bind); !errors.Is(err, authz.ErrApprovalToken) {
		t.Errorf("it again = %v, want ErrApprovalToken", err)
	}
	if got, _ := f.st.ApprovalByID(ctx, used.ID); got.Status != approval.Used {
		t.Errorf("the approval used before the restart = %s, want used", got.Status)
	}
}

// TestApprovalUseSurvivesCrash: an instance killed after accepting a
// token, before its record was written, leaves the claim in the store's
// used_once (serve passes the store as Shared on PostgreSQL), so the
// instance that starts next refuses the token.
func TestApprovalUseSurvivesCrash(t *testing.T) {
	f := newApprovalFixture(t)
	crashed := authz.NewApprovals(authz.ApprovalsConfig{Store: f.st, Signer: f.appr.Signer(), Shared: f.st, Now: f.clock.Now})
	f.appr = crashed
	f.clock.Add(time.Second)
	bind := authz.Binding{UserID: f.owner.ID, AccountID: "ACC-L", Kind: approval.Transfer}
	a, tok := f.approvedToken(t, crashed)
	if _, err := crashed.Use(ctx, tok, bind); err != nil {
		t.Fatal(err)
	}
	// No Close: the process died with the record still queued.
	if got, _ := f.st.ApprovalByID(ctx, a.ID); got.Status == approval.Used {
		t.Skip("the record was written before the crash; nothing to show")
	}
	f.clock.Add(time.Second)
	next := authz.NewApprovals(authz.ApprovalsConfig{Store: f.st, Signer: f.appr.Signer(), Shared: f.st, Now: f.clock.Now})
	defer next.Close()
	if _, err := next.Use(ctx, tok, bind); !errors.Is(err, authz.ErrApprovalToken) {
		t.Errorf("a token accepted just before a crash, again after it = %v, want ErrApprovalToken", err)
	}
}

// TestApprovalUseOneInstanceCrash: on a store one instance serves
// (SQLite), the claim is in memory and costs no store write; an instance
// killed after accepting a token, before its record was written, leaves
// no trace of the claim, so the instance that starts next refuses every
// token signed before it started, used or not: the owner approves again.
func TestApprovalUseOneInstanceCrash(t *testing.T) {
	f := newApprovalFixture(t)
	crashed := authz.NewApprovals(authz.ApprovalsConfig{Store: f.st, Signer: f.appr.Signer(), OneInstance: true, Now: f.clock.Now})
	f.appr = crashed
	f.clock.Add(time.Second)
	bind := authz.Binding{UserID: f.owner.ID, AccountID: "ACC-L", Kind: approval.Transfer}
	_, tok := f.approvedToken(t, crashed)
	_, unused := f.approvedToken(t, crashed)
	if _, err := crashed.Use(ctx, tok, bind); err != nil {
		t.Fatal(err)
	}
	if _, err := crashed.Use(ctx, tok, bind); !errors.Is(err, authz.ErrApprovalToken) {
		t.Errorf("a token twice on one instance = %v, want ErrApprovalToken", err)
	}
	// No Close: the process died, perhaps with the record still queued.
	f.clock.Add(time.Second)
	next := authz.NewApprovals(authz.ApprovalsConfig{Store: f.st, Signer: f.appr.Signer(), OneInstance: true, Now: f.clock.Now})
	defer next.Close()
	for name, tk := range map[string]string{"used": tok, "unused": unused} {
		if _, err := next.Use(ctx, tk, bind); !errors.Is(err, authz.ErrApprovalToken) || !errors.Is(err, authz.ErrTokenBeforeStart) {
			t.Errorf("a %s token signed before the restart = %v, want ErrTokenBeforeStart", name, err)
		}
	}
	f.appr = next
	_, fresh := f.approvedToken(t, next)
	if _, err := next.Use(ctx, fresh, bind); err != nil {
		t.Errorf("a token approved after the restart = %v, want accepted", err)
	}
}

// approvedTokenAgain is the token Get hands out again for id.
func (f *approvalFixture) approvedTokenAgain(t *testing.T, via *authz.Approvals, id string) (string, error) {
	t.Helper()
	_, tok, err := via.Get(ctx, authz.Requester{Session: f.session(f.owner, 2, f.clock.Now()).Session}, id)
	return tok, err
}

// TestDenyFromSession: the owner's session denies a pending approval
// (the portal's button), with its event naming the session; another
// user's session cannot, and a decided approval stays as it is.
func TestDenyFromSession(t *testing.T) {
	f := newApprovalFixture(t)
	owner := f.session(f.owner, 2, f.clock.Now()).Session
	a, err := f.appr.Create(ctx, authz.Requester{Session: owner}, "ACC-L", approval.Transfer, []byte(transferDetails))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.appr.DenyFromSession(ctx, f.session(f.trader, 2, f.clock.Now()).Session, a.ID, "192.0.2.7"); !errors.Is(err, authz.ErrNoApproval) {
		t.Errorf("DenyFromSession by another user = %v, want ErrNoApproval", err)
	}
	if err := f.appr.DenyFromSession(ctx, owner, a.ID, "192.0.2.7"); err != nil {
		t.Fatalf("DenyFromSession = %v", err)
	}
	got, tok, err := f.appr.Get(ctx, authz.Requester{Session: owner}, a.ID)
	if err != nil || got.Status != approval.Denied || tok != "" || got.FactorKind != "session" {
		t.Errorf("Get after the denial = %+v %q %v, want denied by the session, no token", got, tok, err)
	}
	if err := f.appr.DenyFromSession(ctx, owner, a.ID, "192.0.2.7"); !errors.Is(err, authz.ErrApprovalDecided) {
		t.Errorf("DenyFromSession again = %v, want ErrApprovalDecided", err)
	}
	evs, err := f.st.AuditOfUser(ctx, f.owner.ID, 1<<62, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == "approval.denied" && e.Detail["approval"] == a.ID {
			n++
			if e.Detail["factor"] != "session" || e.Detail["session"] != owner.ID || e.IP != "192.0.2.7" {
				t.Errorf("approval.denied = %+v, want the session and its address", e)
			}
		}
	}
	if n != 1 {
		t.Errorf("approval.denied events = %d, want 1", n)
	}
}
