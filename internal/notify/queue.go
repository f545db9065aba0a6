package notify

import (
	"context"
	"log/slog"
	"time"
)

// Queue sends mail off the request path: a login must not wait for an
// SMTP server. Enqueue never blocks; Run delivers until its context ends.
type Queue struct {
	mailer Mailer
	log    *slog.Logger
	ch     chan Mail
}

// NewQueue returns a queue holding up to size messages for m.
func NewQueue(m Mailer, size int, log *slog.Logger) *Queue {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Queue{mailer: m, log: log, ch: make(chan Mail, size)}
}

// Enqueue queues m and reports whether there was room. A full queue drops
// the message (and logs it) rather than slow down the caller.
func (q *Queue) Enqueue(m Mail) bool {
	select {
	case q.ch <- m:
		return true
	default:
		q.log.Warn("mail queue full: message dropped", "subject", m.Subject)
		return false
	}
}

// Run sends queued mail until ctx ends, then sends what is still queued,
// for at most ten seconds.
func (q *Queue) Run(ctx context.Context) {
	for {
		select {
		case m := <-q.ch:
			q.send(ctx, m)
		case <-ctx.Done():
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				select {
				case m := <-q.ch:
					q.send(ctx, m)
				default:
					return
				}
			}
			return
		}
	}
}

// send delivers one message. A message taken off the queue is sent even
// when ctx has just ended: cancelling the loop must not lose it.
func (q *Queue) send(ctx context.Context, m Mail) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := q.mailer.Send(ctx, m); err != nil {
		q.log.ErrorContext(ctx, "send mail", "subject", m.Subject, "err", err)
	}
}
