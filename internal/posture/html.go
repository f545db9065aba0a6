package posture

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
)

// Stylesheet is the CSS of the HTML report. [WriteHTML] inlines it; a
// portal that embeds [WriteHTMLFragment] serves it as its own stylesheet,
// so a strict Content-Security-Policy need not allow inline styles. Every
// class it styles starts with "gh-". The map needs none of it: the SVG
// carries its colours as attributes.
//
//go:embed report.css
var Stylesheet string

// palette is the colour of each exposure on the map and in the list:
// a strong colour for lines and badges, a pale one for backgrounds.
var palette = map[Exposure]struct{ strong, pale, label string }{
	High:      {"#c62828", "#fdecea", "High"},
	Medium:    {"#e65100", "#fff1e0", "Medium"},
	Low:       {"#8d6e00", "#fff8d6", "Low"},
	Mitigated: {"#2e7d32", "#e8f5e9", "Covered"},
}

const (
	unusedStrong = "#9e9e9e"
	unusedPale   = "#f5f5f5"
	ink          = "#212121"
	muted        = "#5f6368"
)

// Label returns the exposure's word for a person: "High", "Medium",
// "Low" or "Covered".
func (e Exposure) Label() string {
	if p, ok := palette[e]; ok {
		return p.label
	}
	return string(e)
}

// WriteHTML writes r as a self-contained page: inline CSS only, no
// scripts, no external resources. It holds the login map followed by the
// findings in order, then the custody protection of each entity.
func WriteHTML(w io.Writer, r Report) error {
	return pageTemplate.Execute(w, struct {
		Title string
		CSS   template.CSS
		Body  template.HTML
	}{
		Title: "Security posture of " + r.User.Name,
		CSS:   template.CSS(Stylesheet),
		Body:  Fragment(r),
	})
}

// WriteHTMLFragment writes r as an HTML fragment for a page that already
// has its own head: one <section class="gh-posture"> holding the login
// map and the findings. It contains no script and no style attribute or
// element; style it with [Stylesheet].
func WriteHTMLFragment(w io.Writer, r Report) error {
	_, err := io.WriteString(w, string(Fragment(r)))
	return err
}

// Fragment returns what [WriteHTMLFragment] writes, for a portal that
// composes it into its own html/template page.
func Fragment(r Report) template.HTML {
	var b strings.Builder
	if err := fragmentTemplate.Execute(&b, fragmentData(r)); err != nil {
		// The template is fixed and its data plain values: an error here
		// is a bug in this package, not in the report.
		panic(fmt.Sprintf("posture: render fragment: %v", err))
	}
	return template.HTML(b.String())
}

type htmlFinding struct {
	Finding
	Title  string
	Label  string
	Number int
	Doors  string
}

func fragmentData(r Report) any {
	var open, covered []htmlFinding
	for _, f := range r.Findings {
		hf := htmlFinding{Finding: f, Title: f.FailureMode.Title(), Label: f.Exposure.Label(), Doors: doorTitles(f.Doors)}
		if f.Exposure == Mitigated {
			covered = append(covered, hf)
			continue
		}
		hf.Number = len(open) + 1
		open = append(open, hf)
	}
	var entities []struct {
		EntityReport
		Line string
	}
	for _, e := range r.Entities {
		entities = append(entities, struct {
			EntityReport
			Line string
		}{e, entityLine(e.Entity)})
	}
	return struct {
		Report
		Map        template.HTML
		Open       []htmlFinding
		Covered    []htmlFinding
		High       int
		Medium     int
		Low        int
		Mitigated  int
		AssessedAt string
		Entities   any
	}{
		Report: r, Map: MapSVG(r), Open: open, Covered: covered,
		High: r.Count(High), Medium: r.Count(Medium), Low: r.Count(Low), Mitigated: r.Count(Mitigated),
		AssessedAt: r.AssessedAt.UTC().Format("2 January 2006, 15:04 MST"),
		Entities:   entities,
	}
}

