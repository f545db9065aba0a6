package audit

import "maps"

// operatorOnly names, per event type, the details an owner is not shown.
// The reason a sign-in or a second factor failed is one: shown to whoever
// holds the owner's session, it would tell an attacker which guess came
// close (the user exists, the password was right, the code was replayed).
var operatorOnly = map[string][]string{
	LoginFailed:  {"reason"},
	FactorFailed: {"reason"},
}

// ForOwner returns what the owner of e's trail may see of it: a copy of e
// without the details kept for the operators. Every door that shows a
// user their own trail (GET /v1/audit, the portal's activity) shows this
// and nothing more; operators read the stored event itself.
//
// The copy shares no map with e, and its hashes are dropped: they chain
// the stored event, not this view of it.
func ForOwner(e *Event) Event {
	out := *e
	out.PrevHash, out.Hash = nil, nil
	out.Detail = maps.Clone(e.Detail)
	for _, k := range operatorOnly[e.Type] {
		delete(out.Detail, k)
	}
	if len(out.Detail) == 0 {
		out.Detail = nil
	}
	return out
}
