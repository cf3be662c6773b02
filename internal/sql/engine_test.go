package sql

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenRefusesFilesOutsideAllowedDirs(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(Options{AllowedDirs: []string{dir}, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	inside := filepath.Join(dir, "a.csv")
	if err := os.WriteFile(inside, []byte("x\n1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := e.DB().QueryRow("SELECT count(*) FROM read_csv('" + inside + "')").Scan(&n); err != nil || n != 1 {
		t.Fatalf("read inside the allowed dir: n=%d err=%v", n, err)
	}
	outside := filepath.Join(t.TempDir(), "b.csv")
	os.WriteFile(outside, []byte("x\n1\n"), 0o600)
	if err := e.DB().QueryRow("SELECT count(*) FROM read_csv('" + outside + "')").Scan(&n); err == nil {
		t.Fatal("read a file outside the allowed dirs")
	}
	if _, err := e.DB().Exec("SET enable_external_access = true"); err == nil || !strings.Contains(err.Error(), "lock") {
		t.Fatalf("changed a locked setting: %v", err)
	}
	if _, err := e.DB().Exec("INSTALL httpfs"); err == nil {
		t.Fatal("installed an extension")
	}
}

func TestTimestreamFunctions(t *testing.T) {
	e, err := Open(Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var bin, ms string
	var recent bool
	q := `SELECT CAST(bin(TIMESTAMP '2026-11-25 10:07:31', INTERVAL 7 MINUTE) AS VARCHAR),
		CAST(from_milliseconds(1795601251000) AS VARCHAR), ago(INTERVAL 1 HOUR) < now()::TIMESTAMP`
	if err := e.DB().QueryRow(q).Scan(&bin, &ms, &recent); err != nil {
		t.Fatal(err)
	}
	// 7-minute bins counted from the epoch: 2026-11-25 10:07:31 is in bin 4,275,241,
	// which starts at 10:07 (with time_bucket's own origin it would start at 10:04).
	if bin != "2026-11-25 10:07:00" || ms != "2026-11-25 10:07:31" || !recent {
		t.Fatalf("bin %s, from_milliseconds %s, ago %v", bin, ms, recent)
	}
}
