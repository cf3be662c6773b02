package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/eddy-streams/eddy/internal/server/wire"
)

// Query runs req.Query and returns the first page of its result; NextPage reads the
// others. Numbers in the rows decode as json.Number, so 64-bit integers and DECIMALs
// keep every digit. Ending ctx interrupts the query on the server.
func (c *Client) Query(ctx context.Context, req wire.QueryRequest) (wire.QueryResponse, error) {
	return c.query(ctx, req)
}

// NextPage reads the page a QueryResponse's NextToken names.
func (c *Client) NextPage(ctx context.Context, token string) (wire.QueryResponse, error) {
	return c.query(ctx, wire.QueryRequest{NextToken: token})
}

// CancelQuery interrupts a running query (it then fails with QueryCancelled) or drops
// the open result of one.
func (c *Client) CancelQuery(ctx context.Context, queryID string) error {
	return c.call(ctx, http.MethodDelete, "/v1/queries/"+url.PathEscape(queryID), nil, nil)
}

func (c *Client) query(ctx context.Context, req wire.QueryRequest) (wire.QueryResponse, error) {
	var out wire.QueryResponse
	b, err := json.Marshal(req)
	if err != nil {
		return out, fmt.Errorf("encode the query: %w", err)
	}
	resp, err := c.do(ctx, http.MethodPost, "/v1/query", bytes.NewReader(b))
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return out, fmt.Errorf("POST /v1/query: decode the answer: %w", err)
	}
	return out, nil
}
