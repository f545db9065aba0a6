package login

import (
	"context"
	"errors"
	"gatehouse/internal/factor/push"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/device"
	"gatehouse/internal/factor"
	"gatehouse/internal/fault"
	"gatehouse/internal/flow"
	"gatehouse/internal/notify"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
	"gatehouse/internal/user"
)

// ErrNotAllowed refuses an action the session may not take.
var ErrNotAllowed = fault.New(fault.NotAllowed, "login: not allowed")

// deviceLinkLifetime bounds an e-mailed device approval link.
const deviceLinkLifetime = 30 * time.Minute

// requestApproval asks the user's phone to approve a new device, when
// the user has one; the mailed link, for a user without, is written in
// the transaction that made the device ([Service.mailApproval]). A
// trusted session can always approve it from the device list.
//
// It returns the number to show beside a push, or 0.
// fs are all the user's factors, as the flow read them.
func (s *Service) requestApproval(ctx context.Context, u *user.User, fl *flow.Flow, dev *device.Device, fs []*factor.Factor, now time.Time) int {
	if !hasPush(fs) {
		return 0
	}
	p, err := s.newPush(ctx, u.ID, push.PurposeDevice, fl, dev.ID, now)
	if err != nil {
		s.Log.WarnContext(ctx, "device approval push", "err", err)
		return 0
	}
	return p.Number
}

// hasPush reports whether fs hold a usable push factor (a paired phone).
func hasPush(fs []*factor.Factor) bool {
	for _, f := range fs {
		if f.Kind == factor.Push && f.Usable() {
			return true
		}
	}
	return false
}

// mailApproval stores a single-use approval link for dev and, in the same
// transaction, the outbox message that mails it: the link exists exactly
// when its mail will be sent. Only the token's hash is stored as the
// link; the message holds it sealed.
func (s *Service) mailApproval(ctx context.Context, tx store.Tx, u *user.User, fl *flow.Flow, dev *device.Device, now time.Time) error {
	tok, err := token.New(s.Rand, 32)
	if err != nil {
		return err
	}
	if err := tx.CreateDeviceApproval(ctx, token.Hash(tok), dev.ID, u.ID, now.Add(deviceLinkLifetime)); err != nil {
		return err
	}
	m, err := notify.ApprovalMessage(s.Factors.Seal, s.Rand, notify.Approval{UserID: u.ID, To: u.Email, Device: dev.Name,
		Interface: string(fl.Door), IP: fl.IP, Time: now, Token: tok})
	if err != nil {
		return err
	}
	return tx.EnqueueMessage(ctx, m)
}

// ApproveDevice approves a pending device of the session's user; the
// session must come from a trusted device and hold AAL2 when the user
// has a second factor.
func (s *Service) ApproveDevice(ctx context.Context, sess *session.Session, deviceID string) (*device.Device, error) {
	now := s.now()
	d, err := s.Store.DeviceByID(ctx, deviceID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && d.UserID != sess.UserID) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := s.needAssurance(ctx, sess, false); err != nil {
		return nil, err
	}
	if own, err := s.Store.DeviceByID(ctx, sess.DeviceID); err != nil || own.Status != device.Trusted {
		return nil, ErrNotAllowed
	}
	return d, s.trustDevice(ctx, d, sess.UserID, "session:"+sess.ID, now)
}

func (s *Service) trustDevice(ctx context.Context, d *device.Device, actor, by string, now time.Time) error {
	if d.Status == device.Trusted {
		return nil
	}
	return s.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.SetDeviceStatus(ctx, d.ID, device.Trusted); err != nil {
			return err
		}
		d.Status = device.Trusted
		return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.DeviceTrusted, UserID: d.UserID, Actor: actor, Detail: details([]string{"device", d.ID, "by", by})})
	})
}

// ApproveDeviceByLink approves the device an e-mailed link names. The
// link is single-use and expires.
func (s *Service) ApproveDeviceByLink(ctx context.Context, tok string) (*device.Device, error) {
	now := s.now()
	if tok == "" || len(tok) > 128 {
		return nil, ErrInvalidCode
	}
	devID, userID, err := s.Store.UseDeviceApproval(ctx, token.Hash(tok), now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidCode
	}
	if err != nil {
		return nil, err
	}
	d, err := s.Store.DeviceByID(ctx, devID)
	if err != nil {
		return nil, err
	}
	if d.Status == device.Revoked {
		return nil, ErrInvalidCode
	}
	return d, s.trustDevice(ctx, d, userID, "email_link", now)
}

// RevokeDevice revokes a device of the session's user and ends its sessions.
func (s *Service) RevokeDevice(ctx context.Context, sess *session.Session, deviceID string) ([]string, error) {
	now := s.now()
	d, err := s.Store.DeviceByID(ctx, deviceID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && d.UserID != sess.UserID) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var ended []string
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.SetDeviceStatus(ctx, d.ID, device.Revoked); err != nil {
			return err
		}
		if ended, err = tx.EndSessionsOfDevice(ctx, d.ID, now, session.EndRevoked); err != nil {
			return err
		}
		for _, id := range ended {
			if err := tx.AppendAudit(ctx, sessionEvent(sess, now, audit.SessionEnded, "session", id, "reason", "device_revoked")); err != nil {
				return err
			}
		}
		return tx.AppendAudit(ctx, sessionEvent(sess, now, audit.DeviceRevoked, "device", d.ID, "name", d.Name))
	})
	return ended, err
}
