package tablesbench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eddy-streams/eddy/internal/bench/benchfmt"
)

// The write paths an IngestCase measures.
const (
	// PathEddy is tables.Service.Write, in process, with fsync on: the write path the
	// HTTP and line-protocol handlers call.
	PathEddy = "eddy"
	// PathDuckDB is the baseline: DuckDB Appenders into plain tables of an in-memory
	// DuckDB.
	PathDuckDB = "duckdb"
	// PathHTTP is POST /v1/databases/{db}/tables/{table}/records over loopback, JSON
	// bodies encoded by client.WriteRecords.
	PathHTTP = "http"
)

// Report is the outcome of a run.
type Report struct {
	StartedAt time.Time     `json:"startedAt"`
	Duration  time.Duration `json:"-"`
	Seconds   float64       `json:"durationSeconds"`
	Hosts     int           `json:"hosts"`
	Runs      int           `json:"runs"`
	Batch     int           `json:"recordsPerWrite"`
	QueryRuns int           `json:"queryRuns"`
	CPU       string        `json:"cpu"`
	CPUs      int           `json:"cpus"`
	GoVersion string        `json:"goVersion"`
	StoreDir  string        `json:"storeDir"`

	UseCases []*UseCaseReport `json:"useCases"`
	// Targets are the targets, each against the figure it applies to.
	Targets []Check `json:"targets"`
}

// UseCaseReport is what one use case measured.
type UseCaseReport struct {
	UseCase  UseCase       `json:"useCase"`
	Span     time.Duration `json:"-"`
	Interval time.Duration `json:"-"`
	Tables   []string      `json:"tables"`
	// Ingest holds, per loader count, the baseline then eddy; then HTTP, if measured.
	Ingest []IngestCase `json:"ingest"`
	// Data is the data set of the queries and the tiering.
	Data     DataSet       `json:"dataSet"`
	Memory   []QueryResult `json:"memoryQueries"`
	Tiering  Tiering       `json:"tiering"`
	Magnetic []QueryResult `json:"magneticQueries"`
}

// Spread is a figure's median and range over runs.
type Spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// IngestCase is one write path at one loader count, over Runs runs.
type IngestCase struct {
	Path    string      `json:"path"`
	Loaders int         `json:"loaders"`
	Runs    []IngestRun `json:"runs"`
	// RowsPerSec counts rows acknowledged (eddy: durable) per second.
	RowsPerSec   Spread `json:"rowsPerSec"`
	ValuesPerSec Spread `json:"valuesPerSec"`
	// QueryableRowsPerSec counts the time until every acknowledged row is queryable.
	QueryableRowsPerSec Spread `json:"queryableRowsPerSec"`
	// VsBaseline divides the median rows/s by the baseline's at the same loader count.
	VsBaseline float64 `json:"vsBaseline,omitempty"`
}

// IngestRun is one timed load.
type IngestRun struct {
	// Rows and Values count what was stored.
	Rows   int64 `json:"rows"`
	Values int64 `json:"values"`
	Writes int64 `json:"writes,omitempty"`
	// Rejected counts the records eddy refused (version conflicts, see load), which
	// Rows and Values leave out.
	Rejected int64 `json:"rejected,omitempty"`
	// Exhausted is whether the run wrote the whole data set before Duration.
	Exhausted           bool    `json:"exhausted"`
	Seconds             float64 `json:"seconds"`
	QueryableSeconds    float64 `json:"queryableSeconds"`
	RowsPerSec          float64 `json:"rowsPerSec"`
	ValuesPerSec        float64 `json:"valuesPerSec"`
	QueryableRowsPerSec float64 `json:"queryableRowsPerSec"`
}

func (r *IngestRun) setRates(acked, queryable time.Duration) {
	r.Seconds, r.QueryableSeconds = acked.Seconds(), queryable.Seconds()
	r.RowsPerSec = float64(r.Rows) / r.Seconds
	r.ValuesPerSec = float64(r.Values) / r.Seconds
	r.QueryableRowsPerSec = float64(r.Rows) / r.QueryableSeconds
}

func (c *IngestCase) summarise() {
	var rows, values, queryable []float64
	for _, r := range c.Runs {
		rows = append(rows, r.RowsPerSec)
		values = append(values, r.ValuesPerSec)
		queryable = append(queryable, r.QueryableRowsPerSec)
	}
	c.RowsPerSec, c.ValuesPerSec, c.QueryableRowsPerSec = summarise(rows), summarise(values), summarise(queryable)
}

