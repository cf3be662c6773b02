package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/auth"
	"github.com/eddy-streams/eddy/internal/server/wire"
)

// writeRecords posts a JSON write to the table and returns the indexes of the records
// the server acknowledged as stored (or unchanged), or an error when the request failed.
func writeRecords(p *eddyProc, db, table string, body map[string]any) (map[int]bool, error) {
	data, _ := json.Marshal(body)
	token, err := auth.ReadTokenFile(filepath.Join(p.DataDir, auth.AdminTokenFile))
	if err != nil {
		return nil, err
	}
	req, _ := http.NewRequest("POST", p.URL+"/v1/databases/"+db+"/tables/"+table+"/records", bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	var res struct {
		Rejected []struct {
			Index  int    `json:"index"`
			Code   string `json:"code"`
			Reason string `json:"reason"`
		} `json:"rejectedRecords"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return nil, err
	}
	ok := map[int]bool{}
	for i := range body["records"].([]map[string]any) {
		ok[i] = true
	}
	for _, r := range res.Rejected {
		if r.Code != "" {
			delete(ok, r.Index)
		}
	}
	return ok, nil
}

// queryStrings runs q and returns each row's cells joined by spaces, sorted.
func queryStrings(t *testing.T, p *eddyProc, q string) []string {
	t.Helper()
	c := p.client(t)
	var out []string
	res, err := c.Query(context.Background(), wire.QueryRequest{Query: q, PageSize: 10000})
	for {
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for _, row := range res.Rows {
			cells := make([]string, len(row))
			for i, v := range row {
				if f, ok := v.(float64); ok {
					cells[i] = strconv.FormatFloat(f, 'f', -1, 64)
				} else {
					cells[i] = fmt.Sprint(v)
				}
			}
			out = append(out, strings.Join(cells, " "))
		}
		if res.NextToken == "" {
			break
		}
		res, err = c.NextPage(context.Background(), res.NextToken)
	}
	sort.Strings(out)
	return out
}

func createTable(t *testing.T, p *eddyProc, db, table string, memHours int, magneticWrites bool) {
	t.Helper()
	c := p.client(t)
	if _, err := c.CreateDatabase(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTable(context.Background(), db, wire.CreateTableRequest{Name: table, MemoryRetentionHours: &memHours, MagneticWrites: &magneticWrites}); err != nil {
		t.Fatal(err)
	}
}

func reading(host string, ms int64, v int, version int) map[string]any {
	return map[string]any{"time": ms, "dimensions": map[string]string{"host": host}, "measureName": "cpu",
		"measures": map[string]any{"v": map[string]any{"type": "bigint", "value": v}}, "version": version}
}

// TestKill9TablesLosesNoAcknowledgedRecord writes to a table from several writers over
// HTTP, kills the server with SIGKILL mid-write, restarts it, three times. Every
// acknowledged record must then be queryable exactly once with its value.
func TestKill9TablesLosesNoAcknowledgedRecord(t *testing.T) {
	dataDir := t.TempDir()
	p := startEddy(t, dataDir)
	createTable(t, p, "fleet", "cpu", 6, false)
	var mu sync.Mutex
	acked := map[string]int{} // host and time -> value
	base := time.Now().Add(-time.Hour).UnixMilli()
	for round := range 3 {
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					host := fmt.Sprintf("r%d-w%d", round, w)
					recs := make([]map[string]any, 200)
					for i := range recs {
						recs[i] = reading(host, base+int64(n*200+i), n*200+i, 1)
					}
					ok, err := writeRecords(p, "fleet", "cpu", map[string]any{"records": recs})
					if err != nil {
						return // the server died under us: these were never acknowledged
					}
					mu.Lock()
					for i := range ok {
						acked[fmt.Sprint(host, " ", base+int64(n*200+i))] = n*200 + i
					}
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Duration(300+rand.IntN(500)) * time.Millisecond)
		p.kill9(t)
		close(stop)
		wg.Wait()
		p = startEddy(t, dataDir)
	}
	if len(acked) < 1000 {
		t.Fatalf("only %d records acknowledged before the kills: the test proves little", len(acked))
	}
	got := queryStrings(t, p, `SELECT host, epoch_ms(time), v FROM fleet.cpu`)
	seen := map[string]bool{}
	for _, row := range got {
		var host string
		var ms int64
		var v int
		fmt.Sscan(row, &host, &ms, &v)
		k := fmt.Sprint(host, " ", ms)
		if seen[k] {
			t.Fatalf("record %s appears twice", k)
		}
		seen[k] = true
		if want, ok := acked[k]; ok && want != v {
			t.Fatalf("record %s has value %d, want %d", k, v, want)
		}
	}
	for k := range acked {
		if !seen[k] {
			t.Fatalf("acknowledged record %s is missing (%d of %d acknowledged records found)", k, len(seen), len(acked))
		}
	}
	checkLastPoints(t, p, "fleet", "cpu")
	t.Logf("%d records acknowledged, %d stored, after 3 kills", len(acked), len(got))
}

// checkLastPoints compares the table's last-point view with the latest row of each
// host read from the table itself.
func checkLastPoints(t *testing.T, p *eddyProc, db, table string) {
	t.Helper()
	want := queryStrings(t, p, fmt.Sprintf(`SELECT host, epoch_ms(time), v FROM (SELECT *, row_number() OVER (PARTITION BY host ORDER BY time DESC) AS rn FROM %s.%s) WHERE rn = 1`, db, table))
	got := queryStrings(t, p, fmt.Sprintf(`SELECT host, epoch_ms(time), v FROM %s."%s$last"`, db, table))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("last points after the crash:\n got %q\nwant %q", got, want)
	}
}

// manifestFiles returns how many Parquet files the table's manifest lists.
func manifestFiles(t *testing.T, dataDir, db, table string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dataDir, "tables", "data", db, table, "manifest.json"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Partitions map[string]struct {
			Files []json.RawMessage `json:"files"`
			Dirty bool              `json:"dirty"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range m.Partitions {
		n += len(p.Files)
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCrashDuringTieringLosesAndDuplicatesNothing kills the server (it kills itself,
// with SIGKILL, at a chosen point) while it moves rows to the magnetic tier or compacts,
// restarts it, and checks that every row is there once with its latest version.
func TestCrashDuringTieringLosesAndDuplicatesNothing(t *testing.T) {
	for _, point := range []string{"tiering-before-manifest", "tiering-after-manifest", "compaction-before-manifest"} {
		t.Run(point, func(t *testing.T) {
			dataDir := t.TempDir()
			crash := []string{"EDDY_TEST_CRASH_AT=" + point}
			args := []string{"--tiering-interval", "200ms"}
			p := startEddyEnv(t, dataDir, crash, args...)
			createTable(t, p, "fleet", "cpu", 1, true)
			// Late rows (two hours old: straight for the magnetic tier) and recent ones.
			old := time.Now().Add(-2 * time.Hour).UnixMilli()
			recent := time.Now().UnixMilli()
			var late, fresh []map[string]any
			for i := range 500 {
				late = append(late, reading(fmt.Sprint("h", i%10), old+int64(i), i, 1))
				fresh = append(fresh, reading(fmt.Sprint("h", i%10), recent+int64(i), i, 1))
			}
			want := map[string]bool{}
			for i := range 500 {
				want[fmt.Sprint("h", i%10, " ", old+int64(i), " ", i)] = true
				want[fmt.Sprint("h", i%10, " ", recent+int64(i), " ", i)] = true
			}
			if _, err := writeRecords(p, "fleet", "cpu", map[string]any{"records": fresh}); err != nil {
				t.Fatal(err)
			}
			if point == "compaction-before-manifest" {
				// A first move, then the same rows again with a higher version: the
				// second move makes the partition dirty, and compaction follows.
				if _, err := writeRecords(p, "fleet", "cpu", map[string]any{"records": late}); err != nil {
					t.Fatal(err)
				}
				waitFor(t, "the first move", func() bool { return manifestFiles(t, dataDir, "fleet", "cpu") > 0 })
				for i := range late {
					late[i]["version"] = 2
					late[i]["measures"] = map[string]any{"v": map[string]any{"type": "bigint", "value": 1000 + i}}
					delete(want, fmt.Sprint("h", i%10, " ", old+int64(i), " ", i))
					want[fmt.Sprint("h", i%10, " ", old+int64(i), " ", 1000+i)] = true
				}
			}
			if _, err := writeRecords(p, "fleet", "cpu", map[string]any{"records": late}); err != nil {
				t.Fatal(err)
			}
			select {
			case <-p.exited:
			case <-time.After(30 * time.Second):
				t.Fatalf("the server did not crash at %s:\n%s", point, p.logs)
			}
			p = startEddyEnv(t, dataDir, nil, args...)
			check := func() {
				t.Helper()
				got := queryStrings(t, p, `SELECT host, epoch_ms(time), v FROM fleet.cpu`)
				if len(got) != len(want) {
					t.Fatalf("%d rows after the crash, want %d", len(got), len(want))
				}
				for _, row := range got {
					if !want[row] {
						t.Fatalf("unexpected row %q after the crash", row)
					}
				}
			}
			check()
			checkLastPoints(t, p, "fleet", "cpu")
			// After the restart the move (or compaction) completes; nothing changes.
			waitFor(t, "the magnetic tier", func() bool { return manifestFiles(t, dataDir, "fleet", "cpu") == 1 })
			check()
			checkLastPoints(t, p, "fleet", "cpu")
		})
	}
}
