package posture

import (
	"fmt"
	"slices"
	"time"
)

// A desktop session that outlives a trading day is "long-lived": it is
// the token that malware on the workstation steals.
const longSession = 12 * time.Hour

// checkDesktop looks for desktop compromise: long-lived desktop sessions
// without a device-bound AAL3 factor behind them.
func checkDesktop(s Snapshot, now time.Time) []Finding {
	var long, weak []Session
	for _, se := range s.Sessions {
		if se.Interface != DoorDesktop || !se.Valid(now) {
			continue
		}
		if se.Expires.IsZero() || se.Lifetime() > longSession {
			long = append(long, se)
			if se.Assurance < 3 {
				weak = append(weak, se)
			}
		}
	}
	usesDesktop := slices.Contains(s.DoorsUsed(), DoorDesktop)
	hardware := s.hasDeviceBoundKey()
	switch {
	case len(long) > 0 && len(weak) == 0:
		return []Finding{{
			ID: "desktop-sessions", FailureMode: DesktopCompromise, Doors: []string{DoorDesktop}, Exposure: Mitigated,
			Summary:  "Long-lived desktop sessions are held at AAL3, from your security key: a token copied off the workstation is not enough on its own.",
			Evidence: sessionsEvidence(long, now),
			NextStep: "Keep the security key with you, not plugged into the workstation overnight.",
		}}
	case len(weak) > 0 && hardware:
		return []Finding{{
			ID: "desktop-session-below-aal3", FailureMode: DesktopCompromise, Doors: []string{DoorDesktop}, Exposure: Medium,
			Summary:  fmt.Sprintf("You have a security key, but %s on the desktop were opened without it and stay signed in for days: malware on the workstation can ride them.", plural(len(weak), "long-lived session")),
			Evidence: sessionsEvidence(weak, now),
			NextStep: "Sign those desktop sessions out and sign in again with the security key, so each holds AAL3.",
		}}
	case len(weak) > 0 && s.Profile == Professional:
		ev := sessionsEvidence(weak, now)
		ev = append(ev, Evidence{Kind: "factor", ID: "", Name: "security key", Detail: "no device-bound security key enrolled"})
		return []Finding{{
			ID: "desktop-no-hardware-key", FailureMode: DesktopCompromise, Doors: []string{DoorDesktop}, Exposure: High,
			Summary:  fmt.Sprintf("Malware on the trading workstation can use its signed-in session (%s) to trade as you, and no security key stands in the way.", longest(weak)),
			Evidence: ev,
			NextStep: hardwareKeyStep + "; until then, sign the desktop out at the end of each trading day.",
		}}
	case len(weak) > 0:
		// Profiles set expectations, not blame: an occasional or mobile
		// trader is not asked for a hardware key. What is judged is how
		// long a session malware could ride lives, and what it could do.
		exp := Low
		for _, se := range weak {
			if se.Expires.IsZero() || se.Lifetime() > 7*day {
				exp = Medium
			}
		}
		if s.riskyPermissions() {
			exp = Medium
		}
		return []Finding{{
			ID: "desktop-long-session", FailureMode: DesktopCompromise, Doors: []string{DoorDesktop}, Exposure: exp,
			Summary:  fmt.Sprintf("A desktop session (%s) stays signed in long after you stop: malware on that computer could use it to trade as you.", longest(weak)),
			Evidence: sessionsEvidence(weak, now),
			NextStep: "Sign the desktop out when you finish, so no session outlives your use of it; a security key or passkey for signing in makes a stolen password useless too.",
		}}
	case usesDesktop && !hardware && s.Profile == Professional:
		return []Finding{{
			ID: "desktop-no-hardware-key", FailureMode: DesktopCompromise, Doors: []string{DoorDesktop}, Exposure: High,
			Summary:  "You trade from a desktop workstation without a hardware security key: malware or a phishing page there can capture what you sign in with and trade as you. The professional profile asks for a device-bound security key on the desktop.",
			Evidence: []Evidence{{Kind: "factor", Name: "security key", Detail: "no device-bound security key enrolled"}},
			NextStep: hardwareKeyStep + ".",
		}}
	}
	return nil
}

// hardwareKeyStep is the next step to a device-bound key: the backup comes
// with it, or the fix leaves one factor to lose.
const hardwareKeyStep = "On the portal's Security page, register a hardware security key (FIDO2, device-bound) with a backup (a second key kept apart, or printed recovery codes), and sign in on the desktop with it, so its sessions hold AAL3"

