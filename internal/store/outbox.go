package store

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Outbox channels: how a [Message] reaches its receiver.
const (
	ChannelMail    = "mail"
	ChannelWebhook = "webhook"
	ChannelPush    = "push"
	ChannelSSF     = "ssf"
)

// Outbox message states. A message is pending until it is delivered or,
// after too many failed attempts, parked as failed (the dead letter that
// operators see and may retry).
const (
	MessagePending   = "pending"
	MessageDelivered = "delivered"
	MessageFailed    = "failed"
)

// Message is one notice or signal in the outbox, written in the same
// transaction as the change that causes it and delivered at least once.
//
// Security: LastError is written by gatehouse from a delivery's outcome and
// must never hold a secret (a webhook secret, an SMTP password, a link
// token); Payload may, and so a sender that puts a secret there seals it.
type Message struct {
	// ID is stable across retries: receivers drop duplicates by it (the
	// webhook-id header, the mail's Message-ID).
	ID string
	// Channel is one of the Channel constants.
	Channel string
	// Event is the dotted event type, such as session.created.
	Event string
	// UserID is the user the message is about; "" for none.
	UserID string
	// Destination names the receiver within the channel: a webhook
	// endpoint's URL, an e-mail address; "" where the payload says.
	Destination string
	// Payload is what the channel's sender needs, as JSON (or sealed).
	Payload []byte
	State   string
	// Attempts counts the delivery attempts started, the current one
	// included: a claim counts, so a message that crashes its sender is
	// parked in the end too.
	Attempts int
	// NextAttemptAt is when the message is next due. While an attempt
	// runs it is the end of that attempt's lease: a sender that dies
	// leaves the message to be claimed again then.
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
	// DeliveredAt is when it was delivered, or zero.
	DeliveredAt time.Time
	// Bulk marks a message among many made at once (a signal applied to
	// its users): it is claimed after every due message that is not, so
	// that ten thousand announcements do not delay the notice a takeover
	// sends.
	Bulk bool
}

// MessageFilter selects messages for [Outbox.ListMessages].
type MessageFilter struct {
	// State selects one state; "" selects all.
	State string
	// UserID selects one user's messages; "" selects all.
	UserID string
	// Channels selects the messages on any of these channels; none
	// selects all.
	Channels []string
	// Event selects one event type; "" selects all.
	Event string
	// Destination selects one receiver (a phone's factor id); "" all.
	Destination string
	// After selects the messages that come after this place in the
	// newest-first order (older, or as old with a smaller id): the next
	// page after the message it names. The zero place starts from the
	// newest.
	After MessagePlace
	// Limit bounds how many are returned, newest first; 0 means 100.
	Limit int
}

// MessagePlace is a message's place in the newest-first order of
// [Outbox.ListMessages]: its creation time and id.
type MessagePlace struct {
	CreatedAt time.Time
	ID        string
}

// IsZero reports whether p names no place.
func (p MessagePlace) IsZero() bool { return p.ID == "" && p.CreatedAt.IsZero() }

// OutboxStats sums up the outbox for the metrics.
type OutboxStats struct {
	Pending, Failed int
	// OldestPending is when the oldest pending message was created; zero
	// when none is pending.
	OldestPending time.Time
}

// Outbox persists outbox messages and hands them to delivery workers.
type Outbox interface {
	// EnqueueMessage stores m as pending, due at m.NextAttemptAt (at
	// m.CreatedAt when zero). Call it in the transaction of the change
	// the message tells of.
	EnqueueMessage(ctx context.Context, m *Message) error
	// ClaimMessages takes up to limit pending messages due at now, oldest
	// due first, counts an attempt on each and leases it until now+lease,
	// committing before it returns. Push messages are never claimed: they
	// wait in the outbox for the phone to fetch them (GET
	// /v1/push/pending) and are delivered when it says it has them.
	// Workers on any number of instances
	// never claim one message twice within its lease, and a message due
	// is never skipped for one locked by another worker.
	ClaimMessages(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*Message, error)
	// MarkDelivered records the delivery of a pending message;
	// ErrNotFound when it is not pending.
	MarkDelivered(ctx context.Context, id string, now time.Time) error
	// MarkFailed records a failed attempt of a pending message and when
	// to try again; ErrNotFound when it is not pending.
	MarkFailed(ctx context.Context, id, lastError string, next time.Time) error
	// ReleaseMessage gives back a claimed message unsent, due at next,
	// with the claim's attempt not counted: the worker could not start
	// it (shutting down, or its endpoint busy); ErrNotFound when it is not
	// pending.
	ReleaseMessage(ctx context.Context, id string, next time.Time) error
	// ParkMessage records a failed last attempt and parks the message as
	// failed; ErrNotFound when it is not pending.
	ParkMessage(ctx context.Context, id, lastError string) error
	// RetryMessage makes a parked message pending again, due at now, with
	// its attempts counted afresh; ErrNotFound unless it is parked.
	RetryMessage(ctx context.Context, id string, now time.Time) error
	// RewriteUnsent replaces the payload of a message no worker has yet
	// tried (pending, no attempt counted); ErrNotFound for any other, so
	// that nothing changes under a sender.
	RewriteUnsent(ctx context.Context, id string, payload []byte) error
	// MessageByID returns one message.
	MessageByID(ctx context.Context, id string) (*Message, error)
	// ListMessages lists the messages f selects, newest first (by
	// creation, then id), filtered in the query so that f.Limit of them
	// come back when that many match.
	ListMessages(ctx context.Context, f MessageFilter) ([]*Message, error)
	// OutboxStats counts pending and parked messages, but for push
	// messages: those wait for a phone, not for a worker.
	OutboxStats(ctx context.Context) (OutboxStats, error)
}

// SortClaimed orders claimed messages as the claim chose them, bulk ones
// last and each part oldest first: the backends' UPDATE … RETURNING
// keeps no order.
func SortClaimed(ms []*Message) {
	slices.SortFunc(ms, func(a, b *Message) int {
		if a.Bulk != b.Bulk {
			if b.Bulk {
				return -1
			}
			return 1
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
