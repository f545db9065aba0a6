package posture

import (
	"slices"
	"strings"
)

// Basis is one rule a finding applies and where the rule comes from.
type Basis struct {
	// Source is "profile professional" (occasional, mobile), [NIST], or a
	// jurisdiction pack's name.
	Source string `json:"source"`
	Rule   string `json:"rule"`
}

// NIST is the source of the assurance rules every report applies.
const NIST = "NIST SP 800-63B-4"

// The NIST rules the findings cite, in the guideline's terms.
var (
	nistRestricted = Basis{NIST, "SMS and voice codes are a restricted authenticator: the risk must be made known and a non-restricted alternative offered"}
	nistAAL1       = Basis{NIST, "a password alone is AAL1; AAL2 needs a second, distinct factor"}
	nistAAL3       = Basis{NIST, "AAL3 needs a phishing-resistant authenticator whose key cannot leave the device (a hardware security key); a synced passkey reaches AAL2"}
	nistPhishing   = Basis{NIST, "at AAL2 a phishing-resistant option must be offered; codes typed into a page (SMS, authenticator app) are not phishing-resistant"}
	nistReauth     = Basis{NIST, "a session is re-authenticated at least every 12 hours at AAL3 and every 24 hours at AAL2"}
)

// profileBasis is the rule of profile p that a finding applies.
func profileBasis(p Profile, rule string) Basis {
	return Basis{Source: "profile " + string(p), Rule: rule}
}

// bases says, per check (a finding's id up to any "/"), which rules its
// finding applies. The profile rules say what the profile expects, so a
// reader sees why the same set-up is high for one trader and low for
// another (principle: profiles set expectations, not blame).
var bases = map[string]func(s Snapshot, f Finding) []Basis{
	"desktop-no-hardware-key": func(s Snapshot, f Finding) []Basis {
		return []Basis{nistAAL3, profileBasis(s.Profile, "the desktop door, where a professional trades, needs a device-bound phishing-resistant factor: without one it is high")}
	},
	"desktop-long-session": func(s Snapshot, f Finding) []Basis {
		return []Basis{nistReauth, profileBasis(s.Profile, "no hardware key is asked for; long desktop sessions are judged by their length and by the account's permissions")}
	},
	"desktop-session-below-aal3": func(s Snapshot, f Finding) []Basis { return []Basis{nistAAL3, nistReauth} },
	"desktop-sessions":           func(s Snapshot, f Finding) []Basis { return []Basis{nistAAL3} },
	"sms-only-second-factor":     func(s Snapshot, f Finding) []Basis { return []Basis{nistRestricted} },
	"sms-enrolled":               func(s Snapshot, f Finding) []Basis { return []Basis{nistRestricted} },
	"no-second-factor":           func(s Snapshot, f Finding) []Basis { return []Basis{nistAAL1} },
	"phishing-no-resistant-factor": func(s Snapshot, f Finding) []Basis {
		return []Basis{nistPhishing, phishingProfile(s)}
	},
	"phishing-fallback": func(s Snapshot, f Finding) []Basis { return []Basis{nistPhishing, phishingProfile(s)} },
	"phishing":          func(s Snapshot, f Finding) []Basis { return []Basis{nistPhishing} },
	"key-rotation": func(s Snapshot, f Finding) []Basis {
		return []Basis{profileBasis(s.Profile, "API keys rotated at least every "+plural(int(s.Profile.RotationPeriod()/day), "day"))}
	},
	"key-no-paper": func(s Snapshot, f Finding) []Basis {
		return []Basis{profileBasis(s.Profile, "separate paper and live API keys")}
	},
	"desktop-sessions-many": func(s Snapshot, f Finding) []Basis {
		if s.Profile == Professional && f.Exposure == High {
			return []Basis{profileBasis(s.Profile, "the desktop is the door a professional trades through: sprawl there, with sessions unused for days, is high")}
		}
		return nil
	},
	"notifications-off": func(s Snapshot, f Finding) []Basis {
		if s.Profile == Professional {
			return []Basis{profileBasis(s.Profile, "a professional watches the account daily, so missing notices are low")}
		}
		return []Basis{profileBasis(s.Profile, "notifications of new sessions switched on")}
	},
	"phone-no-lock": func(s Snapshot, f Finding) []Basis {
		if s.Profile == Mobile {
			return []Basis{profileBasis(s.Profile, "a screen lock on the phone the account is traded from")}
		}
		return nil
	},
	"phone-lock-unknown": func(s Snapshot, f Finding) []Basis {
		if s.Profile == Mobile {
			return []Basis{profileBasis(s.Profile, "a screen lock on the phone the account is traded from")}
		}
		return nil
	},
	"phone-password-store": func(s Snapshot, f Finding) []Basis {
		if s.Profile == Mobile {
			return []Basis{profileBasis(s.Profile, "the phone used as a factor, but not also as the password store")}
		}
		return nil
	},
}

