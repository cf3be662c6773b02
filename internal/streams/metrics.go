package streams

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	recordsPut     *prometheus.CounterVec
	bytesPut       *prometheus.CounterVec
	putFailed      *prometheus.CounterVec
	duplicates     *prometheus.CounterVec
	recordsRead    prometheus.Counter
	batchRecords   prometheus.Histogram
	publishSeconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		recordsPut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eddy_stream_records_put_total", Help: "Records stored by puts.",
		}, []string{"stream"}),
		bytesPut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eddy_stream_bytes_put_total", Help: "Data bytes of records stored by puts.",
		}, []string{"stream"}),
		putFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eddy_stream_records_failed_total", Help: "Records a put reported as not stored, by error code.",
		}, []string{"stream", "code"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eddy_stream_records_duplicate_total", Help: "Records recognised as repeats of a producer record id.",
		}, []string{"stream"}),
		recordsRead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "eddy_stream_records_read_total", Help: "Records returned by reads.",
		}),
		batchRecords: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "eddy_stream_batch_records", Help: "Records per stored batch message (group commit size).",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		publishSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "eddy_stream_publish_seconds", Help: "Time to store one batch message in JetStream, fsync included.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16),
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.recordsPut, m.bytesPut, m.putFailed, m.duplicates, m.recordsRead, m.batchRecords, m.publishSeconds} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register streams metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *metrics) observePut(stream string, results []PutResult, recs []Record) {
	var stored, dups, bytes int
	for i := range results {
		switch r := &results[i]; {
		case r.Err != nil:
			m.putFailed.WithLabelValues(stream, r.Err.Code).Inc()
		case r.Duplicate:
			dups++
		default:
			stored++
			bytes += len(recs[i].Data)
		}
	}
	m.recordsPut.WithLabelValues(stream).Add(float64(stored))
	m.bytesPut.WithLabelValues(stream).Add(float64(bytes))
	if dups > 0 {
		m.duplicates.WithLabelValues(stream).Add(float64(dups))
	}
}
