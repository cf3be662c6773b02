package server

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestSplitStatements(t *testing.T) {
	for _, c := range []struct{ q, want string }{
		{"", ""},
		{" ; -- nothing\n;", ""},
		{"SELECT 1", "SELECT 1"},
		{"SELECT 1; SELECT 2;", "SELECT 1|SELECT 2"},
		{"SELECT ';' AS a; SELECT \"x;y\" FROM t", "SELECT ';' AS a|SELECT \"x;y\" FROM t"},
		{"SELECT 'it''s;' ; SELECT E'\\';'", "SELECT 'it''s;'|SELECT E'\\';'"},
		{"SELECT $$a;b$$; SELECT $tag$ ; $x$ ; $tag$", "SELECT $$a;b$$|SELECT $tag$ ; $x$ ; $tag$"},
		{"SELECT $1; SELECT $2", "SELECT $1|SELECT $2"},
		{"SELECT 1 /* a; /* nested; */ b; */; SELECT 2 -- c;\n", "SELECT 1 /* a; /* nested; */ b; */|SELECT 2 -- c;"},
	} {
		if got := strings.Join(splitStatements(c.q), "|"); got != c.want {
			t.Errorf("splitStatements(%q) = %q, want %q", c.q, got, c.want)
		}
	}
}

func TestFloatText(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want string
	}{
		{1795656840, "1795656840"}, {0.1, "0.1"}, {1e15, "1e+15"}, {1e14, "100000000000000"},
		{0.00001, "1e-05"}, {0.0001, "0.0001"}, {0, "0"}, {-2.5, "-2.5"},
		{math.NaN(), "NaN"}, {math.Inf(1), "Infinity"}, {math.Inf(-1), "-Infinity"},
	} {
		if got := floatText(c.f, 64); got != c.want {
			t.Errorf("floatText(%v) = %q, want %q", c.f, got, c.want)
		}
	}
	if got := floatText(float64(float32(1.1)), 32); got != "1.1" {
		t.Errorf("float4 1.1 = %q", got)
	}
}

func TestParsePGDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0": 0, "1500": 1500 * time.Millisecond, "2s": 2 * time.Second, "1min": time.Minute, "300ms": 300 * time.Millisecond, "DEFAULT": 0,
	} {
		if got, err := parsePGDuration(in); err != nil || got != want {
			t.Errorf("parsePGDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"soon", "5 fortnights", "-1"} {
		if _, err := parsePGDuration(in); err == nil {
			t.Errorf("parsePGDuration(%q) accepted", in)
		}
	}
}
