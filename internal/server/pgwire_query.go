package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/sql"
)

// pgStatement is a parsed statement: one the session answers itself (SET, BEGIN,
// SHOW server_version...) or one the engine runs.
type pgStatement struct {
	query string
	// local answers the statement without the engine; nil for an engine statement.
	local *localResult
	// empty is a query string without a statement.
	empty bool
	// paramOIDs are the types of the parameters: the client's where it gave them,
	// otherwise the engine's.
	paramOIDs []uint32
	// columns describe the result of an engine statement.
	columns []pgColumn
}

// pgPortal is a statement bound to its parameters, run by Execute a page at a time.
type pgPortal struct {
	stmt    *pgStatement
	args    []any
	formats []int16
	rows    *sql.Rows
	sent    int64
	// localRow is the next row of a local result to send.
	localRow int
}

// flushEvery is how many rows are buffered before they are written to the client.
const flushEvery = 500

func (c *pgConn) run() {
	// skipping is true after an error in the extended protocol: messages are dropped
	// until the next Sync.
	skipping := false
	defer c.closePortals(true)
	for {
		msg, err := c.be.Receive()
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case *pgproto3.Query:
			skipping = false
			c.simpleQuery(m.String)
			c.closePortals(!c.inBlock)
			c.ready()
		case *pgproto3.Sync:
			skipping = false
			if !c.inBlock {
				c.closePortals(true)
			}
			c.ready()
		case *pgproto3.Terminate:
			return
		case *pgproto3.Flush:
			if c.be.Flush() != nil {
				return
			}
		case *pgproto3.Parse, *pgproto3.Bind, *pgproto3.Describe, *pgproto3.Execute, *pgproto3.Close:
			if skipping {
				continue
			}
			if err := c.extended(msg); err != nil {
				c.sendError(err)
				skipping = true
			}
		default:
			c.sendError(pgError("0A000", "eddy does not support %T messages (COPY and function calls); send queries", msg))
			skipping = true
		}
		if c.ctx.Err() != nil {
			return
		}
	}
}

// ready ends a query cycle.
func (c *pgConn) ready() {
	status := byte('I')
	if c.inBlock {
		status = 'T'
	}
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: status})
	_ = c.be.Flush()
}

// closePortals drops the portals, all of them or only the unnamed one.
func (c *pgConn) closePortals(all bool) {
	for name, p := range c.portals {
		if all || name == "" {
			if p.rows != nil {
				p.rows.Close()
			}
			delete(c.portals, name)
		}
	}
}

// simpleQuery runs each statement of a Query message in turn, stopping at the first
// error, with results in text format.
func (c *pgConn) simpleQuery(q string) {
	stmts := splitStatements(q)
	if len(stmts) == 0 {
		c.be.Send(&pgproto3.EmptyQueryResponse{})
		return
	}
	for _, s := range stmts {
		st, err := c.prepare(s, nil, false)
		if err == nil {
			p := &pgPortal{stmt: st}
			if st.local == nil {
				// The result's own columns: a simple query has no description beforehand.
				p.rows, err = c.open(st.query, nil)
				if err == nil {
					st.columns = columnsOf(p.rows.Columns)
					c.be.Send(rowDescription(st.columns, nil))
				}
			} else if len(st.local.columns) > 0 {
				c.be.Send(rowDescription(st.local.columns, nil))
			}
			if err == nil {
				_, err = c.execute(p, 0)
			}
			if p.rows != nil {
				p.rows.Close()
			}
		}
		if err != nil {
			c.sendError(err)
			return
		}
	}
}

