package posture

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// textWidth is the width the text report wraps to.
const textWidth = 78

// WriteText writes r for a terminal: a header naming the user and the
// profile judged against, the open findings worst first, what is already
// covered, and the custody protection of each entity.
func WriteText(w io.Writer, r Report) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "Security posture of %s\n", userLine(r.User))
	fmt.Fprintf(b, "Assessed %s\n\n", r.AssessedAt.UTC().Format("2006-01-02 15:04 MST"))
	wrap(b, "", fmt.Sprintf("Judged against the %s profile: %s.", r.Profile, r.Policy))
	fmt.Fprintf(b, "\n%d high, %d medium, %d low, %d mitigated\n", r.Count(High), r.Count(Medium), r.Count(Low), r.Count(Mitigated))
	for _, sg := range r.Signals {
		fmt.Fprintf(b, "\nSecurity notice in force (%s)\n", sg.Severity)
		wrap(b, "  ", sg.Title)
		for _, o := range sg.Owed {
			wrap(b, "  You still need to: ", o)
		}
		for _, x := range sg.Rules {
			wrap(b, "  Meanwhile: ", x)
		}
		if sg.Link != "" {
			wrap(b, "  More: ", sg.Link)
		}
	}

	open, covered := 0, 0
	for _, f := range r.Findings {
		if f.Exposure == Mitigated {
			covered++
			continue
		}
		if open == 0 {
			fmt.Fprintf(b, "\nWhat to fix, most important first\n")
		}
		open++
		where := strings.Join(f.Doors, ", ")
		if where == "" {
			where = "account"
		}
		fmt.Fprintf(b, "\n%d. %-6s %s: %s [%s]\n", open, strings.ToUpper(string(f.Exposure)), f.FailureMode.Title(), f.ID, where)
		wrap(b, "   ", f.Summary)
		for _, c := range f.Also {
			wrap(b, "   Also ("+string(c.Exposure)+"): ", c.Summary)
		}
		for _, e := range f.Evidence {
			wrap(b, "   - ", evidenceLine(e))
		}
		wrap(b, "   Next step: ", f.NextStep)
		for _, bs := range f.Basis {
			wrap(b, "   Rule: ", bs.Source+": "+bs.Rule)
		}
	}
	if open == 0 {
		fmt.Fprintf(b, "\nNo open findings.\n")
	}
	if covered > 0 {
		fmt.Fprintf(b, "\nAlready covered\n")
		for _, f := range r.Findings {
			if f.Exposure == Mitigated {
				fmt.Fprintf(b, "\n- %s: %s\n", f.FailureMode.Title(), f.ID)
				wrap(b, "  ", f.Summary)
			}
		}
	}
	if len(r.Unstated) > 0 {
		fmt.Fprintf(b, "\nNot stated, so not judged\n")
		for _, q := range r.Unstated {
			fmt.Fprintln(b)
			wrap(b, "- ", q.Ask)
			wrap(b, "  ", q.Answer)
			wrap(b, "  Checks waiting on it: ", q.checksText())
		}
	}
	if len(r.Packs) > 1 {
		fmt.Fprintf(b, "\nRules applied\n")
		for _, p := range r.Packs {
			fmt.Fprintln(b)
			if len(p.Accounts) == 0 {
				wrap(b, "- ", p.Source+", for every account")
			} else {
				wrap(b, "- ", p.Source+", for "+strings.Join(p.Accounts, ", "))
			}
		}
	}
	if len(r.Entities) > 0 {
		fmt.Fprintf(b, "\nCustody protection\n")
		for _, e := range r.Entities {
			fmt.Fprintln(b)
			wrap(b, "", entityLine(e.Entity))
			wrap(b, "  Accounts: ", strings.Join(e.Accounts, ", "))
			wrap(b, "  ", e.Reminder)
		}
	}
	return b.Flush()
}

func userLine(u User) string {
	if u.ID == "" || u.ID == u.Name {
		return u.Name
	}
	return fmt.Sprintf("%s (%s)", u.Name, u.ID)
}

