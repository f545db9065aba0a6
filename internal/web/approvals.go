package web

import (
	"errors"
	"net/http"
	"net/url"

	"gatehouse/internal/approval"
	"gatehouse/internal/authz"
	"gatehouse/internal/edge"
	"gatehouse/internal/factor"
)

// The approval page: the details of one transaction in words, in full,
// then the owner's security key or passkey, whose WebAuthn challenge
// commits to the details' hash. The page only shows; the script signs
// through the API (POST /v1/approvals/{id}/webauthn/begin and finish),
// so an approval needs the key, never just a click.

// approvalData is the approval page's content.
type approvalData struct {
	A     *approval.Approval
	State approval.Status
	Words []string
	// Key says the visitor has a security key or passkey to approve with.
	Key bool
}

func handleApprovalPage(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		a, _, err := d.Approvals.Get(r.Context(), authz.Requester{Session: v.Session}, r.PathValue("id"))
		if err != nil {
			return err
		}
		data := approvalData{A: a, State: a.State(d.now()), Words: approval.Words(a.Kind, a.Details)}
		for _, f := range v.Factors {
			if f.Kind == factor.WebAuthn {
				data.Key = true
			}
		}
		title := "Approve a " + kindWords(a.Kind)
		if data.State != approval.Pending {
			title = "A " + kindWords(a.Kind) + ", " + string(data.State)
		}
		p := page{Title: title, V: v, CSRF: v.CSRF, Data: data}
		if data.Key && data.State == approval.Pending {
			p.Scripts = []string{"webauthn.js"}
		}
		switch done := r.URL.Query().Get("done"); {
		case done == "approved" && data.State == approval.Approved:
			p.Notice = "Approved. The request can go ahead, once."
		case done == "denied" && data.State == approval.Denied:
			p.Notice = "Denied. Nothing of it will go through."
		}
		return render(w, http.StatusOK, "approval", p)
	}
}

// handleDenyApproval refuses a pending approval from the portal: one
// button, no key, since a denial lets nothing through.
func handleDenyApproval(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		id := r.PathValue("id")
		err := d.Approvals.DenyFromSession(r.Context(), v.Session, id, edge.ClientAddr(r, d.Proxies).String())
		if errors.Is(err, authz.ErrApprovalDecided) {
			// Decided or expired meanwhile: the page says which.
			http.Redirect(w, r, "/approvals/"+url.PathEscape(id), http.StatusSeeOther)
			return nil
		}
		if err != nil {
			return err
		}
		http.Redirect(w, r, "/approvals/"+url.PathEscape(id)+"?done=denied", http.StatusSeeOther)
		return nil
	}
}

// kindWords names a kind of approval in a sentence.
func kindWords(k approval.Kind) string {
	switch k {
	case approval.BankAccountChange:
		return "bank account change"
	case approval.LiveKey:
		return "live API key"
	case approval.Permission:
		return "trading permission"
	}
	return string(k)
}
