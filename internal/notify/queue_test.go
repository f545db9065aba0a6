package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/notify"
	"gatehouse/internal/notify/notifytest"
)

func TestQueueDeliversAndDrains(t *testing.T) {
	addr, got := notifytest.SMTPSink(t)
	q := notify.NewQueue(&notify.SMTP{Addr: addr, From: "gatehouse@example.com"}, 2, nil)
	if !q.Enqueue(notify.Mail{To: "a@example.com", Subject: "one"}) || !q.Enqueue(notify.Mail{To: "a@example.com", Subject: "two"}) {
		t.Fatal("Enqueue refused with room left")
	}
	if q.Enqueue(notify.Mail{To: "a@example.com", Subject: "three"}) {
		t.Error("Enqueue took a message over the queue's size")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // already ended: Run must still send what was queued
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	for _, want := range []string{"Subject: one", "Subject: two"} {
		select {
		case m := <-got:
			if !strings.Contains(m, want) {
				t.Errorf("message = %q, want %s", m, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s not delivered", want)
		}
	}
	<-done
}