// prepare parses a statement: a session command is answered here, anything else is
// described by the engine (only when describe is set: a simple query needs no
// description before it runs).
func (c *pgConn) prepare(q string, paramOIDs []uint32, describe bool) (*pgStatement, error) {
	st := &pgStatement{query: q}
	if isEmptyStatement(q) {
		st.empty = true
		return st, nil
	}
	local, rewritten, err := c.session(q)
	if err != nil {
		return nil, err
	}
	if local != nil {
		st.local = local
		return st, nil
	}
	st.query = rewritten
	if !describe {
		return st, nil
	}
	desc, err := c.s.opts.Engine.Describe(c.ctx, rewritten)
	if err != nil {
		return nil, err
	}
	st.columns = columnsOf(desc.Columns)
	st.paramOIDs = make([]uint32, len(desc.Params))
	for i, t := range desc.Params {
		if i < len(paramOIDs) && paramOIDs[i] != 0 {
			st.paramOIDs[i] = paramOIDs[i]
		} else if t != "" {
			st.paramOIDs[i] = pgTypeOf(t).oid
		}
	}
	if len(paramOIDs) > len(desc.Params) {
		return nil, pgError("42P02", "the statement has %d parameters, but Parse gave the types of %d", len(desc.Params), len(paramOIDs))
	}
	return st, nil
}

// open runs an engine statement; it counts as running, for CancelRequest, until its
// result is closed or the next statement starts.
func (c *pgConn) open(q string, args []any) (*sql.Rows, error) {
	id := c.nextQueryID()
	c.running.Store(id)
	return c.s.opts.Engine.OpenRows(c.ctx, q, args, sql.QueryOptions{Timeout: c.timeout, ID: id})
}

// execute sends up to max rows of a portal (all when max is 0) and then
// CommandComplete, or PortalSuspended when rows remain. It reports whether the portal
// is done.
func (c *pgConn) execute(p *pgPortal, max uint32) (bool, error) {
	st := p.stmt
	// n counts the rows of this call, which max bounds; as in PostgreSQL, reaching max
	// suspends the portal without looking ahead.
	var n uint32
	switch {
	case st.empty:
		c.be.Send(&pgproto3.EmptyQueryResponse{})
		return true, nil
	case st.local != nil:
		if st.local.apply != nil && p.localRow == 0 {
			st.local.apply(c)
		}
		for p.localRow < len(st.local.rows) {
			if max > 0 && n == max {
				c.be.Send(&pgproto3.PortalSuspended{})
				return false, nil
			}
			row := make([][]byte, len(st.local.rows[p.localRow]))
			for i, v := range st.local.rows[p.localRow] {
				if v != nil {
					row[i] = []byte(*v)
				}
			}
			c.be.Send(&pgproto3.DataRow{Values: row})
			p.localRow++
			p.sent++
			n++
		}
		tag := st.local.tag
		if tag == "SELECT" {
			tag = "SELECT " + strconv.FormatInt(p.sent, 10)
		}
		c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
		return true, nil
	}
	if p.rows == nil {
		var err error
		if p.rows, err = c.open(st.query, p.args); err != nil {
			return true, err
		}
		if len(p.rows.Columns) != len(st.columns) {
			return true, pgError("XX000", "the statement's result has %d columns, not the %d it was described with; prepare it again", len(p.rows.Columns), len(st.columns))
		}
	}
	var buf []byte
	for {
		if max > 0 && n == max {
			c.be.Send(&pgproto3.PortalSuspended{})
			return false, nil
		}
		row, err := p.rows.Next()
		if err != nil {
			return true, err
		}
		if row == nil {
			break
		}
		values := make([][]byte, len(row))
		for i, v := range row {
			if v == nil {
				continue
			}
			start := len(buf)
			buf, err = st.columns[i].typ.encode(buf, v, formatOf(p.formats, i))
			if err != nil {
				return true, pgError("22000", "column %s: %v", st.columns[i].name, err)
			}
			values[i] = buf[start:len(buf):len(buf)]
		}
		c.be.Send(&pgproto3.DataRow{Values: values})
		buf = buf[:0:0]
		p.sent++
		n++
		if p.sent%flushEvery == 0 {
			if err := c.be.Flush(); err != nil {
				return true, err
			}
		}
	}
	c.running.Store("")
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT " + strconv.FormatInt(p.sent, 10))})
	return true, nil
}

