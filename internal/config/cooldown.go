package config

import (
	"fmt"
	"time"

	"gatehouse/internal/user"
)

// Cooldown configures the cool-down a security change starts (a password
// change, a second factor added or removed, an unfreeze, a recovery):
// until it ends, no new live API key, no transfer or bank-account
// change, no trading permission raised, no removal of another factor.
type Cooldown struct {
	// Length is the cool-down of every profile not in Profiles; 0s turns
	// cool-downs off.
	Length time.Duration `yaml:"length"`
	// Profiles overrides Length per trader profile (professional,
	// occasional, mobile); 0s turns it off for that profile.
	Profiles map[user.Profile]time.Duration `yaml:"profiles"`
}

// maxCooldown bounds a cool-down: past a week it stops slowing an
// intruder and starts locking the owner out.
const maxCooldown = 7 * 24 * time.Hour

func (c Cooldown) problems() []string {
	var out []string
	if c.Length < 0 || c.Length > maxCooldown {
		out = append(out, fmt.Sprintf("cooldown.length %v: want 0s (off) to %v", c.Length, maxCooldown))
	}
	for p, d := range c.Profiles {
		if _, err := user.ParseProfile(string(p)); err != nil {
			out = append(out, fmt.Sprintf("cooldown.profiles: %v", err))
		}
		if d < 0 || d > maxCooldown {
			out = append(out, fmt.Sprintf("cooldown.profiles.%s %v: want 0s (off) to %v", p, d, maxCooldown))
		}
	}
	return out
}
