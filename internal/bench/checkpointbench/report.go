package checkpointbench

import (
	"encoding/json"
	"fmt"
	"github.com/eddy-streams/eddy/internal/bench/benchfmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a run.
type Report struct {
	StartedAt       time.Time     `json:"startedAt"`
	ValueBytes      int           `json:"valueBytes"`
	Interval        time.Duration `json:"-"`
	IntervalSeconds float64       `json:"intervalSeconds"`
	Duration        time.Duration `json:"-"`
	DurationSeconds float64       `json:"durationSeconds"`
	Parallelism     int           `json:"parallelism"`
	GOMAXPROCS      int           `json:"gomaxprocs"`
	CPUs            int           `json:"cpus"`
	GoVersion       string        `json:"goVersion"`
	// StoreDir holds the checkpoints (removed at the end); StoreFS is its file system.
	StoreDir string `json:"storeDir"`
	StoreFS  string `json:"storeFileSystem"`
	// MemoryAvailable is what the OS said could be allocated when the run started, and
	// MemoryLimit the Go soft memory limit the run set (half of it); 0 when unknown.
	MemoryAvailable int64    `json:"memoryAvailableBytes"`
	MemoryLimit     int64    `json:"memoryLimitBytes"`
	Results         []Result `json:"results"`
	// Targets holds every target check of every case.
	Targets []Check `json:"targets"`
	// NotMeasured lists what the benchmark is meant to cover but cannot yet, and why.
	NotMeasured []string `json:"notMeasured"`
}

// Result is one state size with one backend.
type Result struct {
	// Backend is the state backend: heap or pebble.
	Backend string `json:"backend"`
	// StateBytes is the size of the values: Keys × the value size.
	StateBytes int64 `json:"stateBytes"`
	Keys       int64 `json:"keys"`
	// HeapBytes is the Go heap the filled state takes: MemStats.HeapAlloc after a full
	// GC, less the same before the job started.
	HeapBytes int64 `json:"heapBytes"`
	// DiskBytes is what the Pebble working copies of the filled state take on disk.
	DiskBytes int64 `json:"diskBytes,omitempty"`
	// PeakMemoryBytes is the most memory the Go runtime held from the OS during the case.
	PeakMemoryBytes int64 `json:"peakMemoryBytes"`
	// PeakLiveHeapBytes is the largest heap a GC found live during the case: the state
	// and what a checkpoint holds while it is taken and written.
	PeakLiveHeapBytes int64 `json:"peakLiveHeapBytes"`
	// FillSeconds is how long the baseline job took to write every key once, and
	// SettleSeconds how long Pebble's compactions then took to catch up (the measured
	// phases start after that).
	FillSeconds   float64 `json:"fillSeconds"`
	SettleSeconds float64 `json:"settleSeconds,omitempty"`
	// Checkpoints counts those triggered after the fill and completed by the end of the
	// measured phase; the figures below summarise them (from flow.Job.Checkpoints).
	Checkpoints   int     `json:"checkpoints"`
	DurationP50Ms float64 `json:"durationP50Ms"`
	DurationMaxMs float64 `json:"durationMaxMs"`
	// PauseP50Ms and PauseMaxMs summarise CheckpointStatus.MaxPause: the longest any
	// subtask stopped processing to take its snapshot.
	PauseP50Ms         float64 `json:"pauseP50Ms"`
	PauseMaxMs         float64 `json:"pauseMaxMs"`
	BytesPerCheckpoint int64   `json:"bytesPerCheckpoint"`
	// BaselineRecordsPerSec and CheckpointRecordsPerSec are the events the keyed
	// operator processed per second without and with checkpoints; VsBaseline divides
	// the second by the first.
	BaselineRecordsPerSec   float64 `json:"baselineRecordsPerSec"`
	CheckpointRecordsPerSec float64 `json:"checkpointRecordsPerSec"`
	VsBaseline              float64 `json:"vsBaseline"`
	// FirstCheckpointMs and FirstCheckpointBytes describe the first checkpoint after the
	// fill, which writes the whole state with either backend.
	FirstCheckpointMs    float64 `json:"firstCheckpointMs"`
	FirstCheckpointBytes int64   `json:"firstCheckpointBytes"`
	// The incremental measurement: with steady updates stopped, ChangedKeys (1% of the
	// keys) are updated before each of three checkpoints. Their median took
	// IncrementalMs and wrote IncrementalBytes (IncrementalPercent of StateBytes), the
	// largest IncrementalMaxBytes; the last holds IncrementalFullBytes with what it
	// refers to from earlier checkpoints.
	ChangedKeys           int64   `json:"changedKeys"`
	IncrementalMs         float64 `json:"incrementalMs"`
	IncrementalBytes      int64   `json:"incrementalBytes"`
	IncrementalMaxBytes   int64   `json:"incrementalMaxBytes"`
	IncrementalFullBytes  int64   `json:"incrementalFullBytes"`
	IncrementalPercent    float64 `json:"incrementalPercent"`
	IncrementalMaxPercent float64 `json:"incrementalMaxPercent"`
	// CheckpointPhaseSeconds is how long the checkpointing phase was measured: the
	// duration, or longer if it took that to complete three checkpoints.
	CheckpointPhaseSeconds float64 `json:"checkpointPhaseSeconds"`
	// RecoveryMs is from the call of flow.Run of a new run, which restores the latest
	// checkpoint, to the first record a keyed subtask processed; 0 when not measured.
	RecoveryMs float64 `json:"recoveryMs"`
	// RestoreSampled events after the restore looked their key up; RestoreMissing of
	// them found no value (anything but 0 is a bug).
	RestoreSampled int64   `json:"restoreSampled"`
	RestoreMissing int64   `json:"restoreMissing"`
	Error          string  `json:"error,omitempty"`
	Targets        []Check `json:"targets,omitempty"`
}

// Check is a target and whether a figure meets it.
type Check struct {
	Target string  `json:"target"`
	State  string  `json:"state"`
	Want   float64 `json:"want"`
	Got    float64 `json:"got"`
	Met    bool    `json:"met"`
}

// The targets: a checkpoint never stalls processing for more than 50 ms, a state of up
// to 100 MB is back within 3 s, and a Pebble checkpoint after 1% of the keys changed
// writes less than 5% of the state.
const (
	targetPauseMs       = 50
	targetRecoveryMs    = 3000
	recoveryUpTo        = 100 * mb
	targetIncrementalPc = 5
)

const (
	targetPause       = "a checkpoint stalls processing ≤ 50 ms (max pause)"
	targetRecovery    = "recovery of a state ≤ 100 MB < 3 s"
	targetIncremental = "a Pebble checkpoint after 1% of the keys changed writes < 5% of the state (median of 3)"
)

// check marks each result against the targets that apply to it. A case with an error
// never meets one.
func (rep *Report) check() {
	rep.Targets = nil
	for i := range rep.Results {
		r := &rep.Results[i]
		r.Targets = nil
		state := r.Backend + " " + FormatSize(r.StateBytes)
		if r.Checkpoints > 0 {
			r.Targets = append(r.Targets, Check{Target: targetPause, State: state, Want: targetPauseMs, Got: r.PauseMaxMs,
				Met: r.Error == "" && r.PauseMaxMs <= targetPauseMs})
		}
		if r.RecoveryMs > 0 && r.StateBytes <= recoveryUpTo {
			r.Targets = append(r.Targets, Check{Target: targetRecovery, State: state, Want: targetRecoveryMs, Got: r.RecoveryMs,
				Met: r.Error == "" && r.RecoveryMs < targetRecoveryMs})
		}
		if r.Backend == "pebble" && r.ChangedKeys > 0 {
			r.Targets = append(r.Targets, Check{Target: targetIncremental, State: state, Want: targetIncrementalPc, Got: r.IncrementalPercent,
				Met: r.Error == "" && r.IncrementalPercent < targetIncrementalPc})
		}
		rep.Targets = append(rep.Targets, r.Targets...)
	}
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteTable writes the report as a table with a row per state size, then the targets
// and what was not measured.
func (rep *Report) WriteTable(w io.Writer) error {
	p := &benchfmt.ErrWriter{W: w}
	p.Printf("eddy bench checkpoint: keyed state, %d keyed subtasks, %d B values, a checkpoint every %s, %s per phase, %d CPUs, GOMAXPROCS %d, %s\n",
		rep.Parallelism, rep.ValueBytes, rep.Interval, rep.Duration, rep.CPUs, rep.GOMAXPROCS, rep.GoVersion)
	disk := "a disk, not tmpfs"
	if rep.StoreFS == "tmpfs" || rep.StoreFS == "ramfs" {
		disk = "IN MEMORY: writes cost a copy, not disk IO"
	}
	p.Printf("Checkpoints go to a file:// BlobStore under %s on %s (%s; the file store does not fsync).\n", rep.StoreDir, rep.StoreFS, disk)
	if rep.MemoryLimit > 0 {
		p.Printf("Go soft memory limit %s (half of the %s available at the start): a state whose checkpoints need\nmore makes the GC work harder rather than take the shared machine's memory.\n",
			bytesize(rep.MemoryLimit), bytesize(rep.MemoryAvailable))
	}
	p.Printf("Each backend and state size runs one job three times: a baseline without checkpoints, then with\n")
	p.Printf("checkpoints, then a new run restoring the latest checkpoint. Each fills keys 0..N-1 once, then processes\n")
	p.Printf("events (a lookup of a random key) as fast as it can, with 1%% of the keys updated per second.\n")
	p.Printf("state = keys × value bytes. heap = Go heap of the filled state (MemStats.HeapAlloc after GC, less that\n")
	p.Printf("before the job); disk = Pebble's working copies. peak live = largest heap a GC found live during the\n")
	p.Printf("case; peak held = most memory the Go runtime held from the OS (an upper bound of the resident memory).\n")
	p.Printf("dur = trigger to completion. pause = time one subtask stopped processing to snapshot (CheckpointStatus.MaxPause).\n")
	p.Printf("rec/s = events processed per second; ×base = with checkpoints ÷ baseline. recovery = flow.Run of the\n")
	p.Printf("restoring run to its first record processed.\n\n")
	tw := tabwriter.NewWriter(p, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "backend\tstate\tkeys\theap\tdisk\tpeak live\tpeak held\tckpts\tdur p50\tdur max\tpause p50\tpause max\tsize/ckpt\tbase rec/s\tckpt rec/s\t×base\trecovery\t  targets")
	var notes, extended, limited []string
	for i := range rep.Results {
		r := &rep.Results[i]
		ckpt := "-\t-\t-\t-\t-"
		if r.Checkpoints > 0 {
			ckpt = fmt.Sprintf("%s\t%s\t%s\t%s\t%s", benchfmt.Millis(r.DurationP50Ms), benchfmt.Millis(r.DurationMaxMs), benchfmt.Millis(r.PauseP50Ms), benchfmt.Millis(r.PauseMaxMs), bytesize(r.BytesPerCheckpoint))
		}
		recovery := "-"
		if r.RecoveryMs > 0 {
			recovery = benchfmt.Millis(r.RecoveryMs)
		}
		disk := "-"
		if r.DiskBytes > 0 {
			disk = bytesize(r.DiskBytes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%.2f\t%s\t  %s\n",
			r.Backend, FormatSize(r.StateBytes), benchfmt.Count(float64(r.Keys)), bytesize(r.HeapBytes), disk, bytesize(r.PeakLiveHeapBytes), bytesize(r.PeakMemoryBytes), r.Checkpoints, ckpt,
			benchfmt.Count(r.BaselineRecordsPerSec), benchfmt.Count(r.CheckpointRecordsPerSec), r.VsBaseline, recovery, marks(r.Targets))
		if r.Error != "" {
			notes = append(notes, fmt.Sprintf("%s: %s", FormatSize(r.StateBytes), r.Error))
		}
		if r.CheckpointPhaseSeconds > rep.DurationSeconds+1 {
			extended = append(extended, fmt.Sprintf("%s: the checkpointing phase ran %.0fs, beyond the %s asked, to complete %d checkpoints", FormatSize(r.StateBytes), r.CheckpointPhaseSeconds, rep.Duration, r.Checkpoints))
		}
		if rep.MemoryLimit > 0 && r.PeakMemoryBytes >= rep.MemoryLimit*9/10 {
			limited = append(limited, FormatSize(r.StateBytes))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := rep.writeIncremental(p); err != nil {
		return err
	}
	if len(rep.Targets) > 0 {
		p.Printf("\nTargets\n")
		for _, c := range rep.Targets {
			got := benchfmt.Millis(c.Got)
			if c.Target == targetIncremental {
				got = fmt.Sprintf("%.2f%%", c.Got)
			}
			p.Printf("  %s %s: %s (%s state)\n", benchfmt.Mark(c.Met), c.Target, got, c.State)
		}
	}
	p.Printf("\nFill (keys 0..N-1 written once, in the baseline run):")
	for _, r := range rep.Results {
		p.Printf(" %s %s %.1fs", r.Backend, FormatSize(r.StateBytes), r.FillSeconds)
		if r.SettleSeconds > 0 {
			p.Printf(" + %.1fs for Pebble's compactions to catch up", r.SettleSeconds)
		}
		p.Printf(";")
	}
	p.Printf("\nthe measured phases start after that.\n")
	if len(extended) > 0 {
		p.Printf("\n")
		for _, e := range extended {
			p.Printf("%s.\n", e)
		}
	}
	if len(limited) > 0 {
		p.Printf("\nThe memory limit was reached with a %s state: the GC ran more often than by default, which\nslows the job down and takes CPU from the checkpoints.\n", strings.Join(limited, " and a "))
	}
	p.Printf("\n")
	for _, n := range rep.NotMeasured {
		p.Printf("%s\n", n)
	}
	if len(notes) > 0 {
		p.Printf("\nProblems\n")
		for _, n := range notes {
			p.Printf("  %s\n", n)
		}
	}
	return p.Err
}

// writeIncremental writes the table of the incremental measurement.
func (rep *Report) writeIncremental(w io.Writer) error {
	var rows []*Result
	for i := range rep.Results {
		if rep.Results[i].ChangedKeys > 0 {
			rows = append(rows, &rep.Results[i])
		}
	}
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nIncremental checkpoints: the first checkpoint after the fill writes the whole state. Then the steady\n")
	fmt.Fprintf(w, "updates stop (with Pebble, until the compactions they set off have ended) and a checkpoint is taken;\n")
	fmt.Fprintf(w, "then, %d times, 1%% of the keys are updated and a checkpoint is taken: their median and largest.\n", incrementalRounds)
	fmt.Fprintf(w, "written = bytes the checkpoint wrote to the store (with Pebble: the memtable flushed at the barrier,\n")
	fmt.Fprintf(w, "and what compactions rewrote since the checkpoint before); holds = with the files of earlier\n")
	fmt.Fprintf(w, "checkpoints it refers to.\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "backend\tstate\tfirst dur\tfirst written\tkeys changed\t1% dur p50\t1% written p50\t÷ state\t1% written max\t÷ state\t1% holds\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f%%\t%s\t%.2f%%\t%s\t\n", r.Backend, FormatSize(r.StateBytes),
			benchfmt.Millis(r.FirstCheckpointMs), bytesize(r.FirstCheckpointBytes), benchfmt.Count(float64(r.ChangedKeys)),
			benchfmt.Millis(r.IncrementalMs), bytesize(r.IncrementalBytes), r.IncrementalPercent,
			bytesize(r.IncrementalMaxBytes), r.IncrementalMaxPercent, bytesize(r.IncrementalFullBytes))
	}
	return tw.Flush()
}

func marks(cs []Check) string {
	var parts []string
	for _, c := range cs {
		switch c.Target {
		case targetPause:
			parts = append(parts, benchfmt.Mark(c.Met)+" pause ≤50ms")
		case targetRecovery:
			parts = append(parts, benchfmt.Mark(c.Met)+" recovery <3s")
		case targetIncremental:
			parts = append(parts, benchfmt.Mark(c.Met)+" 1% change <5%")
		}
	}
	return strings.Join(parts, "  ")
}

// bytesize writes bytes in decimal units with three significant digits.
func bytesize(b int64) string {
	v, unit := float64(b), "B"
	for _, u := range []string{"KB", "MB", "GB", "TB"} {
		if v < 1000 {
			break
		}
		v, unit = v/1000, u
	}
	if unit == "B" {
		return fmt.Sprintf("%d B", b)
	}
	return strconv.FormatFloat(v, 'g', 3, 64) + " " + unit
}
