package web

import (
	"html/template"
	"net/http"
	"time"

	"gatehouse/internal/cooldown"
	"gatehouse/internal/posture"
	"gatehouse/internal/session"
)

// overviewData is the security overview's content: the posture report
// (its login map and findings), then the factors and sessions summary.
type overviewData struct {
	// Posture is the posture report as HTML, from [posture.Fragment]; it
	// holds the page's h1. Empty when the report could not be made: the
	// summary stands alone then.
	Posture template.HTML
	// Doors counts live sessions per interface, in [session.Doors] order.
	Doors    []doorCount
	Sessions int
	// Recent are the newest events of the audit trail.
	Recent []eventRow
	// Cooldown is set while a cool-down runs: when it ends and why.
	Cooldown *cooldownNote
}

// cooldownNote is the overview's notice of a running cool-down.
type cooldownNote struct {
	Until time.Time
	Why   string
}

// cooldownWhy says in words what started a cool-down (its reason, as
// package cooldown stores it).
var cooldownWhy = map[string]string{
	cooldown.ReasonPassword:      "your password was changed",
	cooldown.ReasonFactorAdded:   "a second factor was added",
	cooldown.ReasonFactorRemoved: "a second factor was removed",
	cooldown.ReasonUnfreeze:      "your account was unfrozen",
	cooldown.ReasonRecovery:      "your account was recovered",
}

type doorCount struct {
	Door string
	N    int
}

// recentEvents is how many events the overview shows.
const recentEvents = 5

func handleOverview(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		if d.followReturn(w, r) {
			return nil // back to the page forward-auth sent the visitor from
		}
		rows, err := d.activeSessions(r, v)
		if err != nil {
			return err
		}
		count := map[string]int{}
		for _, s := range rows {
			count[s.Door]++
		}
		data := overviewData{Sessions: len(rows)}
		if u := v.User; u.CoolingDown(d.now()) {
			why := cooldownWhy[u.CooldownReason]
			if why == "" {
				why = "a security change was made"
			}
			data.Cooldown = &cooldownNote{Until: u.CooldownUntil, Why: why}
		}
		for _, i := range session.Doors {
			name := doorName(string(i))
			data.Doors = append(data.Doors, doorCount{Door: name, N: count[name]})
		}
		events, err := d.Login.Trail(r.Context(), d.actor(r, v), 0, recentEvents)
		if err != nil {
			return err
		}
		for _, e := range events {
			data.Recent = append(data.Recent, viewEvent(e))
		}
		p := page{Title: "Security overview", Nav: "overview", V: v, CSRF: v.CSRF, Notice: notice(r), Data: &data}
		// The report judges the stored state; when it cannot be made, the
		// summary below still tells the visitor what they most need.
		if d.Posture != nil {
			if rep, err := d.Posture.Own(r.Context(), d.actor(r, v)); err != nil {
				d.Log.ErrorContext(r.Context(), "posture report for the overview", "err", err)
			} else {
				data.Posture = posture.Fragment(rep)
				p.Styles = []string{"posture.css"}
			}
		}
		return render(w, http.StatusOK, "overview", p)
	}
}
