package notice_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/notice"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var signIn = notice.Notice{ID: "ntc_1", Event: notice.SessionCreated, UserID: "usr_alice", Time: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC),
	Interface: "web", Device: "Firefox on Linux", IP: "203.0.113.7"}

const freezeLink = "https://gatehouse.example/freeze?token=FREEZE-TOKEN"

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name   string
		n      notice.Notice
		r      notice.Recipient
		freeze string
	}{
		{"session-created", signIn, notice.Recipient{Username: "alice", Phrase: "blue heron at dawn"}, freezeLink},
		{"key-created-no-phrase", notice.Notice{Event: notice.KeyCreated, Time: signIn.Time, Interface: "web", IP: "203.0.113.7",
			Detail: map[string]string{"account": "acc_live", "environment": "live", "key": "gh_live_abc", "scopes": "trade,read"}}, notice.Recipient{Username: "alice"}, ""},
		{"summary", notice.Notice{Event: notice.Summary, Detail: map[string]string{"key.rotated": "17", "key.created": "1"}}, notice.Recipient{Username: "alice", Phrase: "blue heron at dawn"}, freezeLink},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := notice.Render(tt.n, tt.r, tt.freeze)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name+".txt", "Subject: "+m.Subject+"\n\n"+m.Text)
			golden(t, tt.name+".html", m.HTML)
		})
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", name, diff)
	}
}

var link = regexp.MustCompile(`(?i)https?://[^\s"<>]*`)

// TestRenderSafe checks what a holder relies on in every mail, for every
// event: the phrase first, the door, device, address and time, no link
// but the freeze link, no tracking, and a client-chosen device name that
// can neither inject markup nor become a link.
func TestRenderSafe(t *testing.T) {
	hostile := signIn
	hostile.Device = `<img src="https://evil.example/p.gif">Call support at http://evil.example/help`
	for _, s := range notice.Catalogue() {
		n := hostile
		n.Event = s.Event
		m, err := notice.Render(n, notice.Recipient{Username: "alice", Phrase: "blue heron at dawn"}, freezeLink)
		if err != nil {
			t.Fatalf("Render(%s): %v", s.Event, err)
		}
		for part, body := range map[string]string{"text": m.Text, "html": m.HTML} {
			if i, j := strings.Index(body, "blue heron at dawn"), strings.Index(body, s.Says); i < 0 || i > j {
				t.Errorf("%s %s: the phrase is not shown before the notice", s.Event, part)
			}
			for _, l := range link.FindAllString(body, -1) {
				if l != freezeLink {
					t.Errorf("%s %s: link %q; want only the freeze link", s.Event, part, l)
				}
			}
			for _, bad := range []string{"<img", "<script", "<link", "<style", "<iframe", "url("} {
				if part == "html" && strings.Contains(body, bad) {
					t.Errorf("%s %s contains %q: no tracking, no remote content", s.Event, part, bad)
				}
			}
			if s.Event == notice.Summary {
				continue
			}
			if !strings.Contains(body, "evil[.]example") {
				t.Errorf("%s %s: the device name's host is not broken", s.Event, part)
			}
			for _, fact := range []string{"the web portal", "203.0.113.7", "Mon, 2 Mar 2026 09:30:00 UTC"} {
				if !strings.Contains(body, fact) {
					t.Errorf("%s %s does not show %q", s.Event, part, fact)
				}
			}
		}
	}
}

func TestRenderRefuses(t *testing.T) {
	if _, err := notice.Render(notice.Notice{Event: "no.such"}, notice.Recipient{}, ""); err == nil {
		t.Errorf("Render(unknown event) = nil error")
	}
	if _, err := notice.Render(signIn, notice.Recipient{}, "javascript:alert(1)"); err == nil {
		t.Errorf("Render(javascript: freeze link) = nil error")
	}
}
