package posturegate

import (
	"context"
	"errors"
	"strings"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/authz"
	"gatehouse/internal/fault"
	"gatehouse/internal/posture"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/user"
)

// Service serves posture reports and permission changes to an actor and
// decides who may have them: a user their own report; the platform team
// (with an AAL2 session) the summary, any user's report, and changes for
// any account, past the gate with a reason; an owner, with a fresh AAL2
// proof, the permissions of their own accounts. The transports only say
// who asks. Its fields are set once before use.
type Service struct {
	Store    store.Store
	Platform Platform
	// Admins are the usernames of the platform team (config admins).
	Admins []string
	// StepUpWindow is how recent the proof behind a permission change
	// must be; zero means [session.DefaultStepUpWindow].
	StepUpWindow time.Duration
	Now          func() time.Time // nil means time.Now
}

// Errors of the [Service], for the client as they read.
var (
	// ErrNoAccount: the account does not exist or the caller cannot see
	// it; the two are not told apart.
	ErrNoAccount = fault.New(fault.NotFound, "posturegate: no such account")
	// ErrNoUser: the user an administrator named does not exist.
	ErrNoUser = fault.New(fault.NotFound, "posturegate: no such user")
	// errNotAdmin refuses a route of the platform team to anyone else.
	errNotAdmin = &authz.ForbiddenError{Reason: "This needs an administrator"}
	// errOwnerRole refuses a member who is not an owner.
	errOwnerRole = &authz.ForbiddenError{Reason: "Changing the permissions of an account needs the owner role"}
)

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) window() time.Duration {
	if s.StepUpWindow > 0 {
		return s.StepUpWindow
	}
	return session.DefaultStepUpWindow
}

// isAdmin reports whether the actor's user is one of the platform team;
// an operator at the command line is. The session's assurance is not
// considered here.
func (s *Service) isAdmin(ctx context.Context, a session.Actor) (bool, error) {
	if a.Operator() {
		return true, nil
	}
	if len(s.Admins) == 0 {
		return false, nil
	}
	u, err := s.Store.UserByID(ctx, a.Session.UserID)
	if err != nil {
		return false, err
	}
	for _, name := range s.Admins {
		if user.NormalizeUsername(name) == user.NormalizeUsername(u.Username) {
			return true, nil
		}
	}
	return false, nil
}

// admin returns nil for one of the platform team with an AAL2 session (or
// an operator), a step-up for their AAL1 session, and a refusal for anyone
// else.
func (s *Service) admin(ctx context.Context, a session.Actor) error {
	ok, err := s.isAdmin(ctx, a)
	switch {
	case err != nil:
		return err
	case !ok:
		return errNotAdmin
	case a.Operator():
		return nil
	}
	return a.Session.RequireLevel(session.AAL2, s.window())
}

// Own returns the posture report of the actor's own user.
func (s *Service) Own(ctx context.Context, a session.Actor) (posture.Report, error) {
	if a.Operator() {
		return posture.Report{}, errors.New("posturegate: an operator has no posture of its own")
	}
	return ForUser(ctx, s.Store, a.Session.UserID, s.Platform, s.now())
}

// Summary returns the platform's overview, for the platform team.
func (s *Service) Summary(ctx context.Context, a session.Actor) (Overview, error) {
	if err := s.admin(ctx, a); err != nil {
		return Overview{}, err
	}
	return Summary(ctx, s.Store, s.Platform, s.now())
}

// ReportOf returns the posture report of the user named ref (a username,
// or else an id), for the platform team.
func (s *Service) ReportOf(ctx context.Context, a session.Actor, ref string) (posture.Report, error) {
	if err := s.admin(ctx, a); err != nil {
		return posture.Report{}, err
	}
	u, err := s.lookupUser(ctx, ref)
	if err != nil {
		return posture.Report{}, err
	}
	return ForUser(ctx, s.Store, u.ID, s.Platform, s.now())
}

// lookupUser finds a user by username, or else by id; [ErrNoUser] when
// neither names one.
func (s *Service) lookupUser(ctx context.Context, ref string) (*user.User, error) {
	u, err := s.Store.UserByUsername(ctx, user.NormalizeUsername(ref))
	if errors.Is(err, store.ErrNotFound) {
		u, err = s.Store.UserByID(ctx, ref)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoUser
	}
	return u, err
}

// PermissionRequest asks to change some of an account's trading
// permissions; a nil permission stays as it is.
type PermissionRequest struct {
	Account                               string
	Options, Margin, Futures, Withdrawals *bool
	// User is the username of the owner an administrator acts for, whose
	// posture gates the change; empty, it is the actor.
	User string
	// Override, when not empty, is an administrator's reason to pass the
	// gate; it is audited.
	Override string
}

// SetPermissions changes the permissions of an account as req asks, on
// behalf of a, through [ChangePermissions] (the gate, the audit events,
// one transaction). Who may:
//
//   - an owner of the account, for themselves, with AAL2 proven within
//     the step-up window;
//   - one of the platform team with an AAL2 session, for any account,
//     for the owner req.User names, and past the gate with req.Override,
//     with the same fresh proof.
//
// An account the actor cannot see is [ErrNoAccount]; a member who is not
// an owner, and anyone but an administrator naming a user or an
// override, is refused with the reason.
func (s *Service) SetPermissions(ctx context.Context, a session.Actor, req PermissionRequest) (Result, error) {
	if a.Operator() {
		return Result{}, errors.New("posturegate: an operator changes permissions with `gatehouse permissions`")
	}
	if !account.ValidID(req.Account) {
		return Result{}, ErrNoAccount
	}
	admin, err := s.isAdmin(ctx, a)
	if err != nil {
		return Result{}, err
	}
	admin = admin && a.Session.Assurance >= session.AAL2
	m, err := s.Store.Membership(ctx, a.Session.UserID, req.Account)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Result{}, err
	}
	owner := m != nil && m.Role == account.Owner
	switch {
	case admin:
	case m == nil:
		return Result{}, ErrNoAccount
	case !owner:
		return Result{}, errOwnerRole
	}
	if req.User != "" && !admin {
		return Result{}, &authz.ForbiddenError{Reason: "Only an administrator may act for another user"}
	}
	if req.Override != "" && !admin {
		return Result{}, &authz.ForbiddenError{Reason: "Only an administrator may override the posture gate"}
	}
	now := s.now()
	if err := a.Session.Require(session.AAL2, s.window(), now); err != nil {
		return Result{}, err
	}
	c := Change{Account: req.Account, Options: req.Options, Margin: req.Margin, Futures: req.Futures, Withdrawals: req.Withdrawals,
		Actor: a.ID(), Interface: a.Door(), IP: a.IP, Override: strings.TrimSpace(req.Override)}
	switch {
	case req.User != "":
		u, err := s.Store.UserByUsername(ctx, user.NormalizeUsername(req.User))
		if errors.Is(err, store.ErrNotFound) {
			return Result{}, fault.NewField("user", "no such user", "posturegate: no such user")
		}
		if err != nil {
			return Result{}, err
		}
		c.For = u.ID
	case owner:
		c.For = a.Session.UserID
	}
	res, err := ChangePermissions(ctx, s.Store, c, s.Platform, now)
	switch {
	case errors.Is(err, ErrNotOwner) && req.User != "":
		return res, fault.NewField("user", "not an owner of the account", err.Error())
	case errors.Is(err, ErrNotOwner):
		return res, errOwnerRole
	case errors.Is(err, store.ErrNotFound):
		return res, ErrNoAccount // an administrator naming an account that does not exist
	}
	return res, err
}
