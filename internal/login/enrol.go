package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gatehouse/internal/audit"
	"gatehouse/internal/factor"
	"gatehouse/internal/factor/push"
	"gatehouse/internal/factor/recovery"
	"gatehouse/internal/factor/sms"
	"gatehouse/internal/factor/totp"
	"gatehouse/internal/fault"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/throttle"
	"gatehouse/internal/token"
)

// Errors of factor management.
var (
	ErrLastStrongFactor = fault.New(fault.LastStrongFactor, "login: the last strong factor cannot be removed; enrol another first")
	ErrBadName          = fault.NewField("name", "1 to 64 printable characters", "login: a name is 1 to 64 printable characters")
	ErrBadPhone         = fault.NewField("phone", "an E.164 number: + and 8 to 15 digits", "login: not an E.164 phone number (+ and 8 to 15 digits)")
	ErrFactorState      = fault.New(fault.FactorState, "login: the factor is not waiting for confirmation")
)

// unusedRecoveryCodes reports whether the user has recovery codes left.
func (s *Service) unusedRecoveryCodes(ctx context.Context, userID string) (bool, error) {
	codes, err := s.Store.RecoveryCodes(ctx, userID)
	if err != nil {
		return false, err
	}
	for _, c := range codes {
		if c.UsedAt.IsZero() {
			return true, nil
		}
	}
	return false, nil
}

// hasStrong reports whether the user has an active strong factor.
func (s *Service) hasStrong(ctx context.Context, userID string) (bool, error) {
	fs, err := s.Store.FactorsOfUser(ctx, userID)
	if err != nil {
		return false, err
	}
	return anyStrong(fs), nil
}

// needAssurance checks that sess may change the user's factors: a user
// without a strong factor enrols the first one from any session; after
// that, the session must have proven AAL2 within the step-up window (or,
// when enrolling is allowed after recovery, a recovery code).
func (s *Service) needAssurance(ctx context.Context, sess *session.Session, recoveryCounts bool) error {
	strong, err := s.hasStrong(ctx, sess.UserID)
	if err != nil || !strong {
		return err
	}
	now, window := s.now(), s.stepUpWindow()
	err = sess.Require(session.AAL2, window, now)
	if err != nil && recoveryCounts && sess.Proved("rec") && sess.Require(session.AAL1, window, now) == nil {
		return nil // a fresh recovery code, where it may enrol
	}
	if err != nil && recoveryCounts && sess.RecoveryOnly() && sess.Require(session.AAL1, window, now) == nil {
		return nil // a completed recovery, fresh: it may enrol, and make new codes
	}
	return err
}

func (s *Service) stepUpWindow() time.Duration {
	if s.Factors.StepUpWindow > 0 {
		return s.Factors.StepUpWindow
	}
	return session.DefaultStepUpWindow
}

