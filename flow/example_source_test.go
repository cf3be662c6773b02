package flow_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/flow"
)

func ExampleFromSlice() {
	job := flow.NewJob("fleet")
	fixes := flow.FromSlice(job, "fixes", []Reading{
		{Truck: "truck-7", KmH: 82, Time: 1_000},
		{Truck: "truck-9", KmH: 0, Time: 1_500},
	}, flow.SourceOptions[Reading]{Timestamp: Reading.EventTime})
	flow.Sink(fixes, "log", func(r Reading, ts int64) error {
		fmt.Printf("%v (event time %d)\n", r, ts)
		return nil
	})
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	// Output:
	// truck-7@1s: 82 km/h (event time 1000)
	// truck-9@1.5s: 0 km/h (event time 1500)
}

func ExampleFromGenerator() {
	const trucks = 6
	job := flow.NewJob("fleet-simulator")
	// Two subtasks each simulate half of the fleet: subtask i drives trucks i, i+2, …
	fixes := flow.FromGenerator(job, "simulator", 2, func(subtask, parallelism int) func(*Reading) bool {
		truck := subtask
		return func(r *Reading) bool {
			if truck >= trucks {
				return false
			}
			*r = Reading{Truck: fmt.Sprintf("truck-%d", truck), KmH: float64(80 + truck)}
			truck += parallelism
			return true
		}
	}, flow.SourceOptions[Reading]{})
	out := flow.Collect(fixes)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	got := out.Values() // the subtasks run concurrently
	slices.SortFunc(got, func(a, b Reading) int { return strings.Compare(a.Truck, b.Truck) })
	for _, r := range got {
		fmt.Println(r)
	}
	// Output:
	// truck-0@0s: 80 km/h
	// truck-1@0s: 81 km/h
	// truck-2@0s: 82 km/h
	// truck-3@0s: 83 km/h
	// truck-4@0s: 84 km/h
	// truck-5@0s: 85 km/h
}

func ExampleBoundedOutOfOrderness() {
	// A source emits its watermark after every batch of records: batches of one record
	// make the watermark advance record by record.
	job := flow.NewJob("late-fixes", flow.JobOptions{BatchSize: 1})
	fixes := flow.FromSlice(job, "fixes", []Reading{
		{Truck: "truck-7", Time: 10_000},
		{Truck: "truck-7", Time: 14_000},
		{Truck: "truck-7", Time: 12_000}, // 2 s behind the latest fix: within the bound
		{Truck: "truck-7", Time: 20_000},
		{Truck: "truck-7", Time: 15_000}, // 5 s behind: the watermark has passed it
	}, flow.SourceOptions[Reading]{
		Timestamp:  Reading.EventTime,
		Watermarks: flow.BoundedOutOfOrderness(3 * time.Second),
	})
	perTruck := flow.KeyBy(fixes, func(r Reading) string { return r.Truck })
	checked := flow.Process(perTruck, "check", func(*flow.Runtime[string]) flow.KeyedProcessor[string, Reading, string] {
		return flow.KeyedProcessor[string, Reading, string]{
			Element: func(ctx *flow.ProcessContext[string, string], r Reading) {
				if r.Time <= ctx.Watermark() {
					ctx.Emit(fmt.Sprintf("fix @%v: late, the watermark is at %v", at(r.Time), at(ctx.Watermark())))
					return
				}
				ctx.Emit(fmt.Sprintf("fix @%v: on time", at(r.Time)))
			},
		}
	})
	out := flow.Collect(checked)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	for _, s := range out.Values() {
		fmt.Println(s)
	}
	// Output:
	// fix @10s: on time
	// fix @14s: on time
	// fix @12s: on time
	// fix @20s: on time
	// fix @15s: late, the watermark is at 16.999s
}
