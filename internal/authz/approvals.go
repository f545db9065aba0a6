package authz

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/approval"
	"gatehouse/internal/audit"
	"gatehouse/internal/factor"
	"gatehouse/internal/factor/push"
	"gatehouse/internal/factor/webauthn"
	"gatehouse/internal/fault"
	"gatehouse/internal/policy"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
	"gatehouse/internal/user"
)

// Errors of the approval flow.
var (
	// ErrNoApproval is an approval that does not exist or is not the
	// caller's: the two are never told apart.
	ErrNoApproval = fault.New(fault.NotFound, "authz: no such approval")
	// ErrApprovalDecided is an answer to an approval that is not pending
	// (decided, expired).
	ErrApprovalDecided = fault.New(fault.NoFlow, "authz: approval not pending")
	// ErrTooManyApprovals refuses a request while the user has too many
	// approvals waiting.
	ErrTooManyApprovals = fault.New(fault.TooManyPushes, "authz: too many pending approvals")
	// ErrApprovalAnswer is a phone answer that is malformed, unsigned,
	// or for other details than the approval's.
	ErrApprovalAnswer = fault.New(fault.InvalidCode, "authz: approval answer refused")
	// ErrPhone is a request from a key that is no usable phone
	// authenticator (unknown, removed, revoked).
	ErrPhone = fault.New(fault.Unauthenticated, "authz: not an enrolled phone")
	// ErrApprovalToken refuses an approval token at forward-auth: bad,
	// expired, for another user, account or kind, or used before.
	ErrApprovalToken = errors.New("authz: approval token refused")
)

// ApprovalsConfig configures [NewApprovals].
type ApprovalsConfig struct {
	Store  store.Store
	Signer *approval.Signer
	// Lifetime is how long an approval waits for its owner; 0 means
	// approval.DefaultLifetime.
	Lifetime time.Duration
	// TokenLifetime is how long a token lives after the approval; 0
	// means approval.DefaultTokenLifetime.
	TokenLifetime time.Duration
	// MaxPending caps a user's pending approvals; 0 means
	// approval.DefaultMaxPending.
	MaxPending int
	// WebAuthn approves with a security key or passkey; nil: only the
	// phone approves.
	WebAuthn *webauthn.RP
	// Shared spends each accepted token in the store too, so that no
	// other instance, and no instance started after this one was killed
	// before its record was written, accepts it: serve passes the store
	// on PostgreSQL, where instances share it. nil leaves this instance's
	// memory and the record written soon after.
	Shared store.Once
	// OneInstance says no other instance serves the store (SQLite): then
	// a token signed before this instance started is refused, rather than
	// checked against the record, since a crash may have lost the record
	// of its use. Tokens live minutes; after a restart the owner approves
	// again. With it and no Shared, a token's claim costs no store write.
	OneInstance bool
	// Log receives what the writer of token uses could not write; nil
	// discards.
	Log  *slog.Logger
	Now  func() time.Time // nil means time.Now
	Rand io.Reader        // nil means crypto/rand.Reader
}

// Approvals is the transaction-bound approval flow: requests, the
// owner's answer from the phone or a security key, the token, and its
// one use at forward-auth. It is safe for concurrent use. Close writes
// the token uses not yet recorded.
type Approvals struct {
	c       ApprovalsConfig
	spent   spentSet
	minted  mintedSet
	writer  *useWriter
	started time.Time
}

