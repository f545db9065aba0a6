package login

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/factor"
	"gatehouse/internal/factor/totp"
	"gatehouse/internal/factor/webauthn"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
)

// The answers a login and a step-up share: each finds the factor an
// answer proves, or the reason it proves none (for the audit trail), and
// leaves spending it to the transaction that accepts it.

// verifyTOTP finds the factor among fs that code belongs to. Its spend
// advances the factor's time step, so the code is never accepted again;
// two logins racing with one code cannot both advance it.
func (s *Service) verifyTOTP(ctx context.Context, fs []*factor.Factor, code string, now time.Time) (*proof, string) {
	reason := "wrong_code"
	for _, f := range fs {
		seed, err := s.Factors.Seal.Open(f.Secret, []byte(f.ID))
		if err != nil {
			s.Log.ErrorContext(ctx, "open TOTP seed", "factor", f.ID, "err", err)
			continue
		}
		step, err := totp.Verify(string(seed), code, f.LastStep, now)
		switch {
		case errors.Is(err, totp.ErrReplayed):
			reason = "replayed_code"
			continue
		case errors.Is(err, totp.ErrMalformed):
			return nil, "malformed_code"
		case err != nil:
			continue
		}
		return &proof{kind: factor.TOTP, f: f, spend: func(ctx context.Context, tx store.Tx) error {
			// Only a real conflict is a replay; any other failure is the store's.
			if err := tx.AdvanceTOTP(ctx, f.ID, step, now); errors.Is(err, store.ErrConflict) {
				return errSpent
			} else {
				return err
			}
		}}, ""
	}
	return nil, reason
}

// webauthnUser is u as the WebAuthn relying party sees it, with the
// credentials of fs. The user id is random, so it is the handle.
func webauthnUser(u *user.User, fs []*factor.Factor) (webauthn.User, map[string]*factor.Factor) {
	wu := webauthn.User{Handle: []byte(u.ID), Name: u.Username}
	byID := map[string]*factor.Factor{}
	for _, f := range fs {
		var c webauthn.Credential
		if f.Kind != factor.WebAuthn || f.Status != factor.Active || json.Unmarshal(f.Data, &c) != nil {
			continue
		}
		wu.Credentials = append(wu.Credentials, c)
		byID[string(c.ID)] = f
	}
	return wu, byID
}

type webauthnChallenge struct {
	Session []byte `json:"webauthn_session"`
}

// verifyAssertion checks a WebAuthn assertion against the ceremony begun
// (sess) and the credentials among fs. Its spend stores the credential's
// new counter. A counter that went backwards flags the credential as a
// possible clone, with its event, at once: that is no answer to spend.
func (s *Service) verifyAssertion(ctx context.Context, u *user.User, fs []*factor.Factor, sess, response []byte, iface session.Door, ip string, now time.Time) (*proof, string, error) {
	wu, byID := webauthnUser(u, fs)
	cred, err := s.Factors.WebAuthn.FinishLogin(wu, sess, response)
	f := byID[string(cred.ID)]
	if errors.Is(err, webauthn.ErrCloned) && f != nil {
		flagged := *f
		flagged.Flag = factor.FlagPossibleClone
		flagged.Data, _ = json.Marshal(cred)
		uerr := s.Store.InTx(ctx, func(tx store.Tx) error {
			if err := tx.UpdateFactor(ctx, &flagged); err != nil {
				return err
			}
			return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.FactorCloneSuspect, UserID: u.ID, Actor: u.ID, Interface: string(iface), IP: ip,
				Detail: map[string]string{"factor": f.ID, "name": f.Name}})
		})
		if uerr != nil {
			return nil, "", uerr
		}
		*f = flagged
		return nil, "counter_went_backwards", nil
	}
	if err != nil || f == nil {
		return nil, "invalid_assertion", nil
	}
	used := *f
	used.Data, _ = json.Marshal(cred)
	used.LastUsedAt = now
	return &proof{kind: factor.WebAuthn, f: &used, spend: func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateFactor(ctx, &used)
	}}, "", nil
}
