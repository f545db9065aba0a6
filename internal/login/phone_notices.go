package login

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/factor"
	"gatehouse/internal/factor/push"
	"gatehouse/internal/notice"
	"gatehouse/internal/notify"
	"gatehouse/internal/store"
)

// PhoneNotice is a notice waiting for the phone, as the phone shows it:
// what happened, the facts, what to do. It holds no secret and no link;
// the phone answers it with its own key ([push.Seen], or [push.Report]
// for "This wasn't me").
type PhoneNotice struct {
	// ID is the outbox message's id: the answer's challenge_id.
	ID       string        `json:"id"`
	Event    notice.Event  `json:"event"`
	Critical bool          `json:"critical"`
	Subject  string        `json:"subject"`
	Says     string        `json:"says"`
	Facts    []notice.Fact `json:"facts"`
	Advice   string        `json:"advice"`
	Time     time.Time     `json:"time"`
}

// Bounds of the phone's notices.
const (
	// phoneNoticesShown is how many notices the phone is given at once,
	// the newest; it says it has them, and the older ones follow.
	phoneNoticesShown = 20
	// PhoneNoticeAnswerable is how long after a notice the phone may
	// still answer "This wasn't me" to it (as long as a mail's link).
	PhoneNoticeAnswerable = notify.DefaultFreezeLinkLifetime
)

// phoneNoticeAnswer is the kind of one-time value a phone's answer to a
// notice is spent as, so that a captured answer cannot be sent again.
const phoneNoticeAnswer = "phone_notice_answer"

// PhoneNotices lists the notices waiting for the phone holding the key
// jkt, the newest first: pending push messages to it that are due (a
// summary waits for its window's end).
func (s *Service) PhoneNotices(ctx context.Context, jkt string) ([]PhoneNotice, error) {
	f, err := s.phone(ctx, jkt)
	if err != nil {
		return nil, err
	}
	now := s.now()
	ms, err := s.Store.ListMessages(ctx, store.MessageFilter{UserID: f.UserID, Channels: []string{store.ChannelPush}, Destination: f.ID,
		State: store.MessagePending, Limit: phoneNoticesShown})
	if err != nil {
		return nil, err
	}
	out := []PhoneNotice{}
	for _, m := range ms {
		n, ok := notify.DecodeNotice(m.Payload)
		sp, known := notice.Lookup(notice.Event(m.Event))
		if !ok || !known || m.NextAttemptAt.After(now) {
			continue
		}
		out = append(out, PhoneNotice{ID: m.ID, Event: sp.Event, Critical: sp.Critical, Subject: sp.Subject, Says: sp.Says,
			Facts: notice.Facts(*n), Advice: sp.Advice, Time: m.CreatedAt})
	}
	return out, nil
}

// isNoticeAnswer reports whether a phone's answer is to a notice, not to
// a login's push: notices are named by their outbox message ids.
func isNoticeAnswer(r push.Response) bool { return strings.HasPrefix(r.ChallengeID, "msg_") }

// answerNotice takes the phone f's signed answer to one of its notices:
// seen (the phone has it: delivered), or "This wasn't me" (also
// delivered; audited; the account frozen in the same transaction). The
// answer must be fresh and is spent once.
func (s *Service) answerNotice(ctx context.Context, f *factor.Factor, resp push.Response, now time.Time) (string, error) {
	if resp.SignedAt.Before(now.Add(-push.ClockSkew)) || resp.SignedAt.After(now.Add(push.ClockSkew)) || resp.Number != 0 {
		return "", ErrInvalidCode
	}
	m, err := s.Store.MessageByID(ctx, resp.ChallengeID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (m.Channel != store.ChannelPush || m.Destination != f.ID || m.UserID != f.UserID)) {
		return "", ErrFlow
	}
	if err != nil {
		return "", err
	}
	var outcome string
	switch resp.Decision {
	case push.Seen:
		outcome = "seen"
	case push.Report:
		if !now.Before(m.CreatedAt.Add(PhoneNoticeAnswerable)) {
			return "", ErrFlow
		}
		outcome = push.RequestReported
	default:
		return "", ErrInvalidCode
	}
	// The answer is spent by what it says, not by its signature: ECDSA
	// signatures can be altered into other valid ones of the same answer.
	msg, err := push.Message(resp)
	if err != nil {
		return "", ErrInvalidCode
	}
	spent, until := sha256.Sum256(msg), now.Add(2*push.ClockSkew)
	if outcome == push.RequestReported {
		// A notice is reported once, whenever the answer was signed: a
		// second report is refused, not a second freeze and event.
		spent, until = sha256.Sum256([]byte("report\n"+m.ID)), m.CreatedAt.Add(PhoneNoticeAnswerable)
	}
	var frozen func()
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.UseOnce(ctx, phoneNoticeAnswer, spent[:], until, now); err != nil {
			return err
		}
		if err := tx.MarkDelivered(ctx, m.ID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if outcome != push.RequestReported {
			return nil
		}
		if err := tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.NoticeReported, UserID: f.UserID, Actor: f.UserID, Interface: "mobile",
			Detail: map[string]string{"notice": m.ID, "event": m.Event, "phone": f.ID}}); err != nil {
			return err
		}
		if s.Freeze == nil {
			return nil
		}
		var err error
		frozen, err = s.Freeze(ctx, tx, f.UserID, "phone:"+f.ID, now)
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		return "", ErrFlow // this very answer was taken already
	}
	if err != nil {
		return "", err
	}
	if frozen != nil {
		frozen()
	}
	return outcome, nil
}