// NewApprovals returns the approval flow.
func NewApprovals(c ApprovalsConfig) *Approvals {
	if c.Lifetime <= 0 {
		c.Lifetime = approval.DefaultLifetime
	}
	if c.TokenLifetime <= 0 {
		c.TokenLifetime = approval.DefaultTokenLifetime
	}
	if c.MaxPending <= 0 {
		c.MaxPending = approval.DefaultMaxPending
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	s := &Approvals{c: c, started: c.Now()}
	s.writer = newUseWriter(c.Store, c.Log, &s.minted)
	return s
}

// Close writes the token uses accepted and not yet recorded, and stops
// the writer; a use accepted later is recorded on its request's path.
func (s *Approvals) Close() { s.writer.close() }

// Signer returns the token signer, whose keys /.well-known/jwks.json
// publishes.
func (s *Approvals) Signer() *approval.Signer { return s.c.Signer }

// Requester is who asks for an approval: a session, or an API key (whose
// creator is then the owner asked).
type Requester struct {
	Session *session.Session
	Key     *apikey.Key
	IP      string
}

func (r Requester) user() string {
	if r.Key != nil {
		return r.Key.CreatedBy
	}
	return r.Session.UserID
}

func (r Requester) id() string {
	if r.Key != nil {
		return r.Key.ID
	}
	return r.Session.ID
}

func (r Requester) door() string {
	if r.Key != nil {
		return "api"
	}
	return string(r.Session.Door)
}

// Create asks the owner to approve one transaction of kind on accountID
// with details (a JSON object, canonicalised by [approval.Canonical]).
// The owner is the session's user, or the key's creator; they must be a
// member of the account who may trade on it, and a key must belong to
// it. The approval and its [audit.ApprovalRequested] event are stored in
// one transaction.
func (s *Approvals) Create(ctx context.Context, r Requester, accountID string, kind approval.Kind, details []byte) (*approval.Approval, error) {
	now := s.c.Now().UTC()
	canon, err := approval.Canonical(details)
	if err != nil {
		return nil, fault.NewField("details", "a JSON object of at most 8 KiB: each name once (and not twice in different case), numbers exactly representable as written", err.Error())
	}
	userID := r.user()
	if r.Key != nil && r.Key.AccountID != accountID {
		return nil, ErrNoAccount
	}
	m, err := s.c.Store.Membership(ctx, userID, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoAccount
	}
	if err != nil {
		return nil, err
	}
	if m.Role == account.Viewer {
		return nil, &ForbiddenError{Reason: "a viewer cannot ask for approvals on account " + accountID}
	}
	id, err := token.New(s.c.Rand, 16)
	if err != nil {
		return nil, err
	}
	nonce, err := token.Bytes(s.c.Rand, approval.NonceSize)
	if err != nil {
		return nil, err
	}
	a := &approval.Approval{ID: "apr_" + id, UserID: userID, AccountID: accountID, Kind: kind, Details: canon,
		Hash: approval.HashCanonical(canon), Nonce: nonce, RequestedBy: r.id(), Status: approval.Pending,
		CreatedAt: now, ExpiresAt: now.Add(s.c.Lifetime)}
	err = s.c.Store.InTx(ctx, func(tx store.Tx) error {
		pending, err := tx.PendingApprovals(ctx, userID, now)
		if err != nil {
			return err
		}
		if len(pending) >= s.c.MaxPending {
			return ErrTooManyApprovals
		}
		if err := tx.CreateApproval(ctx, a); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, approvalEvent(a, now, audit.ApprovalRequested, userID, r.door(), r.IP, "requested_by", a.RequestedBy))
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

func approvalEvent(a *approval.Approval, now time.Time, typ, actor, door, ip string, kv ...string) *audit.Event {
	d := map[string]string{"approval": a.ID, "account": a.AccountID, "kind": string(a.Kind), "hash": a.Hash}
	for i := 0; i+1 < len(kv); i += 2 {
		d[kv[i]] = kv[i+1]
	}
	return &audit.Event{Time: now, Type: typ, UserID: a.UserID, Actor: actor, Interface: door, IP: ip, Detail: d}
}

// Get returns an approval to its owner's sessions or to the key that
// asked for it, with a token when it is approved and the token's time
// has not run out. Anyone else gets ErrNoApproval.
func (s *Approvals) Get(ctx context.Context, r Requester, id string) (*approval.Approval, string, error) {
	a, err := s.c.Store.ApprovalByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", ErrNoApproval
	}
	if err != nil {
		return nil, "", err
	}
	if r.Key != nil && a.RequestedBy != r.Key.ID || r.Key == nil && a.UserID != r.Session.UserID {
		return nil, "", ErrNoApproval
	}
	if a.Status == approval.Approved && s.spent.has(a.ID) {
		// Accepted here, its record not yet written.
		used := *a
		used.Status = approval.Used
		a = &used
	}
	now := s.c.Now()
	if a.Status != approval.Approved || !now.Before(a.TokenExpiry(s.c.TokenLifetime)) {
		return a, "", nil
	}
	tok, err := s.Token(a)
	return a, tok, err
}

// Token mints an approval token for an approved approval. Every token of
// one approval has its id as jti, so only one of them is ever used.
func (s *Approvals) Token(a *approval.Approval) (string, error) {
	now := s.c.Now()
	if tok, ok := s.minted.token(a.ID, now); ok {
		return tok, nil
	}
	c := approval.Claims{Issuer: s.c.Signer.Issuer(), Subject: a.UserID, ID: a.ID, IssuedAt: a.DecidedAt.Unix(),
		Expiry: a.TokenExpiry(s.c.TokenLifetime).Unix(), Account: a.AccountID, Kind: a.Kind, Hash: a.Hash,
		Factor: a.FactorKind, FactorID: a.FactorID, Assurance: fmt.Sprintf("aal%d", a.AAL)}
	tok, err := s.c.Signer.Sign(c)
	if err != nil {
		return "", err
	}
	s.minted.add(tok, c, now)
	return tok, nil
}

// TokenLifetime is how long tokens live after an approval.
func (s *Approvals) TokenLifetime() time.Duration { return s.c.TokenLifetime }

// PhoneApproval is a pending approval as the phone shows it: the
// details in full and in words, and their hash, which the phone checks
// against the details before it signs.
type PhoneApproval struct {
	ID        string        `json:"id"`
	Account   string        `json:"account"`
	Kind      approval.Kind `json:"kind"`
	Details   jsonRaw       `json:"details"`
	Words     []string      `json:"words"`
	Hash      string        `json:"hash"`
	ExpiresAt time.Time     `json:"expires_at"`
}

// jsonRaw is canonical JSON written as is.
type jsonRaw []byte

// MarshalJSON returns the bytes.
func (j jsonRaw) MarshalJSON() ([]byte, error) { return j, nil }

// UnmarshalJSON keeps a copy of the bytes.
func (j *jsonRaw) UnmarshalJSON(b []byte) error { *j = append((*j)[:0], b...); return nil }

// phone finds the usable push factor whose key has thumbprint jkt: a
// phone removed, or whose device key was revoked, answers nothing.
func (s *Approvals) phone(ctx context.Context, jkt string) (*factor.Factor, error) {
	f, err := s.c.Store.FactorByCredentialID(ctx, []byte(jkt))
	if errors.Is(err, store.ErrNotFound) || (err == nil && (f.Kind != factor.Push || !f.Usable())) {
		return nil, ErrPhone
	}
	return f, err
}

// PhonePending lists the approvals waiting for the user of the phone
// holding the key jkt.
func (s *Approvals) PhonePending(ctx context.Context, jkt string) ([]PhoneApproval, error) {
	f, err := s.phone(ctx, jkt)
	if err != nil {
		return nil, err
	}
	as, err := s.c.Store.PendingApprovals(ctx, f.UserID, s.c.Now())
	if err != nil {
		return nil, err
	}
	out := []PhoneApproval{}
	for _, a := range as {
		out = append(out, PhoneApproval{ID: a.ID, Account: a.AccountID, Kind: a.Kind, Details: jsonRaw(a.Details),
			Words: approval.Words(a.Kind, a.Details), Hash: a.Hash, ExpiresAt: a.ExpiresAt})
	}
	return out, nil
}

// PhoneAnswer takes the phone's signed answer (see [approval.DecodeAnswer])
// and records it with its audit event in one transaction. The answer
// must name the approval's hash: a phone shown other details cannot
// approve these.
func (s *Approvals) PhoneAnswer(ctx context.Context, jkt string, body []byte) (approval.Status, error) {
	now := s.c.Now().UTC()
	f, err := s.phone(ctx, jkt)
	if err != nil {
		return "", err
	}
	ans, sig, err := approval.DecodeAnswer(body)
	if err != nil {
		return "", fault.Wrap(fault.InvalidCode, err)
	}
	pub, err := push.ParsePublicKey(f.PublicKey)
	if err != nil {
		return "", err
	}
	if err := approval.VerifyAnswer(pub, ans, sig); err != nil {
		return "", ErrApprovalAnswer
	}
	a, err := s.c.Store.ApprovalByID(ctx, ans.ApprovalID)
	if errors.Is(err, store.ErrNotFound) || err == nil && a.UserID != f.UserID {
		return "", ErrNoApproval
	}
	if err != nil {
		return "", err
	}
	if a.State(now) != approval.Pending {
		return "", ErrApprovalDecided
	}
	if subtle.ConstantTimeCompare([]byte(ans.Hash), []byte(a.Hash)) != 1 {
		return "", ErrApprovalAnswer
	}
	if ans.SignedAt.Before(a.CreatedAt.Add(-push.ClockSkew)) || ans.SignedAt.After(now.Add(push.ClockSkew)) {
		return "", ErrApprovalAnswer
	}
	status := approval.Approved
	if ans.Decision == approval.Deny {
		status = approval.Denied
	}
	return status, s.decide(ctx, a, status, f, int(f.Assurance()), now)
}

// DenyFromSession refuses approval id from a session of its owner (the
// portal's Deny button), with its [audit.ApprovalDenied] event in one
// transaction. No factor is asked for: a denial lets nothing through,
// and whoever rides the session gains nothing by it but the owner's
// notice that someone asked in their name.
func (s *Approvals) DenyFromSession(ctx context.Context, sess *session.Session, id, ip string) error {
	now := s.c.Now().UTC()
	a, err := s.c.Store.ApprovalByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && a.UserID != sess.UserID {
		return ErrNoApproval
	}
	if err != nil {
		return err
	}
	if a.State(now) != approval.Pending {
		return ErrApprovalDecided
	}
	err = s.c.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.DecideApproval(ctx, a.ID, approval.Denied, "", "session", int(sess.Assurance), now); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, approvalEvent(a, now, audit.ApprovalDenied, a.UserID, string(sess.Door), ip, "factor", "session", "session", sess.ID))
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrApprovalDecided // answered meanwhile
	}
	return err
}

