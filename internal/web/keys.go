package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/authz"
	"gatehouse/internal/edge"
	"gatehouse/internal/fault"
	"gatehouse/internal/session"
)

// API keys of the accounts the visitor is a member of. Every change goes
// through authz.Keys, the service behind the API's key routes, so the
// rules (roles, scopes a role may grant, step-up for live trading and
// transfers, allowlists, lifetimes) live there once.

// keyRow is one API key as the keys page lists it. It never holds the
// secret, nor its hash.
type keyRow struct {
	ID          string
	Name        string
	Scopes      []string
	AllowIPs    []string
	Status      string // active, rotating, suspended, rotated, expired or revoked
	Created     time.Time
	Expires     time.Time
	LastUsed    time.Time
	LastUsedIP  string
	OverlapEnds time.Time
	// Live says the key still authenticates, or will again (suspended), so
	// it is listed and can be rotated or revoked.
	Live bool
	// Hold says the key waits on new networks for its owner; Held are
	// the networks it waits on now.
	Hold bool
	Held []string
}

func viewKey(k *apikey.Key, now time.Time) keyRow {
	row := keyRow{ID: k.ID, Name: k.Name, Scopes: k.Scopes.Names(), Status: authz.KeyStatus(k, now), Created: k.CreatedAt,
		Expires: k.ExpiresAt, LastUsed: k.LastUsedAt, OverlapEnds: k.OverlapEndsAt}
	for _, p := range k.AllowIPs {
		row.AllowIPs = append(row.AllowIPs, p.String())
	}
	if k.LastUsedIP.IsValid() {
		row.LastUsedIP = k.LastUsedIP.String()
	}
	row.Live = row.Status == "active" || row.Status == "rotating" || row.Status == "suspended"
	row.Hold = k.HoldOnNewNetwork && k.Watched()
	return row
}

// accountKeys is one account's section of the keys page.
type accountKeys struct {
	ID, Name    string
	Environment account.Environment
	Role        account.Role
	// Manage says the visitor's role may create, rotate and revoke keys.
	Manage bool
	Keys   []keyRow
	// Old counts the keys that no longer work, which are not listed.
	Old int
}

// keysData is the keys page's content.
type keysData struct {
	Accounts []accountKeys
	Error    string
}

// actor is the visitor as the flows (the key service, the session
// flows) see them.
func (d *deps) actor(r *http.Request, v *visitor) authz.Actor {
	return authz.Actor{Session: v.Session, IP: edge.ClientAddr(r, d.Proxies).String()}
}

// memberAccount returns the account id and the visitor's membership of
// it, or authz's ErrNoAccount: not a member.
func (d *deps) memberAccount(r *http.Request, v *visitor, id string) (*account.Account, *account.Membership, error) {
	ma, err := d.Keys.Account(r.Context(), d.actor(r, v), id)
	if err != nil {
		return nil, nil, err
	}
	return ma.Account, &account.Membership{UserID: v.User.ID, AccountID: ma.Account.ID, Role: ma.Role}, nil
}

func (d *deps) keysPage(w http.ResponseWriter, r *http.Request, v *visitor, status int, errMsg string) error {
	ctx := r.Context()
	accts, err := d.Keys.Accounts(ctx, d.actor(r, v))
	if err != nil {
		return err
	}
	data := keysData{Error: errMsg}
	now := d.now()
	for _, ma := range accts {
		a, m := ma.Account, ma
		keys, err := d.Keys.List(ctx, d.actor(r, v), a.ID)
		if err != nil {
			return err
		}
		sec := accountKeys{ID: a.ID, Name: a.Name, Environment: a.Environment, Role: m.Role, Manage: m.Role.CanManageKeys()}
		for _, k := range keys {
			row := viewKey(k, now)
			if !row.Live {
				sec.Old++
				continue
			}
			if row.Hold {
				nets, err := d.Keys.Networks(ctx, d.actor(r, v), a.ID, k.ID)
				if err != nil {
					return err
				}
				for _, n := range nets {
					if n.Held() {
						row.Held = append(row.Held, n.Network)
					}
				}
			}
			sec.Keys = append(sec.Keys, row)
		}
		data.Accounts = append(data.Accounts, sec)
	}
	return render(w, status, "keys", page{Title: "API keys", Nav: "keys", V: v, CSRF: v.CSRF, Notice: notice(r), Data: data})
}

