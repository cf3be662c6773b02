package wire

// QueryRequest is the body of POST /v1/query: either a query to run, with its
// settings, or the NextToken of a page to read the next one.
type QueryRequest struct {
	// Query is one read-only SQL statement.
	Query string `json:"query,omitempty"`
	// TimeoutMillis bounds the execution; 0 takes the server's default (60 s), and more
	// than the server's maximum is cut to it.
	TimeoutMillis int64 `json:"timeoutMs,omitempty"`
	// PageSize is the most rows a page holds; 0 takes 1000, the maximum is 10000.
	PageSize int `json:"pageSize,omitempty"`
	// QueryID names the query so that DELETE /v1/queries/{id} can cancel it while it
	// runs; empty has the server pick one. 1 to 64 letters, digits, '-' and '_'.
	QueryID string `json:"queryId,omitempty"`
	// NextToken reads the next page of an earlier query; nothing else may be given
	// with it.
	NextToken string `json:"nextToken,omitempty"`
}

// QueryResponse is one page of a query's result, the body of POST /v1/query.
type QueryResponse struct {
	QueryID string        `json:"queryId"`
	Columns []QueryColumn `json:"columns"`
	// Rows hold one JSON value per column. Values a JSON number cannot carry are
	// strings: timestamps (RFC 3339 with nanoseconds, UTC), dates (2006-01-02), "NaN",
	// "Infinity", "-Infinity", integers beyond 64 bits, UUIDs, BLOBs (base64) and
	// intervals. DECIMALs are exact JSON numbers; LISTs are arrays; STRUCTs and MAPs
	// are objects.
	Rows [][]any `json:"rows"`
	// NextToken reads the next page; empty on the last page. An open result expires
	// after some idle minutes.
	NextToken string     `json:"nextToken"`
	Stats     QueryStats `json:"stats"`
}

// QueryColumn is a column of a result and DuckDB's name of its type, such as TIMESTAMP,
// DOUBLE, VARCHAR, DECIMAL(18,3) or VARCHAR[].
type QueryColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// QueryStats describe a page.
type QueryStats struct {
	// ElapsedMillis is the time the server took for this page; for the first, the
	// query's execution.
	ElapsedMillis int64 `json:"elapsedMs"`
	// Rows counts the rows returned so far, this page's included.
	Rows int64 `json:"rows"`
}
