package server

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/tables"
)

// ScheduledQueriesAPI is the scheduled queries of the tables service; *tables.Service
// is one. When Options.Tables is one too, the server also serves:
//
//	POST   /v1/scheduled-queries               create a scheduled query     201 ScheduledQuery
//	GET    /v1/scheduled-queries               list them                    200 ListScheduledQueriesResponse
//	GET    /v1/scheduled-queries/{name}        definition and status        200 ScheduledQuery
//	PATCH  /v1/scheduled-queries/{name}        enable, disable, reschedule, change the query   200 ScheduledQuery
//	DELETE /v1/scheduled-queries/{name}        delete it                    204
//	POST   /v1/scheduled-queries/{name}/runs   run one invocation now (backfill)   200 ScheduledQueryRun
//
// A run answers 200 once it has ended, failed or not: a failed run's error is in the
// body, as it is in the query's status. A create without a name, query, schedule or
// target is 400 MissingParameter, an update without a field 400 EmptyUpdate, a run
// without invocationTime 400 MissingParameter; the other errors are package tables':
// InvalidName, InvalidSchedule, InvalidQuery, InvalidTarget, InvalidTimeColumn,
// InvalidColumnType (400), ScheduledQueryExists (409), ScheduledQueryNotFound (404).
type ScheduledQueriesAPI interface {
	CreateScheduledQuery(ctx context.Context, name string, def tables.ScheduledQueryDefinition) (tables.ScheduledQuery, error)
	ListScheduledQueries() []tables.ScheduledQuery
	DescribeScheduledQuery(name string) (tables.ScheduledQuery, error)
	UpdateScheduledQuery(ctx context.Context, name string, u tables.ScheduledQueryUpdate) (tables.ScheduledQuery, error)
	DeleteScheduledQuery(name string) error
	RunScheduledQuery(ctx context.Context, name string, invocationTime time.Time) (tables.ScheduledRun, error)
}

// scheduledRoutes serves the scheduled query endpoints.
type scheduledRoutes struct {
	s   *Server
	api ScheduledQueriesAPI
}

func (s *Server) routeScheduledQueries(api ScheduledQueriesAPI) {
	sr := &scheduledRoutes{s: s, api: api}
	s.handle("POST /v1/scheduled-queries", true, sr.create)
	s.handle("GET /v1/scheduled-queries", true, sr.list)
	s.handle("GET /v1/scheduled-queries/{name}", true, sr.describe)
	s.handle("PATCH /v1/scheduled-queries/{name}", true, sr.update)
	s.handle("DELETE /v1/scheduled-queries/{name}", true, sr.delete)
	s.handle("POST /v1/scheduled-queries/{name}/runs", true, sr.run)
}

