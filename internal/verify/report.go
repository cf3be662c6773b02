package verify

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/internal/server/wire"
)

// KillTiming says at which moment of the job's life a kill is aimed.
type KillTiming int

const (
	// WhileFeeding kills at a random moment while the producer puts records, wherever
	// the job then is.
	WhileFeeding KillTiming = iota
	// AfterCheckpoint kills as soon as the next checkpoint's _metadata marker appears
	// in the checkpoint store: the checkpoint is complete and durable, and the sink has
	// most likely not committed it yet, so the restart must commit it, once.
	AfterCheckpoint
	// InCheckpoint kills as soon as the coordinator has written the first snapshot file
	// of the next checkpoint: the checkpoint is in progress and never completes, so the
	// restart must resume from the one before.
	InCheckpoint
)

func (t KillTiming) String() string {
	switch t {
	case WhileFeeding:
		return "while feeding"
	case AfterCheckpoint:
		return "right after a checkpoint completed"
	case InCheckpoint:
		return "inside a checkpoint"
	}
	return "KillTiming(" + strconv.Itoa(int(t)) + ")"
}

// Kill is one SIGKILL of the server.
type Kill struct {
	Timing KillTiming
	// Time is when the signal was sent.
	Time time.Time
	// Fed is how many events the producer had stored by then.
	Fed int
	// Checkpoint is the checkpoint the kill was timed against: for AfterCheckpoint the
	// one seen completed, for InCheckpoint the one seen in progress; 0 for WhileFeeding.
	Checkpoint int64
	// Interrupted is the id of a checkpoint the kill left incomplete in the checkpoint
	// store (snapshot files written, _metadata marker missing), 0 if none.
	Interrupted int64
	// BeforeCommit says, for AfterCheckpoint, that the output shows the kill came before
	// the sink committed Checkpoint: every output record of its transactions arrived
	// after the kill, put by the restarted job.
	BeforeCommit bool
}

// KeyResult is what the output held for one partition key.
type KeyResult struct {
	Key string
	// Events is how many input events had this key: the output must hold the counts
	// 1..Events, each once.
	Events int
	// Records is how many output records had this key.
	Records int
	// Duplicates counts records that repeat a count already seen.
	Duplicates int
	// Missing counts the numbers in 1..Events absent from the output.
	Missing int
	// Extra counts records with a count outside 1..Events: a count above Events means
	// an input event was counted twice.
	Extra int
}

// Report is the outcome of an ExactlyOnce run.
type Report struct {
	// Seed is the seed the kill schedule was drawn with: pass it again as Config.Seed to
	// repeat the schedule.
	Seed uint64
	// Job is the built-in job that ran; "" is RunningCount.
	Job    string
	Keys   int
	Events int // input events stored, each once
	Kills  []Kill
	// Output is how many records the output stream held.
	Output int
	// Expected is, for a windowed job or the join, how many records the output must
	// hold: the lines computed by brute force from the input.
	Expected   int
	Duplicates int         // output records repeating a key's count, or an expected line
	Missing    int         // counts, or expected lines, absent from the output
	Extra      int         // output records that are not "<key> <n>" with a fed key and 1 <= n <= its events, or not an expected line
	PerKey     []KeyResult // running-count only
	// Problems describes the first problems found, one line each.
	Problems []string
	// Pass is the verdict: every key's counts 1..n appear exactly once and nothing else.
	Pass    bool
	Elapsed time.Duration
	// DataDir is the servers' data dir when it was kept for inspection.
	DataDir string
}

// maxProblems caps Report.Problems.
const maxProblems = 10

// String prints the verdict line, then the kills and the output, then for a FAIL the
// first problems.
func (r Report) String() string {
	var b strings.Builder
	verdict := "FAIL"
	if r.Pass {
		verdict = "PASS"
	}
	job := ""
	if r.Job != "" && r.Job != RunningCount {
		job = " (" + r.Job + ")"
	}
	fmt.Fprintf(&b, "exactly-once%s: %s — %d keys, %d events, %d kills, %d duplicates, %d missing", job, verdict, r.Keys, r.Events, len(r.Kills), r.Duplicates, r.Missing)
	if r.Extra > 0 {
		fmt.Fprintf(&b, ", %d extra", r.Extra)
	}
	b.WriteString("\n")
	var byTiming [3]int
	interrupted, beforeCommit := 0, 0
	for _, k := range r.Kills {
		if int(k.Timing) < len(byTiming) {
			byTiming[k.Timing]++
		}
		if k.Interrupted != 0 {
			interrupted++
		}
		if k.BeforeCommit {
			beforeCommit++
		}
	}
	fmt.Fprintf(&b, "  kills: %d %s, %d %s (%d of them before its commit), %d %s; %d left a checkpoint incomplete\n",
		byTiming[WhileFeeding], WhileFeeding, byTiming[AfterCheckpoint], AfterCheckpoint, beforeCommit,
		byTiming[InCheckpoint], InCheckpoint, interrupted)
	if r.Expected > 0 {
		fmt.Fprintf(&b, "  expected: %d records, computed by brute force from the input\n", r.Expected)
	}
	fmt.Fprintf(&b, "  output: %d records, run took %s (seed %d)\n", r.Output, r.Elapsed.Round(100*time.Millisecond), r.Seed)
	if !r.Pass {
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "  %s\n", p)
		}
		if r.DataDir != "" {
			fmt.Fprintf(&b, "  data kept in %s\n", r.DataDir)
		}
	}
	return b.String()
}