func validName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for _, r := range n {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// Enrolment is what enrolling a factor answers: what the client needs to
// confirm it. Secrets in it are shown once.
type Enrolment struct {
	Factor *factor.Factor
	// TOTP: the seed (base32) and its otpauth URI.
	Secret, URI string
	// WebAuthn: the options for navigator.credentials.create.
	Options json.RawMessage
	// Push: the one-time code the phone registers with.
	Code string
	// SMS: where the code went.
	SentTo string
	// RecoveryCodes are issued when a phone is enrolled as the user's
	// first strong factor: the phone registers on its own, so the session
	// that starts the enrolment is the one that can be shown them, once.
	// Only their hashes are stored.
	RecoveryCodes []string
}

func (s *Service) newFactor(kind factor.Kind, userID, name string, now time.Time) (*factor.Factor, error) {
	id, err := token.New(s.Rand, 12)
	if err != nil {
		return nil, err
	}
	return &factor.Factor{ID: "fac_" + id, UserID: userID, Kind: kind, Name: name, Status: factor.Pending, CreatedAt: now}, nil
}

// Enrol starts enrolling a factor of kind for the session's user.
func (s *Service) Enrol(ctx context.Context, sess *session.Session, kind factor.Kind, name, phone string) (*Enrolment, error) {
	now := s.now()
	if err := s.needAssurance(ctx, sess, true); err != nil {
		return nil, err
	}
	u, err := s.Store.UserByID(ctx, sess.UserID)
	if err != nil {
		return nil, err
	}
	if !s.policy(u).Allows(kind) || !s.kindOn(kind) || (sess.RecoveryOnly() && !kind.Strong()) {
		return nil, ErrFactorUnavailable // a recovery's session enrols strong factors only
	}
	if name == "" {
		name = map[factor.Kind]string{factor.TOTP: "Authenticator app", factor.WebAuthn: "Security key", factor.Push: "Phone", factor.SMS: "Text messages"}[kind]
	}
	if !validName(name) {
		return nil, ErrBadName
	}
	f, err := s.newFactor(kind, u.ID, name, now)
	if err != nil {
		return nil, err
	}
	e := &Enrolment{Factor: f}
	switch kind {
	case factor.TOTP:
		k, err := totp.Generate(s.Factors.Issuer, u.Username, s.Rand)
		if err != nil {
			return nil, err
		}
		if f.Secret, err = s.Factors.Seal.Seal([]byte(k.Secret), []byte(f.ID)); err != nil {
			return nil, err
		}
		e.Secret, e.URI = k.Secret, k.URI
	case factor.WebAuthn:
		fs, err := s.Store.FactorsOfUser(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		wu, _ := webauthnUser(u, fs)
		opts, sessData, err := s.Factors.WebAuthn.BeginRegistration(wu)
		if err != nil {
			return nil, err
		}
		f.Data, e.Options = sessData, opts
	case factor.SMS:
		if !sms.ValidPhone(phone) {
			return nil, ErrBadPhone
		}
		f.Phone = phone
		if err := s.limitSMS(ctx, u.ID, phone, now); err != nil {
			return nil, err
		}
		ch, code, err := sms.NewChallenge(s.Rand, phone, now)
		if err != nil {
			return nil, err
		}
		f.Data, _ = json.Marshal(ch)
		if err := s.Factors.SMS.Send(ctx, phone, "Your gatehouse confirmation code is "+code+"."); err != nil {
			return nil, err
		}
		e.SentTo = sms.MaskPhone(phone)
	case factor.Push:
		en, code, err := push.NewEnrolment(s.Rand, u.ID, now)
		if err != nil {
			return nil, err
		}
		strong, err := s.hasStrong(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		var hashes [][]byte
		if !strong {
			if e.RecoveryCodes, hashes, err = recovery.Generate(s.Rand); err != nil {
				return nil, err
			}
		}
		err = s.Store.InTx(ctx, func(tx store.Tx) error {
			if err := tx.CreatePushEnrolment(ctx, u.ID, en.CodeHash, en.ExpiresAt); err != nil {
				return err
			}
			if hashes == nil {
				return nil
			}
			// A new set voids the codes of an enrolment started before.
			if err := tx.SetRecoveryCodes(ctx, u.ID, hashes, now); err != nil {
				return err
			}
			return tx.AppendAudit(ctx, sessionEvent(sess, now, audit.RecoveryRegenerated, "with", "push_enrolment"))
		})
		if err != nil {
			return nil, err
		}
		e.Code = code
		return e, nil // the phone creates the factor when it registers
	}
	if err := s.Store.CreateFactor(ctx, f); err != nil {
		return nil, err
	}
	return e, nil
}

// Confirmed is a factor made active, with the recovery codes issued when
// it is the user's first strong factor (shown once).
type Confirmed struct {
	Factor        *factor.Factor
	RecoveryCodes []string
	// OtherSessions counts the user's other sessions, which the client
	// should offer to end (OWASP ASVS 5.0 7.4.3).
	OtherSessions int
}

// Confirm makes a pending factor active with its first proof: a TOTP or
// SMS code, or a WebAuthn attestation.
func (s *Service) Confirm(ctx context.Context, sess *session.Session, factorID, code string, response []byte) (*Confirmed, error) {
	now := s.now()
	f, err := s.Store.FactorByID(ctx, factorID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && f.UserID != sess.UserID) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if f.Status != factor.Pending {
		return nil, ErrFactorState
	}
	if err := s.needAssurance(ctx, sess, true); err != nil {
		return nil, err
	}
	if _, err := s.reserveFactor(ctx, sess.UserID, nil, now); err != nil {
		return nil, err
	}
	switch f.Kind {
	case factor.TOTP:
		seed, err := s.Factors.Seal.Open(f.Secret, []byte(f.ID))
		if err != nil {
			return nil, err
		}
		step, err := totp.Verify(string(seed), code, 0, now)
		if err != nil {
			return nil, ErrInvalidCode
		}
		f.LastStep = step
		if err := s.Store.AdvanceTOTP(ctx, f.ID, step, now); errors.Is(err, store.ErrConflict) {
			return nil, ErrInvalidCode // spent by a racing confirmation
		} else if err != nil {
			return nil, fault.Wrap(fault.Unavailable, err)
		}
	case factor.SMS:
		var ch sms.Challenge
		if json.Unmarshal(f.Data, &ch) != nil {
			return nil, ErrInvalidCode
		}
		verr := ch.Verify(code, now)
		f.Data, _ = json.Marshal(ch)
		if verr != nil {
			s.Store.UpdateFactor(ctx, f)
			return nil, ErrInvalidCode
		}
		f.Data = nil
	case factor.WebAuthn:
		u, err := s.Store.UserByID(ctx, sess.UserID)
		if err != nil {
			return nil, err
		}
		fs, err := s.Store.FactorsOfUser(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		wu, _ := webauthnUser(u, fs)
		cred, err := s.Factors.WebAuthn.FinishRegistration(wu, f.Data, response)
		if err != nil {
			s.audit(ctx, sessionEvent(sess, now, audit.FactorFailed, "factor", string(f.Kind), "reason", "invalid_attestation", "action", "enrol"))
			return nil, ErrInvalidCode
		}
		f.Data, _ = json.Marshal(cred)
		f.CredentialID, f.DeviceBound = cred.ID, cred.DeviceBound()
	default:
		return nil, ErrFactorState
	}
	f.Status, f.ConfirmedAt = factor.Active, now
	return s.activate(ctx, sess, f, now, false)
}

// activate stores an active factor (created, or updated from pending)
// with its audit event, issuing recovery codes with the user's first
// strong factor.
func (s *Service) activate(ctx context.Context, sess *session.Session, f *factor.Factor, now time.Time, create bool) (*Confirmed, error) {
	hadStrong, err := s.hasStrong(ctx, f.UserID)
	if err != nil {
		return nil, err
	}
	out := &Confirmed{Factor: f}
	var hashes [][]byte
	if !hadStrong && f.Kind.Strong() {
		// A phone enrolment issued its codes when it started (see [Enrolment]).
		if hadStrong, err = s.unusedRecoveryCodes(ctx, f.UserID); err != nil {
			return nil, err
		}
	}
	if !hadStrong && f.Kind.Strong() {
		if out.RecoveryCodes, hashes, err = recovery.Generate(s.Rand); err != nil {
			return nil, err
		}
	}
	iface, ip, actor := "", "", f.UserID
	if sess != nil {
		iface, ip = string(sess.Door), sess.IP
	}
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		var err error
		if create {
			err = tx.CreateFactor(ctx, f)
		} else {
			err = tx.UpdateFactor(ctx, f)
		}
		if err != nil {
			return err
		}
		// A confirmed factor is a right answer: the run of wrong ones ends.
		if err := tx.ResetThrottle(ctx, throttle.FactorKey(f.UserID)); err != nil {
			return err
		}
		if hashes != nil {
			if err := tx.SetRecoveryCodes(ctx, f.UserID, hashes, now); err != nil {
				return err
			}
			if err := tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.RecoveryRegenerated, UserID: f.UserID, Actor: actor, Interface: iface, IP: ip}); err != nil {
				return err
			}
		}
		ev := &audit.Event{Time: now, Type: audit.FactorAdded, UserID: f.UserID, Actor: actor, Interface: iface, IP: ip,
			Detail: map[string]string{"factor": f.ID, "kind": string(f.Kind), "name": f.Name, "device_bound": fmt.Sprint(f.DeviceBound)}}
		if err := tx.AppendAudit(ctx, ev); err != nil {
			return err
		}
		return s.Cooldown.Start(ctx, tx, ev)
	})
	if err != nil {
		return nil, err
	}
	out.OtherSessions = s.otherSessions(ctx, f.UserID, sess)
	return out, nil
}

