package login

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/fault"
	"gatehouse/internal/notify"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
	"gatehouse/internal/user"
)

// resetLinkLifetime is how long a mailed password reset link works.
const resetLinkLifetime = 30 * time.Minute

// ErrResetLink is every reset link that does not reset: forged, expired,
// used, or of another purpose; one message for all.
var ErrResetLink = fault.NewField("token", "the token of a password reset link, unused and unexpired", "login: the reset link is not valid")

// EndReset is the end reason of the sessions a password reset ended.
const EndReset = "password_reset"

// RequestPasswordReset mails a single-use reset link to the address of
// username's user, through the outbox. It answers nil for every username
// (unknown, without an address, frozen) after the same work: limits per
// username and per source like a recovery's starts (counted apart), then,
// through [Service.Later] when set, the look-up of the user and the
// link's and mail's writes, which only a known user's request has: the
// answer comes before them, so its time tells nothing either. Only the
// owner's mailbox learns more.
func (s *Service) RequestPasswordReset(ctx context.Context, username string, ip netip.Addr) error {
	now := s.now()
	name := user.NormalizeUsername(username)
	perUser, perSource := s.startRules()
	// Counted apart from the recovery starts, with the same rules: a
	// flood of resets does not keep the owner from starting a recovery.
	if err := reserve(ctx, s.Store, "rp:"+name, perUser, now); err != nil {
		return err
	}
	if err := reserve(ctx, s.Store, "rps:"+ip.String(), perSource, now); err != nil {
		return err
	}
	if s.Later == nil {
		return s.mailReset(ctx, name, ip, now)
	}
	ok := s.Later.Do(func(ctx context.Context) {
		if err := s.mailReset(ctx, name, ip, now); err != nil {
			s.Later.log.Error("password reset", "err", err)
		}
	})
	if !ok {
		return ErrBusy
	}
	return nil
}

// mailReset writes the reset link and its mail for name's user, if it has
// an address and is not frozen, in one transaction with its audit event.
func (s *Service) mailReset(ctx context.Context, name string, ip netip.Addr, now time.Time) error {
	u, err := s.Store.UserByUsername(ctx, name)
	if errors.Is(err, store.ErrNotFound) || err == nil && (u.Email == "" || u.Frozen()) || s.Factors.Seal == nil {
		return nil
	}
	if err != nil {
		return err
	}
	tok, err := token.New(s.Rand, 32)
	if err != nil {
		return err
	}
	return s.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateLink(ctx, token.Hash(tok), u.ID, store.LinkPasswordReset, now.Add(resetLinkLifetime)); err != nil {
			return err
		}
		m, err := notify.ResetMessage(s.Factors.Seal, s.Rand, notify.Approval{UserID: u.ID, To: u.Email, IP: ip.String(), Time: now, Token: tok})
		if err != nil {
			return err
		}
		if err := tx.EnqueueMessage(ctx, m); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.PasswordResetRequested, UserID: u.ID, Actor: u.ID, IP: ip.String(), Detail: map[string]string{"ip": ip.String()}})
	})
}

// ResetPassword spends a reset link and sets the new password, ending
// every session of the user, in one transaction with its password.changed
// event (told on every channel) and the cool-down it starts. It never
// signs anyone in: the user then
// signs in with the new password and the second factor the account has,
// or, without one, starts a lost-factor recovery. A new password the
// rules refuse spends nothing.
func (s *Service) ResetPassword(ctx context.Context, tok, next string) error {
	if len(tok) != 43 || !token.ValidID(tok) {
		return ErrResetLink
	}
	now := s.now()
	return s.Store.InTx(ctx, func(tx store.Tx) error {
		uid, err := tx.UseLink(ctx, token.Hash(tok), store.LinkPasswordReset, now)
		if errors.Is(err, store.ErrNotFound) {
			return ErrResetLink
		}
		if err != nil {
			return err
		}
		u, err := tx.UserByID(ctx, uid)
		if err != nil {
			return err
		}
		if u.Frozen() {
			return ErrResetLink // only the owner's unfreeze path opens a frozen account
		}
		if err := s.Rules.Check(next, u.Username); err != nil {
			return &WeakPasswordError{err} // rolls the link back: it may be used again
		}
		h, err := s.Hasher.Hash(next)
		if err != nil {
			return fault.Wrap(fault.Internal, err)
		}
		if err := tx.SetPasswordHash(ctx, u.ID, h, now); err != nil {
			return err
		}
		ended, err := tx.EndSessionsOfUser(ctx, u.ID, "", now, EndReset)
		if err != nil {
			return err
		}
		ev := &audit.Event{Time: now, Type: audit.PasswordChanged, UserID: u.ID, Actor: u.ID,
			Detail: map[string]string{"by": "reset", "sessions_ended": fmt.Sprint(len(ended))}}
		if err := tx.AppendAudit(ctx, ev); err != nil {
			return err
		}
		return s.Cooldown.Start(ctx, tx, ev) // a reset is a password change
	})
}
