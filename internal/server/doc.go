// Package server is eddy's HTTP API: the transport in front of the services. It
// authenticates callers, decodes requests, calls the services through interfaces and
// encodes their answers; it holds no business logic.
//
// # Endpoints
//
// Every /v1/ call needs "Authorization: Bearer <token>". /healthz, /readyz and /metrics
// are open. Bodies are JSON, defined in package wire.
//
//	POST   /v1/streams                        create a stream                 201 StreamDescription
//	GET    /v1/streams                        list streams                    200 ListStreamsResponse
//	GET    /v1/streams/{name}                 describe a stream               200 StreamDescription
//	PATCH  /v1/streams/{name}                 change retention and/or shards  200 StreamDescription
//	DELETE /v1/streams/{name}                 delete a stream and its records 204
//	POST   /v1/streams/{name}/records         put up to 500 records           200 PutRecordsResponse
//	POST   /v1/streams/{name}/iterators       get an iterator                 200 GetIteratorResponse
//	GET    /v1/streams/{name}/records         read: ?iterator=&limit=&wait=   200 GetRecordsResponse
//	GET    /v1/streams/{name}/subscribe       tail: ?shard=&type=&sequenceNumber=&timestamp=
//	GET    /v1/builtins                       the built-in jobs and their arguments
//	POST   /v1/jobs                           start a built-in job (fromSavepoint optional) 201 JobDescription
//	GET    /v1/jobs                           list jobs                       200 ListJobsResponse
//	GET    /v1/jobs/{name}                    graph and per-subtask figures   200 JobDescription
//	GET    /v1/jobs/{name}/checkpoints        completed checkpoints           200 ListCheckpointsResponse
//	POST   /v1/jobs/{name}/savepoint          take a savepoint                200 SavepointResponse
//	POST   /v1/jobs/{name}/stop               stop and wait                   200 JobDescription
//	POST   /v1/databases                      create a database               201 Database
//	GET    /v1/databases                      list databases                  200 ListDatabasesResponse
//	GET    /v1/databases/{db}                 describe a database             200 Database
//	DELETE /v1/databases/{db}                 delete an empty database        204
//	POST   /v1/databases/{db}/tables          create a table                  201 Table
//	GET    /v1/databases/{db}/tables          list a database's tables        200 ListTablesResponse
//	GET    /v1/databases/{db}/tables/{table}  settings and learned schema     200 Table
//	PATCH  /v1/databases/{db}/tables/{table}  change settings                 200 Table
//	DELETE /v1/databases/{db}/tables/{table}  delete a table                  204
//	POST   /v1/databases/{db}/tables/{table}/records  write up to 10,000 records  200 WriteRecordsResponse
//	POST   /write?db=&precision=              InfluxDB 1.x line protocol      204 (token: Basic password, ?p= or Token)
//	POST   /api/v2/write?bucket=&precision=   InfluxDB 2.x line protocol      204 (token: "Authorization: Token <t>")
//	POST   /v1/query                          run a SQL query, or read its next page  200 QueryResponse
//	DELETE /v1/queries/{id}                   cancel a query or drop its open result  204
//	POST   /v1/scheduled-queries              create a scheduled query        201 ScheduledQuery
//	GET    /v1/scheduled-queries              list scheduled queries          200 ListScheduledQueriesResponse
//	GET    /v1/scheduled-queries/{name}       definition and status           200 ScheduledQuery
//	PATCH  /v1/scheduled-queries/{name}       enable, disable, reschedule, change the query  200 ScheduledQuery
//	DELETE /v1/scheduled-queries/{name}       delete a scheduled query        204
//	POST   /v1/scheduled-queries/{name}/runs  run one invocation now (backfill)  200 ScheduledQueryRun
//
// A put answers 200 whenever the request as a whole was valid, even if every record
// failed, as Kinesis does: the caller checks failedCount and retries the failed records.
// A table write does the same with rejectedRecords; the JSON body, its value types and
// the line protocol mapping are documented at TableWriter and in lineprotocol.go.
//
// A subscription streams records as server-sent events by default, or as
// newline-delimited JSON with "Accept: application/x-ndjson" or ?format=ndjson; see
// subscribe.go for the exact framing.
//
// # Errors
//
// Every error is a JSON wire.Error {"code", "message"} whose status follows the
// apierr.Kind (wire.Status). Besides the services' codes, the transport has its own:
// Unauthenticated (401); MalformedJSON, UnknownField, InvalidBase64, DataAndText,
// InvalidEventTime, InvalidParameter, MissingParameter, InvalidIterator, EmptyUpdate,
// InvalidRecord, TooManyRecords, MalformedBody, UnsupportedContentEncoding,
// InvalidLineProtocol, PartialWrite (400); RequestTooLarge (413); MethodNotAllowed
// (405); UnknownEndpoint (404); ShuttingDown (503). The line protocol endpoints add the
// message as "error" too, for InfluxDB 1.x clients. An error that is not an
// *apierr.Error is logged and reported as 500 InternalFailure with the error's text.
//
// Long polls and subscriptions end when the request's context does or when Drain is
// called; register Drain with http.Server.RegisterOnShutdown so a graceful shutdown
// need not wait for them.
package server
