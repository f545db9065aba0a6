package authz

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"sync"
	"time"

	"gatehouse/internal/approval"
	"gatehouse/internal/store"
)

// How a token is spent at forward-auth, cheaply and once.
//
// The check is [approval.Signer.Check], a MAC, not the ES256 signature,
// and none at all for a token this instance signed ([mintedSet]). The
// claim is this instance's [spentSet] and, with several instances
// ([ApprovalsConfig.Shared]), one [store.Once] upsert that every instance
// meets. The record (the approval moved from approved to used, with its
// approval.used event, in one transaction) is written off the request's
// path by [useWriter], which writes what piled up every
// [useWriteEvery] in one transaction. A token whose approval was decided before this
// flow began ([Approvals.started]) is instead spent by that transaction
// on the request's path, as before: the instance that may have accepted
// it before a restart left its claim in the record or nowhere.

// spentSet is the approvals whose token this instance accepted, until
// the token expires. It is safe for concurrent use.
type spentSet struct {
	mu    sync.Mutex
	ids   map[string]int64 // approval id → token expiry, Unix seconds
	prune int64            // when to drop expired ids next, Unix seconds
}

// claim reports whether id was not spent here before, and spends it
// until exp.
func (s *spentSet) claim(id string, exp int64, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return false
	}
	if s.ids == nil {
		s.ids = map[string]int64{}
	}
	s.ids[id] = exp
	if t := now.Unix(); t >= s.prune {
		for k, e := range s.ids {
			if e < t {
				delete(s.ids, k)
			}
		}
		s.prune = t + 10
	}
	return true
}

// has reports whether id was spent here.
func (s *spentSet) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ids[id]
	return ok
}

// spentRecord is one accepted token, to record: its claims (held by
// pointer, as Use made them) and the request's binding, small enough to
// queue without a copy of the approval.
type spentRecord struct {
	c   *approval.Claims
	b   Binding
	now time.Time
}

// approval is the approval r's token names, as its audit event tells it.
func (r *spentRecord) approval() approval.Approval {
	return approval.Approval{ID: r.c.ID, UserID: r.c.Subject, AccountID: r.c.Account, Kind: r.c.Kind, Hash: r.c.Hash}
}

// useWriter records accepted tokens in the store, off the request's
// path, every [useWriteEvery]. Its goroutine starts with the first
// record and ends with [useWriter.close], which writes what is left.
type useWriter struct {
	st  store.Store
	log *slog.Logger
	// minted is where the writer forgets the tokens it records: used,
	// none is needed again (until then the spent set refuses them).
	minted *mintedSet
	// mu guards queue, spare, started and closed.
	mu sync.Mutex
	// queue is what waits to be written; spare the buffer the last
	// flush wrote, emptied, for the next turn.
	queue, spare []spentRecord
	started      bool
	closed       bool
	stop         chan struct{}
	done         chan struct{}
}

func newUseWriter(st store.Store, log *slog.Logger, minted *mintedSet) *useWriter {
	return &useWriter{st: st, log: log, minted: minted, stop: make(chan struct{}), done: make(chan struct{})}
}

// add queues r and wakes the writer; after close it writes r itself.
func (w *useWriter) add(r spentRecord) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		rs := []spentRecord{r}
		w.minted.drop(rs)
		if err := w.write(context.Background(), rs); err != nil {
			w.log.Error("approval use not recorded", "approval", r.c.ID, "err", err)
		}
		return
	}
	w.queue = append(w.queue, r)
	if !w.started {
		w.started = true
		go w.run()
	}
	w.mu.Unlock()
}

// useWriteEvery is how often the writer writes what was accepted. It
// wakes on a ticker rather than on each use: waking it from the request
// (a futex call when every other thread sleeps) would cost more than
// the rest of the check.
const useWriteEvery = 20 * time.Millisecond

func (w *useWriter) run() {
	defer close(w.done)
	t := time.NewTicker(useWriteEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-w.stop:
			w.flush()
			return
		}
		w.flush()
	}
}

// flush writes every queued record; a failed write is tried again a few
// times, then logged as lost (the tokens stay spent in the claim).
func (w *useWriter) flush() {
	w.mu.Lock()
	batch := w.queue
	// The two buffers take turns, so that a steady flow of uses appends
	// into memory already grown.
	w.queue, w.spare = w.spare[:0], nil
	w.mu.Unlock()
	if len(batch) == 0 {
		w.mu.Lock()
		if w.spare == nil {
			w.spare = batch
		}
		w.mu.Unlock()
		return
	}
	w.minted.drop(batch)
	defer func() {
		clear(batch)
		w.mu.Lock()
		w.spare = batch[:0]
		w.mu.Unlock()
	}()
	var err error
	for try := range 5 {
		if try > 0 {
			time.Sleep(time.Duration(try) * 100 * time.Millisecond)
		}
		if err = w.write(context.Background(), batch); err == nil {
			return
		}
	}
	for _, r := range batch {
		w.log.Error("approval use not recorded", "approval", r.c.ID, "err", err)
	}
}

