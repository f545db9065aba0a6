package notify_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gatehouse/internal/notify"
	"gatehouse/internal/notify/notifytest"
)

func TestSMTPSend(t *testing.T) {
	addr, got := notifytest.SMTPSink(t)
	m := &notify.SMTP{Addr: addr, From: "gatehouse@example.com"}
	err := m.Send(context.Background(), notify.Mail{To: "alice@example.com", Subject: "Approve your new device", Body: "Open this link:\nhttps://x/y"})
	if err != nil {
		t.Fatal(err)
	}
	msg := <-got
	for _, want := range []string{"MAIL FROM:<gatehouse@example.com>", "RCPT TO:<alice@example.com>", "Subject: Approve your new device", "Open this link:\nhttps://x/y"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}

func TestSMTPRefusesHeaderInjection(t *testing.T) {
	m := &notify.SMTP{Addr: "127.0.0.1:1", From: "gatehouse@example.com"}
	err := m.Send(context.Background(), notify.Mail{To: "alice@example.com\r\nBcc: mallory@example.com", Subject: "x"})
	if !errors.Is(err, notify.ErrHeader) {
		t.Errorf("Send with CRLF in To = %v, want ErrHeader", err)
	}
}
