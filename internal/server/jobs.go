package server

import (
	"context"
	"net/http"
	"time"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/internal/engine"
	"github.com/eddy-streams/eddy/internal/jobs"
	"github.com/eddy-streams/eddy/internal/server/wire"
)

// JobsAPI is the part of the jobs manager the HTTP API calls; *jobs.Manager is one.
//
// With Options.Jobs set, the server also serves:
//
//	GET    /v1/builtins                       list the built-in jobs          200 ListBuiltinsResponse
//	POST   /v1/jobs                           start a built-in job            201 JobDescription
//	GET    /v1/jobs                           list jobs                       200 ListJobsResponse
//	GET    /v1/jobs/{name}                    describe a job                  200 JobDescription
//	GET    /v1/jobs/{name}/checkpoints        list a job's checkpoints        200 ListCheckpointsResponse
//	POST   /v1/jobs/{name}/stop               stop a job and wait for it      200 JobDescription
//
// and, on /metrics, the eddy_job_* and eddy_jobs metrics (jobmetrics.go). A start
// without name or builtin is 400 MissingParameter; the other errors are package jobs'.
type JobsAPI interface {
	Builtins() []jobs.Builtin
	Start(name, builtin string, args map[string]string) (jobs.Info, error)
	List() []jobs.Info
	Describe(name string) (jobs.Info, error)
	Stop(ctx context.Context, name string) (jobs.Info, error)
	StartFrom(name, builtin string, args map[string]string, savepoint string) (jobs.Info, error)
	Savepoint(ctx context.Context, name string) (string, error)
}

// jobRoutes serves the job endpoints.
type jobRoutes struct {
	s     *Server
	jobs  JobsAPI
	rates *rateSampler
}

// routeJobs registers the job endpoints and, with a registerer, the job metrics.
func (s *Server) routeJobs(api JobsAPI) {
	jr := &jobRoutes{s: s, jobs: api, rates: newRateSampler()}
	if s.opts.Registerer != nil {
		s.opts.Registerer.MustRegister(newJobCollector(api, jr.rates, time.Now))
	}
	s.handle("GET /v1/builtins", true, jr.listBuiltins)
	s.handle("POST /v1/jobs", true, jr.startJob)
	s.handle("GET /v1/jobs", true, jr.listJobs)
	s.handle("GET /v1/jobs/{name}", true, jr.describeJob)
	s.handle("GET /v1/jobs/{name}/checkpoints", true, jr.listCheckpoints)
	s.handle("POST /v1/jobs/{name}/stop", true, jr.stopJob)
	s.handle("POST /v1/jobs/{name}/savepoint", true, jr.savepoint)
}

func (jr *jobRoutes) savepoint(w http.ResponseWriter, r *http.Request) {
	path, err := jr.jobs.Savepoint(r.Context(), r.PathValue("name"))
	if err != nil {
		jr.s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.SavepointResponse{Savepoint: path})
}

func (jr *jobRoutes) listBuiltins(w http.ResponseWriter, _ *http.Request) {
	list := jr.jobs.Builtins()
	out := wire.ListBuiltinsResponse{Builtins: make([]wire.Builtin, len(list))}
	for i, b := range list {
		args := make([]wire.BuiltinArg, len(b.Args))
		for k, a := range b.Args {
			args[k] = wire.BuiltinArg{Name: a.Name, Help: a.Help, Required: a.Required, Default: a.Default}
		}
		out.Builtins[i] = wire.Builtin{Name: b.Name, Description: b.Description, Args: args}
	}
	writeJSON(w, http.StatusOK, out)
}

