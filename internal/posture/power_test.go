package posture

import (
	"os"
	"strings"
	"testing"
)

// TestSeverityTableDocumented keeps docs/posture.md's severity-by-power
// table equal to the rule the engine applies: a reader who checks a
// finding against the table must get the engine's answer.
func TestSeverityTableDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/posture.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "<!-- severity-by-power")
	if !ok {
		t.Fatal("docs/posture.md: no severity-by-power table")
	}
	lines := strings.Split(table, "\n")[1:]
	header := cells(lines[0])
	for i, p := range Powers {
		if got, want := header[i+1], p.String(); got != want {
			t.Errorf("column %d = %q, want %q", i+1, got, want)
		}
	}
	seen := map[Weakness]bool{}
	for _, l := range lines[2:] {
		if !strings.HasPrefix(l, "|") {
			break
		}
		row := cells(l)
		w := Weakness(row[0])
		seen[w] = true
		for i, p := range Powers {
			want := string(Severity(w, p))
			if want == string(Mitigated) {
				want = "none"
			}
			if got := strings.Trim(row[i+1], "`"); got != want {
				t.Errorf("docs: %s, %s = %s; the engine says %s", w, p, got, want)
			}
		}
	}
	for _, w := range Weaknesses {
		if !seen[w] {
			t.Errorf("docs: no row for weakness %q", w)
		}
	}
}

func cells(line string) []string {
	var out []string
	for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
		out = append(out, strings.TrimSpace(c))
	}
	return out
}

// TestSeverityFollowsPower: for every weakness, more power is never less
// severe, and an unknown weakness or power is never waved through.
func TestSeverityFollowsPower(t *testing.T) {
	for _, w := range Weaknesses {
		for i := 1; i < len(Powers); i++ {
			more, less := Severity(w, Powers[i-1]), Severity(w, Powers[i])
			if more.rank() > less.rank() {
				t.Errorf("%s: %s is %s but %s is %s", w, Powers[i-1], more, Powers[i], less)
			}
		}
		if got := Severity(w, PowerLiveTrade); got != High {
			t.Errorf("%s on a live trading key = %s, want high", w, got)
		}
	}
	if got := Severity("unheard of", PowerPaper); got == Mitigated {
		t.Errorf("unknown weakness = %s, want a finding", got)
	}
	if got := Severity(WeakOld, Power(9)); got == Mitigated {
		t.Errorf("unknown power = %s, want a finding", got)
	}
}
