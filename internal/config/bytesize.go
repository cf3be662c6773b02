package config

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// ByteSize is an amount of bytes that people write as "512MiB" or "10GB".
// It implements pflag.Value so it can back a flag directly.
type ByteSize int64

// byteUnits lists every unit ParseByteSize accepts. Both binary (KiB = 1024)
// and decimal (KB = 1000) units are accepted because disk vendors and
// operators use both, and silently reading "GB" as GiB would be off by 7%.
var byteUnits = []struct {
	name string
	size int64
}{
	{"B", 1},
	{"KiB", 1 << 10},
	{"MiB", 1 << 20},
	{"GiB", 1 << 30},
	{"TiB", 1 << 40},
	{"KB", 1e3},
	{"MB", 1e6},
	{"GB", 1e9},
	{"TB", 1e12},
}

// ParseByteSize parses a plain number of bytes ("1048576") or a number with
// a unit ("512MiB", "1.5GiB", "100KB", "10 GB"). Units are case-insensitive.
// The result must be a whole number of bytes that fits in an int64.
func ParseByteSize(s string) (ByteSize, error) {
	b, err := parseByteSize(s)
	if err != nil {
		return 0, fmt.Errorf("parse byte size %q: %w", s, err)
	}
	return b, nil
}

// parseByteSize returns errors that do not repeat the input, so callers that
// already show the value (pflag, SettingError) do not print it twice.
func parseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	end := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if end < 0 {
		end = len(s)
	}
	num, unit := s[:end], strings.TrimSpace(s[end:])
	if num == "" {
		return 0, errors.New("must start with a non-negative number, e.g. 512MiB")
	}
	size := int64(1)
	if unit != "" {
		found := false
		for _, u := range byteUnits {
			if strings.EqualFold(unit, u.name) {
				size, found = u.size, true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown unit %q (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", unit)
		}
	}
	// big.Rat keeps "1.5GiB" exact; float64 would round large values.
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("%q is not a number", num)
	}
	r.Mul(r, new(big.Rat).SetInt64(size))
	if !r.IsInt() {
		return 0, errors.New("is not a whole number of bytes")
	}
	if !r.Num().IsInt64() {
		return 0, errors.New("is too large")
	}
	return ByteSize(r.Num().Int64()), nil
}

// String renders b in the exact unit that gives the shortest text (binary
// units win ties), so 256 MiB prints as "256MiB" and 10^12 as "1TB"; sizes
// no unit divides print as plain numbers. The output parses back to b.
func (b ByteSize) String() string {
	if b <= 0 {
		return strconv.FormatInt(int64(b), 10)
	}
	best := ""
	for _, u := range byteUnits[1:] {
		if int64(b)%u.size != 0 {
			continue
		}
		if s := strconv.FormatInt(int64(b)/u.size, 10) + u.name; best == "" || len(s) < len(best) {
			best = s
		}
	}
	if best == "" {
		return strconv.FormatInt(int64(b), 10)
	}
	return best
}

// Set implements pflag.Value.
func (b *ByteSize) Set(s string) error {
	v, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// Type implements pflag.Value; pflag shows it as the argument name in help.
func (b *ByteSize) Type() string { return "bytes" }
