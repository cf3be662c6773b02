// Package benchfmt formats the figures of eddy's benchmark reports the same way in every
// `eddy bench` command.
package benchfmt

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Mark is ✓ for a met target and ✗ for a missed one.
func Mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

// Count writes a rounded number with thousands separators: 1234567 → "1,234,567".
func Count(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && c != '-' && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Short writes a number with a k or M suffix: 250000 → "250k".
func Short(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// Millis writes a duration given in milliseconds with a unit that keeps it short:
// "850µs", "4.20ms", "35.1ms", "420ms", "2.31s".
func Millis(ms float64) string {
	switch {
	case ms < 1:
		return fmt.Sprintf("%.0fµs", ms*1000)
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1fms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.0fms", ms)
	}
	return fmt.Sprintf("%.2fs", ms/1000)
}

// WriteJSON writes a report as indented JSON, the --output json of every command.
func WriteJSON(w io.Writer, report any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(report)
}

// ErrWriter keeps the first write error, so table code need not check each print.
type ErrWriter struct {
	W   io.Writer
	Err error
}

func (e *ErrWriter) Write(b []byte) (int, error) {
	if e.Err != nil {
		return 0, e.Err
	}
	n, err := e.W.Write(b)
	e.Err = err
	return n, err
}

// Printf formats to the writer unless an earlier write failed.
func (e *ErrWriter) Printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }
