package playbook

import (
	"time"

	"gatehouse/internal/signal"
)

// SignalJSON is a signal as the command line (--json) and the admin API
// show it.
type SignalJSON struct {
	ID        string     `json:"id"`
	Title     string     `json:"title"`
	Kind      string     `json:"kind"`
	Severity  string     `json:"severity"`
	Doors     []string   `json:"doors"`
	Profiles  []string   `json:"profiles"`
	Link      string     `json:"link,omitempty"`
	Steps     []string   `json:"steps"`
	State     string     `json:"state"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	AppliedAt *time.Time `json:"applied_at,omitempty"`
	ClosedAt  *time.Time `json:"closed_at,omitempty"`
	ClosedBy  string     `json:"closed_by,omitempty"`
}

// JSON returns s as [SignalJSON].
func JSON(s *signal.Signal) SignalJSON {
	out := SignalJSON{ID: s.ID, Title: s.Title, Kind: string(s.Kind), Severity: string(s.Severity), Doors: []string{}, Profiles: []string{},
		Link: s.Link, Steps: []string{}, State: string(s.State), CreatedAt: s.CreatedAt, CreatedBy: s.CreatedBy, ClosedBy: s.ClosedBy}
	out.Doors = append(out.Doors, s.Doors...)
	for _, p := range s.Profiles {
		out.Profiles = append(out.Profiles, string(p))
	}
	for _, st := range s.Steps {
		out.Steps = append(out.Steps, st.String())
	}
	if !s.AppliedAt.IsZero() {
		t := s.AppliedAt
		out.AppliedAt = &t
	}
	if !s.ClosedAt.IsZero() {
		t := s.ClosedAt
		out.ClosedAt = &t
	}
	return out
}

// PlanJSON is a dry run's or an application's answer.
type PlanJSON struct {
	Signal SignalJSON `json:"signal"`
	DryRun bool       `json:"dry_run"`
	// Counts holds the number of actions of each op, and "users": how
	// many users they touch.
	Counts  map[string]int  `json:"counts"`
	Actions []signal.Action `json:"actions"`
}

// JSON returns p as [PlanJSON].
func (p *Plan) JSON(dryRun bool) PlanJSON {
	acts := p.Actions
	if acts == nil {
		acts = []signal.Action{}
	}
	return PlanJSON{Signal: JSON(p.Signal), DryRun: dryRun, Counts: p.Count(), Actions: acts}
}
