package server

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/tables"
)

// TablesAPI is the table catalog the HTTP API calls; *tables.Catalog is one.
//
// With Options.Tables set, the server also serves:
//
//	POST   /v1/databases                         create a database          201 Database
//	GET    /v1/databases                         list databases             200 ListDatabasesResponse
//	GET    /v1/databases/{db}                    describe a database        200 Database
//	DELETE /v1/databases/{db}                    delete an empty database   204
//	POST   /v1/databases/{db}/tables             create a table             201 Table
//	GET    /v1/databases/{db}/tables             list a database's tables   200 ListTablesResponse
//	GET    /v1/databases/{db}/tables/{table}     settings and schema        200 Table
//	PATCH  /v1/databases/{db}/tables/{table}     change settings            200 Table
//	DELETE /v1/databases/{db}/tables/{table}     delete a table             204
//
// A create without a name is 400 MissingParameter and an update without a setting 400
// EmptyUpdate; the other errors are package tables'.
type TablesAPI interface {
	CreateDatabase(name string) (tables.Database, error)
	DescribeDatabase(name string) (tables.Database, error)
	ListDatabases() []tables.Database
	DeleteDatabase(name string) error
	CreateTable(db, name string, opts tables.TableOptions) (tables.Table, error)
	DescribeTable(db, name string) (tables.Table, error)
	ListTables(db string) ([]tables.Table, error)
	UpdateTable(db, name string, opts tables.TableOptions) (tables.Table, error)
	DeleteTable(db, name string) error
}

// tableRoutes serves the database and table endpoints.
type tableRoutes struct {
	s   *Server
	cat TablesAPI
}

func (s *Server) routeTables(api TablesAPI) {
	tr := &tableRoutes{s: s, cat: api}
	s.handle("POST /v1/databases", true, tr.createDatabase)
	s.handle("GET /v1/databases", true, tr.listDatabases)
	s.handle("GET /v1/databases/{db}", true, tr.describeDatabase)
	s.handle("DELETE /v1/databases/{db}", true, tr.deleteDatabase)
	s.handle("POST /v1/databases/{db}/tables", true, tr.createTable)
	s.handle("GET /v1/databases/{db}/tables", true, tr.listTables)
	s.handle("GET /v1/databases/{db}/tables/{table}", true, tr.describeTable)
	s.handle("PATCH /v1/databases/{db}/tables/{table}", true, tr.updateTable)
	s.handle("DELETE /v1/databases/{db}/tables/{table}", true, tr.deleteTable)
	if sq, ok := api.(ScheduledQueriesAPI); ok {
		s.routeScheduledQueries(sq)
	}
}

