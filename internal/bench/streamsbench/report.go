package streamsbench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eddy-streams/eddy/internal/bench/benchfmt"
	"github.com/eddy-streams/eddy/internal/bench/histogram"
)

// The write paths a Result measures.
const (
	// PathEddy is streams.Service.Put, in process.
	PathEddy = "eddy"
	// PathRaw is the baseline: raw JetStream, one record per message.
	PathRaw = "raw"
	// PathHTTP is eddy's HTTP put endpoint, over loopback.
	PathHTTP = "http"
)

// Report is the outcome of a run.
type Report struct {
	StartedAt       time.Time     `json:"startedAt"`
	Duration        time.Duration `json:"-"`
	DurationSeconds float64       `json:"durationSeconds"`
	Shards          int           `json:"shards"`
	Keys            int           `json:"partitionKeys"`
	CPUs            int           `json:"cpus"`
	GoVersion       string        `json:"goVersion"`
	StoreDir        string        `json:"storeDir"`
	ReadLimit       int           `json:"readLimit"`
	MaxPending      int           `json:"rawMaxPending"`
	Results         []Result      `json:"results"`
	// Targets holds, for each target, the best figure of the cases it applies to.
	Targets []Check `json:"targets"`
}

// Result is one case: one write path, fsync setting, record size, put size and
// concurrency.
type Result struct {
	Fsync       string `json:"fsync"`
	Path        string `json:"path"`
	Mode        string `json:"mode"`
	RecordBytes int    `json:"recordBytes"`
	// Concurrency is the number of producers or HTTP clients; for the raw baseline, the
	// most publishes in flight.
	Concurrency    int   `json:"concurrency"`
	RecordsPerCall int   `json:"recordsPerCall"`
	Calls          int64 `json:"calls"`
	// Records counts acknowledged records only; Failed, those a call reported as not
	// stored (a whole failed call counts all its records).
	Records int64 `json:"records"`
	Failed  int64 `json:"failed"`
	// Error is the last failure seen, if any.
	Error         string  `json:"lastError,omitempty"`
	Seconds       float64 `json:"seconds"`
	RecordsPerSec float64 `json:"recordsPerSec"`
	// MBPerSec counts record data, in units of 10^6 bytes.
	MBPerSec float64 `json:"mbPerSec"`
	// P50Ms and P99Ms are percentiles of the time from a call to its acknowledgement; 0
	// when unknown.
	P50Ms float64 `json:"p50Ms"`
	P99Ms float64 `json:"p99Ms"`
	// VsRaw divides RecordsPerSec by the raw baseline's with the same fsync setting and
	// record size.
	VsRaw   float64 `json:"vsRaw,omitempty"`
	Read    *Read   `json:"read,omitempty"`
	Targets []Check `json:"targets,omitempty"`
}

// Read is the read-back of one case's stream from its first record to its end.
type Read struct {
	Records int64 `json:"records"`
	// Missing is acknowledged records the read did not return; anything but 0 is a bug.
	Missing       int64   `json:"missing"`
	Seconds       float64 `json:"seconds"`
	RecordsPerSec float64 `json:"recordsPerSec"`
	MBPerSec      float64 `json:"mbPerSec"`
	VsRaw         float64 `json:"vsRaw,omitempty"`
	bytes         int64
}

// Check is a target and whether a figure meets it.
type Check struct {
	Target string  `json:"target"`
	Want   float64 `json:"want"`
	Got    float64 `json:"got"`
	Met    bool    `json:"met"`
	// Case names the case the figure comes from, and Cases and CasesMet count the cases
	// the target applies to and those meeting it, in the report's summary.
	Case     string `json:"case,omitempty"`
	Cases    int    `json:"cases,omitempty"`
	CasesMet int    `json:"casesMet,omitempty"`
}

func (r *Result) setRates(elapsed time.Duration, lat *histogram.Histogram) {
	r.Seconds = elapsed.Seconds()
	r.RecordsPerSec = float64(r.Records) / r.Seconds
	r.MBPerSec = float64(r.Records) * float64(r.RecordBytes) / 1e6 / r.Seconds
	r.P50Ms = ms(lat.Quantile(0.5))
	r.P99Ms = ms(lat.Quantile(0.99))
}

