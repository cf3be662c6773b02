package server

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkDecodeLineProtocol decodes the 1000 cpu-like records of BenchmarkDecodeWrite
// written as line protocol, and reports records/s.
func BenchmarkDecodeLineProtocol(b *testing.B) {
	var body strings.Builder
	for _, r := range cpuWrite(1000).Records {
		body.WriteString("cpu")
		for _, d := range r.Dimensions {
			fmt.Fprintf(&body, ",%s=%s", d.Name, d.Value)
		}
		for i, m := range r.Measures {
			fmt.Fprintf(&body, "%c%s=%v", " ,"[min(i, 1)], m.Name, m.Value.F)
		}
		fmt.Fprintf(&body, " %d\n", r.Time*int64(time.Millisecond))
	}
	p := []byte(body.String())
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	var d lineDecoder
	now := time.Now()
	for b.Loop() {
		batches, err := d.decode(p, time.Nanosecond, now)
		if err != nil || len(batches) != 1 || len(batches[0].req.Records) != 1000 {
			b.Fatal(batches, err)
		}
	}
	b.ReportMetric(1000*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
