package httpapi

import (
	"context"
	"net/http"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/clienttext"
)

// networkView is a network a key was used from, as the API shows it.
type networkView struct {
	Network     string     `json:"network"`
	FirstIP     string     `json:"first_ip,omitempty"`
	FirstSeenAt time.Time  `json:"first_seen_at"`
	Held        bool       `json:"held"`
	ApprovedAt  *time.Time `json:"approved_at,omitempty"`
	ApprovedBy  string     `json:"approved_by,omitempty"`
}

func viewNetwork(n *apikey.Network) networkView {
	v := networkView{Network: n.Network, FirstSeenAt: n.FirstSeenAt, Held: n.Held(), ApprovedBy: n.ApprovedBy}
	if n.FirstIP.IsValid() {
		v.FirstIP = n.FirstIP.String()
	}
	if !n.Held() {
		at := n.ApprovedAt
		v.ApprovedAt = &at
	}
	return v
}

func handleKeyNetworks(d keyDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.actor(r)
		if err != nil {
			return err
		}
		ns, err := d.keys.Networks(r.Context(), a, r.PathValue("account"), r.PathValue("id"))
		if err != nil {
			return err
		}
		out := struct {
			Networks []networkView `json:"networks"`
		}{make([]networkView, len(ns))}
		for i, n := range ns {
			out.Networks[i] = viewNetwork(n)
		}
		return writeJSON(w, http.StatusOK, out)
	}
}

// approveNetworkRequest is the body of POST …/keys/{id}/networks/approve.
type approveNetworkRequest struct {
	Network string `json:"network"`
}

func (b approveNetworkRequest) Valid(context.Context) []FieldError {
	if b.Network == "" || !clienttext.Printable(b.Network, 64) {
		return []FieldError{{"network", "the network the key is held on, as the hold problem and the list name it (203.0.113.0/24, AS64500)"}}
	}
	return nil
}

func handleApproveKeyNetwork(d keyDeps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		a, err := d.actor(r)
		if err != nil {
			return err
		}
		body, err := decode[approveNetworkRequest](w, r)
		if err != nil {
			return err
		}
		if err := d.keys.ApproveNetwork(r.Context(), a, r.PathValue("account"), r.PathValue("id"), body.Network); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
