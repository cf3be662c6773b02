package sql

import (
	"context"
	dbsql "database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"

	"github.com/duckdb/duckdb-go/v2"
)

// Options configure the engine.
type Options struct {
	// MemoryLimit bounds DuckDB's memory, such as "4GB"; empty leaves DuckDB's default
	// (80% of the machine's memory).
	MemoryLimit string
	// Threads is DuckDB's worker count; 0 leaves its default (one per core).
	Threads int
	// AllowedDirs are the only directories a query may read files from (the magnetic
	// tier's files and their cache). Everything else on the file system is refused.
	AllowedDirs []string
	// TempDir is where DuckDB spills; empty disables spilling.
	TempDir string
	// Queries bound the queries of Query and the results they hold open.
	Queries QueryLimits
}

// timestreamFunctions define, as macros, the Timestream functions its users' queries
// lean on most that DuckDB lacks or names differently. bin is aligned to the epoch, as
// Timestream's is (time_bucket's default origin is 2000-01-03).
var timestreamFunctions = []string{
	"CREATE MACRO ago(i) AS CAST(now() AS TIMESTAMP) - i",
	"CREATE MACRO bin(t, i) AS time_bucket(i, t, TIMESTAMP '1970-01-01')",
	"CREATE MACRO from_milliseconds(ms) AS make_timestamp(ms * 1000)",
	"CREATE MACRO from_nanoseconds(ns) AS make_timestamp_ns(ns)",
	"CREATE MACRO to_milliseconds(t) AS epoch_ms(t)",
	"CREATE MACRO to_nanoseconds(t) AS epoch_ns(t)",
}

// Engine is the embedded DuckDB. It is safe for concurrent use.
type Engine struct {
	connector *duckdb.Connector
	db        *dbsql.DB
	queries   *queries
}

// Open starts DuckDB with opts.
func Open(opts Options) (*Engine, error) {
	settings := []string{
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		"SET allow_community_extensions = false",
		// Footers of the immutable magnetic files are read once, not per query.
		"SET parquet_metadata_cache = true",
		// Times are UTC, whatever the machine's zone.
		"SET TimeZone = 'UTC'",
	}
	settings = append(settings, timestreamFunctions...)
	if opts.MemoryLimit != "" {
		settings = append(settings, "SET memory_limit = "+quoteLiteral(opts.MemoryLimit))
	}
	if opts.Threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", opts.Threads))
	}
	if opts.TempDir != "" {
		settings = append(settings, "SET temp_directory = "+quoteLiteral(opts.TempDir))
	} else {
		settings = append(settings, "SET temp_directory = ''")
	}
	if len(opts.AllowedDirs) > 0 {
		dirs := make([]string, len(opts.AllowedDirs))
		for i, d := range opts.AllowedDirs {
			dirs[i] = quoteLiteral(strings.TrimSuffix(d, "/") + "/")
		}
		settings = append(settings, "SET allowed_directories = ["+strings.Join(dirs, ", ")+"]")
	}
	// External access off (except the allowed directories), then lock the settings so
	// that no query can undo them.
	settings = append(settings, "SET enable_external_access = false", "SET lock_configuration = true")
	// The settings are the database's, not a connection's: the first connection applies
	// them; once they are locked, the next connections could not set them again.
	var configure sync.Mutex
	configured := false
	c, err := duckdb.NewConnector("", func(execer driver.ExecerContext) error {
		configure.Lock()
		defer configure.Unlock()
		if configured {
			return nil
		}
		for _, s := range settings {
			if _, err := execer.ExecContext(context.Background(), s, nil); err != nil {
				return fmt.Errorf("duckdb %s: %w", s, err)
			}
		}
		configured = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	return &Engine{connector: c, db: dbsql.OpenDB(c), queries: newQueries(opts.Queries)}, nil
}

// DB returns the database handle queries run on.
func (e *Engine) DB() *dbsql.DB { return e.db }

// Close stops DuckDB and frees its memory.
func (e *Engine) Close() error {
	e.queries.close()
	err := e.db.Close()
	if cerr := e.connector.Close(); err == nil {
		err = cerr
	}
	return err
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// QuoteIdent quotes s as an SQL identifier.
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
