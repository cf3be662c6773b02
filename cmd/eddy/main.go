// Command eddy is one binary for streams, jobs, tables and the exchange: `eddy serve`
// runs the server, the other subcommands talk to it or run tools such as benchmarks.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "eddy:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "eddy",
		Short:         "Streams, stateful stream processing, time-series tables and a data exchange in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newStreamCmd(), newJobCmd(), newTableCmd(), newScheduledQueryCmd(), newSQLCmd(), newBenchCmd(), newVerifyCmd())
	return root
}