// extended handles a message of the extended query protocol.
func (c *pgConn) extended(msg pgproto3.FrontendMessage) error {
	switch m := msg.(type) {
	case *pgproto3.Parse:
		if _, exists := c.stmts[m.Name]; exists && m.Name != "" {
			return pgError("42P05", "prepared statement %q already exists", m.Name)
		}
		stmts := splitStatements(m.Query)
		if len(stmts) > 1 {
			return pgError("42601", "cannot insert multiple commands into a prepared statement")
		}
		q := ""
		if len(stmts) == 1 {
			q = stmts[0]
		}
		st, err := c.prepare(q, m.ParameterOIDs, true)
		if err != nil {
			return err
		}
		c.stmts[m.Name] = st
		c.be.Send(&pgproto3.ParseComplete{})
	case *pgproto3.Bind:
		st, ok := c.stmts[m.PreparedStatement]
		if !ok {
			return pgError("26000", "prepared statement %q does not exist", m.PreparedStatement)
		}
		if _, exists := c.portals[m.DestinationPortal]; exists && m.DestinationPortal != "" {
			return pgError("42P03", "portal %q already exists", m.DestinationPortal)
		}
		if len(m.Parameters) != len(st.paramOIDs) {
			return pgError("08P01", "bind message supplies %d parameters, but the prepared statement %q requires %d", len(m.Parameters), m.PreparedStatement, len(st.paramOIDs))
		}
		args := make([]any, len(m.Parameters))
		for i, raw := range m.Parameters {
			v, err := decodeParam(st.paramOIDs[i], formatOf(m.ParameterFormatCodes, i), raw)
			if err != nil {
				return pgError("22P02", "parameter $%d: %v", i+1, err)
			}
			args[i] = v
		}
		if old := c.portals[m.DestinationPortal]; old != nil && old.rows != nil {
			old.rows.Close()
		}
		c.portals[m.DestinationPortal] = &pgPortal{stmt: st, args: args, formats: append([]int16(nil), m.ResultFormatCodes...)}
		c.be.Send(&pgproto3.BindComplete{})
	case *pgproto3.Describe:
		switch m.ObjectType {
		case 'S':
			st, ok := c.stmts[m.Name]
			if !ok {
				return pgError("26000", "prepared statement %q does not exist", m.Name)
			}
			c.be.Send(&pgproto3.ParameterDescription{ParameterOIDs: st.paramOIDs})
			c.describeResult(st, nil)
		case 'P':
			p, ok := c.portals[m.Name]
			if !ok {
				return pgError("34000", "portal %q does not exist", m.Name)
			}
			c.describeResult(p.stmt, p.formats)
		default:
			return pgError("08P01", "describe of an unknown object type %q", m.ObjectType)
		}
	case *pgproto3.Execute:
		p, ok := c.portals[m.Portal]
		if !ok {
			return pgError("34000", "portal %q does not exist", m.Portal)
		}
		done, err := c.execute(p, m.MaxRows)
		if done && p.rows != nil {
			p.rows.Close()
			p.rows = nil
			p.stmt = &pgStatement{local: &localResult{tag: "SELECT 0"}}
		}
		return err
	case *pgproto3.Close:
		switch m.ObjectType {
		case 'S':
			delete(c.stmts, m.Name)
		case 'P':
			if p := c.portals[m.Name]; p != nil && p.rows != nil {
				p.rows.Close()
			}
			delete(c.portals, m.Name)
		}
		c.be.Send(&pgproto3.CloseComplete{})
	}
	return nil
}

func (c *pgConn) describeResult(st *pgStatement, formats []int16) {
	cols := st.columns
	if st.local != nil {
		cols = st.local.columns
	}
	if st.empty || len(cols) == 0 {
		c.be.Send(&pgproto3.NoData{})
		return
	}
	c.be.Send(rowDescription(cols, formats))
}

