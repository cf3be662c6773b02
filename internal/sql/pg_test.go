package sql

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

func TestDescribeStatement(t *testing.T) {
	e := openFleet(t, QueryLimits{})
	ctx := context.Background()
	for _, c := range []struct{ q, params, columns string }{
		{"SELECT host, cpu FROM fleet.readings WHERE host = $1 AND time > $2", `["VARCHAR" "TIMESTAMP"]`, "host VARCHAR, cpu DOUBLE"},
		{"SELECT 1.5::DECIMAL(10,3) AS d, [1, 2] AS l, now() AS t", "[]", "d DECIMAL(10,3), l INTEGER[], t TIMESTAMPTZ"},
		// DuckDB types neither range's argument nor its result before $1 is bound.
		{"SELECT i FROM range($1) t(i)", `[""]`, "i BIGINT"},
		{"SHOW TABLES FROM fleet", "[]", "table VARCHAR"},
	} {
		st, err := e.Describe(ctx, c.q)
		if err != nil {
			t.Errorf("%s: %v", c.q, err)
			continue
		}
		var cols []string
		for _, col := range st.Columns {
			cols = append(cols, col.Name+" "+col.Type)
		}
		if params := fmt.Sprintf("%q", st.Params); params != c.params || strings.Join(cols, ", ") != c.columns {
			t.Errorf("%s: params %v, columns %q; want %s, %q", c.q, st.Params, strings.Join(cols, ", "), c.params, c.columns)
		}
	}
	for _, q := range []string{"CREATE TABLE t (a INT)", "SELECT * FROM fleet.nope", "SELEC 1"} {
		if _, err := e.Describe(ctx, q); err == nil {
			t.Errorf("%s: described", q)
		} else {
			wantCode(t, err, "InvalidQuery")
		}
	}
}

func TestOpenRowsValues(t *testing.T) {
	e := openFleet(t, QueryLimits{})
	rows, err := e.OpenRows(context.Background(),
		`SELECT $1::BIGINT + 1 AS n, 12.340::DECIMAL(10,3) AS d, INTERVAL 1 MONTH + INTERVAL 90 MINUTE AS i,
			'f81d4fae-7dec-11d0-a765-00a0c91e6bf6'::UUID AS u, {'a': [1, 2]} AS s, 2::UTINYINT AS small,
			18446744073709551615::UBIGINT AS big, TIMESTAMP '2026-01-02 03:04:05' AS t, NULL AS z`,
		[]any{int64(41)}, QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	row, err := rows.Next()
	if err != nil {
		t.Fatal(err)
	}
	want := []any{int64(42), "12.340", Interval{Months: 1, Micros: 90 * 60 * 1e6}, "f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
		`{"a":[1,2]}`, int64(2), "18446744073709551615", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), nil}
	for i := range want {
		if fmt.Sprintf("%#v", row[i]) != fmt.Sprintf("%#v", want[i]) {
			t.Errorf("%s = %#v, want %#v", rows.Columns[i].Name, row[i], want[i])
		}
	}
	if end, err := rows.Next(); end != nil || err != nil {
		t.Errorf("after the last row: %v, %v", end, err)
	}
}

func TestDecimalString(t *testing.T) {
	for _, c := range []struct {
		v     int64
		scale uint8
		want  string
	}{{12340, 3, "12.340"}, {-5, 2, "-0.05"}, {0, 2, "0.00"}, {7, 0, "7"}, {-12345, 1, "-1234.5"}} {
		if got := decimalString(duckdb.Decimal{Width: 18, Scale: c.scale, Value: big.NewInt(c.v)}); got != c.want {
			t.Errorf("decimal %d scale %d = %q, want %q", c.v, c.scale, got, c.want)
		}
	}
}

// The queries psql 15 sends for \dt and \d fleet.readings, as psql -E prints them.
const (
	psqlListTables = `SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;`
	psqlFindTable = `SELECT c.oid,
  n.nspname,
  c.relname
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^(readings)$' COLLATE pg_catalog.default
  AND n.nspname OPERATOR(pg_catalog.~) '^(fleet)$' COLLATE pg_catalog.default
ORDER BY 2, 3;`
	psqlTableKind = `SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '%s';`
	psqlColumns = `SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '%s' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;`
	psqlStatistics = `SELECT oid, stxrelid::pg_catalog.regclass, stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp, stxname,
pg_catalog.pg_get_statisticsobjdef_columns(oid) AS columns,
  'd' = any(stxkind) AS ndist_enabled,
  'f' = any(stxkind) AS deps_enabled,
  'm' = any(stxkind) AS mcv_enabled,
stxstattarget
FROM pg_catalog.pg_statistic_ext
WHERE stxrelid = '%s'
ORDER BY nsp, stxname;`
)

