package cli_test

import (
	"bytes"
	"context"
	"database/sql"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"gatehouse/internal/cli"
)

// TestAuditVerifyTampered alters and then removes a stored audit row: the
// verb exits non-zero and names the first bad event.
func TestAuditVerifyTampered(t *testing.T) {
	dir := t.TempDir()
	run := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		err := cli.Run(context.Background(), append(args, "--data", dir), func(string) string { return "" }, strings.NewReader(stdin), &out, &out)
		return out.String(), err
	}
	for _, id := range []string{"A", "B", "C"} {
		if out, err := run("", "account", "add", "--id", id, "--name", id, "--environment", "paper"); err != nil {
			t.Fatal(err, out)
		}
	}
	if out, err := run("", "audit", "verify"); err != nil || !strings.Contains(out, "3 events") {
		t.Fatalf("audit verify on an intact chain = %v %s", err, out)
	}
	db, err := sql.Open("sqlite", dir+"/gatehouse.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	db.Exec(`UPDATE audit SET detail = '{"account":"Z"}' WHERE seq = 2`)
	out, err := run("", "audit", "verify")
	if cli.ExitCode(err) == 0 || !strings.Contains(err.Error(), "event 2") {
		t.Errorf("after altering event 2: exit %d, %v", cli.ExitCode(err), err)
	}
	_ = out

	db.Exec(`DELETE FROM audit WHERE seq = 2`)
	_, err = run("", "audit", "verify")
	if cli.ExitCode(err) == 0 || !strings.Contains(err.Error(), "event 2") || !strings.Contains(err.Error(), "missing") {
		t.Errorf("after removing event 2: exit %d, %v", cli.ExitCode(err), err)
	}
}