func rowDescription(cols []pgColumn, formats []int16) *pgproto3.RowDescription {
	rd := &pgproto3.RowDescription{Fields: make([]pgproto3.FieldDescription, len(cols))}
	for i, col := range cols {
		rd.Fields[i] = pgproto3.FieldDescription{
			Name:         []byte(col.name),
			DataTypeOID:  col.typ.oid,
			DataTypeSize: col.typ.size,
			TypeModifier: -1,
			Format:       formatOf(formats, i),
		}
	}
	return rd
}

// formatOf is the format code of column or parameter i: none means text for all, one
// applies to all.
func formatOf(formats []int16, i int) int16 {
	switch {
	case len(formats) == 0:
		return 0
	case len(formats) == 1:
		return formats[0]
	case i < len(formats):
		return formats[i]
	}
	return 0
}

// sendError sends err as an ErrorResponse with its SQLSTATE.
func (c *pgConn) sendError(err error) {
	c.running.Store("")
	var pe *pgErr
	if !errors.As(err, &pe) {
		pe = pgErrorOf(err)
		if pe.code == "XX000" {
			c.s.log.Error("PostgreSQL statement failed", "err", err)
		}
	}
	c.be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: pe.code, Message: pe.msg})
}

// pgErr is an error with its SQLSTATE.
type pgErr struct {
	code string
	msg  string
}

func (e *pgErr) Error() string { return e.code + ": " + e.msg }

func pgError(code, format string, args ...any) *pgErr {
	return &pgErr{code: code, msg: fmt.Sprintf(format, args...)}
}

// pgErrorOf gives an engine error its SQLSTATE.
func pgErrorOf(err error) *pgErr {
	e, ok := apierr.As(err)
	if !ok {
		if errors.Is(err, context.Canceled) {
			return pgError("57014", "canceling statement due to user request")
		}
		return pgError("XX000", "%v", err)
	}
	code := "XX000"
	switch e.Code {
	case "QueryTimeout":
		code = "57014" // query_canceled, as PostgreSQL's statement_timeout
	case "QueryCancelled":
		code = "57014"
	case "QueryOutOfMemory":
		code = "53200"
	case "TooManyOpenResults":
		code = "53000"
	case "InvalidParameter":
		code = "22023"
	case "InvalidQuery":
		code = invalidQueryCode(e.Message)
	default:
		switch e.Kind {
		case apierr.Invalid:
			code = "22023"
		case apierr.NotFound:
			code = "42704"
		case apierr.Unavailable:
			code = "53000"
		}
	}
	return pgError(code, "%s", e.Message)
}

// invalidQueryCode tells the kinds of InvalidQuery apart by DuckDB's message.
func invalidQueryCode(msg string) string {
	switch {
	case strings.Contains(msg, "statements are not allowed") || strings.Contains(msg, "only read statements"):
		return "25006" // read_only_sql_transaction
	case strings.Contains(msg, "statements; send one statement"):
		return "42601"
	case strings.HasPrefix(msg, "Parser Error") || strings.Contains(msg, "syntax error"):
		return "42601" // syntax_error
	case strings.HasPrefix(msg, "Catalog Error") && strings.Contains(msg, "Table with name"):
		return "42P01" // undefined_table
	case strings.HasPrefix(msg, "Catalog Error") && strings.Contains(msg, "Function"):
		return "42883" // undefined_function
	case strings.HasPrefix(msg, "Catalog Error"):
		return "42704" // undefined_object
	case strings.HasPrefix(msg, "Binder Error") && strings.Contains(msg, "column"):
		return "42703" // undefined_column
	case strings.HasPrefix(msg, "Conversion Error"), strings.HasPrefix(msg, "Invalid Input Error"):
		return "22P02" // invalid_text_representation
	case strings.HasPrefix(msg, "Out of Range Error"):
		return "22003" // numeric_value_out_of_range
	case strings.HasPrefix(msg, "Permission Error"):
		return "42501" // insufficient_privilege
	}
	return "42000"
}