func TestPsqlCatalogQueries(t *testing.T) {
	e := openFleet(t, QueryLimits{})
	all := func(q string) [][]any {
		t.Helper()
		rows, err := e.OpenRows(context.Background(), q, nil, QueryOptions{})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		var out [][]any
		for {
			row, err := rows.Next()
			if err != nil {
				t.Fatal(err)
			}
			if row == nil {
				return out
			}
			out = append(out, row)
		}
	}
	if got := fmt.Sprint(all(psqlListTables)); got != "[[fleet alerts table eddy] [fleet readings table eddy] [ops deploys table eddy]]" {
		t.Errorf(`\dt: %s`, got)
	}
	found := all(psqlFindTable)
	if len(found) != 1 || found[0][1] != "fleet" || found[0][2] != "readings" {
		t.Fatalf(`\d fleet.readings, find: %v`, found)
	}
	oid := found[0][0].(string)
	kind := all(fmt.Sprintf(psqlTableKind, oid))
	if len(kind) != 1 || len(kind[0]) != 15 || kind[0][1] != "r" {
		t.Errorf(`\d fleet.readings, kind: %v`, kind)
	}
	if got := fmt.Sprint(all(fmt.Sprintf(psqlColumns, oid))); got != "[[time timestamp without time zone <nil> false <nil>  ] [host text <nil> false <nil>  ] [measure_name text <nil> false <nil>  ] [cpu double precision <nil> false <nil>  ]]" {
		t.Errorf(`\d fleet.readings, columns: %s`, got)
	}
	if got := all(fmt.Sprintf(psqlStatistics, oid)); len(got) != 0 {
		t.Errorf(`\d fleet.readings, statistics: %v`, got)
	}
	// DuckDB's own catalog views answer as written.
	if got := fmt.Sprint(all("SELECT typname FROM pg_catalog.pg_type WHERE oid = 20")); got != "[[int8]]" {
		t.Errorf("pg_type: %s", got)
	}
	// A write that mentions the catalog is still refused.
	if _, err := e.OpenRows(context.Background(), "CREATE TABLE pg_catalog.x AS SELECT 1", nil, QueryOptions{}); err == nil {
		t.Error("CREATE in pg_catalog ran")
	}
}

// The catalog queries of Grafana's PostgreSQL query builder (Grafana 10 and later).
const (
	grafanaTables = `SELECT
        CASE WHEN
              quote_ident(table_schema) IN (
              SELECT
                CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
              FROM
                generate_series(
                  array_lower(string_to_array(current_setting('search_path'),','),1),
                  array_upper(string_to_array(current_setting('search_path'),','),1)
                ) as i,
                string_to_array(current_setting('search_path'),',') s
              )
          THEN quote_ident(table_name)
          ELSE quote_ident(table_schema) || '.' || quote_ident(table_name)
        END AS "table"
        FROM information_schema.tables
        WHERE quote_ident(table_schema) NOT IN ('information_schema', 'pg_catalog')
        ORDER BY 1`
	grafanaColumns = `SELECT quote_ident(column_name) AS "column", data_type AS "type"
        FROM information_schema.columns
        WHERE
          CASE WHEN array_length(parse_ident('fleet.readings'),1) = 2
            THEN quote_ident(table_schema) = (parse_ident('fleet.readings'))[1]
              AND quote_ident(table_name) = (parse_ident('fleet.readings'))[2]
            ELSE quote_ident(table_name) = 'fleet.readings'
          END`
)

func TestGrafanaCatalogQueries(t *testing.T) {
	e := openFleet(t, QueryLimits{})
	if _, err := e.DB().Exec(`CREATE VIEW ops."deploys$last" AS SELECT 1 AS a`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ q, want string }{
		{grafanaTables, `[[fleet.alerts] [fleet.readings] [ops.deploys] [ops."deploys$last"]]`},
		{grafanaColumns, `[[time timestamp without time zone] [host text] [measure_name text] [cpu double precision]]`},
	} {
		rows, err := e.OpenRows(context.Background(), c.q, nil, QueryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var got [][]any
		for {
			row, err := rows.Next()
			if err != nil {
				t.Fatal(err)
			}
			if row == nil {
				break
			}
			got = append(got, row)
		}
		rows.Close()
		if fmt.Sprint(got) != c.want {
			t.Errorf("got  %v\nwant %s", got, c.want)
		}
	}
}
