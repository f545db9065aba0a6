package posture_test

import (
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
					if g.Exposure == posture.Mitigated || slices.ContainsFunc(r.Findings, func(o posture.Finding) bool { return o.ID == g.ID }) {
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