func handleKeys(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		return d.keysPage(w, r, v, http.StatusOK, "")
	}
}

// keyForm is what the new-key form holds, to show again after an error.
type keyForm struct {
	Name     string
	Scopes   map[string]bool
	AllowIPs string
	Expires  string // days, or "" for the server's default
}

// keyChoice is one scope the form offers.
type keyChoice struct {
	Name, Label string
	// Trading marks the scopes that move money or positions.
	Trading bool
}

// scopeLabels say what each scope allows.
var scopeLabels = map[string]string{
	"account:read":    "read balances, positions and account details",
	"marketdata:read": "read quotes and market data",
	"orders:read":     "list and read orders",
	"orders:write":    "place, amend and cancel orders",
	"transfers:write": "move money in or out of the account",
}

// expiryChoices are the lifetimes the form offers, in days.
var expiryChoices = []string{"7", "30", "90", "180", "365"}

// keyFormData is the new-key page's content.
type keyFormData struct {
	Account     string
	AccountName string
	Environment account.Environment
	Role        account.Role
	Choices     []keyChoice
	Expiries    []string
	Form        keyForm
	// Problems are the service's objections, by field.
	Problems []fieldProblem
	Error    string
}

// fieldProblem is one objection to the form, for people.
type fieldProblem struct {
	Field, Message string
}

// Invalid reports whether some problem is about field (or one of its entries).
func (d keyFormData) Invalid(field string) bool {
	for _, p := range d.Problems {
		if p.Field == field || strings.HasPrefix(p.Field, field+"[") {
			return true
		}
	}
	return false
}

// fieldLabels name the request's fields as the form labels them.
var fieldLabels = map[string]string{"name": "Name", "environment": "Environment", "scopes": "Scopes", "allow_ips": "Allowed addresses", "expires_in": "Expiry"}

func (d *deps) keyFormPage(w http.ResponseWriter, r *http.Request, v *visitor, status int, a *account.Account, m *account.Membership, f keyForm, probs []fieldProblem, errMsg string) error {
	data := keyFormData{Account: a.ID, AccountName: a.Name, Environment: a.Environment, Role: m.Role, Expiries: expiryChoices,
		Form: f, Problems: probs, Error: errMsg}
	for _, s := range apikey.RoleScopes(m.Role).Names() {
		sc, _ := apikey.ParseScope(s)
		data.Choices = append(data.Choices, keyChoice{Name: s, Label: scopeLabels[s], Trading: apikey.ScopesOf(sc).CanTrade()})
	}
	if data.Form.Scopes == nil {
		data.Form.Scopes = map[string]bool{}
	}
	return render(w, status, "key-new", page{Title: "New API key", Nav: "keys", V: v, CSRF: v.CSRF, Notice: notice(r), Data: data})
}

func handleKeyForm(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		a, m, err := d.memberAccount(r, v, r.PathValue("account"))
		if err != nil {
			return err
		}
		return d.keyFormPage(w, r, v, http.StatusOK, a, m, keyForm{}, nil, "")
	}
}

// issuedData is the content of the page that shows a new key's secret.
type issuedData struct {
	Account string
	Key     keyRow
	// Secret is the whole key, shown on this page once: the server keeps
	// only its hash.
	Secret string
	// Shortened says the key lives less than asked: it can trade live
	// without an allowlist.
	Shortened bool
	// Replaced is the key a rotation replaced, working until OverlapEnds.
	Replaced    string
	OverlapEnds time.Time
}

