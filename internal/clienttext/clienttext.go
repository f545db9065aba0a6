// Package clienttext makes text that a client chose storable: a user
// agent, a device or factor name, anything a request carries that
// gatehouse keeps or writes into the audit trail.
//
// Both stores keep such text as valid UTF-8 without NUL: PostgreSQL
// refuses anything else in a text column (SQLSTATE 22021), SQLite would
// keep the bytes and hand them to every page and log that shows them. A
// browser sending a Latin-1 User-Agent must still be able to sign in.
package clienttext

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Clean returns s as valid UTF-8 without NUL: each invalid byte sequence
// becomes U+FFFD (one per sequence, as [strings.ToValidUTF8] does), and NUL
// characters are dropped. Valid text comes back unchanged and unallocated.
//
// Clean is for free text only, never for a key (an id, a username): two
// different invalid keys would clean to one.
func Clean(s string) string {
	if Valid(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// Valid reports whether s is valid UTF-8 without NUL, which is what both
// stores hold in every text column; a key that is not Valid matches no
// stored row.
func Valid(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// Printable reports whether s is valid UTF-8 of at most n bytes without
// control characters (no CR or LF to smuggle a line into a log or a
// header): what a username, a device name or a code may hold.
func Printable(s string, n int) bool {
	if len(s) > n || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
