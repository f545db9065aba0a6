package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"gatehouse/internal/clienttext"
	"gatehouse/internal/factor"
	"gatehouse/internal/fault"
	"gatehouse/internal/flow"
	"gatehouse/internal/login"
)

// A sign-in in progress: the password was right, and a second factor or
// the approval of this new device is due. The browser holds the flow
// cookie the API would have set (edge.Cookies.Flow); the flow's id is
// in the page's path and proves nothing on its own. The portal's forms
// answer the flow through login.Service; its scripts (WebAuthn, and the
// polling that notices a phone's answer) call the API's /v1/login/{flow}
// routes with the same cookie.

// msgFactorFailed is the one wording for every failed second factor: a
// wrong, used, expired or malformed code, a refused security key. Which
// it was stays in the audit trail.
const msgFactorFailed = "That did not work: the code or key was wrong, used already or expired. Try again."

// The other messages of the second-factor pages.
const (
	msgFactorUnavailable = "That way of signing in is not available to your account here. Choose another."
	msgTooManyPushes     = "Several requests are already waiting on your phone. Answer them, or wait a minute, then try again."
	msgCodeMissing       = "Enter the code."
)

// flowVisitor is a browser in the middle of a sign-in.
type flowVisitor struct {
	ID      string // the flow, from the path
	Binding string // what the flow cookie proves, for login.Service
	// CSRF is the token of the flow pages' forms: an HMAC keyed by the
	// flow cookie, so a form works only in the browser that holds it.
	CSRF string
}

// errNoFlow says the browser holds no flow cookie to go with the path.
var errNoFlow = errors.New("web: no sign-in in progress")

func (d *deps) flowVisitor(r *http.Request) (*flowVisitor, error) {
	id := r.PathValue("flow")
	c, err := r.Cookie(d.Cookies.Flow())
	if err != nil || c.Value == "" || len(c.Value) > 128 || id == "" || len(id) > 64 {
		return nil, errNoFlow
	}
	return &flowVisitor{ID: id, Binding: login.BindingForSecret(c.Value), CSRF: formToken(c.Value)}, nil
}

// flowFunc is a handler for a browser in the middle of a sign-in.
type flowFunc func(w http.ResponseWriter, r *http.Request, fv *flowVisitor) error

// inFlow makes a handler that finds the flow cookie first and, for a
// form, checks its token; a browser without the cookie starts again.
func inFlow(d *deps, h flowFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		fv, err := d.flowVisitor(r)
		if err != nil {
			http.Redirect(w, r, "/login?failed=expired", http.StatusSeeOther)
			return nil
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := parseForm(w, r); err != nil {
				return err
			}
			if !sameToken(fv.CSRF, r.PostForm.Get(csrfField)) {
				return errForgedForm()
			}
		}
		return h(w, r, fv)
	}
}

// afterStep sends the browser where a sign-in step led: home with its new
// session, to the device waiting page, to the second-factor page, or,
// for a flow that is over (state "denied" or "expired"), back to the
// start. number is the number to show beside a device approval push,
// when the step did not tell it.
func (d *deps) afterStep(w http.ResponseWriter, r *http.Request, res *login.Result, state string, number int) error {
	if res == nil {
		switch state {
		case "authenticated":
			// Finished by another request (the page's script, through the
			// API, which set the session cookie).
			http.Redirect(w, r, "/", http.StatusSeeOther)
		default:
			d.restart(w, r, state)
		}
		return nil
	}
	// A new device is remembered even while it waits for approval, so
	// that once approved this browser is known.
	if res.DeviceCookie != "" {
		d.Cookies.Set(w, d.Cookies.Device(), res.DeviceCookie, deviceCookieAge)
	}
	switch res.Status {
	case "authenticated":
		d.signIn(w, r, res)
	case "device_approval_required":
		if res.Number != 0 {
			number = res.Number
		}
		http.Redirect(w, r, flowPath(res.Flow.ID, "/device", "number", numberParam(number)), http.StatusSeeOther)
	default:
		http.Redirect(w, r, flowPath(res.Flow.ID, ""), http.StatusSeeOther)
	}
	return nil
}

// restart sends the browser back to the sign-in form, saying why, and
// drops the flow cookie of a flow that is over.
func (d *deps) restart(w http.ResponseWriter, r *http.Request, why string) {
	if why != "denied" {
		why = "expired"
	}
	if _, err := r.Cookie(d.Cookies.Flow()); err == nil {
		d.Cookies.Clear(w, d.Cookies.Flow())
	}
	http.Redirect(w, r, "/login?failed="+why, http.StatusSeeOther)
}

// flowPath is the path of a flow page with a query of key, value pairs;
// pairs with an empty value are left out.
func flowPath(flowID, sub string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	p := "/login/" + url.PathEscape(flowID) + sub
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return p
}