// decide records an owner's decision made with factor f at assurance
// aal, with its event, in one transaction.
func (s *Approvals) decide(ctx context.Context, a *approval.Approval, status approval.Status, f *factor.Factor, aal int, now time.Time) error {
	typ := audit.ApprovalApproved
	if status == approval.Denied {
		typ = audit.ApprovalDenied
	}
	f.LastUsedAt = now
	door := "mobile"
	if f.Kind == factor.WebAuthn {
		door = "web"
	}
	err := s.c.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.DecideApproval(ctx, a.ID, status, f.ID, string(f.Kind), aal, now); err != nil {
			return err
		}
		if err := tx.UpdateFactor(ctx, f); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, approvalEvent(a, now, typ, a.UserID, door, "", "factor", string(f.Kind), "factor_id", f.ID))
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrApprovalDecided // answered meanwhile
	}
	return err
}

// ErrTokenBeforeStart refuses, on a store one instance serves, an
// approval token signed before the instance started.
var ErrTokenBeforeStart = errors.New("authz: the approval token was signed before gatehouse restarted; approve again")

// Binding is what a request that needs an approval acts as: the token
// must name the same user, account and kind.
type Binding struct {
	UserID    string
	AccountID string
	Kind      approval.Kind
	// Rule is the route rule and Client the client's address, for the
	// audit event (formatted only there, off the request's path); nil
	// and zero when unknown.
	Rule   *policy.Rule
	Client netip.Addr
}

