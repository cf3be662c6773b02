package client_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/client"
	"github.com/eddy-streams/eddy/internal/server/servertest"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/sql"
)

func TestQuery(t *testing.T) {
	e, err := sql.Open(sql.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	env := servertest.StartWith(t, servertest.Options{Query: e})
	c := client.New(env.URL, env.Token, nil)
	ctx := context.Background()

	res, err := c.Query(ctx, wire.QueryRequest{Query: "SELECT 9007199254740993::BIGINT AS big, i FROM range(5) t(i)", PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Integers beyond 2^53 keep every digit.
	if res.Rows[0][0] != json.Number("9007199254740993") || res.Columns[1] != (wire.QueryColumn{Name: "i", Type: "BIGINT"}) {
		t.Fatalf("first page: %+v", res)
	}
	n := len(res.Rows)
	for res.NextToken != "" {
		if res, err = c.NextPage(ctx, res.NextToken); err != nil {
			t.Fatal(err)
		}
		n += len(res.Rows)
	}
	if n != 5 || res.Stats.Rows != 5 {
		t.Fatalf("read %d rows, stats %+v", n, res.Stats)
	}

	_, err = c.Query(ctx, wire.QueryRequest{Query: "CREATE TABLE t (a INT)"})
	if e, ok := apierr.As(err); !ok || e.Code != "InvalidQuery" || e.Kind != apierr.Invalid {
		t.Fatalf("a CREATE: %v", err)
	}
	res, err = c.Query(ctx, wire.QueryRequest{Query: "SELECT * FROM range(5)", PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CancelQuery(ctx, res.QueryID); err != nil {
		t.Fatal(err)
	}
	_, err = c.NextPage(ctx, res.NextToken)
	if e, ok := apierr.As(err); !ok || e.Code != "NextTokenExpired" || e.Kind != apierr.Gone {
		t.Fatalf("the next page of a cancelled query: %v", err)
	}
}
