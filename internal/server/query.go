package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/sql"
)

// QueryAPI is the SQL engine the HTTP API calls; *sql.Engine is one.
//
// With Options.Query set, the server also serves:
//
//	POST   /v1/query          run a query, or read its next page   200 QueryResponse
//	DELETE /v1/queries/{id}   cancel a running query or drop its open result   204
//
// A request with both query and nextToken, or with a setting besides nextToken, is 400
// InvalidParameter; one with neither is 400 MissingParameter. The engine's errors:
// InvalidQuery (400: the statement does not parse or bind, changes state, or is
// several), QueryTimeout (504), QueryCancelled (409), QueryOutOfMemory (413),
// TooManyOpenResults (503), QueryIDInUse (409), InvalidNextToken (400),
// NextTokenExpired (410), QueryNotFound (404).
type QueryAPI interface {
	Query(ctx context.Context, q string, opts sql.QueryOptions) (*sql.Result, error)
	NextPage(ctx context.Context, token string) (*sql.Result, error)
	Cancel(queryID string) error
}

// queryRoutes serves the query endpoints.
type queryRoutes struct {
	s   *Server
	api QueryAPI
}

func (s *Server) routeQueries(api QueryAPI) {
	qr := &queryRoutes{s: s, api: api}
	s.handle("POST /v1/query", true, qr.query)
	s.handle("DELETE /v1/queries/{id}", true, qr.cancel)
}

func (qr *queryRoutes) query(w http.ResponseWriter, r *http.Request) {
	var req wire.QueryRequest
	if err := decodeJSON(r, &req); err != nil {
		qr.s.writeError(w, r, err)
		return
	}
	var res *sql.Result
	var err error
	switch {
	case req.NextToken != "" && (req.Query != "" || req.TimeoutMillis != 0 || req.PageSize != 0 || req.QueryID != ""):
		err = errParam("nextToken", "give it alone: the query's settings are those of its first request")
	case req.NextToken != "":
		res, err = qr.api.NextPage(r.Context(), req.NextToken)
	case req.Query == "":
		err = errMissing("query", "the SQL statement to run, or nextToken to read the next page of an earlier one")
	case req.TimeoutMillis < 0:
		err = errParam("timeoutMs", "must not be negative, got %d", req.TimeoutMillis)
	case req.PageSize < 0:
		err = errParam("pageSize", "must not be negative, got %d", req.PageSize)
	default:
		res, err = qr.api.Query(r.Context(), req.Query, sql.QueryOptions{
			Timeout:  time.Duration(req.TimeoutMillis) * time.Millisecond,
			PageSize: req.PageSize,
			ID:       req.QueryID,
		})
	}
	if err != nil {
		if _, ok := apierr.As(err); !ok && errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			return // the caller went away, and its query was interrupted
		}
		qr.s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, queryResponse(res))
}

func (qr *queryRoutes) cancel(w http.ResponseWriter, r *http.Request) {
	if err := qr.api.Cancel(r.PathValue("id")); err != nil {
		qr.s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func queryResponse(res *sql.Result) wire.QueryResponse {
	out := wire.QueryResponse{
		QueryID:   res.QueryID,
		Columns:   make([]wire.QueryColumn, len(res.Columns)),
		Rows:      res.Rows,
		NextToken: res.NextToken,
		Stats:     wire.QueryStats{ElapsedMillis: res.Stats.Elapsed.Milliseconds(), Rows: res.Stats.Rows},
	}
	for i, c := range res.Columns {
		out.Columns[i] = wire.QueryColumn{Name: c.Name, Type: c.Type}
	}
	if out.Rows == nil {
		out.Rows = [][]any{}
	}
	return out
}
