package server

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/auth"
	"github.com/eddy-streams/eddy/internal/streams"
)

// StreamsAPI is the part of the streams service the HTTP API calls.
type StreamsAPI interface {
	Create(ctx context.Context, name string, cfg streams.Config) (streams.Info, error)
	List(ctx context.Context) ([]streams.Summary, error)
	Describe(ctx context.Context, name string) (streams.Info, error)
	UpdateRetention(ctx context.Context, name string, retention time.Duration) (streams.Info, error)
	UpdateShardCount(ctx context.Context, name string, count int) (streams.Info, error)
	Delete(ctx context.Context, name string) error
	Put(ctx context.Context, name string, recs []streams.Record) ([]streams.PutResult, error)
	Cursor(ctx context.Context, stream, shard string, start streams.Start) (streams.Cursor, error)
	Read(ctx context.Context, cur streams.Cursor, limit int, wait time.Duration) (streams.ReadResult, error)
}

// Authenticator checks bearer tokens; *auth.Store is one.
type Authenticator interface {
	Verify(token string) (auth.TokenInfo, bool)
}

// Options are the server's dependencies.
type Options struct {
	Streams StreamsAPI
	// Jobs runs built-in jobs; nil leaves out the job endpoints and metrics.
	Jobs JobsAPI
	// Query is the SQL engine; nil leaves out the query endpoints.
	Query QueryAPI
	// Tables is the table catalog; nil leaves out the database and table endpoints.
	Tables TablesAPI
	// TableWriter is the tables write path; nil leaves out the write endpoints (the JSON
	// write and InfluxDB line protocol).
	TableWriter TableWriter
	Auth        Authenticator
	// Registerer receives the HTTP metrics and Gatherer serves /metrics; either may be
	// nil to skip it.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Ready reports whether the server can serve requests (/readyz); nil means always.
	Ready  func(context.Context) error
	Logger *slog.Logger
}

// maxBodyBytes bounds every request body. A put of the largest allowed size (5 MiB of
// keys and data) takes about 7 MiB as JSON with base64 data.
const maxBodyBytes = 8 << 20

// Server serves the HTTP API.
type Server struct {
	opts     Options
	log      *slog.Logger
	mux      *http.ServeMux
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
	// stop is cancelled by Drain; it ends long polls and subscriptions.
	stop     context.Context
	stopFunc context.CancelFunc
}

// New returns a server over the given services. It panics if the metrics cannot be
// registered, which only a second server on the same registry causes.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts: opts,
		log:  opts.Logger,
		mux:  http.NewServeMux(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eddy_http_requests_total", Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "eddy_http_request_seconds", Help: "HTTP request duration by route pattern, until the handler returns.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"route"}),
	}
	s.stop, s.stopFunc = context.WithCancel(context.Background())
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(s.requests, s.seconds)
	}

	s.handle("GET /healthz", false, s.healthz)
	s.handle("GET /readyz", false, s.readyz)
	if opts.Gatherer != nil {
		metrics := promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelError)})
		s.handle("GET /metrics", false, metrics.ServeHTTP)
	}
	s.handle("POST /v1/streams", true, s.createStream)
	s.handle("GET /v1/streams", true, s.listStreams)
	s.handle("GET /v1/streams/{name}", true, s.describeStream)
	s.handle("PATCH /v1/streams/{name}", true, s.updateStream)
	s.handle("DELETE /v1/streams/{name}", true, s.deleteStream)
	s.handle("POST /v1/streams/{name}/records", true, s.putRecords)
	s.handle("GET /v1/streams/{name}/records", true, s.getRecords)
	s.handle("POST /v1/streams/{name}/iterators", true, s.getIterator)
	s.handle("GET /v1/streams/{name}/subscribe", true, s.subscribe)
	if opts.Jobs != nil {
		s.routeJobs(opts.Jobs)
	}
	if opts.Query != nil {
		s.routeQueries(opts.Query)
	}
	if opts.Tables != nil {
		s.routeTables(opts.Tables)
	}
	if opts.TableWriter != nil {
		s.routeTableWrites(opts.TableWriter)
	}
	return s
}

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Drain makes long-polling reads return and subscriptions end, which would otherwise
// keep http.Server.Shutdown waiting; register it with http.Server.RegisterOnShutdown.
// Other requests are unaffected.
func (s *Server) Drain() { s.stopFunc() }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.unmatched(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// handle registers h under pattern, with metrics labelled by the pattern and, for API
// routes, authentication.
func (s *Server) handle(pattern string, authenticate bool, h http.HandlerFunc) {
	s.handleLimit(pattern, authenticate, maxBodyBytes, h)
}

// handleLimit is handle with a body limit other than maxBodyBytes.
func (s *Server) handleLimit(pattern string, authenticate bool, limit int64, h http.HandlerFunc) {
	requests := s.requests.MustCurryWith(prometheus.Labels{"route": pattern})
	seconds := s.seconds.WithLabelValues(pattern)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		if !authenticate || s.authenticated(sw, r) {
			r.Body = http.MaxBytesReader(sw, r.Body, limit)
			h(sw, r)
		}
		seconds.Observe(time.Since(start).Seconds())
		requests.WithLabelValues(strconv.Itoa(sw.code())).Inc()
	})
}

// unmatched answers requests no route takes: 404, or 405 when the path exists for other
// methods. The mux's own handler for them writes plain text, so it runs against a
// recorder and only its status and Allow header are kept.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/v1/") && !s.authenticated(w, r) {
		s.requests.WithLabelValues("unmatched", "401").Inc()
		return
	}
	h, _ := s.mux.Handler(r)
	rec := &headerRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	var err *apierr.Error
	status := rec.status
	switch status {
	case http.StatusMethodNotAllowed:
		allow := rec.header.Get("Allow")
		w.Header().Set("Allow", allow)
		err = &apierr.Error{Code: "MethodNotAllowed", Message: "method " + r.Method + " is not allowed on " + r.URL.Path + "; allowed: " + allow}
	default:
		status = http.StatusNotFound
		err = &apierr.Error{Code: "UnknownEndpoint", Message: "no endpoint " + r.Method + " " + r.URL.Path + "; the API lives under /v1/"}
	}
	writeJSON(w, status, errorBody(err))
	s.requests.WithLabelValues("unmatched", strconv.Itoa(status)).Inc()
}

func (s *Server) authenticated(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	var msg string
	switch {
	case h == "":
		msg = "this call needs an Authorization: Bearer <token> header; the admin token is in <data-dir>/admin.token"
	case !ok || token == "":
		msg = "the Authorization header must be \"Bearer <token>\""
	default:
		if _, valid := s.opts.Auth.Verify(strings.TrimSpace(token)); valid {
			return true
		}
		msg = "the bearer token is not valid (revoked, or from another eddy data dir)"
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="eddy"`)
	s.writeError(w, r, apierr.New(apierr.Unauthenticated, "Unauthenticated", "%s", msg))
	return false
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "ok\n")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.opts.Ready != nil {
		if err := s.opts.Ready(r.Context()); err != nil {
			writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n")
			return
		}
	}
	writeText(w, http.StatusOK, "ready\n")
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// statusWriter remembers the status a handler wrote, for the metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection, to flush subscriptions.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// headerRecorder is a ResponseWriter that keeps the status and headers and drops the body.
type headerRecorder struct {
	header http.Header
	status int
}

func (r *headerRecorder) Header() http.Header { return r.header }
func (r *headerRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *headerRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return len(p), nil
}
