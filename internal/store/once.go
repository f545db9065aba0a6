package store

import (
	"context"
	"time"
)

// Once persists single-use values, so that a value spent on one instance
// is refused on every other instance of the store: DPoP proof ids today,
// and any other one-time token a flow needs (an approval token, say). It
// stores the hash the caller gives, never the value.
type Once interface {
	// UseOnce spends the value of kind whose hash is hash, until expires
	// (inclusive): ErrConflict when it was spent before and its entry's
	// expiry is not before now. An expired entry counts as never spent;
	// the janitor
	// ([Purger.PurgeExpired]) deletes it. kind names the use ("dpop",
	// "approval"…) so that two uses never collide.
	UseOnce(ctx context.Context, kind string, hash []byte, expires, now time.Time) error
}