// longest describes the longest lifetime among sessions.
func longest(ss []Session) string {
	var most time.Duration
	for _, se := range ss {
		if se.Expires.IsZero() {
			return "it never expires"
		}
		most = max(most, se.Lifetime())
	}
	return "it lasts " + span(most)
}

func sessionsEvidence(ss []Session, now time.Time) []Evidence {
	out := make([]Evidence, 0, len(ss))
	for _, se := range ss {
		out = append(out, sessionEvidence(se, now))
	}
	return out
}

// checkSMS looks for SMS interception and SIM swap: SMS enrolled, worst
// when it is the only second factor.
func checkSMS(s Snapshot, now time.Time) []Finding {
	sms := s.factors(SMS)
	if len(sms) == 0 {
		return nil
	}
	var ev []Evidence
	for _, f := range sms {
		ev = append(ev, factorEvidence(f, now))
	}
	var strong []string
	for _, f := range s.Factors {
		if f.Strong() {
			strong = append(strong, factorName(f))
		}
	}
	if len(strong) == 0 {
		return []Finding{{
			ID: "sms-only-second-factor", FailureMode: SMSInterception, Doors: s.signInDoors(), Exposure: High,
			Summary:  "SMS is your only second factor: whoever ports your number to their SIM, or reads your texts, holds it. With your password that is the whole account.",
			Evidence: ev,
			NextStep: "Add an authenticator app or push approval on the phone app (better still, a security key), print recovery codes, then remove SMS; ask your carrier for a port-out PIN.",
		}}
	}
	return []Finding{{
		ID: "sms-enrolled", FailureMode: SMSInterception, Doors: s.signInDoors(), Exposure: Medium,
		Summary:  "SMS is still enrolled beside stronger factors. An attacker with your password picks the weakest factor you allow, and takes your number by SIM swap.",
		Evidence: ev,
		NextStep: fmt.Sprintf("Remove SMS: you already have %s.", list(strong)),
	}}
}

// pushWindow is how far back unexpected push requests count.
const pushWindow = 30 * day

// checkPush looks for push fatigue: push enrolled and recent pushes that
// were denied, reported or left unanswered.
func checkPush(s Snapshot, now time.Time) []Finding {
	push := s.factors(Push)
	if len(push) == 0 {
		return nil
	}
	doors := union(s.signInDoors(), DoorMobile)
	var ev []Evidence
	for _, f := range push {
		ev = append(ev, factorEvidence(f, now))
	}
	var bad, reported int
	for _, p := range s.Pushes {
		if p.Time.After(now) || now.Sub(p.Time) > pushWindow || p.Outcome == PushApproved {
			continue
		}
		bad++
		if p.Outcome == PushReported {
			reported++
		}
		ev = append(ev, Evidence{Kind: "push", Detail: fmt.Sprintf("%s, %s", p.Outcome, ago(now, p.Time))})
	}
	switch {
	case reported > 0 || bad >= 3:
		return []Finding{{
			ID: "push-unexpected", FailureMode: PushFatigue, Doors: doors, Exposure: High,
			Summary:  fmt.Sprintf("%s in the last 30 days went unapproved: someone who knows your password is sending them, hoping you tap Approve once.", plural(bad, "push request")),
			Evidence: ev,
			NextStep: "Change your password now (the requests prove someone has it), never approve a push you did not start, and report any that arrive.",
		}}
	case bad > 0:
		return []Finding{{
			ID: "push-unexpected", FailureMode: PushFatigue, Doors: doors, Exposure: Medium,
			Summary:  fmt.Sprintf("%s in the last 30 days went unapproved. If you did not start those sign-ins, someone has your password.", plural(bad, "push request")),
			Evidence: ev,
			NextStep: "If the sign-ins were not yours, change your password; approve a push only when the number on the phone matches your screen.",
		}}
	}
	return []Finding{{
		ID: "push-fatigue", FailureMode: PushFatigue, Doors: doors, Exposure: Mitigated,
		Summary:  "Push approval is enrolled and no push went unapproved in the last 30 days; number matching stops a blind tap on Approve.",
		Evidence: ev,
		NextStep: "Keep denying and reporting any push you did not start.",
	}}
}

// guessRun is the run of wrong second-factor answers an owner mistyping
// rarely reaches: past it, someone who has the password is guessing.
const guessRun = 3

