// Package client is the Go client of eddy's HTTP API (package server); the request and
// response types are those of package wire.
//
// Every error the server returns comes back as an *apierr.Error with the server's Code
// and Message, so a caller can branch on the code.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/server/wire"
)

// Client calls one eddy server. It is safe for concurrent use.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// New returns a client of the server at baseURL (such as http://127.0.0.1:7070) that
// authenticates with token. A nil httpClient means one without a timeout, which long
// polls and subscriptions need; bound calls with their contexts instead.
func New(baseURL, token string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, hc: httpClient}
}

func streamPath(name string) string { return "/v1/streams/" + url.PathEscape(name) }

// CreateStream creates a stream.
func (c *Client) CreateStream(ctx context.Context, req wire.CreateStreamRequest) (wire.StreamDescription, error) {
	var out wire.StreamDescription
	err := c.call(ctx, http.MethodPost, "/v1/streams", req, &out)
	return out, err
}

// ListStreams lists every stream, sorted by name.
func (c *Client) ListStreams(ctx context.Context) ([]wire.StreamSummary, error) {
	var out wire.ListStreamsResponse
	err := c.call(ctx, http.MethodGet, "/v1/streams", nil, &out)
	return out.Streams, err
}

// DescribeStream describes a stream and its shards.
func (c *Client) DescribeStream(ctx context.Context, name string) (wire.StreamDescription, error) {
	var out wire.StreamDescription
	err := c.call(ctx, http.MethodGet, streamPath(name), nil, &out)
	return out, err
}

// UpdateStream changes a stream's retention and/or shard count.
func (c *Client) UpdateStream(ctx context.Context, name string, req wire.UpdateStreamRequest) (wire.StreamDescription, error) {
	var out wire.StreamDescription
	err := c.call(ctx, http.MethodPatch, streamPath(name), req, &out)
	return out, err
}

// DeleteStream deletes a stream and its records.
func (c *Client) DeleteStream(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, streamPath(name), nil, nil)
}

// PutRecords stores up to 500 records. A nil error means the request was accepted, not
// that every record was stored: check FailedCount and each result's ErrorCode.
func (c *Client) PutRecords(ctx context.Context, name string, recs []wire.PutRecord) (wire.PutRecordsResponse, error) {
	var out wire.PutRecordsResponse
	err := c.call(ctx, http.MethodPost, streamPath(name)+"/records", wire.PutRecordsRequest{Records: recs}, &out)
	return out, err
}

// GetIterator returns an iterator starting where req says.
func (c *Client) GetIterator(ctx context.Context, name string, req wire.GetIteratorRequest) (string, error) {
	var out wire.GetIteratorResponse
	err := c.call(ctx, http.MethodPost, streamPath(name)+"/iterators", req, &out)
	return out.Iterator, err
}

// GetRecords reads up to limit records (0 for the server's default) from an iterator,
// waiting up to wait for some to arrive when there are none.
func (c *Client) GetRecords(ctx context.Context, name, iterator string, limit int, wait time.Duration) (wire.GetRecordsResponse, error) {
	q := url.Values{"iterator": {iterator}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	var out wire.GetRecordsResponse
	err := c.call(ctx, http.MethodGet, streamPath(name)+"/records?"+q.Encode(), nil, &out)
	return out, err
}

// SubscribeOptions say what a subscription reads and where it starts.
type SubscribeOptions struct {
	// Shard to read; empty reads the whole stream in stored order.
	Shard string
	// Type is where to start (wire.Latest when empty), with SequenceNumber or Timestamp
	// for the types that need one.
	Type           string
	SequenceNumber string
	Timestamp      time.Time
}

// Subscribe tails a stream, calling fn with each record as it arrives, until ctx ends
// (it then returns ctx's error), fn returns an error (returned as is), the shard read
// is closed and fully read (nil), or the server ends the subscription (its error).
func (c *Client) Subscribe(ctx context.Context, name string, opts SubscribeOptions, fn func(wire.Record) error) error {
	q := url.Values{"format": {"ndjson"}}
	if opts.Shard != "" {
		q.Set("shard", opts.Shard)
	}
	if opts.Type != "" {
		q.Set("type", opts.Type)
	}
	if opts.SequenceNumber != "" {
		q.Set("sequenceNumber", opts.SequenceNumber)
	}
	if !opts.Timestamp.IsZero() {
		q.Set("timestamp", opts.Timestamp.Format(time.RFC3339Nano))
	}
	resp, err := c.do(ctx, http.MethodGet, streamPath(name)+"/subscribe?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	// A line holds one record: up to 1 MiB of data, base64-encoded.
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue // keepalive
		}
		var line struct {
			wire.Record
			wire.SubscriptionEnd
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return fmt.Errorf("subscribe to stream %q: decode a line from the server: %w", name, err)
		}
		switch {
		case line.Error != nil:
			return &apierr.Error{Code: line.Error.Code, Message: line.Error.Message}
		case line.ShardEnded:
			return nil
		}
		if err := fn(line.Record); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("subscribe to stream %q: %w", name, err)
	}
	return fmt.Errorf("subscribe to stream %q: the server closed the connection", name)
}

// call sends a JSON request (body may be nil) and decodes a JSON answer into out (which
// may be nil).
func (c *Client) call(ctx context.Context, method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		r = bytes.NewReader(b)
	}
	resp, err := c.do(ctx, method, path, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
	}
	return nil
}

// do sends a request and returns a successful response; any other becomes an error.
func (c *Client) do(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, application/x-ndjson")
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("no eddy server is listening at %s (%w): start one with `eddy serve`, or point --server or EDDY_SERVER at a running one", c.base, err)
		}
		return nil, fmt.Errorf("%s %s%s: %w", method, c.base, path, err)
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, responseError(resp)
}

// responseError turns an error response into an *apierr.Error.
func responseError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e wire.Error
	if err := json.Unmarshal(body, &e); err != nil || e.Code == "" {
		// Not eddy's error format: perhaps a proxy in between, or not an eddy server.
		msg := strings.TrimSpace(string(body))
		if msg == "" {
			msg = resp.Status
		}
		return &apierr.Error{Kind: wire.KindOf(resp.StatusCode), Code: "UnexpectedResponse", Message: fmt.Sprintf("HTTP %d from %s: %s", resp.StatusCode, resp.Request.URL.Redacted(), msg)}
	}
	return &apierr.Error{Kind: wire.KindOf(resp.StatusCode), Code: e.Code, Message: e.Message}
}