// usedEvent is the audit event of a's token accepted for b at now.
func usedEvent(a *approval.Approval, b *Binding, now time.Time) *audit.Event {
	var rule, ip string
	if b.Rule != nil {
		rule = b.Rule.String()
	}
	if b.Client.IsValid() {
		ip = b.Client.String()
	}
	return approvalEvent(a, now, audit.ApprovalUsed, b.UserID, "", ip, "rule", rule)
}

// Use checks an approval token for a request bound as b, and spends it:
// a token is accepted once across every instance on the store, and its
// approval moves from approved to used with an [audit.ApprovalUsed]
// event, in one transaction, soon after (see approvaluse.go). Every
// refusal wraps ErrApprovalToken. The claims may be shared with other
// requests for the same token: read them, do not change them.
func (s *Approvals) Use(ctx context.Context, tok string, b Binding) (*approval.Claims, error) {
	now := s.c.Now()
	c, mine, err := s.check(tok, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrApprovalToken, err)
	}
	if c.Subject != b.UserID || c.Account != b.AccountID || c.Kind != b.Kind {
		return nil, fmt.Errorf("%w: for another user, account or kind", ErrApprovalToken)
	}
	if !s.spent.claim(c.ID, c.Expiry, now) {
		return nil, fmt.Errorf("%w: used before", ErrApprovalToken)
	}
	if s.c.Shared != nil {
		// A store that does not answer refuses the request (the error is
		// the store's): accepted unrecorded, the token could pass again
		// elsewhere. It stays spent here.
		err := s.c.Shared.UseOnce(ctx, "approval", onceKey(c.ID), time.Unix(c.Expiry, 0), now)
		if errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("%w: used before", ErrApprovalToken)
		}
		if err != nil {
			return nil, fmt.Errorf("authz: spend approval token: %w", err)
		}
	}
	if mine || c.IssuedAt > s.started.Unix() {
		s.writer.add(spentRecord{c: c, b: b, now: now.UTC()})
		return c, nil
	}
	if s.c.OneInstance {
		// Its use before a crash may be in no record: refuse it.
		return nil, fmt.Errorf("%w: %w", ErrApprovalToken, ErrTokenBeforeStart)
	}
	if err := s.useInRecord(ctx, c, b, now); err != nil {
		return nil, err
	}
	return c, nil
}

