package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/eddy-streams/eddy/internal/sql"
)

// PGEngine is the SQL engine the PostgreSQL wire protocol calls; *sql.Engine is one.
type PGEngine interface {
	Describe(ctx context.Context, q string) (*sql.Statement, error)
	OpenRows(ctx context.Context, q string, args []any, opts sql.QueryOptions) (*sql.Rows, error)
	Cancel(queryID string) error
}

// PGOptions are the dependencies of the PostgreSQL wire protocol server.
type PGOptions struct {
	Engine PGEngine
	// Auth checks the password of a connection, which must be an eddy token.
	Auth   Authenticator
	Logger *slog.Logger
	// MaxConnections bounds the open connections; 0 means 100, PostgreSQL's default.
	MaxConnections int
}

// PGServer serves eddy's tables over the PostgreSQL wire protocol (version 3.0), so
// that psql, pgx, JDBC, Grafana and BI tools query them with SQL. Every statement is
// read-only, as on POST /v1/query; see docs/pgwire.md for what clients can expect.
type PGServer struct {
	opts PGOptions
	log  *slog.Logger

	mu      sync.Mutex
	ln      net.Listener
	conns   map[uint32]*pgConn
	closed  bool
	nextPID atomic.Uint32
	wg      sync.WaitGroup
}

// NewPG returns a PostgreSQL wire protocol server; Serve starts it.
func NewPG(opts PGOptions) *PGServer {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = 100
	}
	return &PGServer{opts: opts, log: opts.Logger, conns: map[uint32]*pgConn{}}
}

// Serve accepts connections on ln until Close; it returns nil after Close.
func (s *PGServer) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ln.Close()
	}
	s.ln = ln
	s.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		s.wg.Go(func() { s.serveConn(nc) })
	}
}

// Close stops accepting connections, closes the open ones, which interrupts their
// statements, and waits for them to end.
func (s *PGServer) Close() {
	s.mu.Lock()
	s.closed = true
	if s.ln != nil {
		_ = s.ln.Close()
	}
	for _, c := range s.conns {
		// Interrupts a running statement too, which closing the socket alone would
		// leave running until it ends.
		c.cancel()
		_ = c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// The server's identity towards clients: psql and drivers choose their catalog queries
// by the version, so eddy presents the one its catalog answers are written for.
const (
	pgServerVersion    = "15.0"
	pgServerVersionNum = "150000"
)

func (s *PGServer) serveConn(nc net.Conn) {
	defer nc.Close()
	be := pgproto3.NewBackend(nc, nc)
	// Bounds a message's memory: a query or a Bind's parameters of up to 64 MiB.
	be.SetMaxBodyLen(64 << 20)
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	startup, err := s.startup(nc, be)
	if err != nil || startup == nil {
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			s.log.Debug("PostgreSQL startup failed", "remote", nc.RemoteAddr(), "err", err)
		}
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &pgConn{s: s, nc: nc, be: be, ctx: ctx, cancel: cancel, stmts: map[string]*pgStatement{}, portals: map[string]*pgPortal{},
		settings: map[string]string{}}
	var secret [4]byte
	_, _ = rand.Read(secret[:])
	c.secret = secret[:]
	if !s.register(c) {
		c.fatal("53300", "too many connections: eddy accepts %d at once; close idle ones or retry later", s.opts.MaxConnections)
		return
	}
	defer s.unregister(c)
	if !c.authenticate(startup) {
		return
	}
	_ = nc.SetDeadline(time.Time{})
	c.run()
}

// startup reads the first messages of a connection: an SSLRequest or GSSEncRequest is
// refused with 'N' (eddy speaks PostgreSQL without TLS; put a TLS proxy in front when
// clients cross a network) and a CancelRequest is carried out. It returns the
// StartupMessage, or nil when the connection has nothing more to say.
func (s *PGServer) startup(nc net.Conn, be *pgproto3.Backend) (*pgproto3.StartupMessage, error) {
	for {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return nil, err
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
			if _, err := nc.Write([]byte{'N'}); err != nil {
				return nil, err
			}
		case *pgproto3.CancelRequest:
			s.cancel(m.ProcessID, m.SecretKey)
			return nil, nil
		case *pgproto3.StartupMessage:
			if m.ProtocolVersion != pgproto3.ProtocolVersion30 {
				// Only 3.0: a client asking for 3.2 learns that 3.0 is the newest here.
				be.Send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0})
			}
			sm := *m
			sm.Parameters = make(map[string]string, len(m.Parameters))
			for k, v := range m.Parameters {
				sm.Parameters[k] = v
			}
			return &sm, nil
		default:
			return nil, fmt.Errorf("unexpected startup message %T", msg)
		}
	}
}

