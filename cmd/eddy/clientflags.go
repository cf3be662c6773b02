package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/eddy-streams/eddy/internal/auth"
	"github.com/eddy-streams/eddy/internal/client"
	"github.com/eddy-streams/eddy/internal/config"
)

// defaultServer is where the CLI looks for a server: eddy serve's default address.
const defaultServer = "http://127.0.0.1:7070"

// clientFlags are the flags of every command that talks to a running server.
type clientFlags struct {
	server  string
	token   string
	dataDir string
	output  string
	// formats are the --output values the command takes; nil means table and json.
	formats []string
}

// addClientFlags gives cmd and its subcommands the client flags.
func addClientFlags(cmd *cobra.Command) *clientFlags {
	f := &clientFlags{}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.server, "server", defaultServer, "URL of the eddy server (env EDDY_SERVER)")
	pf.StringVar(&f.token, "token", "", "bearer token (env EDDY_TOKEN; default: the admin token in <data-dir>/"+auth.AdminTokenFile+")")
	pf.StringVar(&f.dataDir, "data-dir", config.Default().DataDir, "data dir of a server on this machine, where its admin token is (env "+config.EnvVar("data-dir")+")")
	pf.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	return f
}

// setting returns a client flag's value: the flag if given, else the environment
// variable if set, else the flag's default.
func setting(cmd *cobra.Command, flag, value, env string) string {
	if cmd.Flags().Changed(flag) {
		return value
	}
	if v, ok := os.LookupEnv(env); ok && v != "" {
		return v
	}
	return value
}

// connect returns a client of the server the flags name.
func (f *clientFlags) connect(cmd *cobra.Command) (*client.Client, error) {
	formats := f.formats
	if formats == nil {
		formats = []string{"table", "json"}
	}
	if !slices.Contains(formats, f.output) {
		return nil, fmt.Errorf("--output must be %s, got %q", strings.Join(formats, " or "), f.output)
	}
	server := setting(cmd, "server", f.server, "EDDY_SERVER")
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	token := setting(cmd, "token", f.token, "EDDY_TOKEN")
	if token == "" {
		path := filepath.Join(setting(cmd, "data-dir", f.dataDir, config.EnvVar("data-dir")), auth.AdminTokenFile)
		var err error
		if token, err = auth.ReadTokenFile(path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("no token: pass --token or set EDDY_TOKEN, or point --data-dir (EDDY_DATA_DIR) at the data dir of a server on this machine (%s does not exist)", path)
			}
			return nil, err
		}
	}
	return client.New(server, token, nil), nil
}

func (f *clientFlags) json() bool { return f.output == "json" }

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newTable returns a writer that aligns tab-separated columns; Flush prints them.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// writeJSONLine prints v as one line of JSON.
func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
