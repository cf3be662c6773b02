package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// cliRunner returns functions that run a fresh command from newCmd against the server
// at url, with the token found in dir as on the server's own machine: run returns the
// output and error, mustRun fails the test on an error.
func cliRunner(t *testing.T, newCmd func() *cobra.Command, url, dir string) (run func(args ...string) (string, error), mustRun func(args ...string) string) {
	run = func(args ...string) (string, error) {
		t.Helper()
		cmd := newCmd()
		cmd.SetArgs(append(args, "--server", url, "--data-dir", dir))
		var out, errOut bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		err := cmd.Execute()
		return out.String(), err
	}
	mustRun = func(args ...string) string {
		t.Helper()
		out, err := run(args...)
		if err != nil {
			t.Fatalf("eddy %s %s: %v", newCmd().Name(), strings.Join(args, " "), err)
		}
		return out
	}
	return run, mustRun
}
