package server_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/eddy-streams/eddy/internal/auth"
	"github.com/eddy-streams/eddy/internal/server"
	"github.com/eddy-streams/eddy/internal/server/servertest"
	"github.com/eddy-streams/eddy/internal/sql"
	"github.com/eddy-streams/eddy/internal/tables"
)

// pgFixture is a PostgreSQL wire protocol server over a real tables service and SQL
// engine, with fleet.cpu holding an hour of rows per host, a minute apart.
type pgFixture struct {
	pg    *server.PGServer
	addr  string
	token string
	start time.Time
}

func startPG(t *testing.T) *pgFixture {
	t.Helper()
	dir := t.TempDir()
	eng, err := sql.Open(sql.Options{AllowedDirs: []string{dir}, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	cat, err := tables.Open(tables.NewFileStore(dir), clock)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := tables.NewService(context.Background(), cat, eng, tables.Options{DataDir: filepath.Join(dir, "tables"), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	hs, token := servertest.StartAPI(t, dir, server.Options{Tables: svc, TableWriter: svc, Query: eng})
	c := &caller{t: t, url: hs.URL, token: token}
	c.json("POST", "/v1/databases", `{"name":"fleet"}`, 201, nil)
	c.json("POST", "/v1/databases/fleet/tables", `{"name":"cpu"}`, 201, nil)
	start := now.Add(-time.Hour)
	var recs []tables.Record
	for at := start; at.Before(now); at = at.Add(time.Minute) {
		for i, host := range []string{"a", "b"} {
			recs = append(recs, tables.Record{
				Time: at.UnixMilli(), Dimensions: []tables.Dimension{{Name: "host", Value: host}}, MeasureName: "cpu",
				Measures: []tables.Measure{{Name: "usage", Value: tables.DoubleValue(float64(at.Minute() * (i + 1)))}},
			})
		}
	}
	if _, err := svc.Write(context.Background(), "fleet", "cpu", &tables.WriteRequest{Records: recs}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Sync("fleet", "cpu"); err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	pg := server.NewPG(server.PGOptions{Engine: eng, Auth: tokens})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- pg.Serve(ln) }()
	t.Cleanup(func() {
		pg.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &pgFixture{pg: pg, addr: ln.Addr().String(), token: token, start: start}
}

func (f *pgFixture) connString(password string) string {
	host, port, _ := net.SplitHostPort(f.addr)
	return fmt.Sprintf("postgres://grafana:%s@%s:%s/fleet?sslmode=prefer", password, host, port)
}

// connect opens a pgx connection in the given mode: pgx's default (the extended
// protocol, prepared and cached statements, binary results) or the simple protocol.
func (f *pgFixture) connect(t *testing.T, mode pgx.QueryExecMode) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(f.connString(f.token))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = mode
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

var pgModes = map[string]pgx.QueryExecMode{
	"extended":       pgx.QueryExecModeCacheStatement,
	"describe-exec":  pgx.QueryExecModeDescribeExec,
	"simple":         pgx.QueryExecModeSimpleProtocol,
	"exec-no-params": pgx.QueryExecModeExec,
}

func TestPGWireQueriesTables(t *testing.T) {
	f := startPG(t)
	ctx := context.Background()
	for name, mode := range pgModes {
		t.Run(name, func(t *testing.T) {
			conn := f.connect(t, mode)
			var n int64
			var avg float64
			err := conn.QueryRow(ctx, `SELECT count(*), avg(usage) FROM fleet.cpu WHERE host = $1 AND time >= $2`,
				"b", f.start.Add(30*time.Minute)).Scan(&n, &avg)
			if err != nil {
				t.Fatal(err)
			}
			// Minutes 30..59 of host b: usage 2*minute.
			if n != 30 || avg != 89 {
				t.Errorf("count, avg = %d, %v; want 30, 89", n, avg)
			}
			rows, err := conn.Query(ctx, `SELECT time, host, usage FROM fleet.cpu WHERE usage > $1 ORDER BY time, host LIMIT $2`, 115.0, 3)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for rows.Next() {
				var at time.Time
				var host string
				var usage float64
				if err := rows.Scan(&at, &host, &usage); err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprintf("%s %s %g", at.UTC().Format("15:04"), host, usage))
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if want := "11:58 b 116,11:59 b 118"; strings.Join(got, ",") != want {
				t.Errorf("rows = %v, want %s", got, want)
			}
			if tag := rows.CommandTag().String(); tag != "SELECT 2" {
				t.Errorf("command tag %q", tag)
			}
		})
	}
}

func TestPGWireTypes(t *testing.T) {
	f := startPG(t)
	ctx := context.Background()
	q := `SELECT 1::SMALLINT, 2::INTEGER, 3::BIGINT, 1.5::FLOAT, 2.25::DOUBLE, true, 'héllo'::VARCHAR,
		TIMESTAMP '2024-01-02 03:04:05.123456', TIMESTAMPTZ '2024-01-02 03:04:05+00', 12.340::DECIMAL(10,3),
		DATE '2024-01-02', '\xDE\xAD'::BLOB, NULL::BIGINT, INTERVAL 90 MINUTE, 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6'::UUID,
		[1, 2]::INTEGER[], TIMESTAMP_NS '2024-01-02 03:04:05.123456789', 'inf'::DOUBLE`
	for name, mode := range pgModes {
		t.Run(name, func(t *testing.T) {
			conn := f.connect(t, mode)
			var (
				i2     int16
				i4     int32
				i8     int64
				f4     float32
				f8     float64
				b      bool
				s      string
				ts     time.Time
				tstz   time.Time
				num    pgtype.Numeric
				date   time.Time
				blob   []byte
				null   *int64
				iv     pgtype.Interval
				uuid   pgtype.UUID
				list   string
				tsns   time.Time
				infVal float64
			)
			err := conn.QueryRow(ctx, q).Scan(&i2, &i4, &i8, &f4, &f8, &b, &s, &ts, &tstz, &num, &date, &blob, &null, &iv, &uuid, &list, &tsns, &infVal)
			if err != nil {
				t.Fatal(err)
			}
			numText, _ := num.Value()
			checks := []struct {
				name      string
				got, want any
			}{
				{"int2", i2, int16(1)}, {"int4", i4, int32(2)}, {"int8", i8, int64(3)},
				{"float4", f4, float32(1.5)}, {"float8", f8, 2.25}, {"bool", b, true}, {"text", s, "héllo"},
				{"timestamp", ts.Format(time.RFC3339Nano), "2024-01-02T03:04:05.123456Z"},
				{"timestamptz", tstz.UTC().Format(time.RFC3339Nano), "2024-01-02T03:04:05Z"},
				{"numeric", numText, "12.340"},
				{"date", date.Format("2006-01-02"), "2024-01-02"},
				{"bytea", fmt.Sprintf("%x", blob), "dead"},
				{"null", null == nil, true},
				{"interval", iv.Microseconds, int64(90 * 60 * 1_000_000)},
				{"uuid", fmt.Sprintf("%x", uuid.Bytes), "f81d4fae7dec11d0a76500a0c91e6bf6"},
				{"list", list, "[1,2]"},
				{"timestamp_ns", tsns.Format(time.RFC3339Nano), "2024-01-02T03:04:05.123456Z"},
				{"infinity", infVal > 1e308, true},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
			// The description gives each column its PostgreSQL type.
			rows, err := conn.Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			rows.Close()
			var oids []uint32
			for _, fd := range rows.FieldDescriptions() {
				oids = append(oids, fd.DataTypeOID)
			}
			want := []uint32{pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.Float4OID, pgtype.Float8OID, pgtype.BoolOID,
				pgtype.TextOID, pgtype.TimestampOID, pgtype.TimestamptzOID, pgtype.NumericOID, pgtype.DateOID, pgtype.ByteaOID,
				pgtype.Int8OID, pgtype.IntervalOID, pgtype.UUIDOID, pgtype.JSONOID, pgtype.TimestampOID, pgtype.Float8OID}
			if fmt.Sprint(oids) != fmt.Sprint(want) {
				t.Errorf("type OIDs %v, want %v", oids, want)
			}
		})
	}
}

func TestPGWireParameterTypes(t *testing.T) {
	f := startPG(t)
	ctx := context.Background()
	for name, mode := range pgModes {
		t.Run(name, func(t *testing.T) {
			conn := f.connect(t, mode)
			var (
				i   int64
				fl  float64
				b   bool
				s   string
				ts  time.Time
				bl  []byte
				num float64
				d   time.Time
			)
			blob := []byte{1, 2}
			if mode == pgx.QueryExecModeSimpleProtocol {
				// pgx writes bytes into the SQL text as '\x0102', which DuckDB reads as
				// escapes, not as hex: with the simple protocol, bytes go as text.
				blob = nil
				err := conn.QueryRow(ctx, `SELECT $1::BLOB`, string([]byte{1, 2})).Scan(&bl)
				if err != nil || fmt.Sprintf("%x", bl) != "0102" {
					t.Errorf("bytes as text: %x, %v", bl, err)
				}
			}
			err := conn.QueryRow(ctx, `SELECT $1::BIGINT + 1, $2::DOUBLE * 2, NOT $3::BOOLEAN, $4::VARCHAR || '!', $5::TIMESTAMP + INTERVAL 1 HOUR, $6::BLOB, $7::DECIMAL(10,2), $8::DATE`,
				int64(41), 1.25, false, "hi", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), blob, pgtype.Numeric{Int: big.NewInt(1234), Exp: -2, Valid: true}, time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC),
			).Scan(&i, &fl, &b, &s, &ts, &bl, &num, &d)
			if err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintf("%d %g %t %s %s %x %g %s", i, fl, b, s, ts.UTC().Format(time.RFC3339), bl, num, d.Format("2006-01-02"))
			want := "42 2.5 true hi! 2024-01-02T04:04:05Z 0102 12.34 2024-05-06"
			if blob == nil {
				want = strings.Replace(want, " 0102 ", "  ", 1)
			}
			if got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func pgCode(t *testing.T, err error) string {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a PostgreSQL error", err, err)
	}
	return pe.Code
}

func TestPGWireErrors(t *testing.T) {
	f := startPG(t)
	ctx := context.Background()
	for name, mode := range pgModes {
		t.Run(name, func(t *testing.T) {
			conn := f.connect(t, mode)
			for _, c := range []struct{ q, code, msg string }{
				{"SELEC 1", "42601", "syntax error"},
				{"SELECT * FROM fleet.nope", "42P01", "nope"},
				{"SELECT nope FROM fleet.cpu", "42703", "nope"},
				{"INSERT INTO fleet.cpu VALUES (1)", "25006", "read-only"},
				{"CREATE TABLE t (a INT)", "25006", "read-only"},
				{"ATTACH 'x.db'", "25006", "read-only"},
				{"SELECT 1; DROP TABLE fleet.cpu", "", ""},
			} {
				rows, err := conn.Query(ctx, c.q)
				if err == nil {
					rows.Close()
					err = rows.Err()
				}
				if c.code == "" {
					// Several statements: the extended protocol refuses them, the simple
					// protocol refuses the write.
					if err == nil {
						t.Errorf("%s: no error", c.q)
					}
					continue
				}
				if code := pgCode(t, err); code != c.code || !strings.Contains(err.Error(), c.msg) {
					t.Errorf("%s: %v, want SQLSTATE %s with %q", c.q, err, c.code, c.msg)
				}
			}
			// The connection still works after errors.
			var one int
			if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
				t.Errorf("SELECT 1 after errors: %d, %v", one, err)
			}
		})
	}
}

// slowQuery runs for far longer than any test waits.
const slowQuery = "SELECT sum(i * i) FROM range(1000000000000) t(i)"

func TestPGWireStatementTimeout(t *testing.T) {
	f := startPG(t)
	ctx := context.Background()
	conn := f.connect(t, pgx.QueryExecModeCacheStatement)
	if _, err := conn.Exec(ctx, "SET statement_timeout = '300ms'"); err != nil {
		t.Fatal(err)
	}
	var timeout string
	if err := conn.QueryRow(ctx, "SHOW statement_timeout").Scan(&timeout); err != nil || timeout != "300ms" {
		t.Errorf("SHOW statement_timeout = %q, %v", timeout, err)
	}
	start := time.Now()
	_, err := conn.Exec(ctx, slowQuery)
	if code := pgCode(t, err); code != "57014" || !strings.Contains(err.Error(), "ran longer than 300ms") {
		t.Errorf("slow query: %v, want 57014 query_canceled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the timeout took %s", d)
	}
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Errorf("after the timeout: %v", err)
	}
}

func TestPGWireCancelRequest(t *testing.T) {
	f := startPG(t)
	ctx := context.Background()
	conn := f.connect(t, pgx.QueryExecModeSimpleProtocol)
	done := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, slowQuery)
		done <- err
	}()
	// CancelRequest has no answer; send it until the query ends.
	for {
		time.Sleep(100 * time.Millisecond)
		if err := conn.PgConn().CancelRequest(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if code := pgCode(t, err); code != "57014" || !strings.Contains(err.Error(), "cancelled") {
				t.Errorf("cancelled query: %v, want 57014", err)
			}
			var one int
			if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
				t.Errorf("after the cancel: %v", err)
			}
			return
		case <-time.After(time.Second):
		}
	}
}

func TestPGWireAuthentication(t *testing.T) {
	f := startPG(t)
	ctx := context.Background()
	for _, pw := range []string{"", "eddy_not-a-token"} {
		_, err := pgx.Connect(ctx, f.connString(pw))
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "28P01" || pe.Severity != "FATAL" {
			t.Errorf("password %q: %v, want FATAL 28P01", pw, err)
		}
	}
}

// TestPGWireSessionStatements runs what drivers, psql and Grafana send on connect.
func TestPGWireSessionStatements(t *testing.T) {
	f := startPG(t)
	ctx := context.Background()
	for name, mode := range pgModes {
		t.Run(name, func(t *testing.T) {
			conn := f.connect(t, mode)
			for _, q := range []string{
				"SET application_name = 'grafana'", "SET TIME ZONE 'UTC'", "SET extra_float_digits = 3",
				"SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", "BEGIN", "COMMIT", "BEGIN READ ONLY", "ROLLBACK",
				"START TRANSACTION", "END", "DISCARD ALL", "RESET ALL",
			} {
				if _, err := conn.Exec(ctx, q); err != nil {
					t.Errorf("%s: %v", q, err)
				}
			}
			for q, want := range map[string]string{
				"SHOW server_version":                                     "15.0",
				"SHOW transaction_isolation":                              "read committed",
				"SELECT version()":                                        "PostgreSQL 15.0 (eddy; SQL by DuckDB)",
				"select current_setting('server_version_num')":            "150000",
				"SELECT current_setting('server_version_num')::int / 100": "1500",
				"SELECT 1":                "1",
				"SELECT current_schema()": "main",
				"SHOW DATABASES":          "fleet",
			} {
				var got any
				if err := conn.QueryRow(ctx, q).Scan(&got); err != nil {
					t.Errorf("%s: %v", q, err)
					continue
				}
				if fmt.Sprint(got) != want {
					t.Errorf("%s = %v, want %s", q, got, want)
				}
			}
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM fleet.cpu").Scan(&n); err != nil || n != 120 {
				t.Errorf("count in a transaction: %d, %v", n, err)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestPGWireSeveralStatementsInOneQuery(t *testing.T) {
	f := startPG(t)
	conn := f.connect(t, pgx.QueryExecModeSimpleProtocol)
	results, err := conn.PgConn().Exec(context.Background(), "SELECT 1 AS a; SELECT ';' AS b, 'x;y' AS c -- ;\n; SET search_path = fleet; SELECT $$a;b$$").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range results {
		got = append(got, r.CommandTag.String())
		for _, row := range r.Rows {
			for _, v := range row {
				got = append(got, string(v))
			}
		}
	}
	if want := "SELECT 1,1,SELECT 1,;,x;y,SET,SELECT 1,a;b"; strings.Join(got, ",") != want {
		t.Errorf("results %q, want %s", strings.Join(got, ","), want)
	}
	_, err = conn.PgConn().Exec(context.Background(), "SELECT 1; INSERT INTO fleet.cpu VALUES (1); SELECT 2").ReadAll()
	if code := pgCode(t, err); code != "25006" {
		t.Errorf("write in a multi-statement query: %v", err)
	}
}

// TestPGWirePortalSuspended drives the extended protocol by hand: a named statement, a
// named portal read two rows at a time, and a Describe of each.
func TestPGWirePortalSuspended(t *testing.T) {
	f := startPG(t)
	nc, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "u"}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	// expect reads messages up to ReadyForQuery (or as many as want holds, before
	// the connection is ready) and checks their types.
	expect := func(want ...string) []pgproto3.BackendMessage {
		t.Helper()
		var got []pgproto3.BackendMessage
		var names []string
		for len(got) < len(want) || want[len(want)-1] == "ReadyForQuery" {
			msg, err := fe.Receive()
			if err != nil {
				t.Fatalf("after %v: %v", names, err)
			}
			got = append(got, msg)
			names = append(names, strings.TrimPrefix(fmt.Sprintf("%T", msg), "*pgproto3."))
			if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
				break
			}
		}
		if strings.Join(names, " ") != strings.Join(want, " ") {
			for _, m := range got {
				if e, ok := m.(*pgproto3.ErrorResponse); ok {
					t.Logf("error: %s %s", e.Code, e.Message)
				}
			}
			t.Fatalf("got %v, want %v", names, want)
		}
		return got
	}
	expect("AuthenticationCleartextPassword")
	fe.Send(&pgproto3.PasswordMessage{Password: f.token})
	_ = fe.Flush()
	expect("AuthenticationOk")
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
	fe.Send(&pgproto3.Parse{Name: "s1", Query: "SELECT i, i * 2 AS twice FROM range($1) t(i) ORDER BY i"})
	fe.Send(&pgproto3.Describe{ObjectType: 'S', Name: "s1"})
	fe.Send(&pgproto3.Bind{PreparedStatement: "s1", DestinationPortal: "p1", Parameters: [][]byte{[]byte("5")}, ResultFormatCodes: []int16{0, 1}})
	fe.Send(&pgproto3.Describe{ObjectType: 'P', Name: "p1"})
	fe.Send(&pgproto3.Execute{Portal: "p1", MaxRows: 2})
	fe.Send(&pgproto3.Execute{Portal: "p1", MaxRows: 2})
	fe.Send(&pgproto3.Execute{Portal: "p1", MaxRows: 2})
	fe.Send(&pgproto3.Close{ObjectType: 'P', Name: "p1"})
	fe.Send(&pgproto3.Sync{})
	_ = fe.Flush()
	got := expect("ParseComplete", "ParameterDescription", "RowDescription", "BindComplete", "RowDescription",
		"DataRow", "DataRow", "PortalSuspended", "DataRow", "DataRow", "PortalSuspended", "DataRow", "CommandComplete",
		"CloseComplete", "ReadyForQuery")
	// DuckDB cannot type range's argument before it is bound: its type is left to the
	// client (0), and its text read as a number.
	if pd := got[1].(*pgproto3.ParameterDescription); fmt.Sprint(pd.ParameterOIDs) != "[0]" {
		t.Errorf("parameter types %v", pd.ParameterOIDs)
	}
	if rd := got[4].(*pgproto3.RowDescription); rd.Fields[0].Format != 0 || rd.Fields[1].Format != 1 || string(rd.Fields[1].Name) != "twice" {
		t.Errorf("portal description %+v", rd.Fields)
	}
	if row := got[11].(*pgproto3.DataRow); string(row.Values[0]) != "4" || fmt.Sprintf("%x", row.Values[1]) != "0000000000000008" {
		t.Errorf("last row %q", row.Values)
	}
	if cc := got[12].(*pgproto3.CommandComplete); string(cc.CommandTag) != "SELECT 5" {
		t.Errorf("command tag %q", cc.CommandTag)
	}

	// An error skips to Sync; the statement stays usable after it.
	fe.Send(&pgproto3.Bind{PreparedStatement: "nope"})
	fe.Send(&pgproto3.Execute{})
	fe.Send(&pgproto3.Sync{})
	fe.Send(&pgproto3.Bind{PreparedStatement: "s1", Parameters: [][]byte{[]byte("1")}})
	fe.Send(&pgproto3.Execute{})
	fe.Send(&pgproto3.Sync{})
	_ = fe.Flush()
	got = expect("ErrorResponse", "ReadyForQuery")
	if e := got[0].(*pgproto3.ErrorResponse); e.Code != "26000" {
		t.Errorf("unknown statement: %+v", e)
	}
	expect("BindComplete", "DataRow", "CommandComplete", "ReadyForQuery")
}

// TestPGWireCloseInterruptsStatements checks that shutting the server down does not
// wait for a running statement to finish.
func TestPGWireCloseInterruptsStatements(t *testing.T) {
	f := startPG(t)
	conn := f.connect(t, pgx.QueryExecModeCacheStatement)
	done := make(chan error, 1)
	go func() {
		_, err := conn.Exec(context.Background(), slowQuery)
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	f.pg.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %s", d)
	}
	if err := <-done; err == nil {
		t.Error("the statement succeeded")
	}
}
