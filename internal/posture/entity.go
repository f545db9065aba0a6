package posture

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Entity is the legal entity that holds an account, and the
// investor-protection scheme that covers the assets it keeps in custody.
type Entity struct {
	Code         string `json:"code" yaml:"code"`                 // the table key, e.g. "US"
	Name         string `json:"name" yaml:"name"`                 // "US broker-dealer"
	Jurisdiction string `json:"jurisdiction" yaml:"jurisdiction"` // "United States"
	Scheme       string `json:"scheme" yaml:"scheme"`             // "SIPC"; empty when unknown
	Limit        string `json:"limit" yaml:"limit"`               // the cover, in words
	// Pack is the code of the jurisdiction pack whose rules apply to the
	// entity's accounts beside NIST's ([PackCodes]); empty: none.
	Pack string `json:"pack,omitempty" yaml:"pack,omitempty"`
}

// EntityTable maps an entity code to its entity. The server's
// configuration may replace or extend [DefaultEntities] with its own.
type EntityTable map[string]Entity

// DefaultEntities returns the built-in table, small on purpose: each
// line states the statutory cover of the scheme, not any excess insurance
// a particular firm buys on top.
//
//   - US: SIPC protects a customer's securities and cash at a failed
//     member broker-dealer up to $500,000, of which at most $250,000 cash.
//   - UK: the FSCS pays up to £85,000 per person per firm for investments
//     a failed firm cannot return.
//   - DE: statutory investor compensation (EdB for banks, EdW for
//     securities firms) pays 90% of the claim, at most €20,000.
//   - JP: the Japan Investor Protection Fund pays up to ¥10 million per
//     customer of a failed member securities firm; its accounts follow
//     the Japan pack ([PackJP]).
//   - EU: the Investor Compensation Schemes Directive (97/9/EC) sets a
//     floor of €20,000 per investor in every member state.
//
// The result is a fresh map the caller may change.
func DefaultEntities() EntityTable {
	return EntityTable{
		"US": {
			Code: "US", Name: "US broker-dealer", Jurisdiction: "United States",
			Scheme: "SIPC", Limit: "up to $500,000 per customer, including up to $250,000 in cash",
		},
		"UK": {
			Code: "UK", Name: "UK investment firm", Jurisdiction: "United Kingdom",
			Scheme: "FSCS", Limit: "up to £85,000 per person per firm",
		},
		"DE": {
			Code: "DE", Name: "German bank or securities firm", Jurisdiction: "Germany",
			Scheme: "statutory investor compensation (EdB for banks, EdW for securities firms)",
			Limit:  "90% of the claim, up to €20,000",
		},
		"JP": {
			Code: "JP", Name: "Japanese securities firm", Jurisdiction: "Japan",
			Scheme: "Japan Investor Protection Fund", Limit: "up to ¥10 million per customer",
			Pack: PackJP,
		},
		"EU": {
			Code: "EU", Name: "EU investment firm", Jurisdiction: "European Union",
			Scheme: "national investor-compensation scheme (Directive 97/9/EC)",
			Limit:  "at least €20,000 per investor",
		},
	}
}

// Lookup returns the entity with code, case-insensitively. An unknown
// code gives an entity with only its code set: the report then says the
// scheme is unknown rather than guessing.
func (t EntityTable) Lookup(code string) (Entity, bool) {
	code = strings.ToUpper(strings.TrimSpace(code))
	if e, ok := t[code]; ok {
		if e.Code == "" {
			e.Code = code
		}
		return e, true
	}
	return Entity{Code: code}, false
}

// Codes returns the table's codes, sorted.
func (t EntityTable) Codes() []string {
	return slices.Sorted(maps.Keys(t))
}

// EntityReport is one legal entity in a report: the accounts it holds,
// its scheme and what the scheme does not cover.
type EntityReport struct {
	Entity
	Accounts []string `json:"accounts"`
	// Reminder says, in the scheme's own terms, that custody protection
	// does not cover losses from an authenticated takeover.
	Reminder string `json:"reminder"`
}

// custodyReminder is what every report says of every scheme. Traders
// often read "protected up to $500,000" as insurance against theft; it is
// not.
func custodyReminder(e Entity) string {
	if e.Scheme == "" {
		return "Ask the firm which investor-protection scheme covers this account. Whatever it is, such schemes pay when a firm fails and cannot return your assets; they do not repay losses from trades, transfers or withdrawals made by someone who signed in as you."
	}
	return fmt.Sprintf("%s pays when the firm fails and cannot return your assets (%s). It does not repay losses from trades, transfers or withdrawals made by someone who signed in as you: an authenticated takeover is not covered.", e.Scheme, e.Limit)
}

// entityReports groups the accounts of s by entity, in order of code.
func entityReports(s Snapshot) []EntityReport {
	byCode := map[string]*EntityReport{}
	var codes []string
	for _, a := range s.Accounts {
		code := a.Entity.Code
		if code == "" && a.Entity.Name == "" {
			continue
		}
		r, ok := byCode[code]
		if !ok {
			r = &EntityReport{Entity: a.Entity, Reminder: custodyReminder(a.Entity)}
			byCode[code] = r
			codes = append(codes, code)
		}
		r.Accounts = append(r.Accounts, a.ID)
	}
	slices.Sort(codes)
	out := make([]EntityReport, 0, len(codes))
	for _, c := range codes {
		out = append(out, *byCode[c])
	}
	return out
}