func (s *Service) otherSessions(ctx context.Context, userID string, sess *session.Session) int {
	all, err := s.Store.SessionsOfUser(ctx, userID)
	if err != nil {
		return 0
	}
	n := 0
	for _, x := range all {
		if (sess == nil || x.ID != sess.ID) && x.Active(s.now()) {
			n++
		}
	}
	return n
}

// RemoveFactor removes one of the session's user's factors, refusing to
// remove the last strong one. The user's other sessions that proved the
// factor's method (its AMR: "otp", "hwk", "swk", "mca", "sms") drop to
// AAL1 in the same transaction, the method struck from what they proved,
// and must step up again with a factor the user still has: a session won
// with a lost or stolen authenticator keeps nothing of it. A session
// cannot tell which of two factors of one kind it proved, so both count.
// The session that removes it, which has just proved itself, keeps its
// assurance.
func (s *Service) RemoveFactor(ctx context.Context, sess *session.Session, factorID string) (int, error) {
	now := s.now()
	f, err := s.Store.FactorByID(ctx, factorID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && f.UserID != sess.UserID) {
		return 0, store.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	if f.Status == factor.Active {
		if err := s.needAssurance(ctx, sess, false); err != nil {
			return 0, err
		}
		if f.Kind.Strong() {
			fs, err := s.Store.FactorsOfUser(ctx, sess.UserID)
			if err != nil {
				return 0, err
			}
			others := 0
			for _, x := range fs {
				if x.ID != f.ID && x.Kind.Strong() && x.Usable() {
					others++
				}
			}
			if others == 0 {
				return 0, ErrLastStrongFactor
			}
		}
		// After the last-strong rule, which no wait ever lifts.
		if err := s.removalCooldown(ctx, f, now); err != nil {
			return 0, err
		}
	}
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.DeleteFactor(ctx, f.ID); err != nil {
			return err
		}
		lowered, err := lowerSessions(ctx, tx, f, sess.ID)
		if err != nil {
			return err
		}
		ev := sessionEvent(sess, now, audit.FactorRemoved, "factor", f.ID, "kind", string(f.Kind), "name", f.Name, "sessions_lowered", strconv.Itoa(lowered))
		if err := tx.AppendAudit(ctx, ev); err != nil {
			return err
		}
		return s.Cooldown.Start(ctx, tx, ev)
	})
	return s.otherSessions(ctx, sess.UserID, sess), err
}

