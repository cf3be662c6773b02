package tables

import (
	"maps"
	"slices"

	"github.com/eddy-streams/eddy/internal/apierr"
)

// ColumnType is the type of a measure's values.
type ColumnType string

// The measure types, Timestream's scalar types.
const (
	Double    ColumnType = "double"
	BigInt    ColumnType = "bigint"
	Varchar   ColumnType = "varchar"
	Boolean   ColumnType = "boolean"
	Timestamp ColumnType = "timestamp"
)

// Valid reports whether t is one of the measure types.
func (t ColumnType) Valid() bool {
	switch t {
	case Double, BigInt, Varchar, Boolean, Timestamp:
		return true
	}
	return false
}

// Column is a column learned from a write: a dimension, or a measure with its type.
type Column struct {
	Name string
	// Dimension is true for a dimension; a dimension's values are always strings and its
	// Type is empty.
	Dimension bool
	Type      ColumnType
}

// DimensionColumn returns the column of a dimension called name.
func DimensionColumn(name string) Column { return Column{Name: name, Dimension: true} }

// MeasureColumn returns the column of a measure called name with values of type t.
func MeasureColumn(name string, t ColumnType) Column { return Column{Name: name, Type: t} }

func (c Column) String() string {
	if c.Dimension {
		return "a dimension"
	}
	return "a " + string(c.Type) + " measure"
}

// Schema is what a table has learned from its writes.
type Schema struct {
	// Dimensions holds the dimension names, sorted.
	Dimensions []string
	// Measures maps each measure name to its type.
	Measures map[string]ColumnType
}

// Column returns the column called name, if the schema has one.
func (s Schema) Column(name string) (Column, bool) {
	if _, ok := slices.BinarySearch(s.Dimensions, name); ok {
		return DimensionColumn(name), true
	}
	if t, ok := s.Measures[name]; ok {
		return MeasureColumn(name, t), true
	}
	return Column{}, false
}

// Merge returns s with cols added, and whether anything was added; s itself is not
// changed. Columns already known with the same role and type are no-ops. If any column
// conflicts with s, or with an earlier column in cols, Merge returns a *TypeConflictError
// and adds none of them, so a write is learned entirely or not at all.
func (s Schema) Merge(cols ...Column) (Schema, bool, error) {
	out := s.clone()
	changed := false
	for _, c := range cols {
		if c.Name == "" {
			return s, false, apierr.New(apierr.Invalid, CodeInvalidName, "a column needs a name")
		}
		if !c.Dimension && !c.Type.Valid() {
			return s, false, apierr.New(apierr.Invalid, CodeInvalidColumnType,
				"measure %q has type %q; the types are double, bigint, varchar, boolean and timestamp", c.Name, c.Type)
		}
		if c.Dimension {
			c.Type = ""
		}
		if have, ok := out.Column(c.Name); ok {
			if have != c {
				return s, false, &TypeConflictError{Existing: have, New: c}
			}
			continue
		}
		changed = true
		if c.Dimension {
			i, _ := slices.BinarySearch(out.Dimensions, c.Name)
			out.Dimensions = slices.Insert(out.Dimensions, i, c.Name)
		} else {
			out.Measures[c.Name] = c.Type
		}
	}
	if !changed {
		return s, false, nil
	}
	return out, true, nil
}

// clone returns a deep copy of s whose Measures map is never nil.
func (s Schema) clone() Schema {
	out := Schema{Dimensions: slices.Clone(s.Dimensions), Measures: maps.Clone(s.Measures)}
	if out.Measures == nil {
		out.Measures = map[string]ColumnType{}
	}
	return out
}

// TypeConflictError is the error of a column learned with a role or type other than the
// one its table already has. Its code is TypeConflict.
type TypeConflictError struct {
	// Existing is the column as the table knows it; New is the column as the write gave it.
	Existing, New Column
}

func (e *TypeConflictError) Error() string { return e.Unwrap().Error() }

// Unwrap returns the API error, so apierr.As and apierr.CodeOf see the code.
func (e *TypeConflictError) Unwrap() error {
	return apierr.New(apierr.Conflict, CodeTypeConflict, "column %q is %s; it cannot also be %s",
		e.Existing.Name, e.Existing, e.New)
}
