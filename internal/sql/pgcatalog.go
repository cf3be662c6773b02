package sql

import (
	"context"
	dbsql "database/sql"
	"regexp"
	"strings"
)

// pgStatement is readStatement for the PostgreSQL wire protocol. It also answers the
// catalog queries of psql's \dt, \d and \d table, which DuckDB's pg_catalog cannot run
// as written: eddy's tables are DuckDB views, so they are presented here as tables with
// their database as schema. Any other catalog query (one that reads pg_catalog) that
// DuckDB cannot run gets an empty result rather than an error, so that the many
// optional queries of psql's \d (indexes, constraints, policies...) find nothing
// instead of failing.
func (e *Engine) pgStatement(ctx context.Context, q string) (string, []any, error) {
	if stmt, args, ok := psqlCatalogQuery(q); ok {
		return stmt, args, nil
	}
	catalog := strings.Contains(q, "pg_catalog.") || pgCatalogTable.MatchString(q)
	if catalog {
		q = pgOperator.ReplaceAllString(q, "$1")
		q = strings.ReplaceAll(q, " COLLATE pg_catalog.default", "")
	}
	stmt, args, err := e.readStatement(ctx, q)
	if !catalog || firstKeyword(skipComments(q)) != "SELECT" {
		return stmt, args, err
	}
	if err == nil {
		var prep *dbsql.Stmt
		if prep, err = e.db.PrepareContext(ctx, stmt); err == nil {
			prep.Close()
			return stmt, args, nil
		}
	}
	return emptyCatalogResult, nil, nil
}

// emptyCatalogResult answers a catalog query eddy cannot.
const emptyCatalogResult = `SELECT NULL::VARCHAR AS "?column?" WHERE false`

var (
	// pgCatalogTable is a PostgreSQL catalog table read without its schema, such as
	// pg_extension, which clients read to learn about extensions.
	pgCatalogTable = regexp.MustCompile(`(?i)\bFROM\s+pg_[a-z_]+\b`)
	// pgOperator is psql's OPERATOR(pg_catalog.~) around a regular expression match.
	pgOperator = regexp.MustCompile(`OPERATOR\(pg_catalog\.([~!=<>]+)\)`)
	// The regular expressions psql matches names with: \dt fleet.c* gives
	// n.nspname OPERATOR(pg_catalog.~) '^(fleet)$' and c.relname ... '^(c.*)$'.
	psqlSchemaPattern = regexp.MustCompile(`n\.nspname OPERATOR\(pg_catalog\.~\) '((?:[^']|'')*)'`)
	psqlNamePattern   = regexp.MustCompile(`c\.relname OPERATOR\(pg_catalog\.~\) '((?:[^']|'')*)'`)
	psqlOIDPattern    = regexp.MustCompile(`(?:c\.oid|a\.attrelid) = '(\d+)'`)
)

// eddyTables are eddy's tables as DuckDB knows them: the views of the visible schemas.
const eddyTables = `(SELECT view_oid AS oid, schema_name, view_name FROM duckdb_views() WHERE NOT internal AND ` + visibleSchemas + `)`

// pgTypeName names a DuckDB type (data_type) as PostgreSQL's format_type does.
const pgTypeName = `CASE
	WHEN data_type = 'BOOLEAN' THEN 'boolean'
	WHEN data_type IN ('TINYINT', 'SMALLINT', 'UTINYINT') THEN 'smallint'
	WHEN data_type IN ('INTEGER', 'USMALLINT') THEN 'integer'
	WHEN data_type IN ('BIGINT', 'UINTEGER') THEN 'bigint'
	WHEN data_type = 'FLOAT' THEN 'real'
	WHEN data_type = 'DOUBLE' THEN 'double precision'
	WHEN data_type = 'VARCHAR' THEN 'text'
	WHEN data_type = 'BLOB' THEN 'bytea'
	WHEN data_type = 'DATE' THEN 'date'
	WHEN data_type LIKE 'TIMESTAMP WITH TIME ZONE' THEN 'timestamp with time zone'
	WHEN data_type LIKE 'TIMESTAMP%' THEN 'timestamp without time zone'
	WHEN data_type = 'INTERVAL' THEN 'interval'
	WHEN data_type = 'UUID' THEN 'uuid'
	WHEN data_type LIKE 'DECIMAL%' THEN 'numeric' || substr(data_type, 8)
	WHEN data_type IN ('UBIGINT', 'HUGEINT', 'UHUGEINT') THEN 'numeric'
	WHEN data_type LIKE '%[]' OR data_type LIKE 'STRUCT%' OR data_type LIKE 'MAP%' THEN 'json'
	ELSE lower(data_type) END`

