package session

// Actor is who asks a flow for a change: a signed-in session and the
// address its request came from, or an operator at the command line
// (Session nil). Flows take an Actor and decide from it what may be done;
// the transports only say who is asking.
type Actor struct {
	Session *Session
	IP      string // the request's client address; may be empty
}

// Operator reports whether the actor is an operator at the command line.
func (a Actor) Operator() bool { return a.Session == nil }

// ID is the actor's audit identity: the session's user id, or "admin".
func (a Actor) ID() string {
	if a.Session == nil {
		return "admin"
	}
	return a.Session.UserID
}

// Door is the interface the actor came through; empty for an operator.
func (a Actor) Door() string {
	if a.Session == nil {
		return ""
	}
	return string(a.Session.Door)
}

// SessionID is the actor's session id; empty for an operator.
func (a Actor) SessionID() string {
	if a.Session == nil {
		return ""
	}
	return a.Session.ID
}
