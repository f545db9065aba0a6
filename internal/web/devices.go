package web

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"gatehouse/internal/clienttext"
	"gatehouse/internal/device"
	"gatehouse/internal/fault"
	"gatehouse/internal/session"
)

// Devices: the browsers and apps the account signs in from. A new one
// waits until a trusted device approves it, here, by the phone, or by the
// link e-mailed to the account's owner.

// deviceRow is one device as the devices page lists it.
type deviceRow struct {
	ID       string
	Name     string
	Door     string
	Status   device.Status
	Current  bool
	Added    time.Time
	LastSeen time.Time
}

// devicesData is the devices page's content.
type devicesData struct {
	Devices []deviceRow
	// Revoked counts the revoked devices, which the page does not list.
	Revoked int
	// Trusted says the visitor's own device is trusted, and so may approve.
	Trusted bool
	Error   string
}

// devicesOrder puts waiting devices first, then this one, then the rest
// by last use.
func devicesOrder(a, b deviceRow) int {
	rank := func(r deviceRow) int {
		switch {
		case r.Status == device.Pending:
			return 0
		case r.Current:
			return 1
		}
		return 2
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra - rb
	}
	return b.LastSeen.Compare(a.LastSeen)
}

func (d *deps) devicesPage(w http.ResponseWriter, r *http.Request, v *visitor, status int, errMsg string) error {
	ds, err := d.Login.OwnDevices(r.Context(), d.actor(r, v))
	if err != nil {
		return err
	}
	data := devicesData{Error: errMsg}
	for _, x := range ds {
		if x.Status == device.Revoked {
			data.Revoked++
			continue
		}
		row := deviceRow{ID: x.ID, Name: x.Name, Door: doorName(x.Interface), Status: x.Status, Current: x.ID == v.Session.DeviceID,
			Added: x.CreatedAt, LastSeen: x.LastSeenAt}
		if row.Current && x.Status == device.Trusted {
			data.Trusted = true
		}
		data.Devices = append(data.Devices, row)
	}
	slices.SortStableFunc(data.Devices, devicesOrder)
	return render(w, status, "devices", page{Title: "Devices", Nav: "devices", V: v, CSRF: v.CSRF, Notice: notice(r), Data: data})
}

func handleDevices(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		return d.devicesPage(w, r, v, http.StatusOK, "")
	}
}

// msgApproveElsewhere says why this session may not approve devices.
const msgApproveElsewhere = "Only a device you already trust can approve another. Approve this one from a browser or app that is trusted, or with the link in the e-mail."

func handleApproveDevice(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		_, err := d.Login.ApproveDevice(r.Context(), v.Session, r.PathValue("id"))
		var se *session.StepUpError
		switch {
		case errors.As(err, &se):
			return d.stepUp(w, r, v, http.StatusForbidden, se.Need, "Approving a new device", "/devices", "")
		case fault.Of(err) == fault.NotAllowed:
			return d.devicesPage(w, r, v, http.StatusForbidden, msgApproveElsewhere)
		case err != nil:
			status, msg, ok := d.failure(w, err)
			if !ok {
				return err
			}
			return d.devicesPage(w, r, v, status, msg)
		}
		http.Redirect(w, r, "/devices?done=device-approved", http.StatusSeeOther)
		return nil
	}
}

func handleRevokeDevice(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		ended, err := d.Login.RevokeDevice(r.Context(), v.Session, r.PathValue("id"))
		if err != nil {
			return err
		}
		d.Auth.Sessions.Forget(ended...)
		if slices.Contains(ended, v.Session.ID) {
			// This very device: it is signed out with the rest.
			d.Cookies.Clear(w, d.Cookies.Session())
			http.Redirect(w, r, "/login?done=this-device-revoked", http.StatusSeeOther)
			return nil
		}
		http.Redirect(w, r, "/devices?done=device-revoked", http.StatusSeeOther)
		return nil
	}
}

// linkData is the content of the page an e-mailed approval link opens.
type linkData struct {
	// Token is the link's token, sent back by the confirm button's form.
	Token string
	// Done says the device was approved.
	Done  bool
	Error string
}

// msgBadLink is the one answer for a link that cannot approve anything.
const msgBadLink = "This approval link does not work: it was used already, it expired (links last 30 minutes), or it was cut short. Sign in again on the new device to get a new one."

// handleApproveLinkForm shows the e-mailed link's page. It approves
// nothing: link scanners and mail previews open links, so a GET must be
// safe; the visitor's click on the button approves.
func handleApproveLinkForm(d *deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		tok := r.URL.Query().Get("token")
		secret, err := d.loginSecret(w, r)
		if err != nil {
			return err
		}
		data := linkData{Token: tok}
		status := http.StatusOK
		if tok == "" || len(tok) > 128 || !clienttext.Printable(tok, 128) {
			data.Token, data.Error, status = "", msgBadLink, http.StatusBadRequest
		}
		return render(w, status, "device-link", page{Title: "Approve a new device", CSRF: formToken(secret), Data: data})
	}
}

func handleApproveLink(d *deps) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := parseForm(w, r); err != nil {
			return err
		}
		if !d.loginFormOK(r) {
			return errForgedForm()
		}
		secret, err := d.loginSecret(w, r)
		if err != nil {
			return err
		}
		p := page{Title: "Approve a new device", CSRF: formToken(secret)}
		_, err = d.Login.ApproveDeviceByLink(r.Context(), r.PostForm.Get("token"))
		if fault.Of(err) == fault.InvalidCode {
			p.Data = linkData{Error: msgBadLink}
			return render(w, http.StatusBadRequest, "device-link", p)
		}
		if err != nil {
			return err
		}
		p.Data = linkData{Done: true}
		return render(w, http.StatusOK, "device-link", p)
	}
}
