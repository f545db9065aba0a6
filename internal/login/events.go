package login

import (
	"context"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/flow"
	"gatehouse/internal/session"
	"gatehouse/internal/user"
)

// details makes an event's detail of key, value pairs; none is nil.
func details(kv []string) map[string]string {
	if len(kv) == 0 {
		return nil
	}
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// flowEvent is an event of a login flow: its user is the actor, on its
// door and address; kv are detail key, value pairs.
func flowEvent(fl *flow.Flow, now time.Time, typ string, kv ...string) *audit.Event {
	return &audit.Event{Time: now, Type: typ, UserID: fl.UserID, Actor: fl.UserID, Interface: string(fl.Door), IP: fl.IP, Detail: details(kv)}
}

// attemptEvent is an event of a login attempt by u (nil: unknown) before
// any flow exists; kv are detail key, value pairs.
func attemptEvent(req Request, u *user.User, now time.Time, typ string, kv ...string) *audit.Event {
	return &audit.Event{Time: now, Type: typ, UserID: userID(u), Actor: userID(u), Interface: string(req.Door), IP: req.IP.String(), Detail: details(kv)}
}

// sessionEvent is an event the session's user caused through it, about
// their own user; kv are detail key, value pairs.
func sessionEvent(sess *session.Session, now time.Time, typ string, kv ...string) *audit.Event {
	return &audit.Event{Time: now, Type: typ, UserID: sess.UserID, Actor: sess.UserID, Interface: string(sess.Door), IP: sess.IP, Detail: details(kv)}
}

// audit records an event outside a change (a refused login changes
// nothing else). A failure to record is logged, not hidden.
func (s *Service) audit(ctx context.Context, e *audit.Event) {
	if err := s.Store.AppendAudit(ctx, e); err != nil && s.Log != nil {
		s.Log.ErrorContext(ctx, "audit append failed", "type", e.Type, "err", err)
	}
}