// checkGuessing looks for second-factor guessing: a run of wrong answers
// over several sign-ins, which only someone holding the password can
// make, worst when it has closed the second factor to every answer.
func checkGuessing(s Snapshot, now time.Time) []Finding {
	n := s.FactorFailures
	if n < guessRun {
		return nil
	}
	ev := []Evidence{{Kind: "factor", Name: "second factor", Detail: plural(n, "wrong answer") + " in a row"}}
	if s.FactorLimit > 0 && n >= s.FactorLimit {
		return []Finding{{
			ID: "second-factor-closed", FailureMode: FactorGuessing, Doors: s.signInDoors(), Exposure: High,
			Summary:  fmt.Sprintf("%s in a row closed your second factor: it takes no answer, not even the right one, until a week after the last. Only someone with your password can get that far.", plural(n, "wrong second-factor answer")),
			Evidence: ev,
			NextStep: "Change your password as soon as you can sign in again (or ask for a recovery), and end every session you do not recognise.",
		}}
	}
	return []Finding{{
		ID: "second-factor-guessing", FailureMode: FactorGuessing, Doors: s.signInDoors(), Exposure: High,
		Summary:  fmt.Sprintf("%s in a row, over your sign-ins: someone who has your password is guessing your codes.", plural(n, "wrong second-factor answer")),
		Evidence: ev,
		NextStep: "Change your password now: it is what lets them try again and again.",
	}}
}

// checkPhishing looks for phishing: no phishing-resistant factor for a
// profile that needs one, or phishable factors still accepted beside it.
func checkPhishing(s Snapshot, now time.Time) []Finding {
	var webauthn, phishable []Factor
	hasPush := false
	for _, f := range s.Factors {
		switch f.Kind {
		case WebAuthn:
			webauthn = append(webauthn, f)
		case SMS, TOTP:
			phishable = append(phishable, f)
		case Push:
			hasPush = true
		}
	}
	if len(webauthn) == 0 && len(phishable) == 0 && !hasPush {
		return nil // no second factor at all: checkSecondFactor says so
	}
	needs := s.Profile == Professional
	for _, a := range s.Accounts {
		if a.Environment == Live && a.Permissions.Withdrawals {
			needs = true
		}
	}
	doors := s.signInDoors()
	if len(webauthn) > 0 {
		var ev []Evidence
		for _, f := range webauthn {
			ev = append(ev, factorEvidence(f, now))
		}
		if len(phishable) == 0 {
			return []Finding{{
				ID: "phishing", FailureMode: Phishing, Doors: doors, Exposure: Mitigated,
				Summary:  "Your WebAuthn credential answers only the real site, and no code-based factor is left for a look-alike page to ask for.",
				Evidence: ev,
				NextStep: "Sign in with the security key or passkey every time; never type a code a page asks for instead.",
			}}
		}
		exp := Low
		if needs {
			exp = Medium
		}
		var names []string
		for _, f := range phishable {
			ev = append(ev, factorEvidence(f, now))
			names = append(names, kindLabel(f))
		}
		return []Finding{{
			ID: "phishing-fallback", FailureMode: Phishing, Doors: doors, Exposure: exp,
			Summary:  fmt.Sprintf("A look-alike sign-in page cannot use your security key or passkey, but it can ask for your %s instead, and relay it.", list(uniq(names))),
			Evidence: ev,
			NextStep: fmt.Sprintf("Once a backup is in place (a second security key or passkey, or printed recovery codes), remove %s, so the phishing-resistant factor is the only way in.", list(uniq(names))),
		}}
	}
	var ev []Evidence
	for _, f := range s.Factors {
		if f.Kind != Recovery {
			ev = append(ev, factorEvidence(f, now))
		}
	}
	exp := Low
	switch {
	case needs && !hasPush:
		exp = High
	case needs:
		exp = Medium
	}
	why := "A look-alike sign-in page can relay your password and code to the real site in real time."
	if needs {
		if s.Profile == Professional {
			why += " The professional profile asks for a phishing-resistant factor."
		} else {
			why += " Withdrawals are on, so a relayed sign-in can move money out."
		}
	}
	step := "Register a security key or a passkey (WebAuthn), and print recovery codes as its backup: it answers only the real site, so a phishing page gets nothing it can use."
	switch {
	case s.jpLoginRequired() && len(phishable) > 0:
		step = fmt.Sprintf("Register a passkey or security key (WebAuthn) and print recovery codes as its backup, then remove your %s, so that every login, withdrawal and bank-account change is phishing-resistant.", list(uniq(kindLabels(phishable))))
	case len(phishable) > 0:
		// Left beside the passkey, the codes are what a look-alike page
		// asks for instead: the step would only trade this finding for
		// the fallback one.
		step = fmt.Sprintf("Register a security key or a passkey (WebAuthn) and print recovery codes as its backup, then remove your %s: the passkey answers only the real site, so a phishing page gets nothing it can use.", list(uniq(kindLabels(phishable))))
	}
	return []Finding{{
		ID: "phishing-no-resistant-factor", FailureMode: Phishing, Doors: doors, Exposure: exp,
		Summary:  why,
		Evidence: ev,
		NextStep: step,
	}}
}