// psqlCatalogQuery recognizes the catalog queries psql's \dt, \d and \d table send
// (psql 12 to 17 send these shapes) and returns SQL that answers them from eddy's
// tables, with the columns psql reads.
func psqlCatalogQuery(q string) (string, []any, bool) {
	if stmt, args, ok := grafanaCatalogQuery(q); ok {
		return stmt, args, true
	}
	if !strings.Contains(q, "pg_catalog.") {
		return "", nil, false
	}
	filter := func() string {
		var f string
		if m := psqlSchemaPattern.FindStringSubmatch(q); m != nil {
			f += ` AND regexp_full_match(schema_name, '` + m[1] + `')`
		}
		if m := psqlNamePattern.FindStringSubmatch(q); m != nil {
			f += ` AND regexp_full_match(view_name, '` + m[1] + `')`
		}
		return f
	}
	oid := func() string {
		if m := psqlOIDPattern.FindStringSubmatch(q); m != nil {
			return m[1]
		}
		return "-1"
	}
	switch {
	case strings.Contains(q, `as "Owner"`) && strings.Contains(q, "c.relkind IN ("):
		// \dt, \d without a name: the relation list. Only tables: \dv, \ds and \dm
		// (views, sequences, materialized views) find none.
		where := ` WHERE true`
		if !strings.Contains(q, "c.relkind IN ('r'") {
			where = ` WHERE false`
		}
		return `SELECT schema_name AS "Schema", view_name AS "Name", 'table' AS "Type", 'eddy' AS "Owner" FROM ` +
			eddyTables + where + filter() + ` ORDER BY 1, 2`, nil, true
	case strings.Contains(q, "FROM pg_catalog.pg_namespace n") && strings.Contains(q, `AS "Owner"`):
		// \dn: eddy's databases are the schemas.
		return `SELECT schema_name AS "Name", 'eddy' AS "Owner" FROM duckdb_schemas() WHERE ` + visibleSchemas + ` ORDER BY 1`, nil, true
	case strings.HasPrefix(strings.TrimSpace(q), "SELECT c.oid,\n  n.nspname,\n  c.relname\n"):
		// \d name: find the relation.
		return `SELECT oid::VARCHAR AS oid, schema_name AS nspname, view_name AS relname FROM ` + eddyTables +
			` WHERE true` + filter() + ` ORDER BY 2, 3`, nil, true
	case strings.HasPrefix(strings.TrimSpace(q), "SELECT c.relchecks, c.relkind, c.relhasindex"):
		// \d name: the relation's kind and flags, as of a plain table. psql reads the
		// columns by position; the last ones depend on its version, so the row is as
		// wide as the query's select list.
		n := selectWidth(q)
		vals := []string{"0", "'r'", "false", "false", "false", "false", "false", "false", "false", "''", "0", "''", "'p'", "'d'", "'heap'"}
		for len(vals) < n {
			vals = append(vals, "NULL")
		}
		return `SELECT ` + strings.Join(vals[:n], ", ") + ` FROM ` + eddyTables + ` WHERE oid = ` + oid(), nil, true
	case strings.HasPrefix(strings.TrimSpace(q), "SELECT a.attname,\n  pg_catalog.format_type(a.atttypid, a.atttypmod),"):
		// \d name: the columns; psql 15 reads name, type, default, not null, collation,
		// identity and generated, and \d+ more after them.
		n := selectWidth(q)
		vals := []string{"column_name", pgTypeName, "NULL", "NOT is_nullable", "NULL", "''", "''", "'p'"}
		for len(vals) < n {
			vals = append(vals, "NULL")
		}
		return `SELECT ` + strings.Join(vals[:n], ", ") + ` FROM duckdb_columns() WHERE table_oid = ` + oid() + ` ORDER BY column_index`, nil, true
	}
	return "", nil, false
}

// selectWidth counts the columns of a query's select list: the commas at depth 0,
// outside quotes, before its first FROM.
func selectWidth(q string) int {
	n, depth := 1, 0
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '\'':
			if j := strings.IndexByte(q[i+1:], '\''); j >= 0 {
				i += j + 1
			}
		case ',':
			if depth == 0 {
				n++
			}
		case 'F':
			if depth == 0 && strings.HasPrefix(q[i:], "FROM ") && i > 0 && (q[i-1] == '\n' || q[i-1] == ' ') {
				return n
			}
		}
	}
	return n
}

// grafanaParseIdent is the table name Grafana's query builder asks the columns of.
var grafanaParseIdent = regexp.MustCompile(`parse_ident\('((?:[^']|'')*)'\)`)

// grafanaCatalogQuery recognizes the two catalog queries of Grafana's PostgreSQL query
// builder, which rely on PostgreSQL's quote_ident, parse_ident and arrays: the table
// list, answered with each eddy table as database.table (quoted where it must be),
// and the columns of the table chosen.
func grafanaCatalogQuery(q string) (string, []any, bool) {
	switch {
	case strings.Contains(q, "FROM information_schema.tables") && strings.Contains(q, "quote_ident(table_name)") && strings.Contains(q, `AS "table"`):
		ident := func(col string) string {
			return `CASE WHEN regexp_full_match(` + col + `, '[a-z_][a-z0-9_]*') THEN ` + col + ` ELSE '"' || replace(` + col + `, '"', '""') || '"' END`
		}
		return `SELECT ` + ident("schema_name") + ` || '.' || ` + ident("view_name") + ` AS "table" FROM ` + eddyTables + ` ORDER BY schema_name, view_name`, nil, true
	case strings.Contains(q, "FROM information_schema.columns") && strings.Contains(q, `quote_ident(column_name) AS "column"`):
		m := grafanaParseIdent.FindStringSubmatch(q)
		if m == nil {
			return "", nil, false
		}
		name := strings.ReplaceAll(m[1], "''", "'")
		schema, table, ok := strings.Cut(name, ".")
		if !ok {
			schema, table = "", name
		}
		unquote := func(s string) string { return strings.ReplaceAll(strings.Trim(s, `"`), `""`, `"`) }
		return `SELECT column_name AS "column", ` + pgTypeName + ` AS "type" FROM duckdb_columns() WHERE ` +
				`(schema_name = $1 OR $1 = '') AND table_name = $2 AND ` + visibleSchemas + ` ORDER BY schema_name, column_index`,
			[]any{unquote(schema), unquote(table)}, true
	}
	return "", nil, false
}
