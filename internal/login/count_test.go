package login_test

import (
	"context"
	"errors"
	"gatehouse/internal/factor/push"
	"iter"
	"maps"
	"slices"
	"sync"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/device"
	"gatehouse/internal/factor"
	"gatehouse/internal/flow"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/throttle"
	"gatehouse/internal/user"
)

// calls counts store calls by method name. It is no mock: every call goes
// on to the real store; the count is what docs/benchmarks.md reports as
// "store calls per login".
type calls struct {
	mu       sync.Mutex
	n        map[string]int
	failType string // see failAudit
}

func (c *calls) fails(typ string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failType != "" && c.failType == typ
}

func (c *calls) add(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[name]++
}

// take returns the counts so far and starts again from zero.
func (c *calls) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = nil
	return n
}

// total sums counts, transactions (InTx) included.
func total(n map[string]int) int {
	t := 0
	for _, v := range n {
		t += v
	}
	return t
}

// sorted lists counts by method name, for a log line.
func sorted(n map[string]int) []any {
	var out []any
	for _, k := range slices.Sorted(maps.Keys(n)) {
		out = append(out, k, n[k])
	}
	return out
}

// countingStore is a real store that counts the calls made on it and on
// the transactions it opens. Only the methods login calls are counted;
// the rest pass through the embedded store uncounted.
type countingStore struct {
	countingTx
	st store.Store
}

func newCountingStore(st store.Store) *countingStore {
	return &countingStore{countingTx: countingTx{Tx: st, n: &calls{}}, st: st}
}

func (c *countingStore) InTx(ctx context.Context, fn func(store.Tx) error) error {
	c.n.add("InTx")
	return c.st.InTx(ctx, func(tx store.Tx) error { return fn(countingTx{Tx: tx, n: c.n}) })
}

func (c *countingStore) Ping(ctx context.Context) error       { return c.st.Ping(ctx) }
func (c *countingStore) Revocations() <-chan store.Revocation { return c.st.Revocations() }
func (c *countingStore) Close() error                         { return c.st.Close() }
func (c *countingStore) Alone(ctx context.Context, name string, fn func(context.Context) error) (bool, error) {
	return c.st.Alone(ctx, name, fn)
}
func (c *countingStore) RevokedSince(ctx context.Context, seq int64, limit int) ([]store.Revocation, int64, error) {
	return c.st.RevokedSince(ctx, seq, limit)
}
func (c *countingStore) AuditEvents(ctx context.Context) iter.Seq2[*audit.Event, error] {
	return c.st.AuditEvents(ctx)
}

type countingTx struct {
	store.Tx
	n *calls
}

// errAuditDown is the failure failAudit injects.
var errAuditDown = errors.New("test: audit trail unavailable")

// failAudit makes every later append of an event of type typ fail, as a
// store that fails between a change and its event would; "" heals it.
func (c *countingStore) failAudit(typ string) {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	c.n.failType = typ
}

func (c countingTx) AdvanceTOTP(ctx context.Context, factorID string, step int64, now time.Time) error {
	c.n.add("AdvanceTOTP")
	return c.Tx.AdvanceTOTP(ctx, factorID, step, now)
}

func (c countingTx) AnswerPushRequest(ctx context.Context, id string, outcome string, now time.Time) error {
	c.n.add("AnswerPushRequest")
	return c.Tx.AnswerPushRequest(ctx, id, outcome, now)
}

func (c countingTx) AppendAudit(ctx context.Context, e *audit.Event) error {
	c.n.add("AppendAudit")
	if c.n.fails(e.Type) {
		return errAuditDown
	}
	return c.Tx.AppendAudit(ctx, e)
}

func (c countingTx) CreateDevice(ctx context.Context, d *device.Device) error {
	c.n.add("CreateDevice")
	return c.Tx.CreateDevice(ctx, d)
}

func (c countingTx) CreateDeviceApproval(ctx context.Context, tokenHash []byte, deviceID string, userID string, expires time.Time) error {
	c.n.add("CreateDeviceApproval")
	return c.Tx.CreateDeviceApproval(ctx, tokenHash, deviceID, userID, expires)
}

func (c countingTx) CreateFactor(ctx context.Context, f *factor.Factor) error {
	c.n.add("CreateFactor")
	return c.Tx.CreateFactor(ctx, f)
}

func (c countingTx) CreateFlow(ctx context.Context, f *flow.Flow) error {
	c.n.add("CreateFlow")
	return c.Tx.CreateFlow(ctx, f)
}

func (c countingTx) CreatePushEnrolment(ctx context.Context, userID string, codeHash []byte, expires time.Time) error {
	c.n.add("CreatePushEnrolment")
	return c.Tx.CreatePushEnrolment(ctx, userID, codeHash, expires)
}

func (c countingTx) CreatePushRequest(ctx context.Context, p *push.Request) error {
	c.n.add("CreatePushRequest")
	return c.Tx.CreatePushRequest(ctx, p)
}

func (c countingTx) CreateSession(ctx context.Context, s *session.Session) error {
	c.n.add("CreateSession")
	return c.Tx.CreateSession(ctx, s)
}

func (c countingTx) DeleteFactor(ctx context.Context, id string) error {
	c.n.add("DeleteFactor")
	return c.Tx.DeleteFactor(ctx, id)
}

func (c countingTx) DeviceByFingerprint(ctx context.Context, userID string, fingerprint string) (*device.Device, error) {
	c.n.add("DeviceByFingerprint")
	return c.Tx.DeviceByFingerprint(ctx, userID, fingerprint)
}

func (c countingTx) DeviceByID(ctx context.Context, id string) (*device.Device, error) {
	c.n.add("DeviceByID")
	return c.Tx.DeviceByID(ctx, id)
}