// DataSet is what the tables held when the queries ran.
type DataSet struct {
	Start time.Time     `json:"start"`
	End   time.Time     `json:"end"`
	Span  time.Duration `json:"-"`
	// Rows and Values are what the loads wrote, by the generators' counts; StoredRows
	// and StoredValues what the tables hold (non-null measures), which must be equal.
	Rows         int64       `json:"rows"`
	Values       int64       `json:"values"`
	StoredRows   int64       `json:"storedRows"`
	StoredValues int64       `json:"storedValues"`
	Tables       []TableData `json:"tables"`
}

// TableData is one table's share of the data set.
type TableData struct {
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
	Values int64  `json:"values"`
}

// Tiering is the pass that moved the data set to the magnetic tier, and its files.
type Tiering struct {
	MovedRows     int64        `json:"movedRows"`
	Seconds       float64      `json:"seconds"`
	RowsPerSec    float64      `json:"rowsPerSec"`
	Files         int          `json:"files"`
	Bytes         int64        `json:"bytes"`
	BytesPerValue float64      `json:"bytesPerValue"`
	Tables        []TableFiles `json:"tables"`
}

// TableFiles is one table's Parquet files.
type TableFiles struct {
	Name          string  `json:"name"`
	Files         int     `json:"files"`
	Bytes         int64   `json:"bytes"`
	Values        int64   `json:"values"`
	BytesPerValue float64 `json:"bytesPerValue"`
}

// QueryResult is one query's latency over QueryRuns executions.
type QueryResult struct {
	Name     string  `json:"name"`
	Desc     string  `json:"description"`
	SQL      string  `json:"sql"`
	Rows     int64   `json:"rows"`
	Ms       Spread  `json:"ms"`
	P90Ms    float64 `json:"p90Ms"`
	TargetMs float64 `json:"targetMs,omitempty"`
}

// Check is a target and whether a figure meets it.
type Check struct {
	Target string  `json:"target"`
	Want   float64 `json:"want"`
	Got    float64 `json:"got"`
	Unit   string  `json:"unit"`
	// AtMost: the figure must be at most Want (latency, size), not at least.
	AtMost bool `json:"atMost"`
	Met    bool `json:"met"`
}

func newCheck(target string, want, got float64, unit string, atMost bool) Check {
	met := got >= want
	if atMost {
		met = got > 0 && got <= want
	}
	return Check{Target: target, Want: want, Got: got, Unit: unit, AtMost: atMost, Met: met}
}

// published are the figures the issue measured on this machine with TSBS, loader and
// server sharing the cores.
type published struct {
	influxRows, vmRows        float64
	influxBytes, vmBytes      float64
	influxMs, vmMs            map[string]float64
	ingestTarget, bytesTarget float64
}

var publishedFigures = map[UseCase]published{
	CPUOnly: {
		influxRows: 95_000, vmRows: 263_000, influxBytes: 0.51, vmBytes: 0.41,
		influxMs:     map[string]float64{"lastpoint": 104, "double-groupby-all": 302, "single-groupby-1-1-1": 1.3},
		vmMs:         map[string]float64{"double-groupby-all": 19},
		ingestTarget: 500_000, bytesTarget: 0.41,
	},
	IoT: {
		influxRows: 76_000, vmRows: 328_000, influxBytes: 2.31, vmBytes: 0.79,
		ingestTarget: 400_000, bytesTarget: 0.79,
	},
}

// best is the eddy case with the highest median rows/s.
func (uc *UseCaseReport) best() *IngestCase {
	var b *IngestCase
	for i := range uc.Ingest {
		c := &uc.Ingest[i]
		if c.Path == PathEddy && (b == nil || c.RowsPerSec.Median > b.RowsPerSec.Median) {
			b = c
		}
	}
	return b
}

func (uc *UseCaseReport) hasHTTP() bool {
	for _, c := range uc.Ingest {
		if c.Path == PathHTTP {
			return true
		}
	}
	return false
}

// check sets the targets from what was measured.
func (rep *Report) check() {
	rep.Seconds = rep.Duration.Seconds()
	rep.Targets = nil
	for _, uc := range rep.UseCases {
		pub := publishedFigures[uc.UseCase]
		if b := uc.best(); b != nil {
			rep.Targets = append(rep.Targets, newCheck(fmt.Sprintf("%s ingest, Service.Write, %d loaders (median)", uc.UseCase, b.Loaders),
				pub.ingestTarget, b.RowsPerSec.Median, "rows/s", false))
		}
		if uc.Tiering.Bytes > 0 {
			rep.Targets = append(rep.Targets, newCheck(fmt.Sprintf("%s bytes per stored value, magnetic tier", uc.UseCase),
				pub.bytesTarget, uc.Tiering.BytesPerValue, "B", true))
		}
		for _, tier := range []struct {
			name string
			qs   []QueryResult
		}{{"memory", uc.Memory}, {"magnetic", uc.Magnetic}} {
			for _, q := range tier.qs {
				if q.TargetMs > 0 {
					rep.Targets = append(rep.Targets, newCheck(fmt.Sprintf("%s %s, %s tier (median)", uc.UseCase, q.Name, tier.name),
						q.TargetMs, q.Ms.Median, "ms", true))
				}
			}
		}
	}
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	return benchfmt.WriteJSON(w, rep)
}

