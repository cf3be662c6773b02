package servertest

import (
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/eddy-streams/eddy/internal/auth"
	"github.com/eddy-streams/eddy/internal/server"
)

// StartAPI starts the API server that server.New makes of opts. Unlike Start it makes
// nothing else: opts holds the fakes or the catalog a test needs. Its Auth is the token
// store in dir, given an admin token as eddy serve does; token is that token, read from
// dir's admin token file if the store already had one. The server stops when the test
// ends, or earlier with hs.Close.
func StartAPI(tb testing.TB, dir string, opts server.Options) (hs *httptest.Server, token string) {
	tb.Helper()
	tokens, err := auth.Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tokenFile := filepath.Join(dir, auth.AdminTokenFile)
	token, _, err = tokens.EnsureAdmin(tokenFile)
	if err != nil {
		tb.Fatal(err)
	}
	if token == "" {
		if token, err = auth.ReadTokenFile(tokenFile); err != nil {
			tb.Fatal(err)
		}
	}
	opts.Auth = tokens
	hs = httptest.NewServer(server.New(opts).Handler())
	tb.Cleanup(hs.Close)
	return hs, token
}
