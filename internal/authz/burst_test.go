package authz

import (
	"testing"
	"time"
)

func TestBurstBucket(t *testing.T) {
	b := &bursts{perMinute: 3, buckets: map[string]*bucket{}}
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		if ok, _, _ := b.take("k", t0); !ok {
			t.Fatalf("take %d of a full bucket refused", i+1)
		}
	}
	ok, wait, first := b.take("k", t0)
	if ok || wait != 20*time.Second || !first {
		t.Fatalf("take past the ceiling = %v, %v, first %v; want refused, 20s, first", ok, wait, first)
	}
	if _, _, first := b.take("k", t0.Add(time.Second)); first {
		t.Error("a second refusal in one run is reported first again")
	}
	if ok, _, _ := b.take("other", t0); !ok {
		t.Error("another credential's bucket is not its own")
	}
	if ok, _, _ := b.take("k", t0.Add(20*time.Second)); !ok {
		t.Error("no token after 20s at 3 per minute")
	}
	if _, _, first := b.take("k", t0.Add(20*time.Second)); !first {
		t.Error("a refusal after a pass does not start a new run")
	}
	if ok, _, _ := (&bursts{}).take("k", t0); !ok {
		t.Error("no ceiling refused")
	}
}