func numberParam(n int) string {
	if n <= 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// queryNumber reads a push number from the query: shown to the visitor
// only, so a made-up one misleads nobody but the one who made it up.
func queryNumber(r *http.Request, key string) int {
	n, err := strconv.Atoi(r.FormValue(key))
	if err != nil || n < 1 || n > 999 {
		return 0
	}
	return n
}

// methodOrder is the order the portal offers second factors in: the
// phishing-resistant key first, the weak SMS and the one-time recovery
// codes last.
var methodOrder = []factor.Kind{factor.WebAuthn, factor.Push, factor.TOTP, factor.SMS, factor.Recovery}

// methodLabels name the ways of answering a flow, for links to them.
var methodLabels = map[factor.Kind]string{
	factor.WebAuthn: "Security key or passkey",
	factor.Push:     "Approve on my phone",
	factor.TOTP:     "Authenticator app code",
	factor.SMS:      "Code by text message",
	factor.Recovery: "Recovery code",
}

// offeredKinds lists the kinds of second factor the flow's user can
// answer it with here (login.Service.Offers), in methodOrder.
func (d *deps) offeredKinds(ctx context.Context, fl *flow.Flow) ([]factor.Kind, error) {
	offers, err := d.Login.Offers(ctx, fl.UserID, fl.Door)
	if err != nil {
		return nil, err
	}
	have := map[factor.Kind]bool{}
	for _, o := range offers {
		have[o.Kind] = true
	}
	var out []factor.Kind
	for _, k := range methodOrder {
		if have[k] {
			out = append(out, k)
		}
	}
	return out, nil
}

// flowData is the second-factor page's content.
type flowData struct {
	Flow string
	// With is the way of answering shown: totp, webauthn, push, sms or
	// recovery.
	With string
	// Others are the other ways the account can answer.
	Others []methodLink
	// Number is the number to type into the phone, once a push was sent.
	Number int
	// SentTo is the masked phone number an SMS code went to.
	SentTo string
	// Checked says "check again" found no answer yet.
	Checked bool
	Error   string
}

// methodLink is a link to another way of answering a flow.
type methodLink struct {
	Kind, Label string
}

// flowView is what a flow page shows besides what the flow says.
type flowView struct {
	status int
	with   string
	number int
	sentTo string
	errMsg string
}

// poll asks where the flow stands. When ok is false the answer is done:
// an unknown or expired flow has sent the browser back to the login
// page, or err says what failed.
func (d *deps) poll(w http.ResponseWriter, r *http.Request, fv *flowVisitor) (res *login.Result, state string, ok bool, err error) {
	res, state, err = d.Login.Poll(r.Context(), fv.ID, fv.Binding)
	if fault.Of(err) == fault.NoFlow {
		d.restart(w, r, "expired")
		return nil, "", false, nil
	}
	return res, state, err == nil, err
}

// showFlow renders the second-factor page of the flow, or, when the flow
// has moved on (a phone answered, the flow expired), sends the browser
// where it leads.
func (d *deps) showFlow(w http.ResponseWriter, r *http.Request, fv *flowVisitor, view flowView) error {
	res, state, ok, err := d.poll(w, r, fv)
	if !ok {
		return err
	}
	if res == nil || res.Status != "factor_required" {
		return d.afterStep(w, r, res, state, view.number)
	}
	kinds, err := d.offeredKinds(r.Context(), res.Flow)
	if err != nil {
		return err
	}
	data := flowData{Flow: fv.ID, Number: view.number, SentTo: view.sentTo, Error: view.errMsg,
		Checked: r.URL.Query().Get("checked") == "1"}
	for _, k := range kinds {
		if string(k) == view.with {
			data.With = view.with
		}
	}
	if data.With == "" && len(kinds) > 0 {
		data.With = string(kinds[0])
	}
	for _, k := range kinds {
		if string(k) != data.With {
			data.Others = append(data.Others, methodLink{Kind: string(k), Label: methodLabels[k]})
		}
	}
	if data.With != string(factor.Push) {
		data.Number = 0
	}
	if data.With != string(factor.SMS) {
		data.SentTo = ""
	}
	p := page{Title: "Confirm it is you", CSRF: fv.CSRF, Data: data}
	switch data.With {
	case string(factor.WebAuthn):
		p.Scripts = []string{"webauthn.js"}
	case string(factor.Push):
		if data.Number != 0 {
			p.Scripts = []string{"poll.js"}
		}
	}
	status := view.status
	if status == 0 {
		status = http.StatusOK
	}
	return render(w, status, "login-factor", p)
}

func handleFlowPage(d *deps) flowFunc {
	return func(w http.ResponseWriter, r *http.Request, fv *flowVisitor) error {
		q := r.URL.Query()
		sentTo := q.Get("sent")
		if !clienttext.Printable(sentTo, 32) {
			sentTo = ""
		}
		return d.showFlow(w, r, fv, flowView{with: q.Get("with"), number: queryNumber(r, "number"), sentTo: sentTo})
	}
}

// answerError shows what went wrong with an answer on the page of the
// method it used; a flow that is over sends the browser back to start.
func (d *deps) answerError(w http.ResponseWriter, r *http.Request, fv *flowVisitor, with factor.Kind, err error, view flowView) error {
	view.with = string(with)
	if fault.Of(err) == fault.NoFlow {
		// Over: denied after too many wrong answers, or expired.
		_, state, perr := d.Login.Poll(r.Context(), fv.ID, fv.Binding)
		if perr != nil {
			state = "expired"
		}
		d.restart(w, r, state)
		return nil
	}
	var ok bool
	if view.status, view.errMsg, ok = d.failure(w, err); !ok {
		return err
	}
	return d.showFlow(w, r, fv, view)
}

// formCode reads a typed code: spaces and dashes that people and apps
// put between groups of digits are dropped, for one-time codes only.
func formCode(r *http.Request, digits bool) string {
	c := strings.TrimSpace(r.PostForm.Get("code"))
	if digits {
		c = strings.Map(func(r rune) rune {
			if r == ' ' || r == '-' || r == '\u00a0' {
				return -1
			}
			return r
		}, c)
	}
	if len(c) > 64 {
		return c[:64] // too long to be right; refused as any wrong code is
	}
	return c
}

// handleFlowCode answers the flow with a typed code: TOTP, SMS or recovery.
func handleFlowCode(d *deps, kind factor.Kind, answer func(ctx context.Context, flowID, binding, code string) (*login.Result, error)) flowFunc {
	return func(w http.ResponseWriter, r *http.Request, fv *flowVisitor) error {
		code := formCode(r, kind != factor.Recovery)
		view := flowView{sentTo: r.PostForm.Get("sent")}
		if !clienttext.Printable(view.sentTo, 32) {
			view.sentTo = ""
		}
		if code == "" {
			view.with, view.status, view.errMsg = string(kind), http.StatusUnprocessableEntity, msgCodeMissing
			return d.showFlow(w, r, fv, view)
		}
		res, err := answer(r.Context(), fv.ID, fv.Binding, code)
		if err != nil {
			return d.answerError(w, r, fv, kind, err, view)
		}
		return d.afterStep(w, r, res, "", 0)
	}
}

func handleFlowPush(d *deps) flowFunc {
	return func(w http.ResponseWriter, r *http.Request, fv *flowVisitor) error {
		n, err := d.Login.StartPush(r.Context(), fv.ID, fv.Binding)
		if err != nil {
			return d.answerError(w, r, fv, factor.Push, err, flowView{})
		}
		http.Redirect(w, r, flowPath(fv.ID, "", "with", string(factor.Push), "number", numberParam(n)), http.StatusSeeOther)
		return nil
	}
}

func handleFlowSendSMS(d *deps) flowFunc {
	return func(w http.ResponseWriter, r *http.Request, fv *flowVisitor) error {
		to, err := d.Login.SendSMS(r.Context(), fv.ID, fv.Binding)
		if err != nil {
			return d.answerError(w, r, fv, factor.SMS, err, flowView{})
		}
		http.Redirect(w, r, flowPath(fv.ID, "", "with", string(factor.SMS), "sent", to), http.StatusSeeOther)
		return nil
	}
}

// handleFlowCheck is the no-script way to notice that the phone answered
// or the device was approved: it asks the flow, and comes back to the
// waiting page when nothing has happened yet.
func handleFlowCheck(d *deps) flowFunc {
	return func(w http.ResponseWriter, r *http.Request, fv *flowVisitor) error {
		number := queryNumber(r, "number")
		res, state, ok, err := d.poll(w, r, fv)
		if !ok {
			return err
		}
		switch {
		case res != nil && res.Status == "factor_required":
			http.Redirect(w, r, flowPath(fv.ID, "", "with", string(factor.Push), "number", numberParam(number), "checked", "1"), http.StatusSeeOther)
		case res != nil && res.Status == "device_approval_required" && r.PostForm.Get("wait") == "device":
			http.Redirect(w, r, flowPath(fv.ID, "/device", "number", numberParam(number), "checked", "1"), http.StatusSeeOther)
		default:
			return d.afterStep(w, r, res, state, number)
		}
		return nil
	}
}

// deviceData is the device waiting page's content.
type deviceData struct {
	Flow string
	// Number is the number to type into the phone when a push went to it;
	// 0 when the approval is by e-mail link or from another device.
	Number  int
	Checked bool
}

func handleFlowDevice(d *deps) flowFunc {
	return func(w http.ResponseWriter, r *http.Request, fv *flowVisitor) error {
		number := queryNumber(r, "number")
		res, state, ok, err := d.poll(w, r, fv)
		if !ok {
			return err
		}
		if res == nil || res.Status != "device_approval_required" {
			return d.afterStep(w, r, res, state, number)
		}
		return render(w, http.StatusOK, "login-device", page{Title: "Approve this device", CSRF: fv.CSRF, Scripts: []string{"poll.js"},
			Data: deviceData{Flow: fv.ID, Number: number, Checked: r.URL.Query().Get("checked") == "1"}})
	}
}
