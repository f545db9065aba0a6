package login

import (
	"context"
	"log/slog"
	"time"

	"gatehouse/internal/fault"
)

// ErrBusy refuses a request whose deferred work finds the queue full:
// the same answer for every user, known or not.
var ErrBusy = fault.New(fault.Unavailable, "login: too many requests waiting; try again later")

// Later runs work a request has already answered for, one job at a time,
// so that how long the answer took says nothing of what the work found
// (a password reset's look-up and mail, which an unknown user skips). It
// is bounded: a full queue refuses new work rather than growing.
type Later struct {
	jobs chan func(context.Context)
	log  *slog.Logger
}

// NewLater returns a queue of at most n jobs; log reports the jobs that
// fail (nil discards).
func NewLater(n int, log *slog.Logger) *Later {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Later{jobs: make(chan func(context.Context), n), log: log}
}

// Do queues job, or reports false when the queue is full.
func (l *Later) Do(job func(context.Context)) bool {
	select {
	case l.jobs <- job:
		return true
	default:
		return false
	}
}

// Run runs the queued jobs until ctx ends, then runs what was queued
// before it ended. Each job has a few seconds, whether or not ctx has
// ended: the request it answered for was told it was taken.
func (l *Later) Run(ctx context.Context) {
	for {
		select {
		case job := <-l.jobs:
			l.run(ctx, job)
		case <-ctx.Done():
			for {
				select {
				case job := <-l.jobs:
					l.run(ctx, job)
				default:
					return
				}
			}
		}
	}
}

func (l *Later) run(ctx context.Context, job func(context.Context)) {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	job(c)
}