// check fills the output half of r from the records the job wrote: want maps each key
// to its number of input events, lines are the output records' data.
func (r *Report) check(want map[string]int, lines []string) {
	r.Output = len(lines)
	seen := map[string]map[int]int{}
	for k := range want {
		seen[k] = map[int]int{}
	}
	var malformed []string
	for _, line := range lines {
		key, n, ok := strings.Cut(line, " ")
		v, err := strconv.Atoi(n)
		if _, fed := want[key]; !ok || err != nil || !fed {
			malformed = append(malformed, line)
			continue
		}
		seen[key][v]++
	}
	r.Duplicates, r.Missing, r.Extra, r.PerKey, r.Problems = 0, 0, len(malformed), nil, nil
	for _, line := range malformed[:min(len(malformed), 3)] {
		r.problem("record %q is not \"<key> <n>\" for a key that was fed", line)
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		kr := KeyResult{Key: key, Events: want[key]}
		var dups, missing, extra []int
		for v, times := range seen[key] {
			kr.Records += times
			switch {
			case v < 1 || v > kr.Events:
				kr.Extra += times
				extra = append(extra, v)
			case times > 1:
				kr.Duplicates += times - 1
				dups = append(dups, v)
			}
		}
		for v := 1; v <= kr.Events; v++ {
			if seen[key][v] == 0 {
				kr.Missing++
				missing = append(missing, v)
			}
		}
		slices.Sort(dups)
		slices.Sort(extra)
		if len(dups) > 0 {
			r.problem("key %s: %d duplicates, of the counts %s", key, kr.Duplicates, ranges(dups))
		}
		if len(missing) > 0 {
			r.problem("key %s: %d of %d counts missing: %s", key, kr.Missing, kr.Events, ranges(missing))
		}
		if len(extra) > 0 {
			r.problem("key %s: counts outside 1..%d (an input counted twice): %s", key, kr.Events, ranges(extra))
		}
		r.Duplicates += kr.Duplicates
		r.Missing += kr.Missing
		r.Extra += kr.Extra
		r.PerKey = append(r.PerKey, kr)
	}
	r.Pass = r.Duplicates == 0 && r.Missing == 0 && r.Extra == 0
}

// checkLines fills the output half of r by comparing the output records' data, lines,
// with want as multisets: each wanted line must appear as often as in want.
func (r *Report) checkLines(want, lines []string) {
	r.Output, r.Expected = len(lines), len(want)
	counts := map[string]int{}
	for _, l := range want {
		counts[l]++
	}
	got := map[string]int{}
	for _, l := range lines {
		got[l]++
	}
	r.Duplicates, r.Missing, r.Extra, r.PerKey, r.Problems = 0, 0, 0, nil, nil
	var dups, extra, missing []string
	for l, n := range got {
		switch w := counts[l]; {
		case w == 0:
			r.Extra += n
			extra = append(extra, l)
		case n > w:
			r.Duplicates += n - w
			dups = append(dups, l)
		}
	}
	for l, w := range counts {
		if n := got[l]; n < w {
			r.Missing += w - n
			missing = append(missing, l)
		}
	}
	for _, c := range []struct {
		what  string
		lines []string
	}{{"duplicated", dups}, {"missing", missing}, {"not expected", extra}} {
		slices.Sort(c.lines)
		for _, l := range c.lines[:min(len(c.lines), 3)] {
			r.problem("record %q %s (%d in the output, %d expected)", l, c.what, got[l], counts[l])
		}
	}
	r.Pass = r.Duplicates == 0 && r.Missing == 0 && r.Extra == 0 && len(want) > 0
	if len(want) == 0 {
		r.problem("the input yields no expected output")
	}
}

// markCommits sets BeforeCommit of the AfterCheckpoint kills from the output records,
// whose producer record ids say which checkpoint's transaction put them
// (docs/checkpoints.md: <job>/<sink>/<subtask>/<checkpoint>/<index>), and whose arrival
// times say whether the server that was killed put them.
func markCommits(kills []Kill, job string, recs []wire.Record) {
	arrivals := map[int64][]time.Time{}
	for _, rec := range recs {
		f := strings.Split(rec.ProducerID, "/")
		if len(f) < 3 || f[0] != job {
			continue
		}
		if id, err := strconv.ParseInt(f[len(f)-2], 10, 64); err == nil {
			arrivals[id] = append(arrivals[id], rec.ArrivalTime)
		}
	}
	for i, k := range kills {
		if k.Timing != AfterCheckpoint {
			continue
		}
		ts := arrivals[k.Checkpoint]
		kills[i].BeforeCommit = len(ts) > 0 && !slices.ContainsFunc(ts, func(t time.Time) bool { return t.Before(k.Time) })
	}
}

// problem records a problem while there is room.
func (r *Report) problem(format string, args ...any) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// ranges prints sorted numbers as runs, "3, 7-9, 12", at most a few of them.
func ranges(vs []int) string {
	const maxRuns = 5
	var runs []string
	for i := 0; i < len(vs); {
		j := i
		for j+1 < len(vs) && vs[j+1] == vs[j]+1 {
			j++
		}
		if len(runs) == maxRuns {
			runs = append(runs, "…")
			break
		}
		if i == j {
			runs = append(runs, strconv.Itoa(vs[i]))
		} else {
			runs = append(runs, strconv.Itoa(vs[i])+"-"+strconv.Itoa(vs[j]))
		}
		i = j + 1
	}
	return strings.Join(runs, ", ")
}