func entityLine(e Entity) string {
	name := e.Code
	if e.Name != "" {
		name += ": " + e.Name
	}
	if e.Jurisdiction != "" {
		name += ", " + e.Jurisdiction
	}
	if e.Scheme == "" {
		return name + ": scheme unknown"
	}
	return fmt.Sprintf("%s: %s, %s", name, e.Scheme, e.Limit)
}

func evidenceLine(e Evidence) string {
	var head []string
	head = append(head, e.Kind)
	if e.ID != "" {
		head = append(head, e.ID)
	}
	if e.Name != "" && e.Name != e.ID {
		head = append(head, fmt.Sprintf("%q", e.Name))
	}
	return strings.Join(head, " ") + ": " + e.Detail
}

// wrap writes text after prefix, wrapped to textWidth, continuing lines
// indented by the prefix's width.
func wrap(w io.Writer, prefix, text string) {
	indent := strings.Repeat(" ", len([]rune(prefix)))
	for i, line := range wrapWords(text, textWidth-len([]rune(prefix))) {
		p := indent
		if i == 0 {
			p = prefix
		}
		fmt.Fprintf(w, "%s%s\n", p, line)
	}
}

// wrapWords breaks text into lines of at most width runes, at spaces; a
// word longer than width gets a line of its own.
func wrapWords(text string, width int) []string {
	var lines []string
	var cur strings.Builder
	n := 0
	for _, word := range strings.Fields(text) {
		wl := len([]rune(word))
		if n > 0 && n+1+wl > width {
			lines = append(lines, cur.String())
			cur.Reset()
			n = 0
		}
		if n > 0 {
			cur.WriteByte(' ')
			n++
		}
		cur.WriteString(word)
		n += wl
	}
	if n > 0 || len(lines) == 0 {
		lines = append(lines, cur.String())
	}
	return lines
}

// WriteJSON writes r as one indented JSON object whose field names are
// stable: profile, user, findings (each with id, failure_mode, doors,
// exposure, evidence and next_step), entities. Empty lists are written
// as [], never null.
func WriteJSON(w io.Writer, r Report) error {
	r = r.normalized()
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// normalized returns a copy of r whose lists are non-nil.
func (r Report) normalized() Report {
	nz := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	out := r
	out.Findings = make([]Finding, len(r.Findings))
	for i, f := range r.Findings {
		f.Doors = nz(f.Doors)
		if f.Evidence == nil {
			f.Evidence = []Evidence{}
		}
		f.Also = slices.Clone(f.Also)
		if f.Also == nil {
			f.Also = []Consequence{}
		}
		for j, c := range f.Also {
			c.Doors = nz(c.Doors)
			f.Also[j] = c
		}
		if f.Basis == nil {
			f.Basis = []Basis{}
		}
		out.Findings[i] = f
	}
	out.Doors = make([]Door, len(r.Doors))
	for i, d := range r.Doors {
		if d.Guards == nil {
			d.Guards = []Guard{}
		}
		out.Doors[i] = d
	}
	out.Accounts = make([]AccountSummary, len(r.Accounts))
	for i, a := range r.Accounts {
		a.Permissions = nz(a.Permissions)
		out.Accounts[i] = a
	}
	out.Entities = make([]EntityReport, len(r.Entities))
	for i, e := range r.Entities {
		e.Accounts = nz(e.Accounts)
		out.Entities[i] = e
	}
	out.Packs = make([]PackReport, len(r.Packs))
	for i, p := range r.Packs {
		p.Accounts = nz(p.Accounts)
		p.Rules = nz(p.Rules)
		out.Packs[i] = p
	}
	out.Signals = make([]SignalNotice, len(r.Signals))
	for i, sg := range r.Signals {
		sg.Owed, sg.Rules = nz(sg.Owed), nz(sg.Rules)
		out.Signals[i] = sg
	}
	out.Unstated = make([]Question, len(r.Unstated))
	for i, q := range r.Unstated {
		q.Checks = nz(q.Checks)
		out.Unstated[i] = q
	}
	return out
}