func (jr *jobRoutes) startJob(w http.ResponseWriter, r *http.Request) {
	var req wire.StartJobRequest
	if err := decodeJSON(r, &req); err != nil {
		jr.s.writeError(w, r, err)
		return
	}
	switch {
	case req.Name == "":
		jr.s.writeError(w, r, errMissing("name", "the name to run the job under"))
		return
	case req.Builtin == "":
		jr.s.writeError(w, r, errMissing("builtin", "the built-in job to run; GET /v1/builtins lists them"))
		return
	}
	info, err := jr.jobs.StartFrom(req.Name, req.Builtin, req.Args, req.FromSavepoint)
	if err != nil {
		jr.s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/jobs/"+info.Name)
	writeJSON(w, http.StatusCreated, jr.describe(info))
}

func (jr *jobRoutes) listJobs(w http.ResponseWriter, _ *http.Request) {
	list := jr.jobs.List()
	out := wire.ListJobsResponse{Jobs: make([]wire.JobSummary, len(list))}
	for i, info := range list {
		out.Jobs[i] = jobSummary(info)
	}
	writeJSON(w, http.StatusOK, out)
}

func (jr *jobRoutes) describeJob(w http.ResponseWriter, r *http.Request) {
	info, err := jr.jobs.Describe(r.PathValue("name"))
	if err != nil {
		jr.s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, jr.describe(info))
}

func (jr *jobRoutes) listCheckpoints(w http.ResponseWriter, r *http.Request) {
	info, err := jr.jobs.Describe(r.PathValue("name"))
	if err != nil {
		jr.s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listCheckpoints(info.Checkpoints))
}

// listCheckpoints lists the newest of a job's checkpoints, which come oldest first.
func listCheckpoints(all []flow.CheckpointStatus) wire.ListCheckpointsResponse {
	n := min(len(all), wire.MaxListedCheckpoints)
	out := wire.ListCheckpointsResponse{Checkpoints: make([]wire.Checkpoint, n)}
	for i := range n {
		cp := all[len(all)-1-i]
		out.Checkpoints[i] = wire.Checkpoint{
			ID: cp.ID, Triggered: cp.Trigger.UTC(),
			DurationMillis: cp.Duration.Milliseconds(), MaxPauseMillis: cp.MaxPause.Milliseconds(),
			Bytes: int64(cp.Bytes), Status: wire.CheckpointCompleted,
		}
	}
	if n > 0 {
		out.Latest = &out.Checkpoints[0]
	}
	return out
}

func (jr *jobRoutes) stopJob(w http.ResponseWriter, r *http.Request) {
	info, err := jr.jobs.Stop(r.Context(), r.PathValue("name"))
	if err != nil {
		jr.s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, jr.describe(info))
}

// jobSummary sums what a job's sources read and its last operators emitted.
func jobSummary(info jobs.Info) wire.JobSummary {
	st := info.Status
	out := wire.JobSummary{Name: info.Name, Builtin: info.Builtin, State: string(st.State), Started: st.Started, Operators: len(st.Operators)}
	hasInput, hasOutput := map[string]bool{}, map[string]bool{}
	for _, e := range st.Edges {
		hasOutput[e.From], hasInput[e.To] = true, true
	}
	for _, op := range st.Operators {
		for _, sub := range op.Subtasks {
			if !hasInput[op.Name] {
				out.RecordsIn += sub.RecordsIn
			}
			if !hasOutput[op.Name] {
				out.RecordsOut += sub.RecordsOut
			}
		}
	}
	return out
}

// describe samples the job's rates and describes it.
func (jr *jobRoutes) describe(info jobs.Info) wire.JobDescription {
	now := time.Now()
	return jobDescription(info, jr.rates.sample(info.Name, info.Status, now), now)
}

func jobDescription(info jobs.Info, rates [][]subtaskRates, now time.Time) wire.JobDescription {
	st := info.Status
	args := info.Args
	if args == nil {
		args = map[string]string{}
	}
	out := wire.JobDescription{
		Restarts: info.Restarts,
		Name:     info.Name, Builtin: info.Builtin, Args: args,
		State: string(st.State), Started: st.Started, Finished: st.Finished, Error: st.Error,
		Operators: make([]wire.Operator, len(st.Operators)),
		Edges:     make([]wire.Edge, len(st.Edges)),
	}
	for i, op := range st.Operators {
		chained := op.Chained
		if chained == nil {
			chained = []string{}
		}
		o := wire.Operator{Name: op.Name, Parallelism: op.Parallelism, Chained: chained, Subtasks: make([]wire.Subtask, len(op.Subtasks))}
		for j, sub := range op.Subtasks {
			o.Subtasks[j] = subtaskDescription(j, sub, rates[i][j], now)
		}
		out.Operators[i] = o
	}
	for i, e := range st.Edges {
		out.Edges[i] = wire.Edge{From: e.From, To: e.To, Partitioning: e.Partitioning}
	}
	return out
}

func subtaskDescription(index int, sub flow.SubtaskStatus, r subtaskRates, now time.Time) wire.Subtask {
	out := wire.Subtask{
		Index: index, RecordsIn: sub.RecordsIn, RecordsOut: sub.RecordsOut,
		RecordsInPerSecond: r.in, RecordsOutPerSecond: r.out,
		BusyFraction: r.busy, IdleFraction: r.idle, BackpressuredFraction: r.backpressured,
		BusyMillis: sub.Busy.Milliseconds(), IdleMillis: sub.Idle.Milliseconds(), BackpressuredMillis: sub.Backpressured.Milliseconds(),
		StateEntries: sub.StateEntries,
	}
	switch wm := sub.Watermark; wm {
	case engine.MinWatermark:
	case engine.MaxWatermark:
		out.InputEnded = true
	default:
		// RFC 3339 has four-digit years: a watermark outside them, from nonsense event
		// times, is left out rather than failing the response.
		if t := time.UnixMilli(wm).UTC(); t.Year() >= 0 && t.Year() <= 9999 {
			lag := now.UnixMilli() - wm
			out.Watermark, out.WatermarkLagMillis = &t, &lag
		}
	}
	return out
}
