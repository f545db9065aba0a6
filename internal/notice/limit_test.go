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
	admit(notice.KeyRevoked, t0.Add(24*time.Minute))
	want := []notice.Event{notice.KeyRotated, notice.KeyRotated, notice.KeyRotated, notice.KeyCreated, notice.KeyCreated, notice.PasswordChanged}
	if diff := cmp.Diff(want, sent); diff != "" {
		t.Errorf("sent (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[notice.Event]int{notice.KeyRotated: 17, notice.KeyRevoked: 1}, st.Held); diff != "" {
		t.Errorf("held (-want +got):\n%s", diff)
	}
	if got := l.SummaryDue(st); !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("SummaryDue = %v, want %v", got, t0.Add(time.Hour))
	}
	if l.Ended(st, t0.Add(59*time.Minute)) || !l.Ended(st, t0.Add(time.Hour)) {
		t.Errorf("Ended at 59 min, 60 min = %v, %v; want false, true", l.Ended(st, t0.Add(59*time.Minute)), l.Ended(st, t0.Add(time.Hour)))
	}
	// A new hour starts afresh: the held counts were its summary's.
	sent = nil
	admit(notice.KeyRotated, t0.Add(61*time.Minute))
	admit(notice.KeyRevoked, t0.Add(62*time.Minute))
	if diff := cmp.Diff([]notice.Event{notice.KeyRotated, notice.KeyRevoked}, sent); diff != "" {
		t.Errorf("sent in the next hour (-want +got):\n%s", diff)
	}
	if len(st.Held) != 0 || !l.SummaryDue(st).IsZero() {
		t.Errorf("held in the next hour = %v, want none", st.Held)
	}
}

// TestLimitCriticalNeverHeld: with no room at all, every critical notice
// still goes, and the others are held.
func TestLimitCriticalNeverHeld(t *testing.T) {
	l := notice.Limit{Max: 0, Window: time.Hour}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var st notice.RateState
	for i, e := range []notice.Event{notice.DevicePending, notice.FactorAdded, notice.FactorRemoved, notice.PasswordChanged, notice.KeyCreated, notice.AccountFrozen, notice.KeyCreated, notice.DevicePending} {
		var ok bool
		if st, ok = l.Admit(st, e, t0.Add(time.Duration(i)*time.Second)); !ok {
			t.Errorf("critical %s held back", e)
		}
	}
	if _, ok := l.Admit(st, notice.SessionCreated, t0.Add(time.Minute)); ok {
		t.Errorf("session.created admitted with Max 0")
	}
}

func TestLimitZeroIsDefault(t *testing.T) {
	var l notice.Limit
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var st notice.RateState
	n := 0
	for i := range 50 {
		var ok bool
		if st, ok = l.Admit(st, notice.KeyRotated, t0.Add(time.Duration(i)*time.Second)); ok {
			n++
		}
	}
	if n != notice.DefaultLimit.Max {
		t.Errorf("zero Limit let %d through, want DefaultLimit.Max %d", n, notice.DefaultLimit.Max)
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
