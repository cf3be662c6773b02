package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/eddy-streams/eddy/internal/server/wire"
)

func databasePath(name string) string { return "/v1/databases/" + url.PathEscape(name) }

func tablePath(db, name string) string { return databasePath(db) + "/tables/" + url.PathEscape(name) }

// CreateDatabase creates an empty database.
func (c *Client) CreateDatabase(ctx context.Context, name string) (wire.Database, error) {
	var out wire.Database
	err := c.call(ctx, http.MethodPost, "/v1/databases", wire.CreateDatabaseRequest{Name: name}, &out)
	return out, err
}

// ListDatabases lists every database, sorted by name.
func (c *Client) ListDatabases(ctx context.Context) ([]wire.Database, error) {
	var out wire.ListDatabasesResponse
	err := c.call(ctx, http.MethodGet, "/v1/databases", nil, &out)
	return out.Databases, err
}

// DescribeDatabase describes a database.
func (c *Client) DescribeDatabase(ctx context.Context, name string) (wire.Database, error) {
	var out wire.Database
	err := c.call(ctx, http.MethodGet, databasePath(name), nil, &out)
	return out, err
}

// DeleteDatabase deletes a database, which must hold no tables.
func (c *Client) DeleteDatabase(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, databasePath(name), nil, nil)
}

// CreateTable creates a table in database db.
func (c *Client) CreateTable(ctx context.Context, db string, req wire.CreateTableRequest) (wire.Table, error) {
	var out wire.Table
	err := c.call(ctx, http.MethodPost, databasePath(db)+"/tables", req, &out)
	return out, err
}

// ListTables lists the tables of database db, sorted by name.
func (c *Client) ListTables(ctx context.Context, db string) ([]wire.TableSummary, error) {
	var out wire.ListTablesResponse
	err := c.call(ctx, http.MethodGet, databasePath(db)+"/tables", nil, &out)
	return out.Tables, err
}

// DescribeTable describes a table: its settings and learned schema.
func (c *Client) DescribeTable(ctx context.Context, db, name string) (wire.Table, error) {
	var out wire.Table
	err := c.call(ctx, http.MethodGet, tablePath(db, name), nil, &out)
	return out, err
}

// UpdateTable changes the settings req gives and leaves the others.
func (c *Client) UpdateTable(ctx context.Context, db, name string, req wire.UpdateTableRequest) (wire.Table, error) {
	var out wire.Table
	err := c.call(ctx, http.MethodPatch, tablePath(db, name), req, &out)
	return out, err
}

// DeleteTable deletes a table.
func (c *Client) DeleteTable(ctx context.Context, db, name string) error {
	return c.call(ctx, http.MethodDelete, tablePath(db, name), nil, nil)
}
