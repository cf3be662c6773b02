package tables

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// moveAll writes a day of rows for two hosts and moves them to the magnetic tier.
func moveAll(t *testing.T, h *harness) int {
	t.Helper()
	yes := true
	mem := 1
	h.createTable("fleet", "cpu", TableOptions{MemoryRetentionHours: &mem, MagneticWrites: &yes})
	start := h.clock.Now().Add(-20 * time.Hour)
	var recs []Record
	for i := range 100 {
		at := start.Add(time.Duration(i) * 10 * time.Minute)
		recs = append(recs, cpu("a", at, float64(i)+0.25, 0), cpu("b", at, float64(i), 0))
	}
	h.write("fleet", "cpu", recs...)
	if err := h.svc.Tier(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := h.svc.Stats(); st.MovedRows != int64(len(recs)) {
		t.Fatalf("moved %d rows, want %d", st.MovedRows, len(recs))
	}
	return len(recs)
}

// magneticFiles returns the Parquet files under dir.
func magneticFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".parquet" {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestMagneticTierOnS3 keeps the magnetic tier in an S3 bucket (an S3 server on
// loopback): files are uploaded, and a restart with an empty local cache downloads them.
func TestMagneticTierOnS3(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("magnetic"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "eddy")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "eddy-secret")
	h := &harness{t: t, dir: t.TempDir(), clock: &fakeClock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)},
		url: "s3://magnetic?region=us-east-1&endpoint=" + srv.URL + "&use_path_style=true&disable_https=true"}
	h.open()
	t.Cleanup(h.close)
	n := moveAll(t, h)
	objs, err := backend.ListBucket("magnetic", nil, gofakes3.ListBucketPage{})
	if err != nil || len(objs.Contents) == 0 {
		t.Fatalf("no files in the bucket: %v", err)
	}
	h.expect(`SELECT count(*), sum(usage_user) FROM fleet.cpu`, "200 | 9925")
	h.close()
	if err := os.RemoveAll(filepath.Join(h.dir, "tables", "cache")); err != nil {
		t.Fatal(err)
	}
	h.open()
	h.expect(`SELECT count(*) FROM fleet.cpu`, fmt.Sprint(n))
}

// TestCorruptMagneticFileIsQuarantined damages a Parquet file: at the next start it is
// reported, moved to quarantine and not served, and the table's other data stays.
func TestCorruptMagneticFileIsQuarantined(t *testing.T) {
	h := newHarness(t)
	moveAll(t, h)
	now := h.clock.Now()
	h.write("fleet", "cpu", cpu("c", now, 1, 0))
	files := magneticFiles(t, filepath.Join(h.dir, "tables", "magnetic", "fleet"))
	if len(files) == 0 {
		t.Fatal("no magnetic files")
	}
	h.close()
	f, err := os.OpenFile(files[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("garbage"), 100)
	f.Close()
	h.open()
	if st := h.svc.Stats(); st.QuarantinedFiles != 1 {
		t.Fatalf("quarantined %d files, want 1", st.QuarantinedFiles)
	}
	// The rows of the other day's file and of the memory tier are still served.
	h.expect(`SELECT count(*) FROM fleet.cpu WHERE host = 'c'`, "1")
	if got := h.query(`SELECT count(*) FROM fleet.cpu`); got[0] == "201" || got[0] == "1" {
		t.Fatalf("%s rows after quarantining one of two files", got[0])
	}
	if q := magneticFiles(t, filepath.Join(h.dir, "tables", "magnetic", "@quarantine")); len(q) != 1 {
		t.Fatalf("quarantine holds %v", q)
	}
}