// useInRecord spends the token of an approval decided before this flow
// began in the record, on the request's path: an instance that ran
// before may have accepted it, and only the record would say so. (Apart
// from Use, so that Use's binding stays on its stack.)
func (s *Approvals) useInRecord(ctx context.Context, c *approval.Claims, b Binding, now time.Time) error {
	a := approval.Approval{ID: c.ID, UserID: c.Subject, AccountID: c.Account, Kind: c.Kind, Hash: c.Hash}
	err := s.c.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.UseApproval(ctx, c.ID, now.UTC()); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, usedEvent(&a, &b, now.UTC()))
	})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: used before", ErrApprovalToken)
	}
	return err
}

// check returns the claims of tok at now: known if this instance signed
// it (mine), else read and checked by its MAC.
func (s *Approvals) check(tok string, now time.Time) (_ *approval.Claims, mine bool, _ error) {
	c, ok := s.minted.claims(tok)
	if !ok {
		c, err := s.c.Signer.Check(tok, now)
		return c, false, err
	}
	if now.Unix() >= c.Expiry {
		return nil, true, approval.ErrTokenExpired
	}
	return c, true, nil
}

// keyUser is u as the WebAuthn relying party sees it, with the active
// security keys and passkeys among fs, and the factor of each credential.
func keyUser(u *user.User, fs []*factor.Factor) (webauthn.User, map[string]*factor.Factor) {
	wu := webauthn.User{Handle: []byte(u.ID), Name: u.Username}
	byID := map[string]*factor.Factor{}
	for _, f := range fs {
		var c webauthn.Credential
		if f.Kind != factor.WebAuthn || !f.Usable() || json.Unmarshal(f.Data, &c) != nil {
			continue
		}
		wu.Credentials = append(wu.Credentials, c)
		byID[string(c.ID)] = f
	}
	return wu, byID
}