// checkSecondFactor looks for an account guarded by its password alone.
func checkSecondFactor(s Snapshot, now time.Time) []Finding {
	for _, f := range s.Factors {
		if f.Kind != Recovery {
			return nil
		}
	}
	step := "Enrol a second factor now (a security key or passkey if you can, otherwise push approval in the phone app or an authenticator app), and print recovery codes."
	if s.Profile == Professional {
		step = hardwareKeyStep + "."
	} else if s.jpLoginRequired() {
		step = "Register a passkey or security key now (the rules for your account require a phishing-resistant login), and print recovery codes."
	}
	return []Finding{{
		ID: "no-second-factor", FailureMode: PasswordOnly, Doors: s.signInDoors(), Exposure: High,
		Summary:  "Your password alone opens the account: a password reused on a site that was breached is enough for anyone to sign in.",
		Evidence: []Evidence{{Kind: "factor", Name: "second factor", Detail: "no second factor enrolled"}},
		NextStep: step,
	}}
}

// checkRecovery looks for the lost-hardware-key problem: a single strong
// factor and no recovery codes or backup.
func checkRecovery(s Snapshot, now time.Time) []Finding {
	var strong []Factor
	for _, f := range s.Factors {
		if f.Strong() {
			strong = append(strong, f)
		}
	}
	if len(strong) == 0 {
		return nil // nothing strong to lose; the SMS or second-factor rules speak
	}
	codes := Evidence{Kind: "factor", Name: "recovery codes", Detail: plural(s.RecoveryCodesLeft, "recovery code") + " left"}
	doors := s.signInDoors()
	switch {
	case len(strong) == 1 && s.RecoveryCodesLeft == 0:
		exp := Medium
		if s.riskyPermissions() {
			exp = High
		}
		f := strong[0]
		return []Finding{{
			ID: "recovery-single-factor", FailureMode: NoRecovery, Doors: doors, Exposure: exp,
			Summary:  fmt.Sprintf("If you lose or break your %s, nothing else lets you in: you wait on the firm's manual recovery, with positions open, and that recovery desk is itself what social engineers target.", kindLabel(f)),
			Evidence: []Evidence{factorEvidence(f, now), codes},
			NextStep: "Register a second factor kept apart from the first (a backup security key in a safe place, or a passkey on another device) and print a fresh set of recovery codes.",
		}}
	case len(strong) == 1 && s.RecoveryCodesLeft <= 2:
		return []Finding{{
			ID: "recovery-codes-low", FailureMode: NoRecovery, Doors: doors, Exposure: Low,
			Summary:  fmt.Sprintf("Only %s stand between losing your %s and a lock-out.", plural(s.RecoveryCodesLeft, "recovery code"), kindLabel(strong[0])),
			Evidence: []Evidence{factorEvidence(strong[0], now), codes},
			NextStep: "Print a fresh set of recovery codes and keep them away from the device that holds your factor, or register a backup factor.",
		}}
	}
	ev := make([]Evidence, 0, len(strong)+1)
	for _, f := range strong {
		ev = append(ev, factorEvidence(f, now))
	}
	if s.RecoveryCodesLeft > 0 {
		ev = append(ev, codes)
	}
	return []Finding{{
		ID: "recovery", FailureMode: NoRecovery, Doors: doors, Exposure: Mitigated,
		Summary:  "Losing one factor does not lock you out: you have a backup factor or recovery codes.",
		Evidence: ev,
		NextStep: "Keep the backup apart from the everyday factor, and check once a year that it still works.",
	}}
}

