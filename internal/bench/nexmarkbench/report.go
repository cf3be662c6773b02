package nexmarkbench

import (
	"fmt"
	"github.com/eddy-streams/eddy/internal/bench/benchfmt"
	"io"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a run.
type Report struct {
	StartedAt      time.Time `json:"startedAt"`
	Events         int64     `json:"events"`
	Rate           int64     `json:"eventsPerEventTimeSecond"`
	Parallelism    int       `json:"parallelism"`
	GOMAXPROCS     int       `json:"gomaxprocs"`
	CPUs           int       `json:"cpus"`
	GoVersion      string    `json:"goVersion"`
	OutOfOrderness string    `json:"outOfOrderness"`
	// Preload is how the stream source's stream was filled; nil without that source.
	Preload *Preload `json:"preload,omitempty"`
	// Baselines are the sources' own rates, without a job, measured in the same run.
	Baselines []Baseline `json:"baselines"`
	Results   []Result   `json:"results"`
	// Targets holds the check of each query that has a target and was read from a
	// stream.
	Targets []Check `json:"targets"`
}

// Result is one query read from one source.
type Result struct {
	Query  string `json:"query"`
	Title  string `json:"title"`
	Source string `json:"source"`
	Events int64  `json:"events"`
	// Results is how many rows reached the sink.
	Results      int64   `json:"results"`
	Seconds      float64 `json:"seconds"`
	EventsPerSec float64 `json:"eventsPerSec"`
	// EventsPerSecPerCore divides EventsPerSec by GOMAXPROCS.
	EventsPerSecPerCore float64 `json:"eventsPerSecPerCore"`
	// VsSource divides EventsPerSec by the baseline of the same source: how much of
	// the rate at which the events can be had the job keeps.
	VsSource float64 `json:"vsSource,omitempty"`
	// CPUUtilization is the process's CPU time over the run ÷ (wall time × GOMAXPROCS);
	// it includes the embedded JetStream server serving the stream source's reads.
	CPUUtilization float64 `json:"cpuUtilization,omitempty"`
	// LatencySamples results were timed; P50Ms, P99Ms and MaxMs are their end-to-end
	// latencies (see the package documentation).
	LatencySamples int64   `json:"latencySamples"`
	P50Ms          float64 `json:"p50Ms"`
	P99Ms          float64 `json:"p99Ms"`
	MaxMs          float64 `json:"maxMs"`
	// P99PastWatermarkMs is, for results the watermark triggers, the 99th percentile of
	// their latency measured from when every source subtask had reached their time plus
	// the out-of-orderness bound: the engine's delay once the watermark could pass.
	P99PastWatermarkMs float64 `json:"p99PastWatermarkMs,omitempty"`
	Error              string  `json:"error,omitempty"`
	Target             *Check  `json:"target,omitempty"`
}

// Check is a target and whether a figure meets it.
type Check struct {
	Query  string  `json:"query"`
	Source string  `json:"source"`
	Want   float64 `json:"want"`
	Got    float64 `json:"got"`
	Met    bool    `json:"met"`
}

// check marks the stream-source results of the queries that have targets. A run with
// an error never meets one.
func (rep *Report) check() {
	rep.Targets = nil
	targets := map[string]float64{}
	for _, q := range Queries() {
		targets[q.Name] = q.Target
	}
	for i := range rep.Results {
		r := &rep.Results[i]
		want := targets[r.Query]
		if want == 0 || r.Source != string(Stream) {
			continue
		}
		c := Check{Query: r.Query, Source: r.Source, Want: want, Got: r.EventsPerSec, Met: r.Error == "" && r.EventsPerSec >= want}
		r.Target = &c
		rep.Targets = append(rep.Targets, c)
	}
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	return benchfmt.WriteJSON(w, rep)
}

// WriteTable writes the report as a table, the preload and the targets.
func (rep *Report) WriteTable(w io.Writer) error {
	p := &benchfmt.ErrWriter{W: w}
	p.Printf("eddy bench nexmark: %s events at %s events per second of event time, parallelism %d, GOMAXPROCS %d, %d CPUs, %s\n",
		benchfmt.Count(float64(rep.Events)), benchfmt.Count(float64(rep.Rate)), rep.Parallelism, rep.GOMAXPROCS, rep.CPUs, rep.GoVersion)
	p.Printf("Watermarks trail the latest event time by %s. memory = the generator in the source subtasks; stream = JSON events\n", rep.OutOfOrderness)
	p.Printf("read from an eddy stream (eddystream source, nexmark.DecodeJSON), filled before the clock starts.\n")
	if pre := rep.Preload; pre != nil {
		p.Printf("Preload (not timed with the queries): %s events, %.0f MB into %d shards in %.1fs: %s events/s, %.0f MB/s.\n",
			benchfmt.Count(float64(pre.Events)), float64(pre.Bytes)/1e6, pre.Shards, pre.Seconds, benchfmt.Count(pre.EventsPerSec), pre.MBPerSec)
	}
	for _, base := range rep.Baselines {
		p.Printf("Baseline, %s source alone (no job, %d goroutines): %s events/s; ×source = events/s ÷ this.\n",
			base.Source, rep.Parallelism, benchfmt.Count(base.EventsPerSec))
	}
	p.Printf("per core = events/s ÷ GOMAXPROCS (%d). cpu = process CPU time ÷ (wall time × GOMAXPROCS), the embedded JetStream included.\n", rep.GOMAXPROCS)
	p.Printf("Latency (sampled) = sink time − when the sources first emitted an event at or after the result's event time;\n")
	p.Printf("q0-q2 count from their own source subtask. Window and timer results (q4, q5, q7, q11) wait for the watermark,\n")
	p.Printf("so theirs includes the %s out-of-orderness bound of event time; \"past wm\" counts from when every source\n", rep.OutOfOrderness)
	p.Printf("subtask had passed that bound, the engine's own delay. q12 counts from its window's wall-clock end.\n\n")
	tw := tabwriter.NewWriter(p, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "query\tsource\tevents\tseconds\tevents/s\t×source\tper core\tcpu\tp50\tp99\tmax\tp99 past wm\tresults\t  target\t")
	var notes []string
	for i := range rep.Results {
		r := &rep.Results[i]
		target := ""
		if c := r.Target; c != nil {
			target = fmt.Sprintf("%s ≥%s", benchfmt.Mark(c.Met), benchfmt.Short(c.Want))
		}
		cpu := "-"
		if r.CPUUtilization > 0 {
			cpu = fmt.Sprintf("%.0f%%", r.CPUUtilization*100)
		}
		pastWM := "-"
		if r.P99PastWatermarkMs > 0 {
			pastWM = latency(r.P99PastWatermarkMs, r.LatencySamples)
		}
		vs := "-"
		if r.VsSource > 0 {
			vs = fmt.Sprintf("%.2f", r.VsSource)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t  %s\t\n",
			r.Query, r.Source, benchfmt.Count(float64(r.Events)), r.Seconds, benchfmt.Count(r.EventsPerSec), vs, benchfmt.Count(r.EventsPerSecPerCore), cpu,
			latency(r.P50Ms, r.LatencySamples), latency(r.P99Ms, r.LatencySamples), latency(r.MaxMs, r.LatencySamples),
			pastWM, benchfmt.Count(float64(r.Results)), target)
		if r.Error != "" {
			notes = append(notes, fmt.Sprintf("%s from %s: %s", r.Query, r.Source, r.Error))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.Targets) > 0 {
		p.Printf("\nTargets (JSON events from an eddy stream, on a 2-core machine)\n")
		for _, c := range rep.Targets {
			p.Printf("  %s %s ≥ %s events/s: %s\n", benchfmt.Mark(c.Met), c.Query, benchfmt.Count(c.Want), benchfmt.Count(c.Got))
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

func latency(msv float64, samples int64) string {
	switch {
	case samples == 0:
		return "-"
	case msv < 1:
		return fmt.Sprintf("%.0fµs", msv*1000)
	case msv < 10:
		return fmt.Sprintf("%.2fms", msv)
	case msv < 100:
		return fmt.Sprintf("%.1fms", msv)
	case msv < 10_000:
		return fmt.Sprintf("%.0fms", msv)
	}
	return fmt.Sprintf("%.1fs", msv/1000)
}
