package flow_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/eddy-streams/eddy/flow"
)

// Fuel readings are written to text files, one line per reading; each subtask writes its
// own part file.
func ExampleToFiles() {
	dir, _ := os.MkdirTemp("", "fuel")
	defer os.RemoveAll(dir)
	job := flow.NewJob("fuel-log")
	readings := flow.FromSlice(job, "readings", []string{"truck-1 42%", "truck-2 17%"}, flow.SourceOptions[string]{})
	flow.ToFiles(readings, "log", dir, func(line string) []byte { return []byte(line) })
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
		return
	}
	data, _ := os.ReadFile(filepath.Join(dir, "part-0-final.txt"))
	fmt.Print(string(data))
	// Output:
	// truck-1 42%
	// truck-2 17%
}
