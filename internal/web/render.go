package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"

	"gatehouse/internal/factor"
	"gatehouse/internal/posture"
	"gatehouse/internal/session"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// page is what the layout renders around one page's content.
type page struct {
	Title string
	// Nav names the navigation entry of the page (marked aria-current).
	Nav string
	// V is the signed-in visitor; nil on the sign-in and error pages.
	V *visitor
	// CSRF is the token of the page's forms.
	CSRF string
	// Notice is a confirmation ("The session was ended.").
	Notice string
	// Data is the page's own content.
	Data any
	// Scripts are the files of static/ the page loads, deferred. No page
	// needs one to work, but for security keys and live updates.
	Scripts []string
	// Styles are stylesheets the page loads besides portal.css.
	Styles []string
}

// pages holds one template per page: the layout and the page's own file,
// which defines "main". A new page is a new file in templates/ and an
// entry here.
var pages = parsePages("login", "login-factor", "login-device", "overview", "sessions", "devices", "device-link", "factors", "factor-enrol",
	"recovery", "stepup", "keys", "key-new", "key-secret", "activity", "password", "notifications", "freeze", "unfreeze", "error", "approval", "lost")

func parsePages(names ...string) map[string]*template.Template {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	m := make(map[string]*template.Template, len(names))
	for _, n := range names {
		t := template.Must(base.Clone())
		m[n] = template.Must(t.ParseFS(templateFS, "templates/"+n+".html"))
	}
	return m
}

var funcs = template.FuncMap{
	// when formats a time for people; the page does not know their time
	// zone, so it says UTC.
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2 Jan 2006 15:04 UTC")
	},
	// iso is a time for <time datetime>.
	"iso":       func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"assurance": assuranceName,
	"factor":    factorName,
	"kindWords": kindWords,
	// msg is one of the fixed messages scripts show (scriptMessages).
	"msg": func(key string) (string, error) {
		m, ok := scriptMessages[key]
		if !ok {
			return "", fmt.Errorf("web: no script message %q", key)
		}
		return m, nil
	},
}

// scriptMessages are what the portal's scripts may say, handed to them
// in data- attributes so that every wording lives here, in Go, and a
// failed security key reads like a failed code.
var scriptMessages = map[string]string{
	"failed":      msgFactorFailed,
	"wait":        "Too many failed attempts. Wait {s} seconds, then try again.",
	"unsupported": "This browser cannot use security keys or passkeys. Choose another way, or use another browser.",
	"error":       "Something went wrong on our side. Try again in a moment.",
	"stopped":     "This page stopped checking by itself. Use Check again when you have answered.",
	"copied":      "Copied to the clipboard.",
	"not-copied":  "Could not copy. Select the text and copy it yourself.",
	"waiting":     "Waiting for your phone…",
	"badname":     msgBadName,
	"notallowed":  msgKindNotAllowed,
}

// factorName is how the portal names a second factor's kind.
func factorName(f *factor.Factor) string {
	switch f.Kind {
	case factor.TOTP:
		return "authenticator app"
	case factor.WebAuthn:
		if f.DeviceBound {
			return "security key"
		}
		return "passkey"
	case factor.Push:
		return "phone authenticator"
	case factor.SMS:
		return "SMS"
	}
	return string(f.Kind)
}

// doorName is how the portal names an interface to a trader.
func doorName(iface string) string {
	switch session.Door(iface) {
	case session.Web:
		return "Browser"
	case session.Desktop:
		return "Desktop app"
	case session.Mobile:
		return "Phone app"
	case "api":
		return "API key"
	case "":
		return "—"
	}
	return iface
}

// assuranceName explains an assurance level.
func assuranceName(a session.Assurance) string {
	switch a {
	case session.AAL1:
		return "Password only (AAL1)"
	case session.AAL2:
		return "Password and a second factor (AAL2)"
	case session.AAL3:
		return "Phishing-resistant security key (AAL3)"
	}
	return a.String()
}

// render writes the page named name with status. It renders into a buffer
// first, so a template failure is a clean 500 and never half a page.
func render(w http.ResponseWriter, status int, name string, p page) error {
	t, ok := pages[name]
	if !ok {
		return fmt.Errorf("web: no page %q", name)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout.html", p); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store") // securityHeaders says so too; a page must not depend on it
	w.WriteHeader(status)
	_, err := w.Write(b.Bytes())
	return err
}

// errorTitles head the error pages.
var errorTitles = map[int]string{
	http.StatusBadRequest:          "That did not work",
	http.StatusForbidden:           "Refused",
	http.StatusNotFound:            "Page not found",
	http.StatusInternalServerError: "Something went wrong",
}

// renderError writes the error page for e.
func renderError(w http.ResponseWriter, d *deps, e *httpError) {
	title := errorTitles[e.Code]
	if title == "" {
		title = http.StatusText(e.Code)
	}
	p := page{Title: title, Data: e}
	if err := render(w, e.Code, "error", p); err != nil {
		d.Log.Error("render error page", "err", err)
		http.Error(w, e.Msg, e.Code)
	}
}

// notices are the confirmations a redirect may ask a page to show, by key
// (?done=key). They are fixed texts, so a link cannot put words on a page.
var notices = map[string]string{
	"signed-out":          "You have signed out.",
	"ended":               "The session was ended. It is refused from its next request on.",
	"ended-others":        "Every other session was ended.",
	"password":            "Your password was changed. Your other sessions were signed out.",
	"confirmed":           "Confirmed. Now do again what you were doing.",
	"factor-added":        "The sign-in method was added.",
	"key-added":           "The security key was added.",
	"factor-removed":      "The sign-in method was removed.",
	"device-approved":     "The device was approved. A sign-in waiting on it goes ahead.",
	"device-revoked":      "The device was revoked, and its sessions ended.",
	"this-device-revoked": "This device was revoked, so it is signed out. Signing in here again makes it a new device.",
	"key-revoked":         "The API key was revoked. It is refused from its next request on.",
	"network-approved":    "The network was allowed: the key works from it within a second.",
	"unfrozen":            "Your account is unfrozen and your password changed. Your API keys work again; your other sessions were signed out.",
	"notices-saved":       "Your notice choices were saved.",
	"phrase-saved":        "Your anti-phishing phrase was saved. Mails from gatehouse start with it from now on.",
	"phrase-cleared":      "Your anti-phishing phrase was removed.",
}

// notice returns the confirmation r asks for, if any.
func notice(r *http.Request) string { return notices[r.URL.Query().Get("done")] }

// asset is one embedded static file.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

// assets are the files of static/, by URL path (/static/portal.css).
var assets = loadAssets()

func loadAssets() map[string]asset {
	m := map[string]asset{}
	err := fs.WalkDir(staticFS, "static", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		m["/"+p] = newAsset(b, ctype)
		return nil
	})
	if err != nil {
		panic(err) // the files are in the binary: only a build bug gets here
	}
	// The posture report's own stylesheet, served rather than inlined so
	// that the policy still allows no inline style. Its classes all start
	// with "gh-", so it cannot restyle the portal.
	m["/static/posture.css"] = newAsset([]byte(posture.Stylesheet), "text/css; charset=utf-8")
	return m
}

func newAsset(b []byte, ctype string) asset {
	sum := sha256.Sum256(b)
	return asset{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// handleStatic serves the embedded assets. They change only with the
// binary, so browsers revalidate them by ETag rather than keep them blind.
func handleStatic(w http.ResponseWriter, r *http.Request) error {
	a, ok := assets[r.URL.Path]
	if !ok {
		return errNotFound()
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	return nil
}
