package web

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"gatehouse/internal/factor"
	"gatehouse/internal/factor/sms"
	"gatehouse/internal/fault"
	"gatehouse/internal/session"
)

// The sign-in methods page: the second factors of the visitor's account,
// with enrolment, removal and recovery codes. Every change goes through
// login.Service, which asks for a fresh AAL2 proof once the account has a
// strong factor; the portal then shows the step-up page.

// factorRow is one factor as the factors page lists it.
type factorRow struct {
	ID       string
	Kind     string // for people: "authenticator app", "security key"…
	Name     string
	Pending  bool
	Strength string
	Weak     bool
	Clone    bool   // flagged: its signature counter went backwards
	Phone    string // masked
	Added    time.Time
	LastUsed time.Time
}

// factorsData is the factors page's content.
type factorsData struct {
	Factors []factorRow
	// Codes says recovery codes were issued; CodesLeft how many are unused.
	Codes     bool
	CodesLeft int
	// Which kinds this account may add here.
	CanKey, CanTOTP, CanPush, CanSMS bool
	Error                            string
}

func (d *deps) factorsData(r *http.Request, v *visitor) (factorsData, error) {
	ctx := r.Context()
	fs, err := d.Login.OwnFactors(ctx, d.actor(r, v))
	if err != nil {
		return factorsData{}, err
	}
	var data factorsData
	for _, f := range fs {
		row := factorRow{ID: f.ID, Kind: factorName(f), Name: f.Name, Pending: f.Status != factor.Active, Strength: f.Kind.Strength(),
			Weak: !f.Kind.Strong(), Clone: f.Flag == factor.FlagPossibleClone, Added: f.CreatedAt, LastUsed: f.LastUsedAt}
		if f.Phone != "" {
			row.Phone = sms.MaskPhone(f.Phone)
		}
		data.Factors = append(data.Factors, row)
	}
	codes, err := d.Login.OwnRecoveryCodes(ctx, d.actor(r, v))
	if err != nil {
		return factorsData{}, err
	}
	data.Codes = len(codes) > 0
	for _, c := range codes {
		if c.UsedAt.IsZero() {
			data.CodesLeft++
		}
	}
	can := func(k factor.Kind) bool { return d.Login.CanEnrol(v.User, k) }
	data.CanKey, data.CanTOTP, data.CanPush, data.CanSMS = can(factor.WebAuthn), can(factor.TOTP), can(factor.Push), can(factor.SMS)
	return data, nil
}

// factorsPage renders the factors page, with an error when status says so.
func (d *deps) factorsPage(w http.ResponseWriter, r *http.Request, v *visitor, status int, errMsg string) error {
	data, err := d.factorsData(r, v)
	if err != nil {
		return err
	}
	data.Error = errMsg
	p := page{Title: "Sign-in methods", Nav: "factors", V: v, CSRF: v.CSRF, Notice: notice(r), Data: data}
	if data.CanKey {
		p.Scripts = []string{"webauthn.js"}
	}
	return render(w, status, "factors", p)
}

func handleFactors(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		return d.factorsPage(w, r, v, http.StatusOK, "")
	}
}

// The factors page's messages.
const (
	msgKindNotAllowed = "Your account cannot add this kind of sign-in method: your trader profile's policy does not allow it, or this server does not offer it."
	msgBadName        = "A name is 1 to 64 characters, without control characters."
	msgBadPhone       = "Enter the mobile number in international form: + then the country code and the number, for example +44 7700 900123."
	msgLastStrong     = "This is your last strong sign-in method. Add another one (a security key or an authenticator app) before removing it, or you could be locked out."
)

// factorError answers a failed change of the visitor's factors: the
// step-up page when a fresher proof is due, else the factors page with
// what went wrong.
func (d *deps) factorError(w http.ResponseWriter, r *http.Request, v *visitor, reason string, err error) error {
	var se *session.StepUpError
	if errors.As(err, &se) {
		return d.stepUp(w, r, v, http.StatusForbidden, se.Need, reason, "/factors", "")
	}
	status, msg, ok := d.failure(w, err)
	if !ok {
		return err
	}
	if fault.Of(err) == fault.FactorUnavailable {
		msg = msgKindNotAllowed // enrolling, not signing in
	}
	return d.factorsPage(w, r, v, status, msg)
}

