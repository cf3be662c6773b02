package verify

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/server/wire"
)

// counts returns the output of a correct run: "<key> <n>" for n in 1..want[key].
func counts(want map[string]int) []string {
	var lines []string
	for k, n := range want {
		for i := 1; i <= n; i++ {
			lines = append(lines, fmt.Sprintf("%s %d", k, i))
		}
	}
	return lines
}

func TestCheck(t *testing.T) {
	want := map[string]int{"k0": 5, "k1": 5}
	for _, tc := range []struct {
		name                      string
		edit                      func([]string) []string
		pass                      bool
		duplicates, missing, xtra int
		problem                   string
	}{
		{name: "exactly once", edit: func(l []string) []string { return l }, pass: true},
		{name: "a count twice", edit: func(l []string) []string { return append(l, "k1 3", "k1 4") },
			duplicates: 2, problem: "key k1: 2 duplicates, of the counts 3-4"},
		{name: "a gap", edit: func(l []string) []string { return remove(l, "k0 2", "k0 3", "k0 5") },
			missing: 3, problem: "key k0: 3 of 5 counts missing: 2-3, 5"},
		{name: "an input counted twice", edit: func(l []string) []string { return append(l, "k0 6") },
			xtra: 1, problem: "key k0: counts outside 1..5 (an input counted twice): 6"},
		{name: "a record from nowhere", edit: func(l []string) []string { return append(l, "k9 1") },
			xtra: 1, problem: `record "k9 1" is not "<key> <n>" for a key that was fed`},
		{name: "a key missing", edit: func(l []string) []string { return remove(l, "k1 1", "k1 2", "k1 3", "k1 4", "k1 5") },
			missing: 5, problem: "key k1: 5 of 5 counts missing: 1-5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Report
			r.check(want, tc.edit(counts(want)))
			if r.Pass != tc.pass || r.Duplicates != tc.duplicates || r.Missing != tc.missing || r.Extra != tc.xtra {
				t.Fatalf("pass %v, %d duplicates, %d missing, %d extra; want %v, %d, %d, %d",
					r.Pass, r.Duplicates, r.Missing, r.Extra, tc.pass, tc.duplicates, tc.missing, tc.xtra)
			}
			if tc.problem != "" && (len(r.Problems) == 0 || r.Problems[0] != tc.problem) {
				t.Fatalf("problems %q, want first %q", r.Problems, tc.problem)
			}
			if len(r.PerKey) != 2 || r.PerKey[0].Key != "k0" || r.PerKey[0].Events != 5 {
				t.Fatalf("per key %+v", r.PerKey)
			}
		})
	}
}

func remove(lines []string, drop ...string) []string {
	var out []string
	for _, l := range lines {
		if !slices.Contains(drop, l) {
			out = append(out, l)
		}
	}
	return out
}

func TestReportString(t *testing.T) {
	want := map[string]int{}
	for k := range 20 {
		want[fmt.Sprintf("k%02d", k)] = 400
	}
	r := Report{Seed: 7, Keys: 20, Events: 8000, Elapsed: 31 * time.Second}
	for i := range 10 {
		r.Kills = append(r.Kills, Kill{Timing: KillTiming(i % 3), Interrupted: int64(i % 3 / 2 * i)})
	}
	r.Kills[1].BeforeCommit = true
	r.check(want, counts(want))
	lines := strings.Split(r.String(), "\n")
	if lines[0] != "exactly-once: PASS — 20 keys, 8000 events, 10 kills, 0 duplicates, 0 missing" {
		t.Errorf("verdict line %q", lines[0])
	}
	if lines[1] != "  kills: 4 while feeding, 3 right after a checkpoint completed (1 of them before its commit), 3 inside a checkpoint; 3 left a checkpoint incomplete" {
		t.Errorf("kills line %q", lines[1])
	}
	if strings.Contains(r.String(), "key ") {
		t.Errorf("a PASS lists problems:\n%s", r)
	}

	lines2 := append(counts(want), "k03 17", "k03 401")
	r.check(want, remove(lines2, "k05 40"))
	r.DataDir = "/tmp/eddy-verify-1"
	out := r.String()
	for _, s := range []string{
		"exactly-once: FAIL — 20 keys, 8000 events, 10 kills, 1 duplicates, 1 missing, 1 extra\n",
		"\n  key k03: 1 duplicates, of the counts 17\n",
		"\n  key k03: counts outside 1..400 (an input counted twice): 401\n",
		"\n  key k05: 1 of 400 counts missing: 40\n",
		"\n  data kept in /tmp/eddy-verify-1\n",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("report lacks %q:\n%s", s, out)
		}
	}
}

