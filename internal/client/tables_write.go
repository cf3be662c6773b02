package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/tables"
)

// WriteRecords writes up to 10,000 records to a table. A nil error means the request
// was well formed, not that every record was stored: the rejected ones are in the
// result's Rejected, and the others were stored regardless.
func (c *Client) WriteRecords(ctx context.Context, db, table string, req *tables.WriteRequest) (tables.WriteResult, error) {
	out, err := c.WriteRecordsJSON(ctx, db, table, wire.AppendWriteRequest(nil, req))
	if err != nil {
		return tables.WriteResult{}, err
	}
	return out.Result(), nil
}

// WriteRecordsJSON sends body, a write body in JSON (see wire.AppendWriteRequest), as
// it is.
func (c *Client) WriteRecordsJSON(ctx context.Context, db, table string, body []byte) (wire.WriteRecordsResponse, error) {
	path := tablePath(db, table) + "/records"
	var out wire.WriteRecordsResponse
	resp, err := c.do(ctx, http.MethodPost, path, bytes.NewReader(body))
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return out, fmt.Errorf("POST %s: decode the answer: %w", path, err)
	}
	return out, nil
}