func doorTitles(doors []string) string {
	var t []string
	for _, d := range doors {
		t = append(t, Door{Name: d}.Title())
	}
	return strings.Join(t, ", ")
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
{{.CSS}}
</style>
</head>
<body class="gh-page">
{{.Body}}
</body>
</html>
`))

var fragmentTemplate = template.Must(template.New("fragment").Parse(`<section class="gh-posture">
<header class="gh-head">
<h1>Security posture of {{.User.Name}}</h1>
<p class="gh-profile">Judged against the <strong>{{.Profile}}</strong> profile: {{.Policy}}.</p>
<p class="gh-counts">
<span class="gh-count gh-high">{{.High}} high</span>
<span class="gh-count gh-medium">{{.Medium}} medium</span>
<span class="gh-count gh-low">{{.Low}} low</span>
<span class="gh-count gh-mitigated">{{.Mitigated}} covered</span>
</p>
</header>
{{range .Signals}}<div class="gh-signal" id="gh-signal-{{.ID}}">
<h2>Security notice in force: {{.Title}}</h2>
{{if .Owed}}<p><strong>You still need to:</strong></p><ul>{{range .Owed}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Rules}}<p>Meanwhile:</p><ul>{{range .Rules}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Link}}<p><a href="{{.Link}}" rel="noopener noreferrer">More about it</a></p>{{end}}
</div>
{{end}}<h2>How you sign in, and what can go wrong</h2>
<p class="gh-lead">Each box is a way into your account. Below its name: what guards it. At the bottom: what can go wrong there, coloured by how exposed you are.</p>
<figure class="gh-map">
{{.Map}}
</figure>
{{if .Open}}<h2>What to fix, most important first</h2>
<ol class="gh-findings">
{{range .Open}}<li class="gh-finding gh-f-{{.Exposure}}" id="gh-{{.ID}}">
<p class="gh-finding-head"><span class="gh-badge gh-{{.Exposure}}">{{.Label}}</span> <strong>{{.Title}}</strong> <span class="gh-doors">{{.Doors}}</span></p>
<p class="gh-summary">{{.Summary}}</p>
{{if .Also}}<ul class="gh-also">
{{range .Also}}<li><span class="gh-badge gh-{{.Exposure}}">{{.Exposure.Label}}</span> {{.Summary}}</li>
{{end}}</ul>
{{end}}<p class="gh-next"><strong>Next step:</strong> {{.NextStep}}</p>
<ul class="gh-evidence">
{{range .Evidence}}<li>{{if eq .Kind "finding"}}finding <a href="#gh-{{.ID}}">{{.ID}}</a>{{else}}{{.Kind}}{{if .Name}} “{{.Name}}”{{else if .ID}} {{.ID}}{{end}}{{end}}: {{.Detail}}</li>
{{end}}</ul>
{{if .Basis}}<p class="gh-basis">Rules: {{range $i, $b := .Basis}}{{if $i}}; {{end}}{{$b.Source}}: {{$b.Rule}}{{end}}</p>
{{end}}<p class="gh-id">{{.ID}}</p>
</li>
{{end}}</ol>
{{else}}<h2>Nothing to fix</h2>
<p>No open findings.</p>
{{end}}{{if .Covered}}<h2>Already covered</h2>
<ul class="gh-covered">
{{range .Covered}}<li id="gh-{{.ID}}"><span class="gh-badge gh-mitigated">{{.Label}}</span> <strong>{{.Title}}</strong>: {{.Summary}}</li>
{{end}}</ul>
{{end}}{{if .Unstated}}<h2>Not stated, so not judged</h2>
<ul class="gh-unstated">
{{range .Unstated}}<li id="gh-unstated-{{.Field}}"><strong>{{.Ask}}</strong> {{.Answer}} <span class="gh-doors">Checks waiting on it: {{range $i, $c := .Checks}}{{if $i}}, {{end}}{{$c}}{{end}}</span></li>
{{end}}</ul>
{{end}}{{if .Entities}}<h2>Custody protection</h2>
{{range .Entities}}<div class="gh-entity">
<p><strong>{{.Line}}</strong></p>
<p>Accounts: {{range $i, $a := .Accounts}}{{if $i}}, {{end}}{{$a}}{{end}}</p>
<p class="gh-reminder">{{.Reminder}}</p>
</div>
{{end}}
{{end}}<p class="gh-foot">Assessed {{.AssessedAt}}.</p>
</section>
`))

// MapSVG returns the login map of r as an inline SVG element: the
// account at the top, the four doors below it with what guards each, and
// the failure modes of each door coloured by exposure. Colours are SVG
// presentation attributes, so the map needs no stylesheet and no script.
func MapSVG(r Report) template.HTML {
	const (
		width   = 1000
		margin  = 12
		gap     = 18
		pad     = 12
		lineH   = 17
		noteH   = 15
		headH   = 46
		boldW   = 8.4 // a generous average width of a bold 13px sans-serif glyph
		charW   = 6.8 // and of a regular 12px one
		accLine = 18
	)
	colW := (width - 2*margin - 3*gap) / 4
	chars := int(float64(colW-2*pad-16) / boldW)
	noteChars := int(float64(colW-2*pad-16) / charW)

	var b strings.Builder
	esc := template.HTMLEscapeString

	// The account box at the top.
	accLines := accountLines(r)
	accW := 700
	accX := (width - accW) / 2
	accY := 10
	accH := 30 + accLine*len(accLines)

	// The columns, laid out first so that every card gets the height of
	// the tallest.
	type col struct {
		door     Door
		exposure Exposure
		touched  bool
		body     strings.Builder
		height   int
	}
	cols := make([]*col, 0, len(r.Doors))
	for _, d := range r.Doors {
		c := &col{door: d}
		c.exposure, c.touched = r.DoorExposure(d.Name)
		y := headH + pad
		text := func(x, y int, size int, weight, colour, s string) {
			fmt.Fprintf(&c.body, `<text x="%d" y="%d" font-size="%d" font-weight="%s" fill="%s">%s</text>`+"\n", x, y, size, weight, colour, esc(s))
		}
		label := func(s string) {
			y += 6
			text(pad, y+10, 11, "700", muted, strings.ToUpper(s))
			y += 20
		}
		if !d.Used && len(d.Guards) == 0 {
			text(pad, y+14, 13, "400", muted, "Not used")
			c.height = y + 30
			cols = append(cols, c)
			continue
		}
		label("Guarded by")
		if len(d.Guards) == 0 {
			text(pad, y+12, 13, "400", muted, "nothing listed")
			y += lineH
		}
		for _, g := range d.Guards {
			dot := "#455a64"
			if g.Weak {
				dot = palette[High].strong
			}
			fmt.Fprintf(&c.body, `<circle cx="%d" cy="%d" r="4.5" fill="%s"/>`+"\n", pad+5, y+8, dot)
			for _, line := range wrapWords(g.Name, chars) {
				text(pad+16, y+12, 13, "600", ink, line)
				y += lineH
			}
			if g.Note != "" {
				colour := muted
				if g.Weak {
					colour = palette[High].strong
				}
				for _, line := range wrapWords(g.Note, noteChars) {
					text(pad+16, y+10, 12, "400", colour, line)
					y += noteH
				}
			}
			y += 5
		}
		modes := doorModes(r, d.Name)
		if len(modes) > 0 {
			label("What can go wrong")
			for _, m := range modes {
				p := palette[m.exposure]
				lines := wrapWords(m.mode.Title(), chars)
				h := 10 + lineH*len(lines) + 16
				fmt.Fprintf(&c.body, `<rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="%s" stroke="%s" stroke-width="1.5"/>`+"\n", pad, y, colW-2*pad, h, p.pale, p.strong)
				fmt.Fprintf(&c.body, `<rect x="%d" y="%d" width="6" height="%d" rx="2" fill="%s"/>`+"\n", pad, y, h, p.strong)
				ty := y + 4
				for _, line := range lines {
					text(pad+14, ty+13, 13, "600", ink, line)
					ty += lineH
				}
				what := strings.ToUpper(p.label)
				if m.count > 1 {
					what += fmt.Sprintf(" · %d findings", m.count)
				}
				text(pad+14, ty+12, 11, "700", p.strong, what)
				y += h + 6
			}
		}
		c.height = y + pad
		cols = append(cols, c)
	}
	cardH := 0
	for _, c := range cols {
		cardH = max(cardH, c.height)
	}
	cardY := accY + accH + 44
	legendY := cardY + cardH + 22
	height := legendY + 30

	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="gh-map-svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="gh-map-title gh-map-desc" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<title id="gh-map-title">Login map of %s</title>`+"\n", esc(r.User.Name))
	fmt.Fprintf(&b, `<desc id="gh-map-desc">%s</desc>`+"\n", esc(mapDescription(r)))
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)

	// Connectors from the account to each door, coloured by the door's
	// worst exposure: the paths an attacker would take.
	busY := accY + accH + 22
	for i, c := range cols {
		cx := margin + i*(colW+gap) + colW/2
		colour, dash := doorColour(c.door, c.exposure, c.touched)
		fmt.Fprintf(&b, `<path d="M %d %d V %d H %d V %d" fill="none" stroke="%s" stroke-width="3"%s/>`+"\n", width/2, accY+accH, busY, cx, cardY, colour, dash)
	}

	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="10" fill="#263238"/>`+"\n", accX, accY, accW, accH)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="15" font-weight="700" fill="#ffffff" text-anchor="middle">%s</text>`+"\n", width/2, accY+21, esc(accountTitle(r)))
	for i, line := range accLines {
		fill, weight := "#eceff1", "400"
		if line.warn {
			fill, weight = "#ff8a80", "700"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="13" font-weight="%s" fill="%s" text-anchor="middle">%s</text>`+"\n", width/2, accY+21+accLine*(i+1), weight, fill, esc(line.text))
	}

	for i, c := range cols {
		x := margin + i*(colW+gap)
		strong, _ := doorColour(c.door, c.exposure, c.touched)
		pale := unusedPale
		status := "Not used"
		if c.door.Used || len(c.door.Guards) > 0 {
			status = "No findings"
			pale = "#ffffff"
			if c.touched {
				status = c.exposure.Label()
				if c.exposure != Mitigated {
					status += " risk"
				}
			}
		}
		fmt.Fprintf(&b, `<g transform="translate(%d %d)">`+"\n", x, cardY)
		fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" rx="10" fill="%s" stroke="%s" stroke-width="2"/>`+"\n", colW, cardH, pale, strong)
		fmt.Fprintf(&b, `<path d="M 0 10 A 10 10 0 0 1 10 0 H %d A 10 10 0 0 1 %d 10 V %d H 0 Z" fill="%s"/>`+"\n", colW-10, colW, headH, strong)
		fmt.Fprintf(&b, `<text x="%d" y="21" font-size="16" font-weight="700" fill="#ffffff">%s</text>`+"\n", pad, esc(c.door.Title()))
		fmt.Fprintf(&b, `<text x="%d" y="38" font-size="12" font-weight="600" fill="#ffffff">%s</text>`+"\n", pad, esc(status))
		b.WriteString(c.body.String())
		b.WriteString("</g>\n")
	}

	// The legend, so that colour is never the only cue.
	lx := margin
	for _, e := range Exposures {
		p := palette[e]
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="16" height="16" rx="3" fill="%s"/>`+"\n", lx, legendY, p.strong)
		word := p.label
		if e != Mitigated {
			word += " exposure"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" fill="%s">%s</text>`+"\n", lx+22, legendY+13, ink, esc(word))
		lx += 22 + int(float64(len(word))*charW) + 24
	}
	fmt.Fprintf(&b, `<circle cx="%d" cy="%d" r="4.5" fill="%s"/>`+"\n", lx+8, legendY+8, palette[High].strong)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" fill="%s">a weak guard</text>`+"\n", lx+20, legendY+13, ink)
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// doorColour is the colour of a door's card and connector, and a dash
// attribute for doors not in use.
func doorColour(d Door, e Exposure, touched bool) (string, string) {
	if !d.Used && len(d.Guards) == 0 {
		return unusedStrong, ` stroke-dasharray="6 6"`
	}
	if !touched {
		return "#455a64", ""
	}
	return palette[e].strong, ""
}