func (tr *tableRoutes) createDatabase(w http.ResponseWriter, r *http.Request) {
	var req wire.CreateDatabaseRequest
	if err := decodeJSON(r, &req); err != nil {
		tr.s.writeError(w, r, err)
		return
	}
	if req.Name == "" {
		tr.s.writeError(w, r, errMissing("name", "the name of the database to create"))
		return
	}
	db, err := tr.cat.CreateDatabase(req.Name)
	if err != nil {
		tr.s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/databases/"+url.PathEscape(db.Name))
	writeJSON(w, http.StatusCreated, databaseOut(db))
}

func (tr *tableRoutes) listDatabases(w http.ResponseWriter, _ *http.Request) {
	list := tr.cat.ListDatabases()
	out := wire.ListDatabasesResponse{Databases: make([]wire.Database, len(list))}
	for i, db := range list {
		out.Databases[i] = databaseOut(db)
	}
	writeJSON(w, http.StatusOK, out)
}

func (tr *tableRoutes) describeDatabase(w http.ResponseWriter, r *http.Request) {
	db, err := tr.cat.DescribeDatabase(r.PathValue("db"))
	if err != nil {
		tr.s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, databaseOut(db))
}

func (tr *tableRoutes) deleteDatabase(w http.ResponseWriter, r *http.Request) {
	if err := tr.cat.DeleteDatabase(r.PathValue("db")); err != nil {
		tr.s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (tr *tableRoutes) createTable(w http.ResponseWriter, r *http.Request) {
	var req wire.CreateTableRequest
	if err := decodeJSON(r, &req); err != nil {
		tr.s.writeError(w, r, err)
		return
	}
	if req.Name == "" {
		tr.s.writeError(w, r, errMissing("name", "the name of the table to create"))
		return
	}
	t, err := tr.cat.CreateTable(r.PathValue("db"), req.Name, tables.TableOptions{
		MemoryRetentionHours:  req.MemoryRetentionHours,
		MagneticRetentionDays: req.MagneticRetentionDays,
		MagneticWrites:        req.MagneticWrites,
	})
	if err != nil {
		tr.s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/databases/"+url.PathEscape(t.Database)+"/tables/"+url.PathEscape(t.Name))
	writeJSON(w, http.StatusCreated, tableOut(t))
}

func (tr *tableRoutes) listTables(w http.ResponseWriter, r *http.Request) {
	list, err := tr.cat.ListTables(r.PathValue("db"))
	if err != nil {
		tr.s.writeError(w, r, err)
		return
	}
	out := wire.ListTablesResponse{Tables: make([]wire.TableSummary, len(list))}
	for i, t := range list {
		out.Tables[i] = tableSummary(t)
	}
	writeJSON(w, http.StatusOK, out)
}

func (tr *tableRoutes) describeTable(w http.ResponseWriter, r *http.Request) {
	t, err := tr.cat.DescribeTable(r.PathValue("db"), r.PathValue("table"))
	if err != nil {
		tr.s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tableOut(t))
}

func (tr *tableRoutes) updateTable(w http.ResponseWriter, r *http.Request) {
	var req wire.UpdateTableRequest
	if err := decodeJSON(r, &req); err != nil {
		tr.s.writeError(w, r, err)
		return
	}
	if req.MemoryRetentionHours == nil && req.MagneticRetentionDays == nil && req.MagneticWrites == nil {
		tr.s.writeError(w, r, apierr.New(apierr.Invalid, "EmptyUpdate", "give memoryRetentionHours, magneticRetentionDays, magneticWrites or several"))
		return
	}
	t, err := tr.cat.UpdateTable(r.PathValue("db"), r.PathValue("table"), tables.TableOptions{
		MemoryRetentionHours:  req.MemoryRetentionHours,
		MagneticRetentionDays: req.MagneticRetentionDays,
		MagneticWrites:        req.MagneticWrites,
	})
	if err != nil {
		tr.s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tableOut(t))
}

func (tr *tableRoutes) deleteTable(w http.ResponseWriter, r *http.Request) {
	if err := tr.cat.DeleteTable(r.PathValue("db"), r.PathValue("table")); err != nil {
		tr.s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func databaseOut(db tables.Database) wire.Database {
	return wire.Database{Name: db.Name, CreatedAt: db.CreatedAt, TableCount: db.TableCount}
}

func tableSummary(t tables.Table) wire.TableSummary {
	return wire.TableSummary{
		Database:              t.Database,
		Name:                  t.Name,
		MemoryRetentionHours:  t.MemoryRetentionHours,
		MagneticRetentionDays: t.MagneticRetentionDays,
		MagneticWrites:        t.MagneticWrites,
		CreatedAt:             t.CreatedAt,
		UpdatedAt:             t.UpdatedAt,
	}
}

func tableOut(t tables.Table) wire.Table {
	schema := wire.TableSchema{
		Dimensions: append([]string{}, t.Schema.Dimensions...),
		Measures:   make([]wire.Measure, 0, len(t.Schema.Measures)),
	}
	for name, typ := range t.Schema.Measures {
		schema.Measures = append(schema.Measures, wire.Measure{Name: name, Type: string(typ)})
	}
	slices.SortFunc(schema.Measures, func(a, b wire.Measure) int { return strings.Compare(a.Name, b.Name) })
	return wire.Table{TableSummary: tableSummary(t), Schema: schema}
}
