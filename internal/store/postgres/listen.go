package postgres

import (
	"context"
	"fmt"
	"strings"
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
