package authz_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"net/netip"

	"gatehouse/internal/apikey"
	"gatehouse/internal/approval"
	"gatehouse/internal/authn"
	"gatehouse/internal/authz"
	"gatehouse/internal/dpop"
	"gatehouse/internal/factor"
	"gatehouse/internal/factor/push"
	"gatehouse/internal/fault"
	"gatehouse/internal/policy"
	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
	"gatehouse/internal/user"
)

const transferDetails = `{"amount":"5000.00","currency":"USD","destination":{"iban":"DE89370400440532013000"}}`

type approvalFixture struct {
	*fixture
	appr *authz.Approvals
	// phoneKey and phoneJKT are the owner's phone once approvedToken
	// enrolled it.
	phoneKey *ecdsa.PrivateKey
	phoneJKT string
}

func newApprovalFixture(t *testing.T) *approvalFixture {
	t.Helper()
	return newApprovalFixtureOn(t, storetest.SQLite(t))
}

// newApprovalFixtureOn is newApprovalFixture on the empty store st.
func newApprovalFixtureOn(t *testing.T, st store.Store) *approvalFixture {
	t.Helper()
	f := newFixtureOn(t, st)
	s, err := approval.NewSigner([]byte("0123456789abcdef0123456789abcdef"), "https://auth.example")
	if err != nil {
		t.Fatal(err)
	}
	return &approvalFixture{fixture: f, appr: authz.NewApprovals(authz.ApprovalsConfig{Store: f.st, Signer: s, Now: f.clock.Now})}
}

// phone enrols a push phone for u and returns its key and thumbprint.
func (f *approvalFixture) phone(t *testing.T, u *user.User, id string) (*ecdsa.PrivateKey, string, *factor.Factor) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := push.MarshalPublicKey(&k.PublicKey)
	jkt, _ := dpop.Thumbprint(&k.PublicKey)
	fa := &factor.Factor{ID: id, UserID: u.ID, Kind: factor.Push, Name: "Phone", Status: factor.Active, PublicKey: pub,
		CredentialID: []byte(jkt), CreatedAt: f.clock.Now(), ConfirmedAt: f.clock.Now()}
	if err := f.st.CreateFactor(ctx, fa); err != nil {
		t.Fatal(err)
	}
	return k, jkt, fa
}

func (f *approvalFixture) answer(t *testing.T, k *ecdsa.PrivateKey, jkt string, a approval.Answer) (approval.Status, error) {
	t.Helper()
	if a.SignedAt.IsZero() {
		a.SignedAt = f.clock.Now().Truncate(time.Second)
	}
	sig, err := approval.SignAnswer(k, a)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := approval.MarshalAnswer(a, sig)
	return f.appr.PhoneAnswer(ctx, jkt, body)
}

