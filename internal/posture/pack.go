package posture

import (
	"slices"
)

// Pack is a jurisdiction's rules for signing in to a securities account,
// applied beside NIST's to the accounts that a legal entity of that
// jurisdiction holds: [Entity.Pack] selects it.
type Pack struct {
	Code string `json:"code"`
	// Source is the document the rules come from, as findings cite it.
	Source string `json:"source"`
	// Rules are the pack's rules in words, each as findings cite it.
	Rules []string `json:"rules"`
}

// PackJP is the code of the Japan pack.
const PackJP = "jp-2025"

// The rules of the Japan pack, from the 2025 revision of the Japan
// Securities Dealers Association's guidelines on preventing unauthorised
// access to internet trading, written after the phishing wave of spring
// 2025 in which relayed passwords and one-time codes were used to trade
// hijacked accounts.
var (
	jpLogin    = "phishing-resistant authentication (a passkey or other FIDO credential, or a certificate) is required at login"
	jpMoney    = "phishing-resistant authentication is required at a withdrawal and at a change of the withdrawal bank account"
	jpNoLinks  = "no login links in e-mail or SMS sent to customers"
	jpNotices  = "notices of logins and of transactions are on by default"
	jpSource   = "JSDA internet-trading guidelines (Japan, 2025)"
	packsTable = map[string]Pack{
		PackJP: {Code: PackJP, Source: jpSource, Rules: []string{jpLogin, jpMoney, jpNoLinks, jpNotices}},
	}
)

// Packs lists the jurisdiction packs, by code.
func Packs() []Pack {
	out := make([]Pack, 0, len(packsTable))
	for _, c := range PackCodes() {
		out = append(out, packsTable[c])
	}
	return out
}

// PackCodes lists the codes an [Entity.Pack] may name, sorted.
func PackCodes() []string {
	var out []string
	for c := range packsTable {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// PackReport is one rule set a report applied, and the accounts it
// applied through (none for NIST, which applies to every account).
type PackReport struct {
	Pack
	Accounts []string `json:"accounts"`
}

// packAccounts returns the live accounts of s whose entity selects pack.
// Paper accounts hold no money and select nothing.
func (s Snapshot) packAccounts(pack string) []Account {
	var out []Account
	for _, a := range s.Accounts {
		if a.Environment == Live && a.Entity.Pack == pack {
			out = append(out, a)
		}
	}
	return out
}

// packReports lists NIST, then every pack some live account selects.
func packReports(s Snapshot) []PackReport {
	out := []PackReport{{Pack: Pack{Code: "nist", Source: NIST, Rules: []string{
		nistAAL1.Rule, nistRestricted.Rule, nistPhishing.Rule, nistAAL3.Rule, nistReauth.Rule,
	}}}}
	for _, p := range Packs() {
		var ids []string
		for _, a := range s.packAccounts(p.Code) {
			ids = append(ids, a.ID)
		}
		if len(ids) > 0 {
			out = append(out, PackReport{Pack: p, Accounts: ids})
		}
	}
	return out
}

// applyPacks judges the findings again by the packs the accounts of s
// select, raising an exposure where a pack's rule asks for more than
// NIST and the profile do, and citing the rule.
func applyPacks(s Snapshot, fs []Finding) []Finding {
	jp := s.packAccounts(PackJP)
	if len(jp) == 0 {
		return fs
	}
	withdrawals := slices.ContainsFunc(jp, func(a Account) bool { return a.Permissions.Withdrawals })
	login := Basis{jpSource, jpLogin}
	money := Basis{jpSource, jpMoney}
	for i, f := range fs {
		switch check(f) {
		case "phishing-no-resistant-factor", "phishing-fallback", "no-second-factor", "phishing":
			// The rule asks for a phishing-resistant login whatever the
			// profile: the phishing of 2025 relayed codes from app and SMS
			// alike, and push is not phishing-resistant in its terms.
			if f.Exposure != Mitigated {
				if f.Exposure != High {
					fs[i].Summary += " Your firm is bound by Japan's 2025 JSDA guidelines, which require a phishing-resistant login (a passkey or security key)."
				}
				fs[i].Exposure = High
			}
			fs[i].Basis = addBases(fs[i].Basis, login)
			if withdrawals {
				fs[i].Basis = addBases(fs[i].Basis, money)
			}
		case "notifications-off":
			if f.Exposure.rank() > Medium.rank() {
				fs[i].Exposure = Medium
			}
			fs[i].Basis = addBases(fs[i].Basis, Basis{jpSource, jpNotices})
		}
	}
	return fs
}

// jpLoginRequired reports whether an account of s selects the Japan pack,
// whose login must be phishing-resistant: a step that adds a passkey must
// then also remove the codes a phishing page could still ask for.
func (s Snapshot) jpLoginRequired() bool { return len(s.packAccounts(PackJP)) > 0 }