// enrolData is the content of the page that confirms a new factor.
type enrolData struct {
	Factor string // the pending factor's id
	Kind   string // totp, sms or push
	Name   string
	// QR is the otpauth URI (TOTP) or the enrolment code (push) as a PNG.
	QR template.URL
	// Secret is the TOTP seed in groups of four, to type in by hand.
	Secret string
	// Code is the phone authenticator's one-time enrolment code.
	Code string
	// RecoveryCodes come with a phone enrolled as the first strong
	// factor; this page is the one place they are shown.
	RecoveryCodes []string
	// Server is the portal's public origin, for the authenticator command.
	Server string
	SentTo string // SMS: the masked number the code went to
	Error  string
	// CSRF is the session's form token, for the confirm form's template.
	CSRF string
}

// formName reads the optional name a visitor gives a new factor.
func formName(r *http.Request) string { return strings.TrimSpace(r.PostForm.Get("name")) }

// handleEnrol starts enrolling a factor of kind and shows what confirms it.
func handleEnrol(d *deps, kind factor.Kind) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		ctx := r.Context()
		var phone string
		if kind == factor.SMS {
			phone = strings.Map(func(r rune) rune {
				if strings.ContainsRune(" -().\u00a0", r) {
					return -1
				}
				return r
			}, r.PostForm.Get("phone"))
			if phone == "" || len(phone) > 32 {
				return d.factorsPage(w, r, v, http.StatusUnprocessableEntity, msgBadPhone)
			}
		}
		// "Start again" replaces a pending factor of the visitor that its
		// owner could not confirm; a pending factor needs no step-up.
		if old := r.PostForm.Get("replace"); old != "" && len(old) <= 64 {
			if f, err := d.Login.OwnFactor(ctx, d.actor(r, v), old); err == nil && f.Status == factor.Pending {
				if _, err := d.Login.RemoveFactor(ctx, v.Session, f.ID); err != nil {
					return err
				}
			}
		}
		e, err := d.Login.Enrol(ctx, v.Session, kind, formName(r), phone)
		if err != nil {
			return d.factorError(w, r, v, "Adding a sign-in method", err)
		}
		data := enrolData{Kind: string(kind), Server: d.Origin, SentTo: e.SentTo, CSRF: v.CSRF}
		if e.Factor != nil {
			data.Factor, data.Name = e.Factor.ID, e.Factor.Name
		}
		switch kind {
		case factor.TOTP:
			if data.QR, err = qrDataURL(e.URI); err != nil {
				return err
			}
			data.Secret = groups(e.Secret, 4)
		case factor.Push:
			data.Code, data.RecoveryCodes = e.Code, e.RecoveryCodes
			if data.QR, err = qrDataURL(e.Code); err != nil {
				return err
			}
		}
		return render(w, http.StatusOK, "factor-enrol", page{Title: enrolTitles[kind], Nav: "factors", V: v, CSRF: v.CSRF, Data: data})
	}
}

// enrolTitles head the enrolment pages.
var enrolTitles = map[factor.Kind]string{
	factor.TOTP: "Add an authenticator app",
	factor.SMS:  "Add text message codes",
	factor.Push: "Add the phone authenticator",
}

// groups splits s into groups of n characters, for reading aloud and typing.
func groups(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s); i += n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+n, len(s))])
	}
	return b.String()
}

// recoveryData is the content of the page that shows recovery codes, once.
type recoveryData struct {
	Codes []string
	// Download is the codes as a text file in a data: URL.
	Download template.URL
	// Added names the factor just confirmed, when the codes came with it.
	Added string
	// OtherSessions counts the user's other sessions, which a visitor
	// who just added a factor may want to end.
	OtherSessions int
}

