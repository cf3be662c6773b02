package tables

import (
	"errors"
	"reflect"
	"testing"

	"github.com/eddy-streams/eddy/internal/apierr"
)

func TestSchemaMerge(t *testing.T) {
	base := Schema{Dimensions: []string{"host", "region"}, Measures: map[string]ColumnType{"cpu": Double, "up": Boolean}}
	for _, tc := range []struct {
		name     string
		cols     []Column
		want     Schema
		changed  bool
		code     string
		conflict *TypeConflictError
	}{
		{name: "nothing", want: base},
		{name: "known columns", cols: []Column{DimensionColumn("host"), MeasureColumn("cpu", Double)}, want: base},
		{
			name: "new dimension sorts in", cols: []Column{DimensionColumn("az")}, changed: true,
			want: Schema{Dimensions: []string{"az", "host", "region"}, Measures: base.Measures},
		},
		{
			name: "every measure type", changed: true,
			cols: []Column{MeasureColumn("a", BigInt), MeasureColumn("b", Varchar), MeasureColumn("c", Timestamp)},
			want: Schema{Dimensions: base.Dimensions, Measures: map[string]ColumnType{
				"cpu": Double, "up": Boolean, "a": BigInt, "b": Varchar, "c": Timestamp,
			}},
		},
		{
			name: "measure changes type", cols: []Column{MeasureColumn("mem", Double), MeasureColumn("cpu", BigInt)},
			code: CodeTypeConflict, conflict: &TypeConflictError{Existing: MeasureColumn("cpu", Double), New: MeasureColumn("cpu", BigInt)},
		},
		{
			name: "dimension becomes measure", cols: []Column{MeasureColumn("host", Varchar)},
			code: CodeTypeConflict, conflict: &TypeConflictError{Existing: DimensionColumn("host"), New: MeasureColumn("host", Varchar)},
		},
		{
			name: "measure becomes dimension", cols: []Column{DimensionColumn("up")},
			code: CodeTypeConflict, conflict: &TypeConflictError{Existing: MeasureColumn("up", Boolean), New: DimensionColumn("up")},
		},
		{
			name: "conflict within one write", cols: []Column{MeasureColumn("mem", Double), MeasureColumn("mem", BigInt)},
			code: CodeTypeConflict, conflict: &TypeConflictError{Existing: MeasureColumn("mem", Double), New: MeasureColumn("mem", BigInt)},
		},
		{name: "unknown type", cols: []Column{MeasureColumn("mem", "float")}, code: CodeInvalidColumnType},
		{name: "no name", cols: []Column{DimensionColumn("")}, code: CodeInvalidName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := base.clone()
			got, changed, err := base.Merge(tc.cols...)
			if !reflect.DeepEqual(base, before) {
				t.Fatalf("Merge changed its receiver to %+v", base)
			}
			if apierr.CodeOf(err) != tc.code {
				t.Fatalf("got error %v, want code %q", err, tc.code)
			}
			if tc.code != "" {
				if !reflect.DeepEqual(got, base) || changed {
					t.Errorf("a rejected merge returned %+v, changed %v; want the schema unchanged", got, changed)
				}
				if tc.conflict != nil {
					var c *TypeConflictError
					if !errors.As(err, &c) || *c != *tc.conflict {
						t.Errorf("got %#v, want %#v", err, tc.conflict)
					}
				}
				return
			}
			if !reflect.DeepEqual(got, tc.want) || changed != tc.changed {
				t.Errorf("got %+v changed %v, want %+v changed %v", got, changed, tc.want, tc.changed)
			}
		})
	}
}

func TestTypeConflictMessage(t *testing.T) {
	err := error(&TypeConflictError{Existing: DimensionColumn("host"), New: MeasureColumn("host", Varchar)})
	const want = `TypeConflict: column "host" is a dimension; it cannot also be a varchar measure`
	if err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	if e, ok := apierr.As(err); !ok || e.Kind != apierr.Conflict {
		t.Errorf("apierr.As: %v, %v", e, ok)
	}
}