// keyError answers a refused key change: the step-up page when the
// session must prove itself again, else what the service said.
func (d *deps) keyError(w http.ResponseWriter, r *http.Request, v *visitor, back string, err error, form func(status int, probs []fieldProblem, msg string) error) error {
	var re *apikey.RequestError
	var se *session.StepUpError
	switch {
	case errors.As(err, &se):
		reason := "A key that can trade or move money"
		if v.Session.Assurance < session.AAL2 {
			reason = "Making an API key" // any key, from a session without a second factor
		}
		return d.stepUp(w, r, v, http.StatusForbidden, se.Need, reason, back, "")
	case errors.As(err, &re) && form != nil:
		var probs []fieldProblem
		for _, p := range re.Problems {
			field, _, _ := strings.Cut(p.Field, "[")
			label := fieldLabels[field]
			if label == "" {
				label = field
			}
			m := label + ": " + p.Message
			if !strings.HasSuffix(m, ".") && !strings.HasSuffix(m, "?") {
				m += "."
			}
			probs = append(probs, fieldProblem{Field: p.Field, Message: m})
		}
		return form(http.StatusUnprocessableEntity, probs, "")
	}
	status, msg, ok := d.failure(w, err)
	switch {
	case !ok:
		return err // an account or key that is not the visitor's is the not-found page
	case form != nil && fault.Of(err) == fault.Forbidden:
		return form(status, nil, msg)
	}
	return d.keysPage(w, r, v, status, msg)
}

// splitList reads a list typed one entry per line or separated by commas.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' || r == '\t' })
}

func handleCreateKey(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		a, m, err := d.memberAccount(r, v, r.PathValue("account"))
		if err != nil {
			return err
		}
		pf := r.PostForm
		f := keyForm{Name: strings.TrimSpace(pf.Get("name")), Scopes: map[string]bool{}, AllowIPs: pf.Get("allow_ips"), Expires: pf.Get("expires")}
		for _, s := range pf["scopes"] {
			f.Scopes[s] = true
		}
		req := apikey.Request{Name: f.Name, Environment: string(a.Environment), Scopes: pf["scopes"], AllowIPs: splitList(f.AllowIPs)}
		if f.Expires != "" {
			days, err := strconv.Atoi(f.Expires)
			if err != nil || days < 1 || days > 3650 {
				return d.keyFormPage(w, r, v, http.StatusUnprocessableEntity, a, m, f, []fieldProblem{{"expires_in", "Expiry: choose one of the lifetimes offered."}}, "")
			}
			req.ExpiresIn = time.Duration(days) * 24 * time.Hour
		}
		form := func(status int, probs []fieldProblem, msg string) error {
			return d.keyFormPage(w, r, v, status, a, m, f, probs, msg)
		}
		iss, err := d.Keys.Create(r.Context(), d.actor(r, v), a.ID, req)
		if err != nil {
			return d.keyError(w, r, v, "/keys/"+a.ID+"/new", err, form)
		}
		return render(w, http.StatusCreated, "key-secret", page{Title: "Your new API key", Nav: "keys", V: v, CSRF: v.CSRF, Scripts: []string{"copy.js"},
			Data: issuedData{Account: a.ID, Key: viewKey(&iss.Key, d.now()), Secret: iss.Secret, Shortened: iss.Shortened}})
	}
}

func handleRotateKey(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		acct, id := r.PathValue("account"), r.PathValue("id")
		iss, err := d.Keys.Rotate(r.Context(), d.actor(r, v), acct, id, nil)
		if err != nil {
			return d.keyError(w, r, v, "/keys", err, nil)
		}
		return render(w, http.StatusCreated, "key-secret", page{Title: "Your rotated API key", Nav: "keys", V: v, CSRF: v.CSRF, Scripts: []string{"copy.js"},
			Data: issuedData{Account: acct, Key: viewKey(&iss.Key, d.now()), Secret: iss.Secret, Replaced: id, OverlapEnds: iss.OverlapEndsAt}})
	}
}

// handleApproveNetwork lets a key held on a network work from it.
func handleApproveNetwork(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		network := r.PostForm.Get("network")
		if network == "" || len(network) > 64 {
			return d.keysPage(w, r, v, http.StatusUnprocessableEntity, "Name the network to allow.")
		}
		if err := d.Keys.ApproveNetwork(r.Context(), d.actor(r, v), r.PathValue("account"), r.PathValue("id"), network); err != nil {
			return d.keyError(w, r, v, "/keys", err, nil)
		}
		http.Redirect(w, r, "/keys?done=network-approved", http.StatusSeeOther)
		return nil
	}
}

func handleRevokeKey(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		if _, err := d.Keys.Revoke(r.Context(), d.actor(r, v), r.PathValue("account"), r.PathValue("id")); err != nil {
			return d.keyError(w, r, v, "/keys", err, nil)
		}
		http.Redirect(w, r, "/keys?done=key-revoked", http.StatusSeeOther)
		return nil
	}
}
