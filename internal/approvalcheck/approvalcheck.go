// Package approvalcheck is for the upstream behind gatehouse's
// forward-auth: it tells whether the body a request carries is the
// transaction its owner approved.
//
// Forward-auth never sees a request's body. For a route with
// approval: required it checks the approval token and answers the
// approved details' hash in X-Gatehouse-Approved-Hash, which the proxy
// passes to the upstream (nginx: auth_request_set and proxy_set_header;
// Traefik: authResponseHeaders; Caddy: copy_headers). The upstream must
// then compare it with what it is about to execute:
//
//	func transfer(w http.ResponseWriter, r *http.Request) {
//		body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<10))
//		if err := approvalcheck.Verify(r.Header, body); err != nil {
//			http.Error(w, "not the approved transfer", http.StatusForbidden)
//			return
//		}
//		// execute exactly body
//	}
//
// The proxy must strip X-Gatehouse-Approved-Hash from clients, as it
// strips the other X-Gatehouse-* identity headers.
//
// An upstream outside this module reimplements Verify in a few lines:
// canonicalise the details by RFC 8785 (package approval documents the
// precise rule), SHA-256 them, compare hex.
package approvalcheck

import (
	"crypto/subtle"
	"errors"
	"math"
	"net/http"
	"strconv"

	"gatehouse/internal/approval"
)

// The headers forward-auth answers.
const (
	// HashHeader carries the SHA-256 (lower-case hex) of the canonical
	// details an approval token approved.
	HashHeader = "X-Gatehouse-Approved-Hash"
	// WaivedHeader says a rule's approval_over threshold let the request
	// through without an approval on the amount its client declared in
	// the Gatehouse-Amount header; its value is the threshold, which the
	// upstream must check the body's own amount against ([WaivedBelow]).
	WaivedHeader = "X-Gatehouse-Approval-Waived-Below"
)

var (
	// ErrNoApproval reports a request without an approved hash.
	ErrNoApproval = errors.New("approvalcheck: the request carries no approved hash")
	// ErrMismatch reports details other than the approved ones.
	ErrMismatch = errors.New("approvalcheck: the details are not the approved ones")
)

// Verify reports whether details, the JSON object that names the
// transaction (the request body, as the client sent it to POST
// /v1/approvals), is what the owner approved: its canonical hash equals
// the one forward-auth answered. Details that cannot be canonicalised
// are refused with the error of [approval.Canonical].
func Verify(h http.Header, details []byte) error {
	v := h.Values(HashHeader)
	if len(v) != 1 || v[0] == "" {
		return ErrNoApproval
	}
	got, err := approval.Hash(details)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(v[0])) != 1 {
		return ErrMismatch
	}
	return nil
}

// WaivedBelow returns the threshold under which forward-auth let the
// request through without an approval, and whether it did. The upstream
// must refuse the request unless the amount in its body is below it:
// the declared amount was the client's word.
func WaivedBelow(h http.Header) (float64, bool) {
	v := h.Values(WaivedHeader)
	if len(v) != 1 {
		return 0, false
	}
	f, err := strconv.ParseFloat(v[0], 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false // "Inf" would waive every amount
	}
	return f, true
}
