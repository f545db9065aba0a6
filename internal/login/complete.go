package login

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/device"
	"gatehouse/internal/factor"
	"gatehouse/internal/flow"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/throttle"
	"gatehouse/internal/token"
)

var (
	// errRaced is a flow another request changed between its read and
	// this request's write: nothing of this request was stored.
	errRaced = fmt.Errorf("login: flow changed meanwhile: %w", ErrFlow)
	// errSpent is a right answer another login used first (a TOTP step,
	// a recovery code): a replay.
	errSpent = errors.New("login: answer already used")
)

// proof is an answer found right: the factor it proves (nil for a
// recovery code), and spend, the write that uses it up (the TOTP step,
// the WebAuthn counter, the recovery code and its event). spend runs in
// the transaction that accepts the proof, so a proof is never accepted
// without being spent, nor spent without being accepted; it returns
// errSpent when another login used it first.
type proof struct {
	kind  factor.Kind
	f     *factor.Factor
	spend func(context.Context, store.Tx) error
}

func (p *proof) assurance() session.Assurance {
	if p.f == nil {
		return session.AAL1
	}
	return p.f.Assurance()
}

func (p *proof) amr() string { return p.kind.AMR(p.f != nil && p.f.DeviceBound) }

func (p *proof) factorID() string {
	if p.f == nil {
		return ""
	}
	return p.f.ID
}

// flowDevice reads the device a flow logs in from, nil when it is new.
// It is read again at each step: it may have been revoked meanwhile.
func (s *Service) flowDevice(ctx context.Context, fl *flow.Flow) (*device.Device, error) {
	if fl.DeviceID == "" {
		return nil, nil
	}
	return s.Store.DeviceByID(ctx, fl.DeviceID)
}

// accept records a proven answer on the flow and completes it: the proof
// spent, the factor counter cleared, the factor.verified event, and the
// session or the device's wait, in one transaction.
func (s *Service) accept(ctx context.Context, in *signIn, p *proof, now time.Time) (*Result, error) {
	var err error
	if in.dev, err = s.flowDevice(ctx, in.fl); err != nil {
		return nil, err
	}
	res, err := s.finish(ctx, in, func(tx store.Tx, fl *flow.Flow) error {
		if p.spend != nil {
			if err := p.spend(ctx, tx); err != nil {
				return err
			}
		}
		if err := tx.ResetThrottle(ctx, throttle.FactorKey(fl.UserID)); err != nil {
			return err
		}
		fl.Prove(p.assurance(), p.amr())
		return tx.AppendAudit(ctx, flowEvent(fl, now, audit.FactorVerified, "factor", string(p.kind), "factor_id", p.factorID(), "flow", fl.ID))
	}, now)
	if errors.Is(err, errSpent) {
		return nil, s.failAnswer(ctx, in.fl, p.kind, "replayed_code", now)
	}
	return res, err
}