// checkNotifications looks for sign-ins that go unnoticed: session
// notifications switched off.
func checkNotifications(s Snapshot, now time.Time) []Finding {
	ev := []Evidence{{Kind: "setting", ID: "session_notifications", Detail: "off"}}
	if s.Settings.SessionNotifications {
		ev[0].Detail = "on"
		return []Finding{{
			ID: "notifications", FailureMode: SilentTakeover, Doors: s.signInDoors(), Exposure: Mitigated,
			Summary:  "You are told of every new session, so a sign-in that was not yours shows up the same day.",
			Evidence: ev,
			NextStep: "Read those notices: revoke any session you do not recognise and change your password.",
		}}
	}
	exp := Medium
	if s.Profile == Professional {
		exp = Low
	}
	return []Finding{{
		ID: "notifications-off", FailureMode: SilentTakeover, Doors: s.signInDoors(), Exposure: exp,
		Summary:  "New sessions are not notified: a sign-in by someone else goes unseen until the positions or the cash have moved.",
		Evidence: ev,
		NextStep: "Switch on session notifications (email or push) so every new sign-in reaches you.",
	}}
}

// checkPhone looks for a lost or stolen phone: no screen lock, or a phone
// that is both the password store and the second factor.
func checkPhone(s Snapshot, now time.Time) []Finding {
	phoneFactor := false
	for _, f := range s.Factors {
		if f.Kind == Push || f.Kind == TOTP || f.Kind == SMS {
			phoneFactor = true
		}
	}
	var out []Finding
	for _, d := range s.Devices {
		if d.Interface != DoorMobile {
			continue
		}
		id := d.ID
		if id == "" {
			id = d.Name
		}
		lock := d.Lock
		if lock == "" {
			lock = LockUnknown
		}
		ev := Evidence{Kind: "device", ID: d.ID, Name: d.Name, Detail: "screen lock " + lock}
		switch {
		case lock == LockOff:
			exp := Medium
			if phoneFactor || s.Profile == Mobile {
				exp = High
			}
			out = append(out, Finding{
				ID: "phone-no-lock/" + id, FailureMode: LostPhone, Doors: []string{DoorMobile}, Exposure: exp,
				Summary:  "The phone has no screen lock: whoever picks it up has the trading app and, with it, your second factor.",
				Evidence: []Evidence{ev},
				NextStep: "Set a screen lock (a PIN of six digits or more, with fingerprint or face unlock on top) and turn on remote wipe.",
			})
		case lock == LockUnknown && s.Profile == Mobile:
			out = append(out, Finding{
				ID: "phone-lock-unknown/" + id, FailureMode: LostPhone, Doors: []string{DoorMobile}, Exposure: Medium,
				Summary:  "It is not known whether the phone has a screen lock; you trade from it, so a lost phone without one is an open account.",
				Evidence: []Evidence{ev},
				NextStep: "Check that the phone locks itself with a PIN of six digits or more, and record it in your set-up.",
			})
		case lock == LockUnknown:
			out = append(out, Finding{
				ID: "phone-lock-unknown/" + id, FailureMode: LostPhone, Doors: []string{DoorMobile}, Exposure: Low,
				Summary:  "It is not known whether the phone has a screen lock.",
				Evidence: []Evidence{ev},
				NextStep: "Check that the phone locks itself with a PIN, and turn on remote wipe.",
			})
		}
		if d.HoldsPassword && phoneFactor {
			exp := Medium
			if s.Profile == Mobile || lock != LockOn {
				exp = High
			}
			out = append(out, Finding{
				ID: "phone-password-store/" + id, FailureMode: LostPhone, Doors: union(s.signInDoors(), DoorMobile), Exposure: exp,
				Summary:  "The phone holds both your password and your second factor: one theft, or one look over your shoulder at the unlock code, gives both.",
				Evidence: []Evidence{{Kind: "device", ID: d.ID, Name: d.Name, Detail: "password saved on the phone, which is also the second factor"}},
				NextStep: "Keep the trading password out of the phone (a password manager on the computer, or one that needs its own master password), so the phone is a factor and not the whole key ring.",
			})
		}
	}
	return out
}

// kindLabels names the kinds of fs.
func kindLabels(fs []Factor) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, kindLabel(f))
	}
	return out
}

// union returns doors with extra appended if missing, in [Doors] order.
func union(doors []string, extra ...string) []string {
	var out []string
	for _, d := range Doors {
		if slices.Contains(doors, d) || slices.Contains(extra, d) {
			out = append(out, d)
		}
	}
	return out
}

// uniq returns words without repeats, in first-seen order.
func uniq(words []string) []string {
	var out []string
	for _, w := range words {
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}
