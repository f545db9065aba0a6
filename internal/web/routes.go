package web

import "net/http"

// routes registers every page and form of the portal. Pages for a
// signed-in visitor go through signedIn, which also checks the form token
// of every state-changing request.
func routes(mux *http.ServeMux, d *deps) {
	public := func(pattern string, h handlerFunc) { mux.Handle(pattern, adapt(d, h)) }
	member := func(pattern string, h signedInFunc) { mux.Handle(pattern, adapt(d, signedIn(d, h))) }

	public("GET /static/", handleStatic)

	// Signing in and out.
	public("GET /login", handleLoginForm(d))
	public("POST /login", handleLogin(d))
	member("POST /logout", handleLogout(d))

	// The security overview: who, with what assurance, where signed in.
	member("GET /{$}", handleOverview(d))

	// Sessions across the web, desktop and mobile doors.
	member("GET /sessions", handleSessions(d))
	member("POST /sessions/{id}/end", handleEndSession(d))
	member("POST /sessions/end-others", handleEndOtherSessions(d))

	// The audit trail, newest first, paged with ?before=.
	member("GET /activity", handleActivity(d))

	// The password.
	member("GET /password", handlePasswordForm(d))
	member("POST /password", handleChangePassword(d))

	public("/", func(w http.ResponseWriter, r *http.Request) error { return errNotFound() })
}
