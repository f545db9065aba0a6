package notice_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/notice"
)

func TestLimitFlood(t *testing.T) {
	l := notice.Limit{Max: 3, Window: time.Hour}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var st notice.RateState
	var sent []notice.Event
	admit := func(e notice.Event, at time.Time) {
		t.Helper()
		var ok bool
		st, ok = l.Admit(st, e, at)
		if ok {
			sent = append(sent, e)
		}
	}
	// A script rotates keys all morning; in between, a key is created
	// (critical) twice and the password changed (critical) once.
	for i := range 20 {
		admit(notice.KeyRotated, t0.Add(time.Duration(i)*time.Minute))
	}
	admit(notice.KeyCreated, t0.Add(21*time.Minute))
	admit(notice.KeyCreated, t0.Add(22*time.Minute))
	admit(notice.PasswordChanged, t0.Add(23*time.Minute))
	want := []notice.Event{notice.KeyRotated, notice.KeyRotated, notice.KeyRotated, notice.KeyCreated, notice.PasswordChanged}
	if diff := cmp.Diff(want, sent); diff != "" {
		t.Errorf("sent (-want +got):\n%s", diff)
	}
	if _, _, due := l.Summary(st, t0.Add(59*time.Minute)); due {
		t.Errorf("Summary due before the window ends")
	}
	if got := l.SummaryDue(st); !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("SummaryDue = %v, want %v", got, t0.Add(time.Hour))
	}
	held, next, due := l.Summary(st, t0.Add(time.Hour))
	if !due {
		t.Fatalf("Summary not due when the window ends")
	}
	if diff := cmp.Diff(map[notice.Event]int{notice.KeyRotated: 17, notice.KeyCreated: 1}, held); diff != "" {
		t.Errorf("held (-want +got):\n%s", diff)
	}
	// After the summary a new hour starts afresh.
	st = next
	sent = nil
	admit(notice.KeyRotated, t0.Add(61*time.Minute))
	admit(notice.KeyCreated, t0.Add(62*time.Minute))
	if diff := cmp.Diff([]notice.Event{notice.KeyRotated, notice.KeyCreated}, sent); diff != "" {
		t.Errorf("sent in the next hour (-want +got):\n%s", diff)
	}
	if _, _, due := l.Summary(st, t0.Add(3*time.Hour)); due {
		t.Errorf("Summary due with nothing held")
	}
}

func TestLimitHeldSurviveLateSummary(t *testing.T) {
	l := notice.Limit{Max: 1, Window: time.Hour}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	st, _ := l.Admit(notice.RateState{}, notice.KeyRotated, t0)
	st, ok := l.Admit(st, notice.KeyRotated, t0.Add(time.Minute))
	if ok {
		t.Fatalf("second notice admitted past Max 1")
	}
	// No summary was sent at the window's end; the next notice opens a
	// new window, and the held count is still told.
	st, ok = l.Admit(st, notice.KeyRevoked, t0.Add(2*time.Hour))
	if !ok {
		t.Errorf("first notice of a new window held back")
	}
	held, _, due := l.Summary(st, t0.Add(3*time.Hour))
	if !due || held[notice.KeyRotated] != 1 {
		t.Errorf("Summary = %v, %v; want the held key.rotated told", held, due)
	}
}

func TestLimitDoesNotShareState(t *testing.T) {
	l := notice.Limit{Max: 0, Window: time.Hour}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	st, _ := l.Admit(notice.RateState{}, notice.KeyRotated, t0)
	before := st.Held[notice.KeyRotated]
	l.Admit(st, notice.KeyRotated, t0.Add(time.Minute))
	if st.Held[notice.KeyRotated] != before {
		t.Errorf("Admit changed the state it was given")
	}
}