func TestApprovalFlow(t *testing.T) {
	f := newApprovalFixture(t)
	k, jkt, _ := f.phone(t, f.owner, "fac_phone")
	owner := authz.Requester{Session: f.session(f.owner, 2, f.clock.Now()).Session}
	a, err := f.appr.Create(ctx, owner, "ACC-L", approval.Transfer, []byte(transferDetails))
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	if want, _ := approval.Hash([]byte(transferDetails)); a.Hash != want || a.Status != approval.Pending {
		t.Errorf("Create = %+v, want pending with hash %s", a, want)
	}
	ps, err := f.appr.PhonePending(ctx, jkt)
	if err != nil || len(ps) != 1 || ps[0].ID != a.ID || ps[0].Words[0] != "Transfer 5000.00 USD to DE89370400440532013000" {
		t.Fatalf("PhonePending = %+v, %v", ps, err)
	}

	// A phone shown other details cannot approve these.
	other, _ := approval.Hash([]byte(`{"amount":"50000.00","currency":"USD","destination":{"iban":"DE89370400440532013000"}}`))
	if _, err := f.answer(t, k, jkt, approval.Answer{ApprovalID: a.ID, Decision: approval.Approve, Hash: other}); !errors.Is(err, authz.ErrApprovalAnswer) {
		t.Errorf("answer with another hash = %v, want ErrApprovalAnswer", err)
	}
	// Another user's phone cannot answer it.
	ko, jo, _ := f.phone(t, f.trader, "fac_other")
	if _, err := f.answer(t, ko, jo, approval.Answer{ApprovalID: a.ID, Decision: approval.Approve, Hash: a.Hash}); !errors.Is(err, authz.ErrNoApproval) {
		t.Errorf("answer from another user's phone = %v, want ErrNoApproval", err)
	}
	// A signature by another key, sent under this phone's thumbprint.
	if _, err := f.answer(t, ko, jkt, approval.Answer{ApprovalID: a.ID, Decision: approval.Approve, Hash: a.Hash}); !errors.Is(err, authz.ErrApprovalAnswer) {
		t.Errorf("answer signed by another key = %v, want ErrApprovalAnswer", err)
	}
	if _, tok, _ := f.appr.Get(ctx, owner, a.ID); tok != "" {
		t.Fatal("a token before approval")
	}

	if st, err := f.answer(t, k, jkt, approval.Answer{ApprovalID: a.ID, Decision: approval.Approve, Hash: a.Hash}); err != nil || st != approval.Approved {
		t.Fatalf("approve = %s, %v", st, err)
	}
	if _, err := f.answer(t, k, jkt, approval.Answer{ApprovalID: a.ID, Decision: approval.Deny, Hash: a.Hash}); !errors.Is(err, authz.ErrApprovalDecided) {
		t.Errorf("second answer = %v, want ErrApprovalDecided", err)
	}
	got, tok, err := f.appr.Get(ctx, owner, a.ID)
	if err != nil || got.Status != approval.Approved || tok == "" || got.FactorKind != "push" {
		t.Fatalf("Get = %+v %q %v", got, tok, err)
	}
	if _, _, err := f.appr.Get(ctx, authz.Requester{Session: f.session(f.trader, 2, f.clock.Now()).Session}, a.ID); !errors.Is(err, authz.ErrNoApproval) {
		t.Errorf("Get by another user = %v, want ErrNoApproval", err)
	}

	bind := authz.Binding{UserID: f.owner.ID, AccountID: "ACC-L", Kind: approval.Transfer}
	for name, b := range map[string]authz.Binding{
		"other user":    {UserID: f.trader.ID, AccountID: "ACC-L", Kind: approval.Transfer},
		"other account": {UserID: f.owner.ID, AccountID: "ACC-P", Kind: approval.Transfer},
		"other kind":    {UserID: f.owner.ID, AccountID: "ACC-L", Kind: approval.Order},
	} {
		if _, err := f.appr.Use(ctx, tok, b); !errors.Is(err, authz.ErrApprovalToken) {
			t.Errorf("Use for %s = %v, want ErrApprovalToken", name, err)
		}
	}
	c, err := f.appr.Use(ctx, tok, bind)
	if err != nil || c.Hash != a.Hash {
		t.Fatalf("Use = %+v, %v", c, err)
	}
	if _, err := f.appr.Use(ctx, tok, bind); !errors.Is(err, authz.ErrApprovalToken) {
		t.Errorf("replayed Use = %v, want ErrApprovalToken", err)
	}
	// Every token of one approval is the same single use.
	if _, again, _ := f.appr.Get(ctx, owner, a.ID); again != "" {
		t.Errorf("Get after use still hands out a token")
	}
}

