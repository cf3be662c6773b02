package server

import (
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/tables"
)

// What InfluxDB clients call besides the writes (see lineprotocol.go), so that Telegraf
// and the InfluxDB client libraries start against eddy unchanged:
//
//	GET|HEAD /ping    204, with the X-Influxdb-Version header clients read
//	GET|POST /query   InfluxQL: CREATE DATABASE (Telegraf sends it at start) and
//	                  SHOW DATABASES; anything else is 400 pointing at POST /v1/query
//
// A point for a table that does not exist creates it with the default retentions when
// its database exists, as InfluxDB creates a measurement on its first point; eddy's own
// JSON write API does not (a table is created on purpose there, as in Timestream).

// influxVersion is what /ping reports: the InfluxDB version whose API eddy answers.
const influxVersion = "1.8.10-eddy"

var (
	createDatabasePattern = regexp.MustCompile(`(?is)^\s*CREATE\s+DATABASE\s+("(?:[^"\\]|\\.)+"|[A-Za-z0-9_.\-]+)\s*(?:WITH\s+.*)?;?\s*$`)
	showDatabasesQL       = regexp.MustCompile(`(?is)^\s*SHOW\s+DATABASES\s*;?\s*$`)
)

func (tw *tableWriteRoutes) routeInflux() {
	tw.s.handle("GET /ping", false, tw.ping)
	tw.s.handle("HEAD /ping", false, tw.ping)
	tw.s.handleLimit("GET /query", false, 1<<20, tw.influxQuery)
	tw.s.handleLimit("POST /query", false, 1<<20, tw.influxQuery)
}

func (tw *tableWriteRoutes) ping(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Influxdb-Version", influxVersion)
	w.Header().Set("X-Influxdb-Build", "eddy")
	w.WriteHeader(http.StatusNoContent)
}

// influxResult is InfluxDB 1.x's answer to /query.
type influxResult struct {
	Results []influxStatement `json:"results"`
}

type influxStatement struct {
	StatementID int            `json:"statement_id"`
	Series      []influxSeries `json:"series,omitempty"`
}

type influxSeries struct {
	Name    string     `json:"name"`
	Columns []string   `json:"columns"`
	Values  [][]string `json:"values"`
}

func (tw *tableWriteRoutes) influxQuery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Influxdb-Version", influxVersion)
	if err := tw.influxAuth(r); err != nil {
		writeInfluxError(w, err, true)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeInfluxError(w, errParam("q", "the form does not parse: %v", err), true)
		return
	}
	q := r.Form.Get("q")
	if tw.cat == nil {
		writeInfluxError(w, apierr.New(apierr.Invalid, "UnsupportedQuery", "this server has no tables"), true)
		return
	}
	switch {
	case createDatabasePattern.MatchString(q):
		name := createDatabasePattern.FindStringSubmatch(q)[1]
		if strings.HasPrefix(name, `"`) {
			name = strings.ReplaceAll(name[1:len(name)-1], `\"`, `"`)
		}
		// CREATE DATABASE of an existing database succeeds in InfluxDB.
		if _, err := tw.cat.CreateDatabase(name); err != nil && !isCode(err, tables.CodeDatabaseExists) {
			writeInfluxError(w, err, true)
			return
		}
		writeJSON(w, http.StatusOK, influxResult{Results: []influxStatement{{}}})
	case showDatabasesQL.MatchString(q):
		s := influxSeries{Name: "databases", Columns: []string{"name"}, Values: [][]string{}}
		for _, db := range tw.cat.ListDatabases() {
			s.Values = append(s.Values, []string{db.Name})
		}
		writeJSON(w, http.StatusOK, influxResult{Results: []influxStatement{{Series: []influxSeries{s}}}})
	default:
		writeInfluxError(w, apierr.New(apierr.Invalid, "UnsupportedQuery",
			"eddy answers InfluxQL's CREATE DATABASE and SHOW DATABASES only; query tables with SQL: POST /v1/query or eddy sql"), true)
	}
}

// createOnWrite creates table in db with the default options, for a line protocol
// point whose write failed with err, when err says the table does not exist. It returns
// whether to write again, and the error to report if that is not done or fails again
// for want of the table: CreateTable's own (an invalid name, a missing database, a table
// whose name differs only in case) says more than TableNotFound.
func (tw *tableWriteRoutes) createOnWrite(db, table string, err error) (bool, error) {
	if tw.cat == nil || !isCode(err, tables.CodeTableNotFound) {
		return false, err
	}
	_, cerr := tw.cat.CreateTable(db, table, tables.TableOptions{})
	switch {
	case cerr == nil:
		return true, err
	case isCode(cerr, tables.CodeTableExists):
		// Created meanwhile by another write, or a name that differs only in case.
		return true, cerr
	}
	return false, cerr
}

func isCode(err error, code string) bool {
	var e *apierr.Error
	return errors.As(err, &e) && e.Code == code
}
