package posturegate

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/posture"
	"gatehouse/internal/user"
)

// Lister is a [Reader] that can also list every user.
type Lister interface {
	Reader
	ListUsers(ctx context.Context) ([]*user.User, error)
}

// Overview sums the posture of every user, for the platform team. It
// holds counts only: no user, key, device or session is named.
type Overview struct {
	AssessedAt time.Time `json:"assessed_at"`
	Users      int       `json:"users"`
	// UsersWithHigh counts the users with at least one high finding: the
	// users the permission gate holds back.
	UsersWithHigh int `json:"users_with_high"`
	// Exposures counts the findings of each exposure; every exposure is
	// present, with 0 when none has it.
	Exposures map[posture.Exposure]int `json:"exposures"`
	// Checks counts the findings of each check and exposure, worst
	// exposure first, then by check.
	Checks []CheckCount `json:"checks"`
}

// CheckCount is how often one check found one exposure.
type CheckCount struct {
	// Check is the finding id up to any "/": "key-no-allowlist" for
	// "key-no-allowlist/k1".
	Check       string              `json:"check"`
	FailureMode posture.FailureMode `json:"failure_mode"`
	Exposure    posture.Exposure    `json:"exposure"`
	// Findings is how many findings there are; a check made per key or
	// session can find several of one user.
	Findings int `json:"findings"`
	// Users is how many users have at least one of them.
	Users int `json:"users"`
}

// Check returns the check a finding id belongs to: the id up to any "/".
func Check(findingID string) string {
	c, _, _ := strings.Cut(findingID, "/")
	return c
}

// Summary assesses every user at now and counts their findings by check
// and exposure. It reads each user's state in turn, so its cost grows
// with the number of users: it is for an administrator's occasional
// look, not for a dashboard polling every second.
func Summary(ctx context.Context, st Lister, p Platform, now time.Time) (Overview, error) {
	users, err := st.ListUsers(ctx)
	if err != nil {
		return Overview{}, fmt.Errorf("posturegate: list users: %w", err)
	}
	o := Overview{AssessedAt: now, Users: len(users), Exposures: map[posture.Exposure]int{}, Checks: []CheckCount{}}
	for _, e := range posture.Exposures {
		o.Exposures[e] = 0
	}
	type key struct {
		check    string
		exposure posture.Exposure
	}
	counts := map[key]*CheckCount{}
	for _, u := range users {
		r, err := ForUser(ctx, st, u.ID, p, now)
		if err != nil {
			return Overview{}, err
		}
		if r.HasHigh() {
			o.UsersWithHigh++
		}
		seen := map[key]bool{}
		for _, f := range r.Findings {
			o.Exposures[f.Exposure]++
			k := key{Check(f.ID), f.Exposure}
			c := counts[k]
			if c == nil {
				c = &CheckCount{Check: k.check, FailureMode: f.FailureMode, Exposure: f.Exposure}
				counts[k] = c
			}
			c.Findings++
			if !seen[k] {
				seen[k] = true
				c.Users++
			}
		}
	}
	for _, c := range counts {
		o.Checks = append(o.Checks, *c)
	}
	slices.SortFunc(o.Checks, func(a, b CheckCount) int {
		if c := cmp.Compare(rank(a.Exposure), rank(b.Exposure)); c != 0 {
			return c
		}
		return cmp.Compare(a.Check, b.Check)
	})
	return o, nil
}

// rank orders exposures worst first, as the reports do.
func rank(e posture.Exposure) int {
	if i := slices.Index(posture.Exposures, e); i >= 0 {
		return i
	}
	return len(posture.Exposures)
}

// Count returns the entry for check and exposure, and whether there is one.
func (o Overview) Count(check string, e posture.Exposure) (CheckCount, bool) {
	for _, c := range o.Checks {
		if c.Check == check && c.Exposure == e {
			return c, true
		}
	}
	return CheckCount{}, false
}
