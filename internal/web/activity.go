package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/session"
)

// eventRow is one audit event as the activity page shows it.
type eventRow struct {
	Seq     int64
	Time    time.Time
	What    string // a sentence for people
	Door    string
	IP      string
	Details []string
}

// viewEvent describes e, an event as [audit.ForOwner] lets its owner see
// it, in words. The details a sentence already says are not listed again.
func viewEvent(e audit.Event) eventRow {
	row := eventRow{Seq: e.Seq, Time: e.Time, Door: doorName(e.Interface), IP: e.IP, What: eventNames[e.Type]}
	said := map[string]bool{}
	switch e.Type {
	case audit.LoginFailed:
		if e.Detail["action"] == "password_change" {
			row.What = "Wrong current password given to change the password"
			said["action"] = true
		}
	case audit.SessionEnded:
		row.What += ": " + endReason(&e)
		said["reason"] = true
	case audit.DeviceTrusted:
		if e.Detail["by"] == "first_use" {
			row.What += " on its first use"
			said["by"] = true
		}
	}
	if row.What == "" {
		row.What = e.Type // a new kind of event is shown, if plainly
	}
	keys := make([]string, 0, len(e.Detail))
	for k, v := range e.Detail {
		if !said[k] && v != "" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := e.Detail[k]
		if k == "amr" {
			v = methodNames(v)
		}
		row.Details = append(row.Details, detailName(k)+": "+v)
	}
	return row
}

// eventNames say what each kind of event was.
var eventNames = map[string]string{
	audit.LoginSucceeded:      "Signed in",
	audit.LoginFailed:         "Failed sign-in: wrong username or password",
	audit.LoginThrottled:      "Sign-in refused: too many failed attempts",
	audit.SessionStarted:      "Session started",
	audit.SessionEnded:        "Session ended",
	audit.StepUp:              "Session confirmed with a second factor",
	audit.PasswordChanged:     "Password changed",
	audit.UserCreated:         "User created",
	audit.AccountCreated:      "Brokerage account created",
	audit.MemberAdded:         "Access to a brokerage account granted",
	audit.MemberRemoved:       "Access to a brokerage account removed",
	audit.FactorAdded:         "Second factor added",
	audit.FactorRemoved:       "Second factor removed",
	audit.FactorVerified:      "Second factor verified",
	audit.FactorFailed:        "Second factor refused",
	audit.FactorCloneSuspect:  "Security key may have been cloned",
	audit.RecoveryUsed:        "Recovery code used",
	audit.RecoveryRegenerated: "New recovery codes made",
	audit.PushApproved:        "Approved on the phone",
	audit.PushDenied:          "Denied on the phone",
	audit.PushReported:        "Reported on the phone as not you",
	audit.DeviceNew:           "New device waiting for approval",
	audit.DeviceTrusted:       "Device trusted",
	audit.DeviceRevoked:       "Device revoked",
	audit.KeyCreated:          "API key created",
	audit.KeyRotated:          "API key rotated",
	audit.KeyRevoked:          "API key revoked",
	audit.KeyNewAddress:       "API key used from a new address",
	audit.KeySuspended:        "API key suspended: its creator left the account",
}

// methodNames spells out an amr list (RFC 8176 values): "pwd otp" →
// "password, authenticator code".
func methodNames(amr string) string {
	names := map[string]string{"pwd": "password", "otp": "authenticator code", "hwk": "security key", "swk": "passkey",
		"mca": "phone approval", "sms": "SMS code", "rec": "recovery code"}
	var out []string
	for _, m := range strings.Fields(amr) {
		if n, ok := names[m]; ok {
			m = n
		}
		out = append(out, m)
	}
	return strings.Join(out, ", ")
}

// endReason says why a session ended, in words.
func endReason(e *audit.Event) string {
	switch e.Detail["reason"] {
	case session.EndLogout:
		return "signed out"
	case session.EndExpired:
		return "reached its time limit"
	case session.EndIdle:
		return "timed out after inactivity"
	case session.EndPasswordChange:
		return "signed out by a password change"
	case session.EndRevoked:
		switch {
		case e.Actor == "admin":
			return "ended by an administrator"
		case e.Detail["by_session"] != "":
			return "ended from another session"
		}
		return "ended"
	}
	return e.Detail["reason"]
}

// detailName names an audit detail key for people: "by_session" → "By session".
func detailName(k string) string {
	switch k {
	case "aal":
		return "Assurance"
	case "amr":
		return "Methods"
	}
	k = strings.ReplaceAll(k, "_", " ")
	if k == "" {
		return k
	}
	return strings.ToUpper(k[:1]) + k[1:]
}

// activityPage is how many events one page of the activity shows.
const activityPage = 25

type activityData struct {
	Events []eventRow
	// Older is the ?before= of the next page; 0 when this is the last.
	Older int64
	// Paged says this is not the first page.
	Paged bool
}

func handleActivity(d *deps) signedInFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visitor) error {
		var before int64
		if s := r.URL.Query().Get("before"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 1 {
				return errBadRequest("The page of activity asked for does not exist. Start again from the newest events.")
			}
			before = n
		}
		// One more than a page tells whether an older page exists.
		events, err := d.Login.Trail(r.Context(), d.actor(r, v), before, activityPage+1)
		if err != nil {
			return err
		}
		data := activityData{Paged: before > 0}
		if len(events) > activityPage {
			events = events[:activityPage]
			data.Older = events[len(events)-1].Seq
		}
		for _, e := range events {
			data.Events = append(data.Events, viewEvent(e))
		}
		return render(w, http.StatusOK, "activity", page{Title: "Activity", Nav: "activity", V: v, CSRF: v.CSRF, Data: data})
	}
}
