package benchfmt

import (
	"strings"
	"testing"
)

func TestFormats(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Count(1234567.4), "1,234,567"}, {Count(999), "999"}, {Count(1000), "1,000"},
		{Short(250000), "250k"}, {Short(2e6), "2M"}, {Short(12), "12"},
		{Millis(0.85), "850µs"}, {Millis(4.2), "4.20ms"}, {Millis(35.1), "35.1ms"}, {Millis(420), "420ms"}, {Millis(2310), "2.31s"},
		{Mark(true), "✓"}, {Mark(false), "✗"},
	} {
		if c.got != c.want {
			t.Errorf("got %q want %q", c.got, c.want)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	var b strings.Builder
	if err := WriteJSON(&b, struct {
		Runs int `json:"runs"`
	}{3}); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"runs\": 3\n}\n"; b.String() != want {
		t.Errorf("got %q want %q", b.String(), want)
	}
}
