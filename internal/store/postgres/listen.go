package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/store"
)

// Bounds of the wait between attempts to re-establish the listening
// connection; it doubles after each failed attempt.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// connectListener opens the dedicated connection and LISTENs on the
// schema's revocation channel.
func (s *DB) connectListener(ctx context.Context, cc *pgx.ConnConfig) (*pgx.Conn, error) {
	c, err := pgx.ConnectConfig(ctx, cc.Copy())
	if err != nil {
		return nil, fmt.Errorf("postgres: connect the revocation listener: %w", err)
	}
	if _, err := c.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		closeConn(c)
		return nil, fmt.Errorf("postgres: listen for revocations: %w", err)
	}
	return c, nil
}

// listen is the DB's one goroutine. It owns c (already listening), and
// the send side of s.revoked, which it closes when ctx ends and it returns.
// A broken connection is replaced with backoff; notifications sent while
// none listens are lost, so once a new connection listens, All goes out
// before anything else.
func (s *DB) listen(ctx context.Context, cc *pgx.ConnConfig, c *pgx.Conn) {
	defer close(s.done)
	defer close(s.revoked)
	wait := minBackoff
	for {
		if c != nil {
			s.receive(ctx, c)
			closeConn(c)
			c = nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		var err error
		if c, err = s.connectListener(ctx, cc); err != nil {
			wait = min(2*wait, maxBackoff)
			continue
		}
		wait = minBackoff
		s.deliverAll(ctx)
	}
}

// receive forwards notifications from c until c fails or ctx ends. When
// the buffer is full the entry is dropped and All is delivered as soon as
// there is room.
func (s *DB) receive(ctx context.Context, c *pgx.Conn) error {
	for {
		n, err := c.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Channel != s.channel {
			continue
		}
		if rest, ok := strings.CutPrefix(n.Payload, probePrefix); ok {
			s.probes.received(rest)
			continue
		}
		select {
		case s.revoked <- parseRevocation(n.Payload):
		default:
			s.deliverAll(ctx)
		}
	}
}

// deliverAll waits for room to deliver All, or for ctx to end.
func (s *DB) deliverAll(ctx context.Context) {
	select {
	case s.revoked <- store.Revocation{All: true}:
	case <-ctx.Done():
	}
}

// parseRevocation reads a notification's payload (see [DB.Revocations]).
func parseRevocation(p string) store.Revocation {
	if id, ok := strings.CutPrefix(p, "key:"); ok {
		return store.Revocation{Key: id}
	}
	if id, ok := strings.CutPrefix(p, "user:"); ok {
		return store.Revocation{User: id}
	}
	return store.Revocation{Session: p}
}

func closeConn(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c.Close(ctx)
}

// probePrefix starts the payload of a probe ([DB.Probe]). An instance of
// an older version takes a probe for a session id it does not hold, which
// is harmless.
const probePrefix = "probe:"

// probes measures this instance's notification lag: the time from a
// probe's NOTIFY, sent through the pool, to its arrival on the listening
// connection, through the same server and the same path as a revocation
// another instance commits. Only this instance's own probes count, timed
// on its own clock.
type probes struct {
	id   string // this DB's, in its probes' payloads
	last atomic.Int64
	seen atomic.Int64 // when the last one arrived, Unix nanoseconds
	fn   atomic.Pointer[func(time.Duration)]
}

func (p *probes) received(rest string) {
	id, sent, ok := strings.Cut(rest, ":")
	if !ok || id != p.id {
		return
	}
	ns, err := strconv.ParseInt(sent, 10, 64)
	if err != nil {
		return
	}
	now := time.Now()
	lag := now.Sub(time.Unix(0, ns))
	p.last.Store(int64(lag))
	p.seen.Store(now.UnixNano())
	if fn := p.fn.Load(); fn != nil {
		(*fn)(lag)
	}
}

// Probe sends a probe on the revocation channel, as a revocation's NOTIFY
// goes out; [DB.OnProbe] hears how long it took to come back.
func (s *DB) Probe(ctx context.Context) error {
	payload := probePrefix + s.probes.id + ":" + strconv.FormatInt(time.Now().UnixNano(), 10)
	_, err := s.pool.Exec(ctx, `SELECT gatehouse_notify($1, $2)`, s.schema, payload)
	return err
}

// OnProbe has fn told the lag of each of this instance's probes that
// comes back; set it before the first [DB.Probe].
func (s *DB) OnProbe(fn func(time.Duration)) { s.probes.fn.Store(&fn) }

// ProbeSeen returns when this instance's last probe came back and how
// long it took; zero before the first.
func (s *DB) ProbeSeen() (at time.Time, lag time.Duration) {
	ns := s.probes.seen.Load()
	if ns == 0 {
		return time.Time{}, 0
	}
	return time.Unix(0, ns), time.Duration(s.probes.last.Load())
}