func TestRanges(t *testing.T) {
	for _, tc := range []struct {
		in   []int
		want string
	}{
		{[]int{4}, "4"},
		{[]int{1, 2, 3, 7, 9, 10}, "1-3, 7, 9-10"},
		{[]int{1, 3, 5, 7, 9, 11, 13}, "1, 3, 5, 7, 9, …"},
	} {
		if got := ranges(tc.in); got != tc.want {
			t.Errorf("ranges(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMarkCommits(t *testing.T) {
	kill := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)
	before, after := kill.Add(-time.Millisecond), kill.Add(time.Millisecond)
	recs := []wire.Record{
		{ProducerID: "counter/out/0/7/0", ArrivalTime: after},
		{ProducerID: "counter/out/1/7/0", ArrivalTime: after},
		{ProducerID: "counter/out/0/8/0", ArrivalTime: after},
		{ProducerID: "counter/out/1/8/0", ArrivalTime: before},
		{ProducerID: "other/out/0/9/0", ArrivalTime: after},
	}
	kills := []Kill{
		{Timing: AfterCheckpoint, Checkpoint: 7, Time: kill}, // only the restart put its records
		{Timing: AfterCheckpoint, Checkpoint: 8, Time: kill}, // one subtask had committed
		{Timing: AfterCheckpoint, Checkpoint: 9, Time: kill}, // no record of this job's
		{Timing: InCheckpoint, Checkpoint: 7, Time: kill},
	}
	markCommits(kills, "counter", recs)
	for i, want := range []bool{true, false, false, false} {
		if kills[i].BeforeCommit != want {
			t.Errorf("kill %d (%s, checkpoint %d): before commit %v, want %v", i, kills[i].Timing, kills[i].Checkpoint, kills[i].BeforeCommit, want)
		}
	}
}

// TestPlanSpreadsKillsOverTheFeeding checks the schedule: timings in equal parts, each
// kill set off inside its own share and before its gate, so the producer, which stops
// at the gate, always reaches the event that sets the kill off.
func TestPlanSpreadsKillsOverTheFeeding(t *testing.T) {
	for _, tc := range []struct{ kills, events int }{{10, 20000}, {4, 8000}, {3, 250}, {10, 20}, {1, 1}} {
		kills := plan(rand.New(rand.NewPCG(1, 2)), tc.kills, tc.events)
		var byTiming [3]int
		for k, pk := range kills {
			byTiming[pk.timing]++
			if pk.at < 1 || pk.at > pk.gate || pk.gate > tc.events {
				t.Errorf("%+v: kill %d set off at %d, gate %d", tc, k, pk.at, pk.gate)
			}
			if k > 0 && pk.gate < kills[k-1].gate {
				t.Errorf("%+v: gate of kill %d (%d) before the previous one's (%d)", tc, k, pk.gate, kills[k-1].gate)
			}
			share := tc.events / (tc.kills + 1)
			if share >= 2*batchSize && (pk.at < share*k || pk.at > share*(k+2)) {
				t.Errorf("%+v: kill %d set off at %d, outside shares %d-%d", tc, k, pk.at, k, k+1)
			}
		}
		if m, n := min(byTiming[0], byTiming[1], byTiming[2]), max(byTiming[0], byTiming[1], byTiming[2]); n-m > 1 {
			t.Errorf("%+v: timings %v are not in equal parts", tc, byTiming)
		}
	}
	a, b := plan(rand.New(rand.NewPCG(5, 0)), 10, 20000), plan(rand.New(rand.NewPCG(5, 0)), 10, 20000)
	for k := range a {
		if a[k].at != b[k].at || a[k].timing != b[k].timing {
			t.Fatalf("the same seed drew kill %d as %+v and %+v", k, a[k], b[k])
		}
	}
}