// keyCeremony loads what a security-key approval of id by the session's
// user needs: the approval, pending; the user's keys; the ceremony begun
// with the approval's challenge, SHA-256(hash || nonce).
func (s *Approvals) keyCeremony(ctx context.Context, sess *session.Session, id string) (*approval.Approval, webauthn.User, map[string]*factor.Factor, []byte, []byte, error) {
	var wu webauthn.User
	if s.c.WebAuthn == nil {
		return nil, wu, nil, nil, nil, ErrPhone
	}
	a, err := s.c.Store.ApprovalByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && a.UserID != sess.UserID {
		return nil, wu, nil, nil, nil, ErrNoApproval
	}
	if err != nil {
		return nil, wu, nil, nil, nil, err
	}
	if a.State(s.c.Now()) != approval.Pending {
		return nil, wu, nil, nil, nil, ErrApprovalDecided
	}
	u, err := s.c.Store.UserByID(ctx, a.UserID)
	if err != nil {
		return nil, wu, nil, nil, nil, err
	}
	fs, err := s.c.Store.FactorsOfUser(ctx, a.UserID)
	if err != nil {
		return nil, wu, nil, nil, nil, err
	}
	wu, byID := keyUser(u, fs)
	challenge, err := approval.WebAuthnChallenge(a.Hash, a.Nonce)
	if err != nil {
		return nil, wu, nil, nil, nil, err
	}
	options, cer, err := s.c.WebAuthn.BeginApproval(wu, challenge)
	if errors.Is(err, webauthn.ErrNoCredentials) {
		return nil, wu, nil, nil, nil, ErrNoSecurityKey
	}
	return a, wu, byID, options, cer, err
}

// ErrNoSecurityKey refuses a security-key approval by a user without a usable
// security key or passkey.
var ErrNoSecurityKey = fault.New(fault.FactorUnavailable, "authz: no security key to approve with")

// BeginKey starts the approval of id with a security key or passkey of
// the session's user: it returns the options for
// navigator.credentials.get, whose challenge commits to the details'
// hash. Nothing is stored: finishing begins the same ceremony again.
func (s *Approvals) BeginKey(ctx context.Context, sess *session.Session, id string) ([]byte, error) {
	_, _, _, options, _, err := s.keyCeremony(ctx, sess, id)
	return options, err
}

// FinishKey checks the assertion of a security key over the approval's
// challenge and, if it verifies, approves with that key at its assurance
// (AAL3 for a device-bound key), storing the credential's new counter in
// the same transaction as the decision and its event.
func (s *Approvals) FinishKey(ctx context.Context, sess *session.Session, id string, response []byte) (approval.Status, error) {
	a, wu, byID, _, cer, err := s.keyCeremony(ctx, sess, id)
	if err != nil {
		return "", err
	}
	cred, err := s.c.WebAuthn.FinishLogin(wu, cer, response)
	f := byID[string(cred.ID)]
	if err != nil || f == nil {
		// A cloned key is left for the next login to flag, with its event.
		return "", ErrApprovalAnswer
	}
	used := *f
	if used.Data, err = json.Marshal(cred); err != nil {
		return "", err
	}
	return approval.Approved, s.decide(ctx, a, approval.Approved, &used, int(used.Assurance()), s.c.Now().UTC())
}
