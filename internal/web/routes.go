package web

import (
	"net/http"

	"gatehouse/internal/factor"
	"gatehouse/internal/pathid"
)

// routes registers every page and form of the portal. Pages for a
// signed-in visitor go through signedIn, which also checks the form token
// of every state-changing request; the pages of a sign-in in progress go
// through inFlow, which does the same with the flow cookie's token.
func routes(mux *http.ServeMux, d *deps) {
	public := func(pattern string, h handlerFunc) { mux.Handle(pattern, adapt(d, validIDs(pattern, h))) }
	member := func(pattern string, h signedInFunc) { mux.Handle(pattern, adapt(d, validIDs(pattern, signedIn(d, h)))) }
	flow := func(pattern string, h flowFunc) { mux.Handle(pattern, adapt(d, validIDs(pattern, inFlow(d, h)))) }
	frozen := func(pattern string, h signedInFunc) { mux.Handle(pattern, adapt(d, validIDs(pattern, frozenOK(d, h)))) }
	// enrol is member for the routes a completed recovery's session may
	// reach too: enrolling a strong factor and new recovery codes.
	enrol := func(pattern string, h signedInFunc) {
		mux.Handle(pattern, adapt(d, validIDs(pattern, signedInWith(d, h, reach{recovery: true}))))
	}

	public("GET /static/", handleStatic)

	// Signing in: the password, then the second factor the account has,
	// then, from a new device, its approval. The flow's scripts use the
	// API (/v1/login/{flow}/…) with the same flow cookie.
	public("GET /login", handleLoginForm(d))
	// The lost-factor recovery (docs/recovery.md): no session, its own
	// pages; the session it ends in reaches only the factors pages.
	public("GET /recovery", handleLostForm(d))
	public("POST /recovery", handleLostStart(d))
	public("POST /recovery/forgot", handleForgot(d))
	public("GET /recovery/password", handleResetForm(d))
	public("POST /recovery/password", handleReset(d))
	public("GET /recovery/cancel", handleCancelLinkForm(d))
	public("POST /recovery/cancel", handleCancelLink(d))
	public("GET /recovery/{id}", handleLostWait(d))
	public("POST /recovery/{id}/cancel", handleLostCancel(d))
	public("POST /recovery/{id}/complete", handleLostComplete(d))
	public("POST /login", handleLogin(d))
	flow("GET /login/{flow}", handleFlowPage(d))
	flow("POST /login/{flow}/totp", handleFlowCode(d, factor.TOTP, d.Login.AnswerTOTP))
	flow("POST /login/{flow}/recovery", handleFlowCode(d, factor.Recovery, d.Login.AnswerRecovery))
	flow("POST /login/{flow}/sms/send", handleFlowSendSMS(d))
	flow("POST /login/{flow}/sms/verify", handleFlowCode(d, factor.SMS, d.Login.VerifySMS))
	flow("POST /login/{flow}/push", handleFlowPush(d))
	flow("POST /login/{flow}/check", handleFlowCheck(d))
	flow("GET /login/{flow}/device", handleFlowDevice(d))
	frozen("POST /logout", handleLogout(d))

	// The security overview: who, with what assurance, where signed in,
	// and the posture report when there is one.
	member("GET /{$}", handleOverview(d))

	// Sessions across the web, desktop and mobile doors.
	member("GET /sessions", handleSessions(d))
	member("POST /sessions/{id}/end", handleEndSession(d))
	member("POST /sessions/end-others", handleEndOtherSessions(d))

	// Devices, and the page an e-mailed approval link opens (a GET shows
	// a button; only its POST approves).
	member("GET /devices", handleDevices(d))
	member("POST /devices/{id}/approve", handleApproveDevice(d))
	member("POST /devices/{id}/revoke", handleRevokeDevice(d))
	public("GET /devices/approve", handleApproveLinkForm(d))
	public("POST /devices/approve", handleApproveLink(d))

	// Second factors and recovery codes. Security keys enrol through the
	// API (POST /v1/factors/webauthn, …/confirm) from the page's script.
	enrol("GET /factors", handleFactors(d))
	enrol("POST /factors/totp", handleEnrol(d, factor.TOTP))
	member("POST /factors/sms", handleEnrol(d, factor.SMS))
	enrol("POST /factors/push", handleEnrol(d, factor.Push))
	enrol("POST /factors/recovery", handleRegenerateRecovery(d))
	enrol("POST /factors/{id}/confirm", handleConfirm(d))
	member("POST /factors/{id}/remove", handleRemoveFactor(d))

	// Step-up: a fresh proof for the actions that ask for one.
	frozen("GET /stepup", handleStepUpForm(d))
	frozen("POST /stepup", handleStepUp(d))

	// API keys of the accounts the visitor is a member of.
	if d.Keys != nil {
		member("GET /keys", handleKeys(d))
		member("GET /keys/{account}/new", handleKeyForm(d))
		member("POST /keys/{account}", handleCreateKey(d))
		member("POST /keys/{account}/{id}/rotate", handleRotateKey(d))
		member("POST /keys/{account}/{id}/revoke", handleRevokeKey(d))
		member("POST /keys/{account}/{id}/networks/approve", handleApproveNetwork(d))
	}

	// The audit trail, newest first, paged with ?before=.
	member("GET /activity", handleActivity(d))
	if d.Approvals != nil {
		member("GET /approvals/{id}", handleApprovalPage(d))
		member("POST /approvals/{id}/deny", handleDenyApproval(d))
	}

	// Notifications: the channels per event, the anti-phishing phrase,
	// and what was sent.
	member("GET /notifications", handleNotices(d))
	member("POST /notifications/preferences", handleSaveNoticePreferences(d))
	member("POST /notifications/phrase", handleSaveNoticePhrase(d))

	// The password.
	member("GET /password", handlePasswordForm(d))
	member("POST /password", handleChangePassword(d))

	// "This wasn't me": the menu's Freeze button and a notice's link (a
	// GET shows one button; only its POST freezes), and the unfreeze
	// page, which a frozen user's session reaches.
	if d.Freeze != nil {
		public("GET /freeze", handleFreezeForm(d))
		public("POST /freeze", handleFreeze(d))
		frozen("GET /unfreeze", handleUnfreezeForm(d))
		frozen("POST /unfreeze", handleUnfreeze(d))
	}

	public("/", func(w http.ResponseWriter, r *http.Request) error { return errNotFound() })
}

// validIDs checks the ids in the path by their form before h, and so
// before the visitor's session or flow is looked up: anything that is not
// an id is not found.
func validIDs(pattern string, h handlerFunc) handlerFunc {
	valid := pathid.Check(pattern)
	return func(w http.ResponseWriter, r *http.Request) error {
		if !valid(r) {
			return errNotFound()
		}
		return h(w, r)
	}
}
