package web

import (
	"net/http"

	"gatehouse/internal/session"
)

// overviewData is the security overview's content: until the posture
// report's login map replaces it, the factors and sessions summary.
type overviewData struct {
	// Doors counts live sessions per interface, in [session.Interfaces] order.
	Doors    []doorCount
	Sessions int
	// Recent are the newest events of the audit trail.
	Recent []eventRow
}

type doorCount struct {
	Door string
	N    int
}

// recentEvents is how many events the overview shows.
const recentEvents = 5

func handleOverview(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		rows, err := d.activeSessions(r, v)
		if err != nil {
			return err
		}
		count := map[string]int{}
		for _, s := range rows {
			count[s.Door]++
		}
		data := overviewData{Sessions: len(rows)}
		for _, i := range session.Interfaces {
			name := doorName(string(i))
			data.Doors = append(data.Doors, doorCount{Door: name, N: count[name]})
		}
		events, err := d.Store.AuditOfUser(r.Context(), v.User.ID, 0, recentEvents)
		if err != nil {
			return err
		}
		for _, e := range events {
			data.Recent = append(data.Recent, viewEvent(e))
		}
		return render(w, http.StatusOK, "overview", page{Title: "Security overview", Nav: "overview", V: v, CSRF: v.CSRF, Notice: notice(r), Data: data})
	}
}
