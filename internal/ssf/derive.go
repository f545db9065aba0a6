package ssf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"gatehouse/internal/audit"
	"gatehouse/internal/factor"
	"gatehouse/internal/secevent"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// Derive implements the emit deriver: the tokens an audit event gives each
// receiver whose stream delivers its type, in the event's transaction. A
// push stream gets an outbox message per token (the message id is the
// token's jti, so a receiver drops a redelivery by it); a poll stream, or
// a paused push stream, holds the token; a disabled stream gets nothing.
func (t *Transmitter) Derive(ctx context.Context, tx store.Tx, e *audit.Event) ([]*store.Message, error) {
	switch e.Type {
	case audit.StreamChanged:
		return t.streamChanged(ctx, tx, e)
	case audit.VerificationRequested:
		r := t.receiver(e.Detail["stream"])
		if r == nil {
			return nil, nil
		}
		ev := secevent.VerificationEvent{State: e.Detail["state"]}
		return t.send(ctx, tx, e, r, &secevent.Subject{Format: secevent.FormatOpaque, ID: r.ID}, ev, true)
	}
	if e.UserID == "" || len(t.Receivers) == 0 {
		return nil, nil
	}
	sub, evs := t.events(e)
	var out []*store.Message
	for _, ev := range evs {
		for _, r := range t.Receivers {
			ms, err := t.send(ctx, tx, e, r, sub(ev), ev, false)
			if err != nil {
				return nil, err
			}
			out = append(out, ms...)
		}
	}
	return out, nil
}

