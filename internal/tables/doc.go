// Package tables is eddy's time-series store, the replacement for Timestream for
// LiveAnalytics: the catalog of databases and tables (this file's subject), and the
// Service that writes records (normalize.go, index.go, table.go), keeps recent ones in
// the memory tier (a write-ahead log per table, package wal, and a DuckDB memory table)
// and moves older ones to Parquet files in the magnetic tier (tiering.go, magnetic.go),
// queried through package sql; and the scheduled queries that write a query's rows
// into a table on a schedule, for rollups (scheduled.go, scheduled_run.go). How the
// tiers and scheduled queries work and every file they write: docs/tables.md.
//
// # Names
//
// Database and table names follow Timestream's rules: 3 to 256 bytes, each an ASCII
// letter, digit, '_', '-' or '.'. Names are case-sensitive. Table names are unique within
// their database.
//
// # Retention
//
// A table keeps records in the memory tier for 1 to 8766 hours (a year; default 6) and in
// the magnetic tier for 1 to 73000 days (200 years; the default). Late writes, older than
// the memory retention, may go straight to the magnetic tier only where the table allows
// it (default: not allowed).
//
// # Schema
//
// A table's schema starts empty and is learned from writes: dimension names (always
// strings) and measure names, each with one type among double, bigint, varchar, boolean and
// timestamp. A column keeps its first type for good; a write that gives it another, or
// that uses a dimension's name for a measure or the reverse, is a type conflict.
//
// # Durability
//
// A Catalog is safe for concurrent use. Every change is written to its Store, in full,
// before the call that made it returns; a change whose save fails is not applied. The file
// store keeps the catalog at <dir>/tables/catalog.json and replaces it atomically
// (temporary file, fsync, rename, fsync of the directory), so a crash leaves either the old
// catalog or the new one.
//
// # Catalog document, version 1
//
// The catalog is one UTF-8 JSON object:
//
//	{
//	  "version": 1,
//	  "databases": [
//	    {
//	      "name": "fleet",
//	      "createdAt": "2026-01-02T03:04:05.123456789Z",
//	      "tables": [
//	        {
//	          "name": "readings",
//	          "memoryRetentionHours": 6,
//	          "magneticRetentionDays": 73000,
//	          "magneticWrites": false,
//	          "createdAt": "2026-01-02T03:04:05.123456789Z",
//	          "updatedAt": "2026-01-02T03:04:05.123456789Z",
//	          "schema": {
//	            "dimensions": ["fleet", "truck"],
//	            "measures": {"fuel_state": "double", "status": "bigint"}
//	          }
//	        }
//	      ]
//	    }
//	  ]
//	}
//
// version is 1; a reader refuses any other version rather than guess. Databases are sorted
// by name, tables by name within their database, dimensions by name; times are RFC 3339
// in UTC with nanoseconds. magneticWrites is whether late writes may go to the magnetic
// tier. Measure types are the lower-case names above. Unknown fields are an error. A
// missing file is an empty catalog.
package tables
