package config

import (
	"fmt"
	"slices"
	"time"

	"gatehouse/internal/recovery"
	"gatehouse/internal/user"
)

// Recovery configures the lost-factor recovery (docs/recovery.md).
type Recovery struct {
	// Wait is the waiting period per trader profile: trading (when the
	// recovery completes and a new factor may be enrolled) and account
	// (when account management and transfers open again). A profile left
	// out waits [recovery.DefaultWait].
	Wait map[user.Profile]recovery.Wait `yaml:"wait"`
	// Starts bounds how many recoveries may be started for one username,
	// and SourceStarts from one source address (an office behind one
	// address starts more), in Window, counted before any check; beyond
	// them the answer is 429, as for a login.
	Starts       int           `yaml:"starts"`
	SourceStarts int           `yaml:"source_starts"`
	Window       time.Duration `yaml:"window"`
}

func defaultRecovery() Recovery {
	return Recovery{Wait: map[user.Profile]recovery.Wait{
		user.Professional: recovery.DefaultWait, user.Occasional: recovery.DefaultWait, user.Mobile: recovery.DefaultWait,
	}, Starts: 5, SourceStarts: 20, Window: 24 * time.Hour}
}

// WaitFor is the wait of a user of profile p.
func (r Recovery) WaitFor(p user.Profile) recovery.Wait {
	if w, ok := r.Wait[p]; ok {
		return w
	}
	return recovery.DefaultWait
}

func (r Recovery) problems() []string {
	var out []string
	profiles := make([]string, 0, len(r.Wait))
	for p := range r.Wait {
		profiles = append(profiles, string(p))
	}
	slices.Sort(profiles)
	for _, p := range profiles {
		if _, err := user.ParseProfile(p); err != nil {
			out = append(out, fmt.Sprintf("recovery.wait.%s: not a profile (professional, occasional, mobile)", p))
			continue
		}
		if err := r.Wait[user.Profile(p)].Check(); err != nil {
			out = append(out, fmt.Sprintf("recovery.wait.%s: trading at least 24h, account at least trading", p))
		}
	}
	if r.Starts < 1 || r.Starts > 100 {
		out = append(out, "recovery.starts: from 1 to 100")
	}
	if r.SourceStarts < 1 || r.SourceStarts > 10000 {
		out = append(out, "recovery.source_starts: from 1 to 10000")
	}
	if r.Window < time.Minute || r.Window > 30*24*time.Hour {
		out = append(out, "recovery.window: from 1m to 720h")
	}
	return out
}
