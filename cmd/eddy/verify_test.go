package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func runVerify(t *testing.T, args ...string) (stdout string, err error) {
	t.Helper()
	cmd := newVerifyCmd()
	cmd.SetArgs(args)
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err = cmd.Execute()
	return out.String(), err
}

func TestVerifyExactlyOnceRejectsWhatItCannotRun(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-eddy")
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--events", "5"}, "events (5) must be at least keys (20)"},
		{[]string{"--kills", "-1"}, "kills must be 0 or more"},
		{[]string{"--checkpoint-interval", "0s"}, "checkpoint interval must be at least 1ms"},
		{[]string{"--binary", missing, "--data-dir", t.TempDir()}, "start " + missing + " serve"},
	} {
		out, err := runVerify(t, append([]string{"exactly-once"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("verify exactly-once %s: err %v, want %q", strings.Join(tc.args, " "), err, tc.err)
		}
		if out != "" {
			t.Errorf("verify exactly-once %s printed a verdict for a run it could not make:\n%s", strings.Join(tc.args, " "), out)
		}
	}
}