func (sr *scheduledRoutes) create(w http.ResponseWriter, r *http.Request) {
	var req wire.CreateScheduledQueryRequest
	if err := decodeJSON(r, &req); err != nil {
		sr.s.writeError(w, r, err)
		return
	}
	var err error
	switch {
	case req.Name == "":
		err = errMissing("name", "the name of the scheduled query to create")
	case req.Query == "":
		err = errMissing("query", "the SELECT to run; @scheduled_runtime in it becomes each invocation's time")
	case req.Schedule == "":
		err = errMissing("schedule", "the interval between invocations, such as 1h or rate(1 hour)")
	case req.Target.Database == "":
		err = errMissing("target.database", "the database of the table the rows are written to")
	case req.Target.Table == "":
		err = errMissing("target.table", "the table the rows are written to")
	}
	if err != nil {
		sr.s.writeError(w, r, err)
		return
	}
	t := req.Target
	q, err := sr.api.CreateScheduledQuery(r.Context(), req.Name, tables.ScheduledQueryDefinition{
		Query: req.Query, Schedule: req.Schedule, Enabled: req.Enabled,
		Target: tables.ScheduledTarget{Database: t.Database, Table: t.Table, TimeColumn: t.TimeColumn, Dimensions: t.Dimensions, MeasureName: t.MeasureName},
	})
	if err != nil {
		sr.s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/scheduled-queries/"+url.PathEscape(q.Name))
	writeJSON(w, http.StatusCreated, scheduledQueryOut(q))
}

func (sr *scheduledRoutes) list(w http.ResponseWriter, _ *http.Request) {
	list := sr.api.ListScheduledQueries()
	out := wire.ListScheduledQueriesResponse{ScheduledQueries: make([]wire.ScheduledQuery, len(list))}
	for i, q := range list {
		out.ScheduledQueries[i] = scheduledQueryOut(q)
	}
	writeJSON(w, http.StatusOK, out)
}

func (sr *scheduledRoutes) describe(w http.ResponseWriter, r *http.Request) {
	q, err := sr.api.DescribeScheduledQuery(r.PathValue("name"))
	if err != nil {
		sr.s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, scheduledQueryOut(q))
}

func (sr *scheduledRoutes) update(w http.ResponseWriter, r *http.Request) {
	var req wire.UpdateScheduledQueryRequest
	if err := decodeJSON(r, &req); err != nil {
		sr.s.writeError(w, r, err)
		return
	}
	if req.Enabled == nil && req.Schedule == nil && req.Query == nil {
		sr.s.writeError(w, r, apierr.New(apierr.Invalid, "EmptyUpdate", "give enabled, schedule, query or several"))
		return
	}
	q, err := sr.api.UpdateScheduledQuery(r.Context(), r.PathValue("name"), tables.ScheduledQueryUpdate{
		Enabled: req.Enabled, Schedule: req.Schedule, Query: req.Query,
	})
	if err != nil {
		sr.s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, scheduledQueryOut(q))
}

func (sr *scheduledRoutes) delete(w http.ResponseWriter, r *http.Request) {
	if err := sr.api.DeleteScheduledQuery(r.PathValue("name")); err != nil {
		sr.s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (sr *scheduledRoutes) run(w http.ResponseWriter, r *http.Request) {
	var req wire.RunScheduledQueryRequest
	if err := decodeJSON(r, &req); err != nil {
		sr.s.writeError(w, r, err)
		return
	}
	if req.InvocationTime.IsZero() {
		sr.s.writeError(w, r, errMissing("invocationTime", "the time @scheduled_runtime takes, in RFC 3339"))
		return
	}
	run, err := sr.api.RunScheduledQuery(r.Context(), r.PathValue("name"), req.InvocationTime)
	if err != nil {
		sr.s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, scheduledRunOut(run))
}

func scheduledQueryOut(q tables.ScheduledQuery) wire.ScheduledQuery {
	out := wire.ScheduledQuery{
		Name: q.Name, Query: q.Query, Schedule: q.Schedule, IntervalSeconds: int64(q.Interval / time.Second),
		Target: wire.ScheduledQueryTarget{
			Database: q.Target.Database, Table: q.Target.Table, TimeColumn: q.Target.TimeColumn,
			Dimensions: q.Target.Dimensions, MeasureName: q.Target.MeasureName,
		},
		Enabled: q.Enabled, CreatedAt: q.CreatedAt, UpdatedAt: q.UpdatedAt,
	}
	if !q.LastScheduledInvocation.IsZero() {
		t := q.LastScheduledInvocation
		out.LastScheduledInvocation = &t
	}
	if !q.NextInvocation.IsZero() {
		t := q.NextInvocation
		out.NextInvocation = &t
	}
	if q.LastRun != nil {
		run := scheduledRunOut(*q.LastRun)
		out.LastRun = &run
	}
	return out
}

func scheduledRunOut(r tables.ScheduledRun) wire.ScheduledQueryRun {
	return wire.ScheduledQueryRun{
		InvocationTime: r.InvocationTime, Manual: r.Manual, StartedAt: r.StartedAt, DurationMillis: r.Duration.Milliseconds(),
		Version: r.Version, RowsWritten: r.RowsWritten, RowsSkipped: r.RowsSkipped, RowsRejected: r.RowsRejected,
		Rejections: r.Rejections, Error: r.Error,
	}
}