// send makes the token of one event for one receiver and routes it by the
// stream's state. A stream event (verification) goes whatever the events
// delivered.
func (t *Transmitter) send(ctx context.Context, tx store.Tx, e *audit.Event, r *Receiver, sub *secevent.Subject, ev secevent.Event, streamEvent bool) ([]*store.Message, error) {
	s, err := state(ctx, tx, r)
	if err != nil {
		return nil, err
	}
	switch {
	case s.Status == store.StreamDisabled:
		return nil, nil
	case !streamEvent && !contains(delivered(r, s.EventsRequested), ev.EventType()):
		return nil, nil
	}
	jti, err := token.New(t.Rand, 16)
	if err != nil {
		return nil, err
	}
	tok, err := secevent.New(t.Issuer, jti, e.Time.Unix(), r.Audience, "", sub, ev)
	if errors.Is(err, secevent.ErrInvalid) {
		// What the audit event holds cannot make a valid token (a detail
		// missing): the change goes on without its signal, logged.
		t.log().ErrorContext(ctx, "ssf: token not made", "event", e.Type, "seq", e.Seq, "stream", r.ID, "err", err)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ssf: %s for %s: %w", ev.EventType(), r.ID, err)
	}
	claims, err := json.Marshal(tok)
	if err != nil {
		return nil, err
	}
	name := "ssf." + shortNames([]string{ev.EventType()})
	if r.PushURL == "" || s.Status == store.StreamPaused {
		return nil, tx.HoldSET(ctx, &store.HeldSET{StreamID: r.ID, JTI: jti, Event: name, Claims: claims, CreatedAt: e.Time})
	}
	return []*store.Message{{ID: jti, Channel: store.ChannelSSF, Event: name, Destination: r.ID, Payload: claims, CreatedAt: e.Time}}, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// streamChanged releases a push stream's held tokens into the outbox when
// it is enabled again, and drops what a disabled stream held.
// Messages are ordered by creation, so held tokens go before any made
// after the resume.
func (t *Transmitter) streamChanged(ctx context.Context, tx store.Tx, e *audit.Event) ([]*store.Message, error) {
	r := t.receiver(e.Detail["stream"])
	status := e.Detail["status"]
	if r == nil || status == store.StreamPaused || (status == store.StreamEnabled && r.PushURL == "") {
		return nil, nil
	}
	var out []*store.Message
	for {
		held, err := tx.HeldSETs(ctx, r.ID, 500)
		if err != nil || len(held) == 0 {
			return out, err
		}
		jtis := make([]string, len(held))
		for i, h := range held {
			jtis[i] = h.JTI
			if status == store.StreamEnabled {
				// A new message id (the jti stays in the claims): a token
				// that was queued, then held by a pause, has its message
				// already.
				out = append(out, &store.Message{Channel: store.ChannelSSF, Event: h.Event, Destination: r.ID, Payload: h.Claims, CreatedAt: h.CreatedAt})
			}
		}
		if _, err := tx.DropSETs(ctx, r.ID, jtis); err != nil {
			return nil, err
		}
	}
}

// events maps an audit event to the CAEP and RISC events it gives, and the
// subject of each.
func (t *Transmitter) events(e *audit.Event) (func(secevent.Event) *secevent.Subject, []secevent.Event) {
	user := &secevent.Subject{Format: secevent.FormatIssSub, Iss: t.Issuer, Sub: e.UserID}
	ofUser := func(secevent.Event) *secevent.Subject { return user }
	ofSession := func(secevent.Event) *secevent.Subject {
		id := e.Detail["session"]
		if id == "" {
			return user
		}
		return &secevent.Subject{Format: secevent.FormatComplex, User: user, Session: &secevent.Subject{Format: secevent.FormatOpaque, ID: id}}
	}
	common := secevent.Common{EventTimestamp: e.Time.Unix(), InitiatingEntity: initiator(e)}
	switch e.Type {
	case audit.SessionEnded:
		switch e.Detail["reason"] {
		case session.EndExpired, session.EndIdle:
			return nil, nil // ran out: nothing was revoked
		}
		return ofSession, []secevent.Event{secevent.SessionRevokedEvent{Common: common}}
	case audit.PasswordChanged:
		return ofUser, []secevent.Event{secevent.CredentialChangeEvent{Common: common, CredentialType: secevent.CredPassword, ChangeType: secevent.ChangeUpdate}}
	case audit.FactorAdded, audit.FactorRemoved:
		change := secevent.ChangeCreate
		if e.Type == audit.FactorRemoved {
			change = secevent.ChangeDelete
		}
		return ofUser, []secevent.Event{secevent.CredentialChangeEvent{Common: common, CredentialType: credentialType(e.Detail["kind"], e.Detail["device_bound"]), ChangeType: change,
			FriendlyName: e.Detail["name"]}}
	case audit.StepUp:
		ev := secevent.AssuranceLevelChangeEvent{Common: common, Namespace: secevent.NamespaceNISTAAL, CurrentLevel: nistAAL(e.Detail["aal"])}
		if prev := nistAAL(e.Detail["previous_aal"]); prev != "" && prev != ev.CurrentLevel {
			ev.PreviousLevel, ev.ChangeDirection = prev, "increase"
		}
		if ev.CurrentLevel == "" {
			return nil, nil
		}
		return ofSession, []secevent.Event{ev}
	case audit.MemberAdded, audit.MemberRemoved:
		role := e.Detail["role"]
		if e.Type == audit.MemberRemoved {
			role = "none"
		}
		return ofUser, []secevent.Event{secevent.TokenClaimsChangeEvent{Common: common, Claims: map[string]any{"gatehouse_account": e.Detail["account"], "gatehouse_role": role}}}
	case audit.PermissionsChanged:
		return ofUser, []secevent.Event{secevent.TokenClaimsChangeEvent{Common: common, Claims: map[string]any{"gatehouse_account": e.Detail["account"], "gatehouse_permissions": e.Detail["after"]}}}
	case audit.FactorCloneSuspect:
		return ofUser, []secevent.Event{secevent.CredentialCompromiseEvent{CredentialType: secevent.CredFIDO2Roaming, EventTimestamp: e.Time.Unix()}}
	case audit.PushReported, audit.FactorGuessing:
		// Whoever asked for the push, or keeps answering the second
		// factor wrong, got past the password.
		return ofUser, []secevent.Event{secevent.CredentialCompromiseEvent{CredentialType: secevent.CredPassword, EventTimestamp: e.Time.Unix()}}
	case audit.AccountClosed:
		return ofUser, []secevent.Event{secevent.AccountDisabledEvent{}}
	case audit.RecoveryRequested:
		return ofUser, []secevent.Event{secevent.RecoveryActivatedEvent{}}
	case audit.RecoveryCompleted:
		// A completed recovery ends every session of the user.
		return ofUser, []secevent.Event{secevent.SessionsRevokedEvent{}}
	case audit.AccountFrozen:
		// A freeze ends every session of the user, on every door.
		return ofUser, []secevent.Event{secevent.AccountDisabledEvent{Reason: secevent.ReasonHijacking}, secevent.SessionsRevokedEvent{}}
	}
	return nil, nil
}

// initiator is who caused an event, as CAEP names it.
func initiator(e *audit.Event) string {
	switch {
	case e.Actor == "admin":
		return secevent.ByAdmin
	case e.Actor == "system":
		return secevent.BySystem
	case e.Actor != "" && e.Actor == e.UserID:
		return secevent.ByUser
	}
	return secevent.ByPolicy
}

// credentialType is the CAEP credential type of a factor kind.
func credentialType(kind, deviceBound string) string {
	switch factor.Kind(kind) {
	case factor.TOTP, factor.Push:
		return secevent.CredApp
	case factor.SMS:
		return secevent.CredPhoneSMS
	case factor.WebAuthn:
		if deviceBound == "true" {
			return secevent.CredFIDO2Roaming
		}
		return secevent.CredFIDO2Platform
	}
	return kind
}

// nistAAL turns gatehouse's AAL2 into NIST-AAL's nist-aal2.
func nistAAL(aal string) string {
	if len(aal) != 4 || !strings.HasPrefix(aal, "AAL") || aal[3] < '1' || aal[3] > '3' {
		return ""
	}
	return "nist-aal" + aal[3:]
}
