package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/internal/auth"
	"github.com/eddy-streams/eddy/internal/config"
	"github.com/eddy-streams/eddy/internal/jobs"
	"github.com/eddy-streams/eddy/internal/natslog"
	"github.com/eddy-streams/eddy/internal/server"
	"github.com/eddy-streams/eddy/internal/sql"
	"github.com/eddy-streams/eddy/internal/streams"
	"github.com/eddy-streams/eddy/internal/tables"
)

func newServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the eddy server on its embedded defaults",
		Long: `Run the eddy server. With no settings it stores everything under ./eddy-data,
runs NATS JetStream in-process, and serves the HTTP API on 127.0.0.1:7070.
On first start it creates an admin token, prints it once and saves it to
<data-dir>/admin.token, where the eddy CLI on this machine finds it.

Every setting is a flag, an EDDY_* environment variable, or a key of the YAML
file given with --config; flags win over the environment, which wins over the file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cmd.Flags(), os.LookupEnv)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, cmd.OutOrStdout())
		},
	}
	config.AddFlags(cmd.Flags())
	return cmd
}

func newLogger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// serve runs the server until ctx ends, then shuts down in order: stop taking requests
// and drain those in flight, stop the jobs, flush the shard writers, close the log.
func serve(ctx context.Context, cfg config.Config, stdout interface{ Write([]byte) (int, error) }) error {
	logger := newLogger(cfg)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	tokens, err := auth.Open(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("open token store: %w", err)
	}
	tokenFile := filepath.Join(cfg.DataDir, auth.AdminTokenFile)
	token, created, err := tokens.EnsureAdmin(tokenFile)
	if err != nil {
		return fmt.Errorf("create admin token: %w", err)
	}
	if created {
		fmt.Fprintf(stdout, "Created the admin token (shown once; saved with mode 0600 to %s):\n\n    %s\n\n", tokenFile, token)
	}

	logOpts := natslog.Options{
		URL:           cfg.NATSURL,
		Credentials:   cfg.NATSCreds,
		Dir:           filepath.Join(cfg.DataDir, "jetstream"),
		Fsync:         natslog.Fsync(cfg.Fsync),
		FsyncInterval: cfg.FsyncInterval,
		MaxMemory:     int64(cfg.MaxMemory),
		Logger:        logger,
	}
	if cfg.Embedded() {
		if logOpts.MaxStore, err = cfg.StoreLimit(cfg.DataDir); err != nil {
			return err
		}
	}
	log, err := natslog.Open(logOpts)
	if err != nil {
		return err
	}
	defer func() {
		if err := log.Close(); err != nil {
			logger.Warn("close the log", "err", err)
		}
	}()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	svc, err := streams.Open(log.Conn, streams.Options{
		Replicas:     cfg.Replicas,
		DedupeWindow: cfg.DedupeWindow,
		DedupeMaxIDs: cfg.DedupeMaxIDs,
		Logger:       logger.With("component", "streams"),
		Registerer:   reg,
	})
	if err != nil {
		return err
	}
	defer svc.Close()
	checkpoints, err := openCheckpointStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer checkpoints.Close()
	stateBackend, err := flow.ParseStateBackend(cfg.StateBackend, filepath.Join(cfg.DataDir, "state"))
	if err != nil {
		return err
	}
	jobManager := jobs.NewManager(jobs.Env{
		Streams: svc, Logger: logger.With("component", "jobs"), Dir: cfg.DataDir,
		Checkpoints: checkpoints, CheckpointInterval: cfg.CheckpointInterval,
		Restart:      jobs.RestartStrategy{Kind: cfg.RestartStrategy, Delay: cfg.RestartDelay},
		StateBackend: stateBackend,
	}, jobs.Builtins()...)
	// Jobs read and write streams: deferred after svc.Close, this runs before it, and
	// after the requests have drained on the normal path below.
	defer jobManager.Close(cfg.ShutdownTimeout)

	catalog, err := tables.Open(tables.NewFileStore(cfg.DataDir), nil)
	if err != nil {
		return err
	}
	// One embedded DuckDB answers every SQL query; it may read files only under the
	// tables directory and spills to its tmp directory.
	tablesDir := filepath.Join(cfg.DataDir, "tables")
	if err := os.MkdirAll(filepath.Join(tablesDir, "tmp"), 0o700); err != nil {
		return fmt.Errorf("create tables dir: %w", err)
	}
	sqlOpts := sql.Options{
		AllowedDirs: []string{tablesDir},
		TempDir:     filepath.Join(tablesDir, "tmp"),
		Queries:     sql.QueryLimits{MaxTimeout: cfg.QueryMaxTimeout},
	}
	if cfg.SQLMemoryLimit > 0 {
		sqlOpts.MemoryLimit = fmt.Sprintf("%dB", int64(cfg.SQLMemoryLimit))
	}
	sqlEngine, err := sql.Open(sqlOpts)
	if err != nil {
		return err
	}
	defer sqlEngine.Close()
	tablesSvc, err := tables.NewService(ctx, catalog, sqlEngine, tables.Options{
		DataDir:         tablesDir,
		MagneticURL:     cfg.TablesMagneticURL,
		Fsync:           cfg.Fsync == config.FsyncAlways,
		TieringInterval: cfg.TieringInterval,
		SchedulerTick:   time.Second,
		Logger:          logger.With("component", "tables"),
		CrashAt:         os.Getenv("EDDY_TEST_CRASH_AT"),
	})
	if err != nil {
		return err
	}
	// Closed before the engine (deferred after it): the last rows are published first.
	defer tablesSvc.Close()
	registerTableMetrics(reg, tablesSvc)
	srv := server.New(server.Options{
		Streams:     svc,
		Jobs:        jobManager,
		Query:       sqlEngine,
		Tables:      tablesSvc,
		TableWriter: tablesSvc,
		Auth:        tokens,
		Registerer:  reg,
		Gatherer:    reg,
		Ready:       func(ctx context.Context) error { return ready(ctx, log) },
		Logger:      logger,
	})
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	var pgSrv *server.PGServer
	var pgLn net.Listener
	if cfg.PGAddr != "" {
		if pgLn, err = net.Listen("tcp", cfg.PGAddr); err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s for the PostgreSQL wire protocol: %w", cfg.PGAddr, err)
		}
		pgSrv = server.NewPG(server.PGOptions{Engine: sqlEngine, Auth: tokens, Logger: logger.With("component", "pgwire")})
		// Deferred after the engine's Close, so it runs before it: connections end first.
		defer pgSrv.Close()
	}
	// Requests see this context; it is cancelled only if draining them takes longer than
	// the shutdown timeout, so puts in flight at shutdown finish and get their answer.
	reqCtx, cancelRequests := context.WithCancel(context.Background())
	defer cancelRequests()
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	// Jobs that ran before the last shutdown or crash start again from their checkpoints.
	if err := jobManager.Resume(); err != nil {
		logger.Error("resume jobs", "err", err)
	}
	// Long polls and subscriptions end when shutdown starts instead of holding it up.
	hs.RegisterOnShutdown(srv.Drain)
	served := make(chan error, 1)
	go func() { served <- fmt.Errorf("HTTP server: %w", hs.Serve(ln)) }()
	logArgs := []any{"http", "http://" + ln.Addr().String()}
	if pgSrv != nil {
		go func() {
			if err := pgSrv.Serve(pgLn); err != nil {
				served <- fmt.Errorf("PostgreSQL wire protocol: %w", err)
			}
		}()
		logArgs = append(logArgs, "pg", pgLn.Addr().String())
	}

	mode := "embedded NATS JetStream in " + logOpts.Dir
	if !cfg.Embedded() {
		mode = "external NATS at " + cfg.NATSURL
	}
	logger.Info("eddy is serving", append(logArgs, "log", mode, "fsync", cfg.Fsync, "max_store", logOpts.MaxStore)...)
	fmt.Fprintf(stdout, "eddy serving on http://%s (%s)\n", ln.Addr(), mode)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: draining requests")
	if pgSrv != nil {
		// PostgreSQL sessions hold no writes: they end at once, their statements interrupted.
		pgSrv.Close()
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Warn("drain requests", "err", err)
		cancelRequests()
	}
	logger.Info("requests drained; stopping jobs, flushing shard writers and closing the log")
	return nil
}

// ready reports whether the log takes requests.
func ready(ctx context.Context, log *natslog.Log) error {
	if st := log.Conn.Status(); st != nats.CONNECTED {
		return fmt.Errorf("NATS connection is %s", strings.ToLower(st.String()))
	}
	if _, err := log.JetStream.AccountInfo(ctx); err != nil {
		return fmt.Errorf("JetStream: %w", err)
	}
	return nil
}

// openCheckpointStore opens --checkpoint-url, by default a directory in the data dir.
func openCheckpointStore(ctx context.Context, cfg config.Config) (*flow.BlobStore, error) {
	url := cfg.CheckpointURL
	if url == "" {
		dir, err := filepath.Abs(filepath.Join(cfg.DataDir, "checkpoints"))
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create checkpoint dir: %w", err)
		}
		url = "file://" + dir
	}
	return flow.OpenBlobStore(ctx, url)
}

// registerTableMetrics exposes the tables service's counters on /metrics.
func registerTableMetrics(reg prometheus.Registerer, svc *tables.Service) {
	counter := func(name, help string, get func(tables.Stats) int64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(get(svc.Stats())) }))
	}
	counter("eddy_tables_records_stored_total", "Records table writes stored.", func(s tables.Stats) int64 { return s.StoredRecords })
	counter("eddy_tables_records_unchanged_total", "Records table writes found identical to what was stored.", func(s tables.Stats) int64 { return s.UnchangedRecords })
	counter("eddy_tables_records_rejected_total", "Records table writes rejected.", func(s tables.Stats) int64 { return s.RejectedRecords })
	counter("eddy_tables_moved_rows_total", "Rows moved from the memory tier to the magnetic tier.", func(s tables.Stats) int64 { return s.MovedRows })
	counter("eddy_tables_expired_files_total", "Magnetic files dropped by retention.", func(s tables.Stats) int64 { return s.ExpiredFiles })
	counter("eddy_tables_compactions_total", "Magnetic partitions rewritten by compaction.", func(s tables.Stats) int64 { return s.Compactions })
	counter("eddy_tables_quarantined_files_total", "Corrupt magnetic files set aside instead of served.", func(s tables.Stats) int64 { return s.QuarantinedFiles })
	counter("eddy_tables_scheduled_runs_total", "Runs of scheduled queries, by the schedule or asked for.", func(s tables.Stats) int64 { return s.ScheduledRuns })
	counter("eddy_tables_scheduled_failures_total", "Runs of scheduled queries that failed.", func(s tables.Stats) int64 { return s.ScheduledFailures })
	counter("eddy_tables_scheduled_rows_total", "Records runs of scheduled queries wrote.", func(s tables.Stats) int64 { return s.ScheduledRows })
}
