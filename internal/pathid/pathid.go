// Package pathid checks the identifiers in request paths by their form
// before a handler runs, for both muxes (the API and the portal).
//
// A path segment is whatever bytes the client percent-encoded: NUL,
// invalid UTF-8, megabytes. Passed on to a store, such an id answered 500
// on PostgreSQL (invalid byte sequence, SQLSTATE 22021) where SQLite
// answered 404. Checking the form first makes every backend answer alike:
// anything that is not a well-formed id is not found, and nothing is read
// or changed.
package pathid

import (
	"fmt"
	"net/http"
	"strings"

	"gatehouse/internal/account"
	"gatehouse/internal/apikey"
	"gatehouse/internal/token"
	"gatehouse/internal/user"
)

// kinds maps each id kind, named by the path segment before an {id}
// wildcard, to the check of its form.
var kinds = map[string]func(string) bool{
	"sessions":  token.ValidID, // minted by token.New
	"devices":   token.ValidID, // minted by token.New
	"factors":   token.ValidID, // minted by token.New
	"keys":      apikey.ValidID,
	"approvals": token.ValidID, // "apr_" and a token.New id
	"recovery":  token.ValidID, // "rcv_" and a token.New id
	"signals":   token.ValidID, // "sig_" and a token.New id
}

// wildcards maps the other wildcard names to the check of their form.
var wildcards = map[string]func(string) bool{
	"flow":    token.ValidID, // login and step-up flows, minted by token.New
	"account": account.ValidID,
	"user":    validUserRef,
	"kind":    nil, // a factor kind, not an id: its handler parses it
}

// validUserRef reports whether ref may be a username or a user id, the
// two ways an admin names a user.
func validUserRef(ref string) bool {
	return token.ValidID(ref) || user.ValidUsername(user.NormalizeUsername(ref))
}

// Check returns the check of every id in a request to pattern, a
// [http.ServeMux] pattern: it reports whether each wildcard holds a
// well-formed id of its kind. A route without ids gets a check that always
// holds. It panics on a wildcard it does not know, so that a new route
// names the kind of its ids before it serves a request.
func Check(pattern string) func(*http.Request) bool {
	type check struct {
		name  string
		valid func(string) bool
	}
	var checks []check
	_, path, _ := strings.Cut(pattern, "/")
	literal := ""
	for _, seg := range strings.Split(path, "/") {
		if !strings.HasPrefix(seg, "{") {
			literal = seg
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(seg, "{"), "}")
		if name == "$" {
			continue
		}
		var valid func(string) bool
		var ok bool
		if name == "id" {
			valid, ok = kinds[literal]
		} else {
			valid, ok = wildcards[name]
		}
		if !ok {
			panic(fmt.Sprintf("pathid: route %q: no id kind for {%s}", pattern, name))
		}
		if valid != nil {
			checks = append(checks, check{name, valid})
		}
	}
	return func(r *http.Request) bool {
		for _, c := range checks {
			if !c.valid(r.PathValue(c.name)) {
				return false
			}
		}
		return true
	}
}
