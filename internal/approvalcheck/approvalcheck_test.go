package approvalcheck_test

import (
	"errors"
	"net/http"
	"testing"

	"gatehouse/internal/approval"
	"gatehouse/internal/approvalcheck"
)

// TestVerify is what an upstream relies on: the body it is about to
// execute passes only when it is, field for field, the approved one —
// written in any key order or spacing — and a request with no approved
// hash, two of them, or another transaction's is refused.
func TestVerify(t *testing.T) {
	approved := []byte(`{"amount":"2500.00","currency":"EUR","destination":"DE89370400440532013000"}`)
	hash, err := approval.Hash(approved)
	if err != nil {
		t.Fatal(err)
	}
	hdr := func(vs ...string) http.Header {
		h := http.Header{}
		for _, v := range vs {
			h.Add(approvalcheck.HashHeader, v)
		}
		return h
	}
	for _, tc := range []struct {
		name string
		h    http.Header
		body string
		want error // nil, or the error errors.Is must find; "any" below
		any  bool
	}{
		{name: "the approved details", h: hdr(hash), body: string(approved)},
		{name: "reordered and re-spaced", h: hdr(hash), body: "{ \"destination\": \"DE89370400440532013000\",\n \"currency\":\"EUR\", \"amount\":\"2500.00\" }"},
		{name: "another amount", h: hdr(hash), body: `{"amount":"25000.00","currency":"EUR","destination":"DE89370400440532013000"}`, want: approvalcheck.ErrMismatch},
		{name: "another destination", h: hdr(hash), body: `{"amount":"2500.00","currency":"EUR","destination":"GB33BUKB20201555555555"}`, want: approvalcheck.ErrMismatch},
		{name: "a field added", h: hdr(hash), body: `{"amount":"2500.00","currency":"EUR","destination":"DE89370400440532013000","memo":"x"}`, want: approvalcheck.ErrMismatch},
		{name: "no approved hash", h: hdr(), body: string(approved), want: approvalcheck.ErrNoApproval},
		{name: "an empty approved hash", h: hdr(""), body: string(approved), want: approvalcheck.ErrNoApproval},
		{name: "two approved hashes", h: hdr(hash, hash), body: string(approved), want: approvalcheck.ErrNoApproval},
		{name: "the hash in upper case", h: hdr(upper(hash)), body: string(approved), want: approvalcheck.ErrMismatch},
		{name: "a duplicate key", h: hdr(hash), body: `{"amount":"2500.00","amount":"1","currency":"EUR","destination":"DE89370400440532013000"}`, any: true},
		{name: "not an object", h: hdr(hash), body: `["2500.00"]`, any: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := approvalcheck.Verify(tc.h, []byte(tc.body))
			switch {
			case tc.any:
				if err == nil {
					t.Fatal("Verify = nil, want a refusal")
				}
			case tc.want == nil:
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
			case !errors.Is(err, tc.want):
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func TestWaivedBelow(t *testing.T) {
	for _, tc := range []struct {
		vals []string
		want float64
		ok   bool
	}{
		{[]string{"1000"}, 1000, true},
		{[]string{"999.50"}, 999.5, true},
		{nil, 0, false},
		{[]string{"1000", "5"}, 0, false}, // two thresholds: believe neither
		{[]string{"lots"}, 0, false},
		{[]string{"Inf"}, 0, false}, // would waive every amount
		{[]string{"NaN"}, 0, false},
	} {
		h := http.Header{}
		for _, v := range tc.vals {
			h.Add(approvalcheck.WaivedHeader, v)
		}
		got, ok := approvalcheck.WaivedBelow(h)
		if got != tc.want || ok != tc.ok {
			t.Errorf("WaivedBelow(%q) = %v, %v; want %v, %v", tc.vals, got, ok, tc.want, tc.ok)
		}
	}
}
