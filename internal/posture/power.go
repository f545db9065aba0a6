package posture

// Power is what a credential can do to the account, the worst first. The
// severity of a weakness in a key follows the power it exposes: a key
// that can withdraw is judged harder than one that can only trade, which
// is judged harder than one that reads, and paper money is no money.
type Power int

// The powers, from most to least.
const (
	PowerTransfer  Power = iota // live, transfers:write: money leaves the account
	PowerLiveTrade              // live, orders:write: positions can be sold or bought
	PowerLiveRead               // live, reads only: positions and orders are seen
	PowerPaper                  // paper, whatever its scopes: no money at stake
)

// Powers lists the powers, the most first.
var Powers = []Power{PowerTransfer, PowerLiveTrade, PowerLiveRead, PowerPaper}

// String names the power as the severity table in docs/posture.md does.
func (p Power) String() string {
	switch p {
	case PowerTransfer:
		return "live, can transfer"
	case PowerLiveTrade:
		return "live, can trade"
	case PowerLiveRead:
		return "live, reads only"
	case PowerPaper:
		return "paper"
	}
	return "unknown"
}

// powerOf is the power of scopes held in environment env.
func powerOf(env string, scopes []string) Power {
	if env != Live {
		return PowerPaper
	}
	k := APIKey{Scopes: scopes}
	switch {
	case k.Has(ScopeTransfersWrite):
		return PowerTransfer
	case k.Has(ScopeOrdersWrite):
		return PowerLiveTrade
	}
	return PowerLiveRead
}

// Power is the power k holds.
func (k APIKey) Power() Power { return powerOf(k.Environment, k.Scopes) }

// Weakness is what is wrong with a key, whatever its power.
type Weakness string

// The key weaknesses the rules find.
const (
	WeakOpenAllowlist Weakness = "no IP allowlist"
	WeakOld           Weakness = "past its rotation period"
	WeakDormant       Weakness = "unused for weeks"
	WeakBroadScopes   Weakness = "scopes wider than its use"
	WeakShared        Weakness = "shared between paper and live"
	WeakMinterEnded   Weakness = "minted by a session later ended"
)

// Weaknesses lists the key weaknesses in the order of the table.
var Weaknesses = []Weakness{WeakOpenAllowlist, WeakOld, WeakDormant, WeakBroadScopes, WeakShared, WeakMinterEnded}

// keySeverity is the one rule for how exposed a key's weakness leaves the
// account: a row per weakness, a column per power (transfer, live trade,
// live read, paper). Mitigated means no finding.
//
// Why: a live key that can trade or withdraw is the account to whoever
// copies it, so every weakness that makes a copy likelier (no allowlist),
// older (past rotation), unwatched (dormant), more powerful than needed
// (broad scopes), spread to looser places (shared with paper code) or
// possibly a thief's already (minted by an ended session) is high. The
// same weaknesses in a read-only live key leak what the trader holds and
// does, not money: low, medium where the key is likely already out. A
// paper key risks no money; sharing one with live work is the exception,
// since live orders then run through paper-grade code and care.
var keySeverity = map[Weakness][4]Exposure{
	WeakOpenAllowlist: {High, High, Low, Mitigated},
	WeakOld:           {High, High, Low, Low},
	WeakDormant:       {High, High, Low, Low},
	WeakBroadScopes:   {High, High, Low, Low},
	WeakShared:        {High, High, Medium, Medium},
	WeakMinterEnded:   {High, High, Medium, Low},
}

// Severity is the exposure a weakness of a key with power p gives.
func Severity(w Weakness, p Power) Exposure {
	row, ok := keySeverity[w]
	if !ok || p < PowerTransfer || p > PowerPaper {
		return Medium // a weakness the table does not know is never waved through
	}
	return row[p]
}