type doorMode struct {
	mode     FailureMode
	exposure Exposure
	count    int
}

// doorModes returns the failure modes whose findings touch door, each
// with its worst exposure, worst first.
func doorModes(r Report, door string) []doorMode {
	var out []doorMode
	add := func(mode FailureMode, e Exposure) {
		i := slices.IndexFunc(out, func(m doorMode) bool { return m.mode == mode })
		if i < 0 {
			out = append(out, doorMode{mode: mode, exposure: e, count: 1})
			return
		}
		out[i].count++
		if e.rank() < out[i].exposure.rank() {
			out[i].exposure = e
		}
	}
	for _, f := range r.Findings {
		if f.FailureMode == PermissionsAhead {
			continue // shown on the account box: it is about the account
		}
		if slices.Contains(f.Doors, door) {
			add(f.FailureMode, f.Exposure)
		}
		// A consequence of one root cause still shows where it strikes,
		// at the exposure of the finding that speaks for it.
		for _, c := range f.Also {
			if slices.Contains(c.Doors, door) {
				add(c.FailureMode, f.Exposure)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b doorMode) int { return a.exposure.rank() - b.exposure.rank() })
	return out
}

func accountTitle(r Report) string {
	if r.User.Name == "" {
		return "Your accounts"
	}
	return r.User.Name + "’s accounts"
}

// accountLine is one line of the map's account box; warn lines are the
// permissions-ahead-of-controls findings, which concern the account
// rather than any one door.
type accountLine struct {
	text string
	warn bool
}

// accountLines describes the accounts for the map's top box.
func accountLines(r Report) []accountLine {
	schemes := map[string]string{}
	for _, e := range r.Entities {
		if e.Scheme != "" {
			schemes[e.Code] = e.Scheme
		}
	}
	var out []accountLine
	for _, a := range r.Accounts {
		parts := []string{a.ID}
		if a.Name != "" {
			parts[0] = a.Name + " (" + a.ID + ")"
		}
		parts = append(parts, a.Environment)
		if len(a.Permissions) > 0 {
			parts = append(parts, strings.Join(a.Permissions, ", "))
		}
		if sc, ok := schemes[a.Entity]; ok {
			parts = append(parts, "custody: "+sc)
		}
		out = append(out, accountLine{text: strings.Join(parts, " · ")})
		for _, f := range r.Findings {
			if f.FailureMode == PermissionsAhead && slices.ContainsFunc(f.Evidence, func(e Evidence) bool { return e.Kind == "account" && e.ID == a.ID }) {
				out = append(out, accountLine{text: "⚠ " + strings.Join(a.Permissions, ", ") + " on while high findings are open", warn: true})
			}
		}
	}
	if len(out) == 0 {
		out = append(out, accountLine{text: "no account listed"})
	}
	return out
}

// mapDescription says in words what the map shows, for screen readers.
func mapDescription(r Report) string {
	var parts []string
	for _, d := range r.Doors {
		e, ok := r.DoorExposure(d.Name)
		switch {
		case !d.Used && len(d.Guards) == 0:
			parts = append(parts, d.Title()+": not used")
		case !ok:
			parts = append(parts, d.Title()+": no findings")
		default:
			parts = append(parts, d.Title()+": "+strings.ToLower(e.Label()))
		}
	}
	return "Ways into the account and their exposure. " + strings.Join(parts, "; ") + "."
}