func TestApprovalRefusals(t *testing.T) {
	f := newApprovalFixture(t)
	k, jkt, fa := f.phone(t, f.owner, "fac_phone")
	owner := authz.Requester{Session: f.session(f.owner, 2, f.clock.Now()).Session}
	if _, err := f.appr.Create(ctx, authz.Requester{Session: f.session(f.viewer, 2, f.clock.Now()).Session}, "ACC-L", approval.Transfer, []byte(transferDetails)); fault.Of(err) != fault.Forbidden {
		t.Errorf("Create by a viewer = %v, want Forbidden", err)
	}
	if _, err := f.appr.Create(ctx, authz.Requester{Session: f.session(f.outsider, 2, f.clock.Now()).Session}, "ACC-L", approval.Transfer, []byte(transferDetails)); !errors.Is(err, authz.ErrNoAccount) {
		t.Errorf("Create by an outsider = %v, want ErrNoAccount", err)
	}
	if _, err := f.appr.Create(ctx, owner, "ACC-L", approval.Transfer, []byte(`{"amount":1,"amount":2}`)); fault.Of(err) != fault.Invalid {
		t.Errorf("Create with duplicate keys = %v, want Invalid", err)
	}

	// An API key asks; its creator is asked. A key of another account
	// cannot ask for this one.
	iss, err := f.keys.Create(ctx, f.session(f.owner, 3, f.clock.Now()), "ACC-L", apikey.Request{Name: "bot", Scopes: []string{"orders:write"}, AllowIPs: []string{"192.0.2.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	bot := authz.Requester{Key: &iss.Key}
	a, err := f.appr.Create(ctx, bot, "ACC-L", approval.Transfer, []byte(transferDetails))
	if err != nil || a.UserID != f.owner.ID || a.RequestedBy != iss.Key.ID {
		t.Fatalf("Create by a key = %+v, %v; want the owner asked", a, err)
	}
	if _, err := f.appr.Create(ctx, bot, "ACC-P", approval.Transfer, []byte(transferDetails)); !errors.Is(err, authz.ErrNoAccount) {
		t.Errorf("Create by a key for another account = %v, want ErrNoAccount", err)
	}
	if _, _, err := f.appr.Get(ctx, bot, a.ID); err != nil {
		t.Errorf("Get by the key that asked = %v", err)
	}

	// The flood cap: five pending.
	for range 4 {
		if _, err := f.appr.Create(ctx, owner, "ACC-L", approval.Order, []byte(`{"side":"buy"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.appr.Create(ctx, owner, "ACC-L", approval.Order, []byte(`{"side":"buy"}`)); !errors.Is(err, authz.ErrTooManyApprovals) {
		t.Errorf("sixth pending = %v, want ErrTooManyApprovals", err)
	}

	// A removed phone answers nothing.
	if err := f.st.DeleteFactor(ctx, fa.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.answer(t, k, jkt, approval.Answer{ApprovalID: a.ID, Decision: approval.Approve, Hash: a.Hash}); !errors.Is(err, authz.ErrPhone) {
		t.Errorf("answer from a removed phone = %v, want ErrPhone", err)
	}
	if _, err := f.appr.PhonePending(ctx, jkt); !errors.Is(err, authz.ErrPhone) {
		t.Errorf("PhonePending of a removed phone = %v, want ErrPhone", err)
	}

	// Expiry: a pending approval past its life cannot be approved, and a
	// token past its life is refused.
	k2, jkt2, _ := f.phone(t, f.owner, "fac_phone2")
	f.clock.Add(approval.DefaultLifetime)
	if _, err := f.answer(t, k2, jkt2, approval.Answer{ApprovalID: a.ID, Decision: approval.Approve, Hash: a.Hash}); !errors.Is(err, authz.ErrApprovalDecided) {
		t.Errorf("answer after expiry = %v, want ErrApprovalDecided", err)
	}
	b, err := f.appr.Create(ctx, owner, "ACC-L", approval.Transfer, []byte(transferDetails))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.answer(t, k2, jkt2, approval.Answer{ApprovalID: b.ID, Decision: approval.Approve, Hash: b.Hash}); err != nil {
		t.Fatal(err)
	}
	_, tok, _ := f.appr.Get(ctx, owner, b.ID)
	f.clock.Add(approval.DefaultTokenLifetime)
	if _, err := f.appr.Use(ctx, tok, authz.Binding{UserID: f.owner.ID, AccountID: "ACC-L", Kind: approval.Transfer}); !errors.Is(err, approval.ErrTokenExpired) {
		t.Errorf("Use of an expired token = %v, want ErrTokenExpired", err)
	}
	// A token signed by another key.
	otherSigner, _ := approval.NewSigner([]byte("another secret, another key 0000"), "https://auth.example")
	forged, _ := otherSigner.Sign(approval.Claims{Subject: f.owner.ID, ID: b.ID, Expiry: f.clock.Now().Add(time.Minute).Unix(), Account: "ACC-L", Kind: approval.Transfer, Hash: b.Hash})
	if _, err := f.appr.Use(ctx, forged, authz.Binding{UserID: f.owner.ID, AccountID: "ACC-L", Kind: approval.Transfer}); !errors.Is(err, authz.ErrApprovalToken) {
		t.Errorf("Use of a token signed by another key = %v, want ErrApprovalToken", err)
	}
}

// TestKeyApprovalRequired: a key made with approval required places
// orders within its scopes, but its transfers, on a rule that asks for
// transfers:write and says nothing of approvals, wait for the owner's
// approval; a key without it is not asked.
func TestKeyApprovalRequired(t *testing.T) {
	f := newApprovalFixture(t)
	sessions := authn.New(f.st, maxAge, f.clock.Now, nil)
	// Rules whose transfer route asks for no approval (the reference
	// rules ask for one on every transfer): only the key's setting can.
	specs, err := policy.ParseSpecs([]byte(`
- host: live.localhost
  environment: live
  methods: [POST]
  path: /api/orders
  scopes: [orders:write]
- host: live.localhost
  environment: live
  methods: [POST]
  path: /api/transfers
  scopes: [transfers:write]
`))
	if err != nil {
		t.Fatal(err)
	}
	svc := authz.New(authz.Config{Rules: policy.MustCompile(specs), Keys: f.keys, Sessions: sessions, Members: f.st,
		Replay: &dpop.ReplayCache{Window: time.Minute}, DPoPMaxAge: time.Minute, MaxAge: maxAge, Now: f.clock.Now, Approvals: f.appr})
	mk := func(name, approval string) *authz.Issued {
		iss, err := f.keys.Create(ctx, f.session(f.owner, 3, f.clock.Now()), "ACC-L", apikey.Request{Name: name, Scopes: []string{"orders:write", "transfers:write"},
			AllowIPs: []string{"192.0.2.0/24"}, Approval: approval})
		if err != nil {
			t.Fatal(err)
		}
		return iss
	}
	if _, err := f.keys.Create(ctx, authz.Actor{}, "ACC-L", apikey.Request{Name: "bad", Scopes: []string{"orders:write"}, Approval: "sometimes"}); fault.Of(err) != fault.Invalid {
		t.Errorf("Create with approval %q = %v, want Invalid", "sometimes", err)
	}
	strict, plain := mk("strict bot", "required"), mk("plain bot", "")
	if !strict.Key.ApprovalRequired || plain.Key.ApprovalRequired {
		t.Fatalf("ApprovalRequired = %v and %v", strict.Key.ApprovalRequired, plain.Key.ApprovalRequired)
	}
	if k, _ := f.st.KeyByID(ctx, strict.Key.ID); k == nil || !k.ApprovalRequired {
		t.Fatalf("stored key lost ApprovalRequired: %+v", k)
	}
	client := netip.MustParseAddr("192.0.2.7")
	ask := func(iss *authz.Issued, path, tok string) authz.Result {
		res, err := svc.Authorize(ctx, &authz.Request{Target: target("POST", "http://live.localhost"+path), Client: client,
			Authorization: "Bearer " + iss.Secret, Approval: tok})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := ask(strict, "/api/orders", ""); !res.Allow {
		t.Errorf("order by the strict key = %v %v, want allowed", res.Kind, res.Missing)
	}
	if res := ask(plain, "/api/transfers", ""); !res.Allow {
		t.Errorf("transfer by the plain key = %v %v, want allowed", res.Kind, res.Missing)
	}
	res := ask(strict, "/api/transfers", "")
	if res.Kind != policy.ApprovalRequired || res.ApprovalKind != approval.Transfer {
		t.Fatalf("transfer by the strict key without a token = %v %q, want approval_required for a transfer", res.Kind, res.ApprovalKind)
	}

	// The key asks; its creator, the owner, approves on the phone; the
	// token lets one transfer through, with the approved hash.
	k, jkt, _ := f.phone(t, f.owner, "fac_phone")
	a, err := f.appr.Create(ctx, authz.Requester{Key: &strict.Key}, "ACC-L", approval.Transfer, []byte(transferDetails))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.answer(t, k, jkt, approval.Answer{ApprovalID: a.ID, Decision: approval.Approve, Hash: a.Hash}); err != nil {
		t.Fatal(err)
	}
	_, tok, err := f.appr.Get(ctx, authz.Requester{Key: &strict.Key}, a.ID)
	if err != nil || tok == "" {
		t.Fatalf("Get by the key = %q, %v", tok, err)
	}
	if res := ask(strict, "/api/transfers", tok); !res.Allow || res.ApprovedHash != a.Hash {
		t.Errorf("transfer by the strict key with its token = %v %v hash %q", res.Kind, res.Missing, res.ApprovedHash)
	}
	if res := ask(strict, "/api/transfers", tok); res.Kind != policy.ApprovalRequired {
		t.Errorf("the token again = %v, want approval_required", res.Kind)
	}
}