func (r *Read) setRates(elapsed time.Duration) {
	r.Seconds = elapsed.Seconds()
	r.RecordsPerSec = float64(r.Records) / r.Seconds
	r.MBPerSec = float64(r.bytes) / 1e6 / r.Seconds
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// compare sets r's ratios against the raw baseline.
func (r *Result) compare(raw *Result) {
	if raw.RecordsPerSec > 0 {
		r.VsRaw = r.RecordsPerSec / raw.RecordsPerSec
	}
	if r.Read != nil && raw.Read != nil && raw.Read.RecordsPerSec > 0 {
		r.Read.VsRaw = r.Read.RecordsPerSec / raw.Read.RecordsPerSec
	}
}

func (r *Result) name() string {
	who := "producers"
	switch r.Path {
	case PathHTTP:
		who = "clients"
	case PathRaw:
		who = "in flight"
	}
	if r.Concurrency == 1 {
		who = strings.TrimSuffix(who, "s")
	}
	return fmt.Sprintf("fsync %s, %d B, %s %s, %d %s", r.Fsync, r.RecordBytes, r.Path, r.Mode, r.Concurrency, who)
}

// target is a figure eddy is expected to reach.
type target struct {
	name    string
	short   string
	want    float64
	applies func(*Result) bool
	// got is the figure; ok is false when the case did not measure it.
	got func(*Result) (v float64, ok bool)
}

func batched100(r *Result) bool {
	return r.Path == PathEddy && r.Mode == string(Batch) && r.RecordBytes == 100
}

func putRate(r *Result) (float64, bool) { return r.RecordsPerSec, r.Failed == 0 }

var targets = []target{
	{
		name: "batched puts of 100 B records, fsync always", short: "put", want: 250_000,
		applies: func(r *Result) bool { return batched100(r) && r.Fsync == "always" },
		got:     putRate,
	},
	{
		name: "batched puts of 100 B records, fsync interval", short: "put", want: 1_000_000,
		applies: func(r *Result) bool { return batched100(r) && r.Fsync == "interval" },
		got:     putRate,
	},
	{
		name: "iterator read-back of 100 B records", short: "read", want: 2_000_000,
		applies: batched100,
		got: func(r *Result) (float64, bool) {
			if r.Read == nil {
				return 0, false
			}
			return r.Read.RecordsPerSec, r.Read.Missing == 0
		},
	},
	{
		name: "HTTP puts, 500-record batches of 100 B records", short: "put", want: 200_000,
		applies: func(r *Result) bool { return r.Path == PathHTTP && r.RecordBytes == 100 },
		got:     putRate,
	},
}

// check marks each result against the targets that apply to it and summarises the best
// figure per target. A figure from a case with failures or missing records never meets
// a target.
func (rep *Report) check() {
	rep.DurationSeconds = rep.Duration.Seconds()
	rep.Targets = nil
	for _, t := range targets {
		var best *Check
		cases, met := 0, 0
		for i := range rep.Results {
			r := &rep.Results[i]
			if !t.applies(r) {
				continue
			}
			v, clean := t.got(r)
			c := Check{Target: t.name, Want: t.want, Got: v, Met: clean && v >= t.want}
			r.Targets = append(r.Targets, c)
			cases++
			if c.Met {
				met++
			}
			if best == nil || c.Met && !best.Met || c.Met == best.Met && c.Got > best.Got {
				c.Case = r.name()
				best = &c
			}
		}
		if best != nil {
			best.Cases, best.CasesMet = cases, met
			rep.Targets = append(rep.Targets, *best)
		}
	}
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	return benchfmt.WriteJSON(w, rep)
}

// WriteTable writes the report as one table per fsync setting, then the targets.
func (rep *Report) WriteTable(w io.Writer) error {
	p := &benchfmt.ErrWriter{W: w}
	p.Printf("eddy bench streams: %s per case, %d shards, %d partition keys, store under %s, %d CPUs, %s\n",
		rep.Duration, rep.Shards, rep.Keys, rep.StoreDir, rep.CPUs, rep.GoVersion)
	p.Printf("raw = JetStream async publish, one record per message, ≤%d in flight; its read = ordered consumer.\n", rep.MaxPending)
	p.Printf("eddy read = one Iterator per shard, TRIM_HORIZON to end, %d records per Next, right after the puts (warm cache).\n", rep.ReadLimit)
	p.Printf("MB = 10^6 bytes of record data. ×raw = eddy ÷ raw, same fsync setting and record size.\n")
	p.Printf("Latency is per put call (per message for raw), from call to acknowledgement.\n")
	var notes []string
	for _, fs := range rep.fsyncs() {
		p.Printf("\nfsync %s\n", fs)
		tw := tabwriter.NewWriter(p, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "size\tpath\tput\tconc\trecords/s\tMB/s\tack p50\tack p99\tfailed\t×raw\tread rec/s\tread MB/s\tread ×raw\t  targets")
		for i := range rep.Results {
			r := &rep.Results[i]
			if r.Fsync != fs {
				continue
			}
			read := "\t\t"
			if r.Read != nil {
				read = fmt.Sprintf("%s\t%.1f\t%s", benchfmt.Count(r.Read.RecordsPerSec), r.Read.MBPerSec, ratio(r.Read.VsRaw, r.Path))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%.1f\t%s\t%s\t%d\t%s\t%s\t  %s\n",
				size(r.RecordBytes), r.Path, r.Mode, r.Concurrency, benchfmt.Count(r.RecordsPerSec), r.MBPerSec,
				latency(r.P50Ms), latency(r.P99Ms), r.Failed, ratio(r.VsRaw, r.Path), read, marks(r.Targets))
			if r.Error != "" {
				notes = append(notes, fmt.Sprintf("%s: %d records failed, last error: %s", r.name(), r.Failed, r.Error))
			}
			if r.Read != nil && r.Read.Missing != 0 {
				notes = append(notes, fmt.Sprintf("%s: read-back returned %d records fewer than were acknowledged", r.name(), r.Read.Missing))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(rep.Targets) > 0 {
		p.Printf("\nTargets (best case; how many of the cases they apply to meet them)\n")
		for _, c := range rep.Targets {
			p.Printf("  %s %s ≥ %s records/s: %s (%s); met in %d of %d\n",
				benchfmt.Mark(c.Met), c.Target, benchfmt.Count(c.Want), benchfmt.Count(c.Got), c.Case, c.CasesMet, c.Cases)
		}
	}
	if len(notes) > 0 {
		p.Printf("\nProblems\n")
		for _, n := range notes {
			p.Printf("  %s\n", n)
		}
	}
	return p.Err
}

func (rep *Report) fsyncs() []string {
	var out []string
	for _, r := range rep.Results {
		if len(out) == 0 || out[len(out)-1] != r.Fsync {
			out = append(out, r.Fsync)
		}
	}
	return out
}

func marks(cs []Check) string {
	var parts []string
	for _, c := range cs {
		for _, t := range targets {
			if t.name == c.Target {
				parts = append(parts, fmt.Sprintf("%s %s ≥%s", benchfmt.Mark(c.Met), t.short, benchfmt.Short(c.Want)))
			}
		}
	}
	return strings.Join(parts, "  ")
}

func size(b int) string {
	if b >= 1024 && b%1024 == 0 {
		return fmt.Sprintf("%d KiB", b/1024)
	}
	return fmt.Sprintf("%d B", b)
}

func ratio(v float64, path string) string {
	if path == PathRaw {
		return "1"
	}
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

func latency(msv float64) string {
	switch {
	case msv == 0:
		return "-"
	case msv < 1:
		return fmt.Sprintf("%.0fµs", msv*1000)
	case msv < 10:
		return fmt.Sprintf("%.2fms", msv)
	case msv < 100:
		return fmt.Sprintf("%.1fms", msv)
	}
	return fmt.Sprintf("%.0fms", msv)
}
