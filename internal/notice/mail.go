package notice

import (
	_ "embed"
	"fmt"
	htmltemplate "html/template"
	"sort"
	"strconv"
	"strings"
	texttemplate "text/template"
	"unicode"
)

// Recipient is who a mail is for, as the mail shows them.
type Recipient struct {
	Username string
	// Phrase is the user's anti-phishing phrase, "" for none. Not a
	// secret, but never logged.
	Phrase string
}

// Message is a notice rendered as mail: a subject and two bodies with the
// same content, for a multipart/alternative message.
//
// Security invariant: a message carries no login link and no tracking
// (no image, no external resource, no per-recipient URL). Its one link is
// the "This wasn't me" freeze link, which signs nobody in (and, in a
// recovery's notices, the cancel link, which signs nobody in either).
type Message struct {
	Subject string
	Text    string
	HTML    string
}

// Fact is one labelled line of a notice: the door, the device, a key.
type Fact struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// mailData is what the templates see.
type mailData struct {
	Spec
	Recipient
	Facts []Fact
	// Freeze is the "This wasn't me" link; "" when there is none, and
	// the mail says where the Freeze button is instead.
	Freeze string
	// Cancel is a recovery's one-click cancel link; "" for none.
	Cancel string
}

//go:embed mail.txt.tmpl
var textSource string

//go:embed mail.html.tmpl
var htmlSource string

var (
	textMail = texttemplate.Must(texttemplate.New("mail").Parse(textSource))
	htmlMail = htmltemplate.Must(htmltemplate.New("mail").Parse(htmlSource))
)

// Render returns n as mail to r. freeze is the notice's signed "This
// wasn't me" link (see the freeze package's link maker), or "" for none;
// it must be an https URL, or an http one on loopback for tests and demo.
func Render(n Notice, r Recipient, freeze string) (Message, error) {
	return RenderLinks(n, r, Links{Freeze: freeze})
}

// Links are the single-purpose links a notice mail carries, each "" for
// none: Freeze ("This wasn't me") and Cancel (a recovery's one-click
// cancel). Each must be https, or http on loopback for tests and demo.
type Links struct{ Freeze, Cancel string }

func webLink(l string) bool {
	return l == "" || strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://127.0.0.1") || strings.HasPrefix(l, "http://localhost")
}

// RenderLinks is Render with every link the notice carries.
func RenderLinks(n Notice, r Recipient, l Links) (Message, error) {
	s, ok := byEvent[n.Event]
	if !ok {
		return Message{}, fmt.Errorf("notice: render: unknown event %q", n.Event)
	}
	if !webLink(l.Freeze) || !webLink(l.Cancel) {
		return Message{}, fmt.Errorf("notice: render: link is not https")
	}
	d := mailData{Spec: *s, Recipient: Recipient{Username: client(r.Username), Phrase: r.Phrase}, Facts: Facts(n), Freeze: l.Freeze, Cancel: l.Cancel}
	var text, html strings.Builder
	if err := textMail.Execute(&text, d); err != nil {
		return Message{}, fmt.Errorf("notice: render text: %w", err)
	}
	if err := htmlMail.Execute(&html, d); err != nil {
		return Message{}, fmt.Errorf("notice: render html: %w", err)
	}
	return Message{Subject: s.Subject, Text: text.String(), HTML: html.String()}, nil
}

// doors names the interfaces as a holder reads them.
var doors = map[string]string{
	"web": "the web portal", "desktop": "the desktop workstation", "mobile": "the mobile app", "api": "an API key",
}

// details are the facts of an event's detail that a notice shows, in
// order, with their labels; other keys are not shown.
var details = []Fact{
	{"account", "Account"}, {"environment", "Environment"}, {"key", "API key"}, {"successor", "New key"},
	{"kind", "Factor"}, {"scopes", "Scopes"}, {"before", "Permissions before"}, {"after", "Permissions after"},
	{"failures", "Wrong answers in a row"}, {"reason", "Reason"}, {"completes_at", "Completes at"},
	{"title", "Advisory"}, {"todo", "What to do"}, {"link", "Advisory page"},
}

// long are the facts an operator wrote (a signal's title, what it asks):
// shown whole, not cut at 64 characters, but made as safe as a client's.
var long = map[string]bool{"title": true, "todo": true, "link": true}

// Facts returns the labelled facts a notice shows: door, device, address
// and time, then the event's own; for a [Summary], the count of each
// event held back. Text the client chose (a device name) is shortened
// and has its links broken, so that an intruder cannot put a link of
// their own into a real mail.
func Facts(n Notice) []Fact {
	var out []Fact
	if n.Event == Summary {
		keys := make([]string, 0, len(n.Detail))
		for k := range n.Detail {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			label := k
			if s, ok := byEvent[Event(k)]; ok {
				label = s.Subject
			}
			switch c, err := strconv.Atoi(n.Detail[k]); {
			case err != nil || c < 1:
			case c == 1:
				out = append(out, Fact{label, "once"})
			default:
				out = append(out, Fact{label, strconv.Itoa(c) + " times"})
			}
		}
		return out
	}
	if d, ok := doors[n.Interface]; ok {
		out = append(out, Fact{"Door", d})
	}
	if n.Device != "" {
		out = append(out, Fact{"Device", client(n.Device)})
	}
	if n.IP != "" {
		out = append(out, Fact{"Address", client(n.IP)})
	}
	if !n.Time.IsZero() {
		out = append(out, Fact{"Time", n.Time.UTC().Format("Mon, 2 Jan 2006 15:04:05 UTC")})
	}
	for _, f := range details {
		if v := n.Detail[f.Label]; v != "" && long[f.Label] {
			out = append(out, Fact{f.Value, clientN(v, 1000)})
		} else if v != "" {
			out = append(out, Fact{f.Value, client(v)})
		}
	}
	return out
}

// client makes text a client chose safe to show in a mail: at most 64
// characters on one line, with anything that reads as a link broken
// ("example.com" becomes "example[.]com") so mail programs do not make
// it clickable.
func client(s string) string { return clientN(s, 64) }

// clientN is [client] with at most n characters.
func clientN(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	s = strings.ReplaceAll(s, "://", "[:]//")
	// A dot between two letters or digits is how a host name looks.
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if r == '.' && i > 0 && i < len(rs)-1 && alnum(rs[i-1]) && unicode.IsLetter(rs[i+1]) {
			b.WriteString("[.]")
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func alnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