// recoveryFile is the text of the recovery codes download.
func recoveryFile(codes []string, username string, now time.Time) string {
	var b strings.Builder
	b.WriteString("gatehouse recovery codes for " + username + "\n")
	b.WriteString("Made " + now.UTC().Format("2 Jan 2006 15:04 UTC") + ". Each code works once, in place of your second factor.\n")
	b.WriteString("Keep them somewhere safe and apart from your password. Making new codes voids these.\n\n")
	for _, c := range codes {
		b.WriteString(c + "\n")
	}
	return b.String()
}

// renderRecovery shows recovery codes, which the server does not keep:
// they are on this page and in its download link, and nowhere else.
func (d *deps) renderRecovery(w http.ResponseWriter, r *http.Request, v *visitor, data recoveryData) error {
	if err := d.loadFactors(r, v); err != nil {
		return err
	}
	// PathEscape leaves nothing that could end the attribute or the URL's
	// scheme, so the data: URL may be a template.URL.
	data.Download = template.URL("data:text/plain;charset=utf-8," + url.PathEscape(recoveryFile(data.Codes, v.User.Username, d.now())))
	return render(w, http.StatusOK, "recovery", page{Title: "Your recovery codes", Nav: "factors", V: v, CSRF: v.CSRF, Scripts: []string{"copy.js"}, Data: data})
}

func handleRegenerateRecovery(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		codes, err := d.Login.RegenerateRecovery(r.Context(), v.Session)
		if err != nil {
			return d.factorError(w, r, v, "Making new recovery codes", err)
		}
		return d.renderRecovery(w, r, v, recoveryData{Codes: codes})
	}
}

// ownFactor returns the visitor's factor id; another user's is not found.
func (d *deps) ownFactor(r *http.Request, v *visitor, id string) (*factor.Factor, error) {
	return d.Login.OwnFactor(r.Context(), d.actor(r, v), id)
}

// handleConfirm confirms a pending TOTP or SMS factor with its first code.
func handleConfirm(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		f, err := d.ownFactor(r, v, r.PathValue("id"))
		if err != nil {
			return err
		}
		if f.Status == factor.Active {
			http.Redirect(w, r, "/factors", http.StatusSeeOther)
			return nil
		}
		again := func(status int, msg string) error {
			data := enrolData{Factor: f.ID, Kind: string(f.Kind), Name: f.Name, Error: msg, Server: d.Origin, CSRF: v.CSRF}
			if f.Phone != "" {
				data.SentTo = sms.MaskPhone(f.Phone)
			}
			return render(w, status, "factor-enrol", page{Title: enrolTitles[f.Kind], Nav: "factors", V: v, CSRF: v.CSRF, Data: data})
		}
		code := formCode(r, true)
		if code == "" {
			return again(http.StatusUnprocessableEntity, msgCodeMissing)
		}
		c, err := d.Login.Confirm(r.Context(), v.Session, f.ID, code, nil)
		switch k := fault.Of(err); {
		case err == nil:
		case k == fault.FactorState:
			http.Redirect(w, r, "/factors", http.StatusSeeOther)
			return nil
		case k == fault.InvalidCode, k == fault.Throttled, k == fault.Unavailable:
			status, msg, _ := d.failure(w, err)
			return again(status, msg)
		default:
			return d.factorError(w, r, v, "Adding a sign-in method", err)
		}
		if len(c.RecoveryCodes) > 0 {
			return d.renderRecovery(w, r, v, recoveryData{Codes: c.RecoveryCodes, Added: factorName(c.Factor), OtherSessions: c.OtherSessions})
		}
		http.Redirect(w, r, "/factors?done=factor-added", http.StatusSeeOther)
		return nil
	}
}

func handleRemoveFactor(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		if _, err := d.ownFactor(r, v, r.PathValue("id")); err != nil {
			return err
		}
		if _, err := d.Login.RemoveFactor(r.Context(), v.Session, r.PathValue("id")); err != nil {
			return d.factorError(w, r, v, "Removing a sign-in method", err)
		}
		http.Redirect(w, r, "/factors?done=factor-removed", http.StatusSeeOther)
		return nil
	}
}
