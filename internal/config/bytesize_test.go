package config

import (
	"math"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    ByteSize
		wantErr string
	}{
		{in: "0", want: 0},
		{in: "1048576", want: 1 << 20},
		{in: "100B", want: 100},
		{in: "100KB", want: 100_000},
		{in: "1GB", want: 1_000_000_000},
		{in: "2MB", want: 2_000_000},
		{in: "3TB", want: 3_000_000_000_000},
		{in: "1KiB", want: 1024},
		{in: "512MiB", want: 512 << 20},
		{in: "10GiB", want: 10 << 30},
		{in: "2TiB", want: 2 << 40},
		{in: "1.5GiB", want: 3 << 29},
		{in: "10 GiB", want: 10 << 30},
		{in: " 64mib ", want: 64 << 20},
		{in: "0.5KB", want: 500},
		{in: "", wantErr: "must start with a non-negative number"},
		{in: "GiB", wantErr: "must start with a non-negative number"},
		{in: "-1GiB", wantErr: "must start with a non-negative number"},
		{in: "10XB", wantErr: `unknown unit "XB"`},
		{in: "10G", wantErr: `unknown unit "G"`},
		{in: "1.2.3MB", wantErr: `"1.2.3" is not a number`},
		{in: "1.5B", wantErr: "not a whole number of bytes"},
		{in: "0.1KiB", wantErr: "not a whole number of bytes"},
		{in: "9223372036854775808", wantErr: "too large"},
		{in: "8388608TiB", wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseByteSize(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseByteSize(%q) = %d, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), strings.TrimSpace(tt.in)) {
					t.Errorf("error %q does not show the input", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseByteSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestByteSizeString(t *testing.T) {
	tests := []struct {
		in   ByteSize
		want string
	}{
		{0, "0"},
		{1, "1"},
		{1000, "1KB"},
		{1024, "1KiB"},
		{1500, "1500"},
		{256 << 20, "256MiB"},
		{10 << 30, "10GiB"},
		{1_000_000_000_000, "1TB"},
		{3 << 40, "3TiB"},
		{1025, "1025"},
		{math.MaxInt64, "9223372036854775807"},
	}
	for _, tt := range tests {
		got := tt.in.String()
		if got != tt.want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		back, err := ParseByteSize(got)
		if err != nil || back != tt.in {
			t.Errorf("ParseByteSize(%q) = %d, %v; want round trip to %d", got, back, err, int64(tt.in))
		}
	}
}

func TestByteSizeAsFlag(t *testing.T) {
	b := ByteSize(1 << 20)
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.Var(&b, "size", "a size")
	if got := fs.Lookup("size").DefValue; got != "1MiB" {
		t.Errorf("DefValue = %q, want 1MiB", got)
	}
	if err := fs.Parse([]string{"--size", "2GiB"}); err != nil {
		t.Fatal(err)
	}
	if b != 2<<30 {
		t.Errorf("after --size 2GiB: %d, want %d", int64(b), int64(2<<30))
	}
	fs = pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.Var(&b, "size", "a size")
	err := fs.Parse([]string{"--size=lots"})
	if err == nil || !strings.Contains(err.Error(), "must start with a non-negative number") {
		t.Errorf("--size=lots: err = %v, want a parse error", err)
	}
}