// WriteTable writes the report as tables, one section per use case, then the targets
// and the SQL of each query.
func (rep *Report) WriteTable(w io.Writer) error {
	p := &benchfmt.ErrWriter{W: w}
	p.Printf("eddy bench tables: TSBS data sets through tables.Service.Write with fsync on, %s\n", rep.StartedAt.Format("2006-01-02 15:04 MST"))
	p.Printf("machine: %s, %d CPUs, %s; data under %s\n", rep.CPU, rep.CPUs, rep.GoVersion, rep.StoreDir)
	p.Printf("ingest: runs per case: %d, each up to %s or the end of the data set; %s records per write;\n",
		rep.Runs, rep.Duration, benchfmt.Count(float64(rep.Batch)))
	p.Printf("  figures are median [min–max] over the runs; loaders generate their rows as they write, in every case.\n")
	p.Printf("  rows/s: acknowledged (eddy: durable); queryable: until every acknowledged row is visible to queries.\n")
	p.Printf("  baseline = DuckDB Appenders (one per loader and table) into plain tables of the same columns, in-memory DuckDB.\n")
	p.Printf("queries: %d warm-up then %d timed executions each through sql.Engine.Query (the path of POST /v1/query),\n", warmups, rep.QueryRuns)
	p.Printf("  every page read; parameters (host, hour, fleet) drawn at random per execution as TSBS does.\n")
	for _, uc := range rep.UseCases {
		rep.writeUseCase(p, uc)
	}
	if len(rep.Targets) > 0 {
		p.Printf("\nTargets\n")
		for _, c := range rep.Targets {
			op := "≥"
			if c.AtMost {
				op = "≤"
			}
			p.Printf("  %s %s %s %s: %s\n", benchfmt.Mark(c.Met), c.Target, op, fig(c.Want, c.Unit), fig(c.Got, c.Unit))
		}
	}
	p.Printf("\nSQL (the first execution's parameters)\n")
	for _, uc := range rep.UseCases {
		for _, q := range uc.Memory {
			p.Printf("  %s: %s\n", q.Name, q.SQL)
		}
	}
	return p.Err
}