// finish completes a flow whose proofs are in, after proven (nil, or the
// writes of the last proof). In one transaction it mints the session, or,
// for a device the user has not used before, stores the device pending
// and makes the flow wait for its approval (the user's first device is
// trusted on first use). A flow another request changed first is errRaced.
//
// A flow marked NewDevice from the start (an account closed to new
// devices) is validated only from a trusted device: no trust on first use,
// no e-mailed link.
func (s *Service) finish(ctx context.Context, in *signIn, proven func(store.Tx, *flow.Flow) error, now time.Time) (*Result, error) {
	status := device.Trusted
	closed := in.fl.NewDevice && in.fl.State != flow.Device
	if in.dev == nil || in.dev.Status != device.Trusted {
		devices, err := s.Store.DevicesOfUser(ctx, in.u.ID)
		if err != nil {
			return nil, err
		}
		for _, d := range devices {
			if d.Status == device.Trusted {
				status = device.Pending
				break
			}
		}
		if closed && status == device.Trusted {
			// No trusted device to approve this one: the closure stands.
			s.outcome("throttled")
			s.audit(ctx, flowEvent(in.fl, now, audit.LoginThrottled, "reason", "account_closed", "flow", in.fl.ID))
			return nil, throttled(s.Throttle.Account.Max)
		}
	}
	// Changes are made on copies, kept only when the transaction commits.
	fl := *in.fl
	var dev *device.Device
	if in.dev != nil {
		d := *in.dev
		dev = &d
	}
	res := &Result{User: in.u, Flow: &fl}
	// A new device waiting for approval is approved by push when the user
	// has a phone, else by a mailed link (not while the account is closed
	// to new devices: then only a trusted device can approve it).
	byLink := status == device.Pending && !closed && s.Factors.MailLinks && in.u.Email != "" && !hasPush(in.fs)
	err := s.Store.InTx(ctx, func(tx store.Tx) error {
		if proven != nil {
			if err := proven(tx, &fl); err != nil {
				return err
			}
		}
		var err error
		switch {
		case dev == nil:
			if dev, res.DeviceCookie, err = s.newDevice(ctx, tx, &fl, status, now); err != nil {
				return err
			}
		case dev.Status != status:
			if err := tx.SetDeviceStatus(ctx, dev.ID, status); err != nil {
				return err
			}
			dev.Status = status
		}
		fl.DeviceID = dev.ID
		if status == device.Pending {
			fl.AwaitDevice(dev.ID)
			if err := s.storeFlow(ctx, tx, &fl, in.stored); err != nil {
				return err
			}
			if err := tx.AppendAudit(ctx, flowEvent(&fl, now, audit.DeviceNew, "device", dev.ID, "name", dev.Name)); err != nil {
				return err
			}
			if byLink {
				return s.mailApproval(ctx, tx, in.u, &fl, dev, now)
			}
			return nil
		}
		if in.dev == nil || in.dev.Status != device.Trusted {
			if err := tx.AppendAudit(ctx, flowEvent(&fl, now, audit.DeviceTrusted, "device", dev.ID, "by", "first_use")); err != nil {
				return err
			}
		}
		if res.Session, res.Token, err = s.mint(ctx, tx, &fl, dev, now); err != nil {
			return err
		}
		if fl.Assurance >= session.AAL2 {
			// A real factor: the owner has one, so a recovery waiting in
			// their name is not theirs, or no longer needed.
			if err := s.cancelOnSignIn(ctx, tx, fl.UserID, now); err != nil {
				return err
			}
		}
		fl.Authenticate(res.Session.ID)
		if in.stored {
			return tx.UpdateFlow(ctx, &fl)
		}
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, errRaced
	}
	if err != nil {
		return nil, err
	}
	*in.fl, in.dev, res.Flow = fl, dev, in.fl
	if status == device.Pending {
		res.Number = s.requestApproval(ctx, in.u, in.fl, dev, in.fs, now)
		res.Status, res.Device = "device_approval_required", dev
		return res, nil
	}
	res.Status, res.EnrolmentRequired = "authenticated", !anyStrong(in.fs)
	s.outcome("succeeded")
	return res, nil
}

// storeFlow stores a flow: once, when it has never been stored (a login
// that waits only now), else as an update of the stored version.
func (s *Service) storeFlow(ctx context.Context, tx store.Tx, fl *flow.Flow, stored bool) error {
	if stored {
		return tx.UpdateFlow(ctx, fl)
	}
	return tx.CreateFlow(ctx, fl)
}

// newDevice stores the device a flow logs in from, with status.
func (s *Service) newDevice(ctx context.Context, tx store.Tx, fl *flow.Flow, status device.Status, now time.Time) (*device.Device, string, error) {
	id, err := token.New(s.Rand, 12)
	if err != nil {
		return nil, "", err
	}
	d := &device.Device{ID: "dev_" + id, UserID: fl.UserID, Interface: string(fl.Door), Name: fl.DeviceName, Status: status, CreatedAt: now, LastSeenAt: now}
	var cookie string
	if fl.Door.KeyBound() {
		d.Fingerprint = "jkt:" + flowJKT(fl)
	} else {
		if cookie, err = token.New(s.Rand, 32); err != nil {
			return nil, "", err
		}
		d.Fingerprint = DeviceCookieFingerprint(cookie)
	}
	if err := tx.CreateDevice(ctx, d); err != nil {
		return nil, "", err
	}
	return d, cookie, nil
}

// mint creates the session a flow earned, and records the device's use.
// The token is 256 bits from crypto/rand; only its SHA-256 is stored.
func (s *Service) mint(ctx context.Context, tx store.Tx, fl *flow.Flow, dev *device.Device, now time.Time) (*session.Session, string, error) {
	tok, err := token.New(s.Rand, 32)
	if err != nil {
		return nil, "", err
	}
	id, err := token.New(s.Rand, 12)
	if err != nil {
		return nil, "", err
	}
	life := s.Lifetimes[fl.Door]
	ss := &session.Session{
		ID: "ses_" + id, UserID: fl.UserID, Door: fl.Door, TokenHash: token.Hash(tok),
		JKT: flowJKT(fl), DeviceID: dev.ID, DeviceName: dev.Name, IP: fl.IP, UserAgent: fl.UserAgent,
		Assurance: fl.Assurance, AMR: fl.AMR, AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(life.Absolute), Idle: life.Idle,
	}
	if err := tx.CreateSession(ctx, ss); err != nil {
		return nil, "", err
	}
	kv := []string{"session", ss.ID, "device", dev.ID, "aal", ss.Assurance.String(), "amr", ss.AMR}
	for _, typ := range []string{audit.SessionStarted, audit.LoginSucceeded} {
		if err := tx.AppendAudit(ctx, flowEvent(fl, now, typ, kv...)); err != nil {
			return nil, "", err
		}
	}
	if err := tx.TouchDevice(ctx, dev.ID, now); err != nil {
		return nil, "", err
	}
	return ss, tok, nil
}