// phishingProfile is the profile rule that sets how much a missing
// phishing-resistant factor weighs.
func phishingProfile(s Snapshot) Basis {
	if s.Profile == Professional {
		return profileBasis(s.Profile, "a phishing-resistant factor (security key or passkey) is required")
	}
	return profileBasis(s.Profile, "an authenticator app or push approval is enough, unless withdrawals are on")
}

// check is the name of the check that made f: its id up to any "/".
func check(f Finding) string {
	c, _, _ := strings.Cut(f.ID, "/")
	return c
}

// withBases adds to each finding the NIST and profile rules it applies.
func withBases(s Snapshot, fs []Finding) []Finding {
	for i, f := range fs {
		if b, ok := bases[check(f)]; ok {
			fs[i].Basis = addBases(f.Basis, b(s, f)...)
		}
	}
	return fs
}

func addBases(to []Basis, bs ...Basis) []Basis {
	for _, b := range bs {
		if !slices.Contains(to, b) {
			to = append(to, b)
		}
	}
	return to
}

// rootCauses are the checks that report consequences of one cause, in
// the order that picks the finding that speaks for them: the worst, and
// among equals the first here, whose next step mends the most.
//
//   - The second factors: a hardware key on the desktop also answers
//     phishing and SMS-only; a passkey answers phishing and SMS-only, not
//     the desktop. Without this one missing security key was three high
//     findings with three next steps.
//   - Code factors kept beside WebAuthn: removing them (after a backup)
//     mends both the phishing fallback and the SMS left enrolled.
//   - Permissions on several accounts while highs are open: one cause,
//     the open highs, however many accounts show it.
//   - One key: revoking a dormant key mends everything else about it, and
//     allowlisting an open key comes with rotating it. Over-broad scopes,
//     sharing and a key minted by an ended session are causes of their
//     own: their steps (narrow, separate, confirm or revoke) differ.
var rootCauses = []rootCause{
	{checks: []string{"no-second-factor", "desktop-no-hardware-key", "phishing-no-resistant-factor", "sms-only-second-factor"}},
	{checks: []string{"phishing-fallback", "sms-enrolled"}},
	{checks: []string{"key-unused", "key-no-allowlist", "key-rotation"}, perItem: true},
	{checks: []string{"permissions-ahead"}},
}

// rootCause is one row of [rootCauses]: its checks, and whether only
// findings about the same item (after the "/" of the id) share it. The
// permission findings of several accounts share one cause, the high
// findings they all name: one finding, the other accounts inside it.
type rootCause struct {
	checks  []string
	perItem bool
}

// mergeCauses folds the findings of each root cause into one: the one
// that speaks for them keeps its id, doors, summary and next step (its
// exposure is the worst among them), takes every evidence and basis, and
// lists the others, with their own doors, as [Consequence]s.
func mergeCauses(fs []Finding) []Finding {
	for _, rc := range rootCauses {
		cause := rc.checks
		groups := map[string][]int{}
		var refs []string
		for i, f := range fs {
			if slices.Contains(cause, check(f)) && f.Exposure != Mitigated {
				ref := ""
				if rc.perItem {
					_, ref, _ = strings.Cut(f.ID, "/")
				}
				if _, ok := groups[ref]; !ok {
					refs = append(refs, ref)
				}
				groups[ref] = append(groups[ref], i)
			}
		}
		drop := map[int]bool{}
		for _, ref := range refs {
			members := groups[ref]
			if len(members) < 2 {
				continue
			}
			lead := members[0]
			for _, i := range members[1:] {
				a, b := fs[i], fs[lead]
				if a.Exposure.rank() < b.Exposure.rank() ||
					(a.Exposure == b.Exposure && slices.Index(cause, check(a)) < slices.Index(cause, check(b))) {
					lead = i
				}
			}
			m := fs[lead]
			for _, i := range members {
				if i == lead {
					continue
				}
				f := fs[i]
				drop[i] = true
				m.Also = append(m.Also, Consequence{ID: f.ID, FailureMode: f.FailureMode, Doors: f.Doors, Exposure: f.Exposure, Summary: f.Summary})
				for _, e := range f.Evidence {
					if !slices.Contains(m.Evidence, e) {
						m.Evidence = append(m.Evidence, e)
					}
				}
				m.Basis = addBases(m.Basis, f.Basis...)
			}
			slices.SortStableFunc(m.Also, func(a, b Consequence) int {
				return slices.Index(cause, check(Finding{ID: a.ID})) - slices.Index(cause, check(Finding{ID: b.ID}))
			})
			fs[lead] = m
		}
		out := fs[:0:0]
		for i, f := range fs {
			if !drop[i] {
				out = append(out, f)
			}
		}
		fs = out
	}
	return fs
}