func (s *PGServer) register(c *pgConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.conns) >= s.opts.MaxConnections {
		return false
	}
	for {
		c.pid = s.nextPID.Add(1)
		if _, taken := s.conns[c.pid]; !taken && c.pid != 0 {
			break
		}
	}
	s.conns[c.pid] = c
	return true
}

func (s *PGServer) unregister(c *pgConn) {
	s.mu.Lock()
	delete(s.conns, c.pid)
	s.mu.Unlock()
}

// cancel interrupts the statement running on the connection a CancelRequest names, if
// its secret matches. As in PostgreSQL, the requester learns nothing either way.
func (s *PGServer) cancel(pid uint32, secret []byte) {
	s.mu.Lock()
	c := s.conns[pid]
	s.mu.Unlock()
	if c == nil || subtle.ConstantTimeCompare(c.secret, secret) != 1 {
		return
	}
	if id, _ := c.running.Load().(string); id != "" {
		_ = s.opts.Engine.Cancel(id)
	}
}

// pgConn is one client connection.
type pgConn struct {
	s      *PGServer
	nc     net.Conn
	be     *pgproto3.Backend
	ctx    context.Context
	cancel context.CancelFunc
	pid    uint32
	secret []byte
	user   string

	// running is the engine's ID of the statement running now, "" between statements.
	running atomic.Value
	queries uint64

	stmts   map[string]*pgStatement
	portals map[string]*pgPortal
	// inBlock is true between BEGIN and COMMIT or ROLLBACK: named portals then live
	// until the block ends instead of until Sync.
	inBlock bool
	// settings are the session's SET values, which SHOW reads back.
	settings map[string]string
	// timeout is statement_timeout; 0 takes the engine's default.
	timeout time.Duration
}

// authenticate asks for a cleartext password and checks it as an eddy token. The user
// name is only echoed back; the database name is ignored (tables are always named
// database.table).
func (c *pgConn) authenticate(m *pgproto3.StartupMessage) bool {
	c.user = m.Parameters["user"]
	c.be.Send(&pgproto3.AuthenticationCleartextPassword{})
	if err := c.be.Flush(); err != nil {
		return false
	}
	if err := c.be.SetAuthType(pgproto3.AuthTypeCleartextPassword); err != nil {
		return false
	}
	msg, err := c.be.Receive()
	if err != nil {
		return false
	}
	pw, ok := msg.(*pgproto3.PasswordMessage)
	if !ok {
		c.fatal("08P01", "expected a password message, got %T", msg)
		return false
	}
	token := strings.TrimSpace(pw.Password)
	if token == "" {
		c.fatal("28P01", "password authentication failed for user %q: the password must be an eddy token (the admin token is in <data-dir>/admin.token)", c.user)
		return false
	}
	if _, valid := c.s.opts.Auth.Verify(token); !valid {
		c.fatal("28P01", "password authentication failed for user %q: the token is not valid (revoked, or from another eddy data dir)", c.user)
		return false
	}
	c.be.Send(&pgproto3.AuthenticationOk{})
	app := m.Parameters["application_name"]
	c.settings["application_name"] = app
	for _, p := range [][2]string{
		{"server_version", pgServerVersion},
		{"server_encoding", "UTF8"},
		{"client_encoding", "UTF8"},
		{"DateStyle", "ISO, MDY"},
		{"IntervalStyle", "postgres"},
		{"TimeZone", "UTC"},
		{"integer_datetimes", "on"},
		{"standard_conforming_strings", "on"},
		{"is_superuser", "off"},
		{"default_transaction_read_only", "on"},
		{"in_hot_standby", "off"},
		{"session_authorization", c.user},
		{"application_name", app},
	} {
		c.be.Send(&pgproto3.ParameterStatus{Name: p[0], Value: p[1]})
	}
	key := make([]byte, 4)
	copy(key, c.secret)
	c.be.Send(&pgproto3.BackendKeyData{ProcessID: c.pid, SecretKey: key})
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	return c.be.Flush() == nil
}

// fatal sends a FATAL error; the connection then closes.
func (c *pgConn) fatal(code, format string, args ...any) {
	c.be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: fmt.Sprintf(format, args...)})
	_ = c.be.Flush()
}

// nextQueryID names the connection's next statement for the engine, so that a
// CancelRequest can reach it while it runs.
func (c *pgConn) nextQueryID() string {
	c.queries++
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], c.pid)
	return fmt.Sprintf("pg-%x-%d", b, c.queries)
}