// lowerSessions drops to AAL1 the user's sessions but except that proved
// the method of f, which is being removed, and returns how many.
func lowerSessions(ctx context.Context, tx store.Tx, f *factor.Factor, except string) (int, error) {
	if f.Status != factor.Active {
		return 0, nil // never proved by any session
	}
	method := f.Kind.AMR(f.DeviceBound)
	live, err := tx.SessionsOfUser(ctx, f.UserID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, x := range live {
		if x.ID == except || x.Assurance <= session.AAL1 || !x.Proved(method) {
			continue
		}
		kept := make([]string, 0, 2)
		for _, m := range strings.Fields(x.AMR) {
			if m != method {
				kept = append(kept, m)
			}
		}
		if err := tx.LowerSession(ctx, x.ID, strings.Join(kept, " ")); errors.Is(err, store.ErrNotFound) {
			continue // ended meanwhile
		} else if err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// removalCooldown refuses, while the user's cool-down runs, to remove a
// factor confirmed before it began: an intruder who just added a factor
// or changed the password must not take the owner's away. A factor
// confirmed since (the one whose addition started it, say) may go, so
// that an owner can undo a change that was not theirs.
func (s *Service) removalCooldown(ctx context.Context, f *factor.Factor, now time.Time) error {
	u, err := s.Store.UserByID(ctx, f.UserID)
	if err != nil {
		return err
	}
	began := u.CooldownUntil.Add(-s.Cooldown.For(u.Profile))
	if !u.CoolingDown(now) || !f.ConfirmedAt.Before(began) {
		return nil
	}
	return u.CheckCooldown(now, "removing another second factor")
}

// RegenerateRecovery replaces the user's recovery codes; the old set is void.
func (s *Service) RegenerateRecovery(ctx context.Context, sess *session.Session) ([]string, error) {
	now := s.now()
	strong, err := s.hasStrong(ctx, sess.UserID)
	if err != nil {
		return nil, err
	}
	if !strong {
		return nil, ErrFactorUnavailable // codes recover a second factor; there is none yet
	}
	// A completed recovery's session may make new codes; a recovery
	// code's may not.
	if err := s.needAssurance(ctx, sess, sess.RecoveryOnly()); err != nil {
		return nil, err
	}
	codes, hashes, err := recovery.Generate(s.Rand)
	if err != nil {
		return nil, err
	}
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.SetRecoveryCodes(ctx, sess.UserID, hashes, now); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, sessionEvent(sess, now, audit.RecoveryRegenerated))
	})
	return codes, err
}
