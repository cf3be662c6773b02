package server

import (
	"math"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/internal/engine"
)

// jobCollector exports the jobs' status as metrics, read from the manager on each
// scrape; every series of a subtask carries the labels job, operator and subtask, every
// checkpoint series the label job.
type jobCollector struct {
	jobs  JobsAPI
	rates *rateSampler
	now   func() time.Time

	recordsIn, recordsOut     *prometheus.Desc
	watermark, watermarkLag   *prometheus.Desc
	busy, idle, backpressured *prometheus.Desc
	stateEntries, jobsByState *prometheus.Desc

	checkpoints                              *prometheus.Desc
	checkpointDuration, checkpointMaxPause   *prometheus.Desc
	checkpointBytes, checkpointLastCompleted *prometheus.Desc
}

// jobStates are the states eddy_jobs always reports, so that a dashboard sees zeros.
var jobStates = []flow.JobState{flow.JobCreated, flow.JobRunning, flow.JobFinished, flow.JobFailed, flow.JobCanceled}

func newJobCollector(api JobsAPI, rates *rateSampler, now func() time.Time) *jobCollector {
	labels := []string{"job", "operator", "subtask"}
	desc := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, labels, nil) }
	jobDesc := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, []string{"job"}, nil) }
	return &jobCollector{
		jobs: api, rates: rates, now: now,
		recordsIn:     desc("eddy_job_records_in_total", "Records a job's operator subtask received; for a source, the records it read."),
		recordsOut:    desc("eddy_job_records_out_total", "Records a job's operator subtask emitted downstream or wrote to its sink."),
		watermark:     desc("eddy_job_watermark_seconds", "Event-time watermark of a subtask, Unix seconds; +Inf once its input has ended; absent before its first watermark."),
		watermarkLag:  desc("eddy_job_watermark_lag_seconds", "Wall clock minus the subtask's watermark; absent before its first watermark and once its input has ended."),
		busy:          desc("eddy_job_busy_seconds_total", "Time a subtask spent working."),
		idle:          desc("eddy_job_idle_seconds_total", "Time a subtask spent waiting for input."),
		backpressured: desc("eddy_job_backpressured_seconds_total", "Time a subtask spent waiting for a full downstream channel."),
		stateEntries:  desc("eddy_job_state_entries", "Keyed and broadcast state entries and open windows a subtask holds."),
		jobsByState:   prometheus.NewDesc("eddy_jobs", "Jobs the server has run since it started, by state.", []string{"state"}, nil),

		checkpoints:             jobDesc("eddy_job_checkpoints_completed_total", "Checkpoints the job's current run completed."),
		checkpointDuration:      jobDesc("eddy_job_checkpoint_duration_seconds", "Time from trigger to completion of the job's latest checkpoint; absent before the first."),
		checkpointMaxPause:      jobDesc("eddy_job_checkpoint_max_pause_seconds", "Longest any subtask stopped processing to snapshot for the job's latest checkpoint; absent before the first."),
		checkpointBytes:         jobDesc("eddy_job_checkpoint_bytes", "Size of the snapshots of the job's latest checkpoint; absent before the first."),
		checkpointLastCompleted: jobDesc("eddy_job_last_checkpoint_timestamp_seconds", "When the job's latest checkpoint completed, Unix seconds; absent before the first."),
	}
}

func (c *jobCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.recordsIn, c.recordsOut, c.watermark, c.watermarkLag, c.busy, c.idle, c.backpressured, c.stateEntries, c.jobsByState,
		c.checkpoints, c.checkpointDuration, c.checkpointMaxPause, c.checkpointBytes, c.checkpointLastCompleted,
	} {
		ch <- d
	}
}

// Collect also samples every job's rates, so that describe measures them over about one
// scrape interval.
func (c *jobCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	byState := map[flow.JobState]int{}
	for _, info := range c.jobs.List() {
		st := info.Status
		byState[st.State]++
		c.rates.sample(info.Name, st, now)
		for _, op := range st.Operators {
			for i, sub := range op.Subtasks {
				labels := []string{info.Name, op.Name, strconv.Itoa(i)}
				counter := func(d *prometheus.Desc, v float64) {
					ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
				}
				gauge := func(d *prometheus.Desc, v float64) {
					ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
				}
				counter(c.recordsIn, float64(sub.RecordsIn))
				counter(c.recordsOut, float64(sub.RecordsOut))
				counter(c.busy, sub.Busy.Seconds())
				counter(c.idle, sub.Idle.Seconds())
				counter(c.backpressured, sub.Backpressured.Seconds())
				gauge(c.stateEntries, float64(sub.StateEntries))
				switch wm := sub.Watermark; wm {
				case engine.MinWatermark:
				case engine.MaxWatermark:
					gauge(c.watermark, math.Inf(1))
				default:
					gauge(c.watermark, float64(wm)/1e3)
					gauge(c.watermarkLag, float64(now.UnixMilli()-wm)/1e3)
				}
			}
		}
		c.collectCheckpoints(ch, info.Name, info.CheckpointsCompleted, info.Checkpoints)
	}
	for _, s := range jobStates {
		ch <- prometheus.MustNewConstMetric(c.jobsByState, prometheus.GaugeValue, float64(byState[s]), string(s))
	}
}

// collectCheckpoints exports a job's checkpoint count and its latest checkpoint.
func (c *jobCollector) collectCheckpoints(ch chan<- prometheus.Metric, job string, completed int64, cps []flow.CheckpointStatus) {
	ch <- prometheus.MustNewConstMetric(c.checkpoints, prometheus.CounterValue, float64(completed), job)
	if len(cps) == 0 {
		return
	}
	last := cps[len(cps)-1]
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, job)
	}
	gauge(c.checkpointDuration, last.Duration.Seconds())
	gauge(c.checkpointMaxPause, last.MaxPause.Seconds())
	gauge(c.checkpointBytes, float64(last.Bytes))
	gauge(c.checkpointLastCompleted, float64(last.Trigger.Add(last.Duration).UnixNano())/1e9)
}
