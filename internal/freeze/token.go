package freeze

import (
	"gatehouse/internal/fault"
	"gatehouse/internal/token"
)

// tokenBytes is the randomness of a link's token: 256 bits, 43 characters
// of base64url.
const tokenBytes = 32

// tokenLen is the length of a link's token as the link carries it.
const tokenLen = (tokenBytes*8 + 5) / 6

// ErrBadToken refuses a link token that is not of the form [Service.Link]
// makes, before any store look-up.
var ErrBadToken = fault.NewField("token", "the token of a freeze link: 43 characters of A-Z, a-z, 0-9, - and _",
	"freeze: malformed link token")

// ValidToken reports whether tok has the form of a link's token: exactly
// 43 characters of the base64url alphabet. NUL, invalid UTF-8, padding or
// a megabyte of text never reach the store.
func ValidToken(tok string) bool {
	return len(tok) == tokenLen && token.ValidID(tok)
}
