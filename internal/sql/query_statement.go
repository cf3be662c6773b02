package sql

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// readKeywords are the first keywords of the statements a query may be. Each of them
// starts a statement DuckDB parses into a SELECT (SHOW, DESCRIBE and SUMMARIZE are
// SELECTs over a table function), except EXPLAIN, whose inner statement is checked.
var readKeywords = map[string]bool{
	"SELECT": true, "WITH": true, "VALUES": true, "FROM": true, "TABLE": true,
	"PIVOT": true, "UNPIVOT": true,
	"SHOW": true, "DESCRIBE": true, "SUMMARIZE": true, "EXPLAIN": true,
}

// readStatement checks that q is one read-only statement and returns the SQL to run
// for it, with its arguments: q itself, or the catalog query of SHOW DATABASES or SHOW
// TABLES.
//
// Two checks, each enough alone for the statements it knows: the first keyword must
// start a read statement, which refuses by name every statement that changes state or
// settings (CREATE, INSERT, COPY, ATTACH, INSTALL, SET, PRAGMA, CALL, USE...). Then
// DuckDB's own parser, through json_serialize_sql, must find exactly one statement and
// it must be a SELECT: json_serialize_sql serializes nothing else, so a statement hidden
// after the first (which the driver would run before the last) or one that merely starts
// like a read is refused too. SELECTs that reach files are bounded by the engine's
// allowed directories, and the engine's settings are locked.
func (e *Engine) readStatement(ctx context.Context, q string) (string, []any, error) {
	body := skipComments(q)
	if m := showDatabasesPattern.FindStringSubmatch(body); m != nil {
		return showDatabasesSQL, nil, nil
	}
	if m := showTablesPattern.FindStringSubmatch(body); m != nil {
		if m[1] == "" {
			return showAllTablesSQL, nil, nil
		}
		db := unquoteIdent(m[1])
		var n int
		if err := e.db.QueryRowContext(ctx, "SELECT count(*) FROM duckdb_schemas() WHERE "+visibleSchemas+" AND lower(schema_name) = lower($1)", db).Scan(&n); err != nil {
			return "", nil, fmt.Errorf("look up database %q: %w", db, err)
		}
		if n == 0 {
			return "", nil, errInvalidQuery("there is no database %q; SHOW DATABASES lists them", db)
		}
		return showTablesSQL, []any{db}, nil
	}
	kw := firstKeyword(body)
	if kw == "" {
		return "", nil, errInvalidQuery("the query is empty")
	}
	inner := body
	if kw == "EXPLAIN" {
		inner = skipComments(body[len(kw):])
		if next := firstKeyword(inner); next == "ANALYZE" || next == "ANALYSE" {
			inner = skipComments(inner[len(next):])
		}
		kw = firstKeyword(inner)
	}
	var out string
	if err := e.db.QueryRowContext(ctx, "SELECT json_serialize_sql($1::VARCHAR)::VARCHAR", inner).Scan(&out); err != nil {
		return "", nil, fmt.Errorf("parse the query: %w", err)
	}
	var parsed struct {
		Error        bool              `json:"error"`
		ErrorType    string            `json:"error_type"`
		ErrorMessage string            `json:"error_message"`
		Position     string            `json:"position"`
		Statements   []json.RawMessage `json:"statements"`
	}
	if err := json.Unmarshal([]byte(out), &parsed); err != nil {
		return "", nil, fmt.Errorf("parse the query: decode DuckDB's parse: %w", err)
	}
	notSelect := parsed.Error && parsed.ErrorType == "not implemented"
	switch {
	case parsed.Error && !notSelect && parsed.Position != "":
		return "", nil, errInvalidQuery("%s (at character %s)", parsed.ErrorMessage, parsed.Position)
	case parsed.Error && !notSelect:
		return "", nil, errInvalidQuery("%s", parsed.ErrorMessage)
	case !readKeywords[kw] || kw == "EXPLAIN":
		return "", nil, errInvalidQuery("%s statements are not allowed: eddy's SQL is read-only (SELECT, WITH, VALUES, FROM, SHOW, DESCRIBE, SUMMARIZE, EXPLAIN); tables are written through the write API", kw)
	case notSelect:
		// json_serialize_sql serializes SELECTs only: a statement after the first is another.
		return "", nil, errInvalidQuery("only read statements can be queried, and one of the statements is not a SELECT, SHOW, DESCRIBE, SUMMARIZE or EXPLAIN; send one statement per query")
	case len(parsed.Statements) == 0:
		return "", nil, errInvalidQuery("the query is empty")
	case len(parsed.Statements) > 1:
		return "", nil, errInvalidQuery("the query holds %d statements; send one statement per query", len(parsed.Statements))
	}
	return q, nil, nil
}

// visibleSchemas selects the DuckDB schemas that are eddy databases: those of the
// in-memory database, without DuckDB's own and eddy's internal (_eddy...) ones.
const visibleSchemas = `database_name = current_database() AND schema_name NOT IN ('main', 'information_schema', 'pg_catalog') AND NOT starts_with(schema_name, '_eddy')`

const (
	showDatabasesSQL = `SELECT schema_name AS "database" FROM duckdb_schemas() WHERE ` + visibleSchemas + ` ORDER BY 1`
	showAllTablesSQL = `SELECT schema_name AS "database", view_name AS "table" FROM duckdb_views() WHERE NOT internal AND ` + visibleSchemas + ` ORDER BY 1, 2`
	showTablesSQL    = `SELECT view_name AS "table" FROM duckdb_views() WHERE NOT internal AND ` + visibleSchemas + ` AND lower(schema_name) = lower($1) ORDER BY 1`
)

const (
	identPattern = `("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`
	// endPattern is the end of a statement: white space, comments and ';'.
	endPattern = `(?:\s|;|--[^\n]*|/\*[\s\S]*?\*/)*$`
)

var (
	showDatabasesPattern = regexp.MustCompile(`(?is)^SHOW\s+(?:DATABASES|SCHEMAS)` + endPattern)
	// DuckDB's SHOW TABLES, SHOW ALL TABLES and a bare SHOW or DESCRIBE list every
	// schema, the internal ones too; SHOW TABLES FROM takes a catalog, not a schema.
	showTablesPattern = regexp.MustCompile(`(?is)^(?:SHOW\s+(?:ALL\s+)?TABLES(?:\s+(?:FROM|IN)\s+` + identPattern + `)?|SHOW|DESCRIBE)` + endPattern)
)

func unquoteIdent(s string) string {
	if len(s) >= 2 && s[0] == '"' {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return s
}

// skipComments drops the white space and comments q starts with.
func skipComments(q string) string {
	for {
		q = strings.TrimLeft(q, " \t\r\n\f")
		switch {
		case strings.HasPrefix(q, "--"):
			if i := strings.IndexByte(q, '\n'); i >= 0 {
				q = q[i+1:]
			} else {
				return ""
			}
		case strings.HasPrefix(q, "/*"):
			if i := strings.Index(q, "*/"); i >= 0 {
				q = q[i+2:]
			} else {
				return ""
			}
		default:
			return q
		}
	}
}

// firstKeyword returns the word q starts with, after opening parentheses, in upper case.
func firstKeyword(q string) string {
	for {
		next := skipComments(strings.TrimLeft(q, "("))
		if next == q {
			break
		}
		q = next
	}
	i := strings.IndexFunc(q, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_')
	})
	if i < 0 {
		i = len(q)
	}
	return strings.ToUpper(q[:i])
}
