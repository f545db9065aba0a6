package posture_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gatehouse/internal/posture"
	"gatehouse/internal/posture/setup"
)

// setUp is one realistic set-up of testdata/setups, with the findings an
// expert calls high written in its first line ("# high: id id …") and the
// reasoning in the lines after it.
type setUp struct {
	name string
	snap posture.Snapshot
	high []string
}

func loadSetUps(t *testing.T) []setUp {
	t.Helper()
	files, err := filepath.Glob("testdata/setups/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no set-ups: %v", err)
	}
	var out []setUp
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(data), "\n")
		ids, ok := strings.CutPrefix(first, "# high:")
		if !ok {
			t.Fatalf("%s: first line must be \"# high: …\"", f)
		}
		s, err := setup.Loader{Name: f}.Load(data, now)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, setUp{name: filepath.Base(f), snap: s, high: strings.Fields(ids)})
	}
	return out
}

func highs(r posture.Report) []string {
	var out []string
	for _, f := range r.Findings {
		if f.Exposure == posture.High {
			out = append(out, f.ID)
		}
	}
	slices.Sort(out)
	return out
}

// TestExpertHighs: on every set-up, the report's high findings are those
// the expert calls high — the recall of expected highs, and no false high.
func TestExpertHighs(t *testing.T) {
	want, found, falseHigh := 0, 0, 0
	for _, su := range loadSetUps(t) {
		got := highs(posture.Assess(su.snap, now))
		for _, id := range su.high {
			want++
			if slices.Contains(got, id) {
				found++
			} else {
				t.Errorf("%s: %s is not high; the expert calls it high (got %v)", su.name, id, got)
			}
		}
		for _, id := range got {
			if !slices.Contains(su.high, id) {
				falseHigh++
				t.Errorf("%s: %s is high; the expert would not call it so", su.name, id)
			}
		}
	}
	t.Logf("recall of expected highs %d/%d, false highs %d", found, want, falseHigh)
}

// TestStepsConverge follows each set-up's next steps top to bottom, as
// the report orders them, assessing again after each: no step may bring a
// finding as bad as the one it fixed (removing SMS before another factor
// is there, say), and at the end no high finding whose step changes the
// set-up remains.
func TestStepsConverge(t *testing.T) {
	for _, su := range loadSetUps(t) {
		t.Run(su.name, func(t *testing.T) {
			s := su.snap
			r := posture.Assess(s, now)
			done := map[string]bool{}
			for range 50 {
				i := slices.IndexFunc(r.Findings, func(f posture.Finding) bool {
					return f.Exposure != posture.Mitigated && !done[f.ID]
				})
				if i < 0 {
					break
				}
				f := r.Findings[i]
				done[f.ID] = true
				next, changed := posture.Apply(s, f, now)
				if !changed {
					continue
				}
				after := posture.Assess(next, now)
				for _, g := range after.Findings {
					// Known already: a finding, or a consequence listed in one
					// at this exposure or worse (a step may leave it behind, as
					// its own finding now, but not make it worse).
					if g.Exposure == posture.Mitigated || slices.ContainsFunc(r.Findings, func(o posture.Finding) bool {
						return o.ID == g.ID || slices.ContainsFunc(o.Also, func(c posture.Consequence) bool {
							return c.ID == g.ID && rank(c.Exposure) <= rank(g.Exposure)
						})
					}) {
						continue
					}
					if rank(g.Exposure) <= rank(f.Exposure) {
						t.Errorf("following %s (%s) brings %s (%s): %q", f.ID, f.Exposure, g.ID, g.Exposure, f.NextStep)
					}
				}
				s, r = next, after
			}
			for _, f := range r.Findings {
				if _, changes := posture.Apply(s, f, now); f.Exposure == posture.High && changes {
					t.Errorf("after every step, %s is still high", f.ID)
				}
			}
		})
	}
}

func rank(e posture.Exposure) int { return slices.Index(posture.Exposures, e) }

// goldenSetUps are the set-ups whose text and HTML reports are kept in
// testdata/golden: one root cause with its consequences inside (01), the
// Japan pack (21, 33), one key's three weaknesses as one finding (35),
// and a clean one (15).
var goldenSetUps = []string{
	"01-options-trader-sms.yaml",
	"15-pro-desktop-home-server.yaml",
	"21-jp-occasional-app.yaml",
	"33-jp-mobile-sms-withdrawals.yaml",
	"35-pro-dormant-open-key.yaml",
}

// goldenHTML are those of them whose HTML is kept too: the maps of the
// others differ from these only in their boxes.
var goldenHTML = []string{"01-options-trader-sms.yaml", "33-jp-mobile-sms-withdrawals.yaml"}

// TestSetUpGolden renders a few set-ups as text and HTML and compares
// them with testdata/golden; -update rewrites them. The HTML is the
// portal fragment: the page around it (the stylesheet) is example.html's.
func TestSetUpGolden(t *testing.T) {
	for _, su := range loadSetUps(t) {
		if !slices.Contains(goldenSetUps, su.name) {
			continue
		}
		r := posture.Assess(su.snap, now)
		formats := map[string]func(io.Writer, posture.Report) error{".txt": posture.WriteText}
		if slices.Contains(goldenHTML, su.name) {
			formats[".html"] = posture.WriteHTMLFragment
		}
		for ext, write := range formats {
			var b bytes.Buffer
			if err := write(&b, r); err != nil {
				t.Fatalf("%s: write: %v", su.name, err)
			}
			golden(t, filepath.Join("testdata", "golden", strings.TrimSuffix(su.name, ".yaml")+ext), b.String())
		}
	}
}
