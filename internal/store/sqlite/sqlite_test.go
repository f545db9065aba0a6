package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"gatehouse/internal/audit"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
	"gatehouse/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.SQLite(t) })
}

func TestReopenIsNoop(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	storetest.NewUser(t, db, "alice")
	db.Close()
	db, err = sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatalf("second Open = %v", err)
	}
	defer db.Close()
	if _, err := db.UserByUsername(ctx, "alice"); err != nil {
		t.Errorf("data lost across reopen: %v", err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, _ := sql.Open("sqlite", dir+"/gatehouse.db")
	if _, err := raw.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if _, err := sqlite.Open(ctx, dir); !errors.Is(err, store.ErrSchemaTooNew) {
		t.Errorf("Open of a newer schema = %v, want ErrSchemaTooNew", err)
	}
}

func TestAuditTamperDetected(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, _ := sqlite.Open(ctx, dir)
	for i := range 3 {
		db.AppendAudit(ctx, &audit.Event{Time: time.Now(), Type: audit.LoginFailed, UserID: "u", Detail: map[string]string{"n": string(rune('0' + i))}})
	}
	raw, _ := sql.Open("sqlite", dir+"/gatehouse.db")
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE audit SET type = 'login.succeeded' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	_, err := audit.Verify(db.AuditEvents(ctx))
	var be *audit.BrokenError
	if !errors.As(err, &be) || be.Seq != 2 {
		t.Errorf("Verify after tampering = %v, want broken at 2", err)
	}
	db.Close()
}