func (rep *Report) writeUseCase(p *benchfmt.ErrWriter, uc *UseCaseReport) {
	devices := "hosts"
	if uc.UseCase == IoT {
		devices = "trucks"
	}
	p.Printf("\n%s: %s %s every %s for %s (tables %s)\n", uc.UseCase, benchfmt.Count(float64(rep.Hosts)), devices, uc.Interval, uc.Span, strings.Join(uc.Tables, ", "))
	tw := tabwriter.NewWriter(p, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ingest\tloaders\trows/s\tvalues/s\tqueryable rows/s\trows per run\t×baseline\t")
	for _, c := range uc.Ingest {
		name, vs := "eddy Service.Write", fmt.Sprintf("%.2f", c.VsBaseline)
		switch c.Path {
		case PathDuckDB:
			name, vs = "DuckDB Appender (baseline)", "1"
		case PathHTTP:
			name = "eddy HTTP JSON"
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", name, c.Loaders, spread(c.RowsPerSec), benchfmt.Count(c.ValuesPerSec.Median),
			benchfmt.Count(c.QueryableRowsPerSec.Median), runRows(c.Runs), vs)
	}
	_ = tw.Flush()
	for _, c := range uc.Ingest {
		var rejected []string
		for _, r := range c.Runs {
			if r.Rejected > 0 {
				rejected = append(rejected, benchfmt.Count(float64(r.Rejected)))
			}
		}
		if len(rejected) > 0 {
			p.Printf("  %s, %d loaders: %s records rejected in the runs, version conflicts of rows whose identity the data set repeats\n",
				c.Path, c.Loaders, strings.Join(rejected, ", "))
		}
	}
	if b := uc.best(); b != nil {
		p.Printf("  fastest Service.Write: %d loaders", b.Loaders)
		if !uc.hasHTTP() {
			p.Printf("; HTTP JSON: not measured")
		}
		p.Printf("\n")
	}
	pub := publishedFigures[uc.UseCase]
	p.Printf("  published (TSBS, this machine): InfluxDB 1.8 %s rows/s, VictoriaMetrics %s rows/s\n",
		benchfmt.Count(pub.influxRows), benchfmt.Count(pub.vmRows))

	ds := uc.Data
	if ds.StoredRows == 0 {
		return
	}
	p.Printf("\n  data set queried and tiered: %s rows, %s values, %s to %s\n", benchfmt.Count(float64(ds.StoredRows)),
		benchfmt.Count(float64(ds.StoredValues)), ds.Start.Format(time.RFC3339), ds.End.Format(time.RFC3339))
	if t := uc.Tiering; t.MovedRows > 0 {
		p.Printf("  tiering: %s rows in %.1fs, %s rows/s; %d Parquet files, %s bytes\n", benchfmt.Count(float64(t.MovedRows)), t.Seconds,
			benchfmt.Count(t.RowsPerSec), t.Files, benchfmt.Count(float64(t.Bytes)))
		for _, tf := range t.Tables {
			p.Printf("    %s: %s bytes, %s values, %.3f bytes per value\n", tf.Name, benchfmt.Count(float64(tf.Bytes)), benchfmt.Count(float64(tf.Values)), tf.BytesPerValue)
		}
		p.Printf("  bytes per stored value: %.3f (target ≤ %.2f %s; InfluxDB 1.8 %.2f, VictoriaMetrics %.2f)\n",
			t.BytesPerValue, pub.bytesTarget, benchfmt.Mark(t.BytesPerValue <= pub.bytesTarget), pub.influxBytes, pub.vmBytes)
	}
	if len(uc.Memory) == 0 {
		return
	}
	p.Printf("\n")
	tw = tabwriter.NewWriter(p, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  query\trows\tmemory p50\tp90\tmin\tmagnetic p50\tp90\tmin\ttarget (memory / magnetic)\tInfluxDB\tVictoriaMetrics\t")
	for i, q := range uc.Memory {
		mag := "-\t-\t-"
		var mq *QueryResult
		if i < len(uc.Magnetic) {
			mq = &uc.Magnetic[i]
			mag = fmt.Sprintf("%s\t%s\t%s", benchfmt.Millis(mq.Ms.Median), benchfmt.Millis(mq.P90Ms), benchfmt.Millis(mq.Ms.Min))
		}
		target := "-"
		if q.TargetMs > 0 {
			target = fmt.Sprintf("< %s: %s", benchfmt.Millis(q.TargetMs), benchfmt.Mark(q.Ms.Median <= q.TargetMs))
			if mq != nil {
				target += " / " + benchfmt.Mark(mq.Ms.Median <= q.TargetMs)
			}
		}
		fmt.Fprintf(tw, "  %s (%s)\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", q.Name, q.Desc, benchfmt.Count(float64(q.Rows)),
			benchfmt.Millis(q.Ms.Median), benchfmt.Millis(q.P90Ms), benchfmt.Millis(q.Ms.Min), mag, target,
			pubMs(pub.influxMs, q.Name), pubMs(pub.vmMs, q.Name))
	}
	_ = tw.Flush()
}

func spread(s Spread) string {
	return fmt.Sprintf("%s [%s–%s]", benchfmt.Count(s.Median), benchfmt.Short(round3(s.Min)), benchfmt.Short(round3(s.Max)))
}

// round3 keeps three significant digits, so Short prints "1.23M", not every digit.
func round3(v float64) float64 {
	if v <= 0 {
		return v
	}
	scale := 1.0
	for v/scale >= 1000 {
		scale *= 10
	}
	return float64(int64(v/scale+0.5)) * scale
}

// runRows is the rows of the runs: one count when every run wrote the same, else a range.
func runRows(rs []IngestRun) string {
	if len(rs) == 0 {
		return "-"
	}
	lo, hi := rs[0].Rows, rs[0].Rows
	all := true
	for _, r := range rs {
		lo, hi = min(lo, r.Rows), max(hi, r.Rows)
		all = all && r.Exhausted
	}
	s := benchfmt.Count(float64(lo))
	if hi != lo {
		s += "–" + benchfmt.Count(float64(hi))
	}
	if all {
		s += " (all)"
	}
	return s
}

func pubMs(m map[string]float64, name string) string {
	if v, ok := m[name]; ok {
		return benchfmt.Millis(v)
	}
	return "-"
}

func fig(v float64, unit string) string {
	switch unit {
	case "ms":
		return benchfmt.Millis(v)
	case "B":
		return fmt.Sprintf("%.3f B", v)
	}
	return benchfmt.Count(v) + " " + unit
}

// cpuModel is the processor's name from /proc/cpuinfo, or "unknown CPU".
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