func (w *useWriter) write(ctx context.Context, batch []spentRecord) error {
	return w.st.InTx(ctx, func(tx store.Tx) error {
		for i := range batch {
			r := &batch[i]
			if err := tx.UseApproval(ctx, r.c.ID, r.now); errors.Is(err, store.ErrNotFound) {
				// Not approved any more: used by the path that claims in
				// the record (an instance restarted since), so this
				// accepted it twice. Never expected; said loudly.
				w.log.Error("approval token accepted twice", "approval", r.c.ID)
			} else if err != nil {
				return err
			}
			a := r.approval()
			if err := tx.AppendAudit(ctx, usedEvent(&a, &r.b, r.now)); err != nil {
				return err
			}
		}
		return nil
	})
}

// close stops the writer after it wrote what is queued; records added
// later are written on their caller's path.
func (w *useWriter) close() {
	w.mu.Lock()
	was, started := w.closed, w.started
	w.closed = true
	w.mu.Unlock()
	if was || !started {
		return
	}
	close(w.stop)
	<-w.done
}

// onceKey is the [store.Once] hash of an approval's tokens.
func onceKey(id string) []byte {
	h := sha256.Sum256([]byte("approval\x00" + id))
	return h[:]
}

// maxMinted bounds the tokens [mintedSet] remembers, approved and not
// yet used; past it, tokens are signed anew for each request and checked
// by their MAC.
const maxMinted = 10000

// mintedSet is the tokens this instance signed, until they are used or
// expire: one token per approval, however often its client polls (one
// signature, not one per GET), and, when forward-auth on this instance
// meets one, its claims without parsing it. A token signed by another
// instance, or before a restart, is checked by its MAC instead. It is
// safe for concurrent use.
type mintedSet struct {
	mu    sync.Mutex
	byID  map[string]string     // approval id → token
	byTok map[string]*mintedTok // the token's tail → the token and its claims
	prune int64                 // when to drop expired tokens next, Unix seconds
}

// mintedTok is a token this instance signed, with its claims, which are
// shared read-only by every request that presents it.
type mintedTok struct {
	tok string
	c   *approval.Claims
}

// tokTail is what mintedSet files a token under: the end of its
// signature, unique enough to find it without hashing the whole token
// (about 700 bytes); the whole token is compared on a find.
func tokTail(tok string) string {
	const n = 24
	if len(tok) <= n {
		return tok
	}
	return tok[len(tok)-n:]
}

// token returns the token of approval id still good at now, if any.
func (m *mintedSet) token(id string, now time.Time) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	tok, ok := m.byID[id]
	if !ok {
		return "", false
	}
	if e := m.byTok[tokTail(tok)]; e == nil || e.tok != tok || now.Unix() >= e.c.Expiry {
		return "", false
	}
	return tok, true
}

// claims returns the claims of tok, if this instance signed it. They are
// shared: the caller must not change them.
func (m *mintedSet) claims(tok string) (*approval.Claims, bool) {
	m.mu.Lock()
	e := m.byTok[tokTail(tok)]
	m.mu.Unlock()
	if e == nil || e.tok != tok {
		return nil, false
	}
	return e.c, true
}

// drop forgets the tokens of the approvals rs spent, as the writer
// records them (off the request's path): a later presentation is refused
// as used before, by the spent set, after its MAC check, and the set
// holds only tokens still to be used.
func (m *mintedSet) drop(rs []spentRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range rs {
		if tok, ok := m.byID[rs[i].c.ID]; ok {
			delete(m.byID, rs[i].c.ID)
			delete(m.byTok, tokTail(tok))
		}
	}
}

// add remembers tok, signed with claims c. Expired tokens are dropped
// every ten seconds; a full set takes no more until then.
func (m *mintedSet) add(tok string, c approval.Claims, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byID == nil {
		m.byID, m.byTok = map[string]string{}, map[string]*mintedTok{}
	}
	if t := now.Unix(); t >= m.prune {
		for id, tok := range m.byID {
			if e := m.byTok[tokTail(tok)]; e == nil || e.c.Expiry <= t {
				delete(m.byID, id)
				delete(m.byTok, tokTail(tok))
			}
		}
		m.prune = t + 10
	}
	if len(m.byID) >= maxMinted {
		return
	}
	if old, ok := m.byID[c.ID]; ok {
		delete(m.byTok, tokTail(old))
	}
	if _, taken := m.byTok[tokTail(tok)]; taken {
		return // another token ends alike: checked by its MAC instead
	}
	m.byID[c.ID], m.byTok[tokTail(tok)] = tok, &mintedTok{tok: tok, c: &c}
}