func (c countingTx) DevicesOfUser(ctx context.Context, userID string) ([]*device.Device, error) {
	c.n.add("DevicesOfUser")
	return c.Tx.DevicesOfUser(ctx, userID)
}

func (c countingTx) EndSession(ctx context.Context, id string, now time.Time, reason string) error {
	c.n.add("EndSession")
	return c.Tx.EndSession(ctx, id, now, reason)
}

func (c countingTx) EndSessionsOfDevice(ctx context.Context, deviceID string, now time.Time, reason string) ([]string, error) {
	c.n.add("EndSessionsOfDevice")
	return c.Tx.EndSessionsOfDevice(ctx, deviceID, now, reason)
}

func (c countingTx) EndSessionsOfUser(ctx context.Context, userID string, except string, now time.Time, reason string) ([]string, error) {
	c.n.add("EndSessionsOfUser")
	return c.Tx.EndSessionsOfUser(ctx, userID, except, now, reason)
}

func (c countingTx) FactorByCredentialID(ctx context.Context, credentialID []byte) (*factor.Factor, error) {
	c.n.add("FactorByCredentialID")
	return c.Tx.FactorByCredentialID(ctx, credentialID)
}

func (c countingTx) FactorByID(ctx context.Context, id string) (*factor.Factor, error) {
	c.n.add("FactorByID")
	return c.Tx.FactorByID(ctx, id)
}

func (c countingTx) FactorsOfUser(ctx context.Context, userID string) ([]*factor.Factor, error) {
	c.n.add("FactorsOfUser")
	return c.Tx.FactorsOfUser(ctx, userID)
}

func (c countingTx) FlowByID(ctx context.Context, id string) (*flow.Flow, error) {
	c.n.add("FlowByID")
	return c.Tx.FlowByID(ctx, id)
}

func (c countingTx) PendingPushRequests(ctx context.Context, userID string, now time.Time) ([]*push.Request, error) {
	c.n.add("PendingPushRequests")
	return c.Tx.PendingPushRequests(ctx, userID, now)
}

func (c countingTx) PushRequestByID(ctx context.Context, id string) (*push.Request, error) {
	c.n.add("PushRequestByID")
	return c.Tx.PushRequestByID(ctx, id)
}

func (c countingTx) RaiseSession(ctx context.Context, id string, aal session.Assurance, amr string, authTime time.Time, tokenHash []byte, ip string) error {
	c.n.add("RaiseSession")
	return c.Tx.RaiseSession(ctx, id, aal, amr, authTime, tokenHash, ip)
}

func (c countingTx) RecoveryCodes(ctx context.Context, userID string) ([]factor.RecoveryCode, error) {
	c.n.add("RecoveryCodes")
	return c.Tx.RecoveryCodes(ctx, userID)
}

func (c countingTx) RedeemPushEnrolment(ctx context.Context, codeHash []byte, now time.Time) (string, error) {
	c.n.add("RedeemPushEnrolment")
	return c.Tx.RedeemPushEnrolment(ctx, codeHash, now)
}

func (c countingTx) Reserve(ctx context.Context, key string, decide func(throttle.State) (throttle.State, bool)) (throttle.State, bool, error) {
	c.n.add("Reserve")
	return c.Tx.Reserve(ctx, key, decide)
}

func (c countingTx) ResetThrottle(ctx context.Context, key string) error {
	c.n.add("ResetThrottle")
	return c.Tx.ResetThrottle(ctx, key)
}

func (c countingTx) SessionsOfUser(ctx context.Context, userID string) ([]*session.Session, error) {
	c.n.add("SessionsOfUser")
	return c.Tx.SessionsOfUser(ctx, userID)
}

func (c countingTx) SetDeviceStatus(ctx context.Context, id string, status device.Status) error {
	c.n.add("SetDeviceStatus")
	return c.Tx.SetDeviceStatus(ctx, id, status)
}

func (c countingTx) SetPasswordHash(ctx context.Context, userID string, hash string, now time.Time) error {
	c.n.add("SetPasswordHash")
	return c.Tx.SetPasswordHash(ctx, userID, hash, now)
}

func (c countingTx) SetRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, now time.Time) error {
	c.n.add("SetRecoveryCodes")
	return c.Tx.SetRecoveryCodes(ctx, userID, hashes, now)
}

func (c countingTx) TouchDevice(ctx context.Context, id string, now time.Time) error {
	c.n.add("TouchDevice")
	return c.Tx.TouchDevice(ctx, id, now)
}

func (c countingTx) UpdateFactor(ctx context.Context, f *factor.Factor) error {
	c.n.add("UpdateFactor")
	return c.Tx.UpdateFactor(ctx, f)
}

func (c countingTx) UpdateFlow(ctx context.Context, f *flow.Flow) error {
	c.n.add("UpdateFlow")
	return c.Tx.UpdateFlow(ctx, f)
}

func (c countingTx) UseDeviceApproval(ctx context.Context, tokenHash []byte, now time.Time) (string, string, error) {
	c.n.add("UseDeviceApproval")
	return c.Tx.UseDeviceApproval(ctx, tokenHash, now)
}

func (c countingTx) UseRecoveryCode(ctx context.Context, userID string, index int, now time.Time) error {
	c.n.add("UseRecoveryCode")
	return c.Tx.UseRecoveryCode(ctx, userID, index, now)
}

func (c countingTx) UserByID(ctx context.Context, id string) (*user.User, error) {
	c.n.add("UserByID")
	return c.Tx.UserByID(ctx, id)
}

func (c countingTx) UserByUsername(ctx context.Context, username string) (*user.User, error) {
	c.n.add("UserByUsername")
	return c.Tx.UserByUsername(ctx, username)
}
