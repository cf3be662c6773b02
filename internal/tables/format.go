package tables

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// formatVersion is the version of the catalog document this code reads and writes.
const formatVersion = 1

type catalogDoc struct {
	Version   int           `json:"version"`
	Databases []databaseDoc `json:"databases"`
}

type databaseDoc struct {
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"createdAt"`
	Tables    []tableDoc `json:"tables"`
}

type tableDoc struct {
	Name                  string    `json:"name"`
	MemoryRetentionHours  int       `json:"memoryRetentionHours"`
	MagneticRetentionDays int       `json:"magneticRetentionDays"`
	MagneticWrites        bool      `json:"magneticWrites"`
	CreatedAt             time.Time `json:"createdAt"`
	UpdatedAt             time.Time `json:"updatedAt"`
	Schema                schemaDoc `json:"schema"`
}

type schemaDoc struct {
	Dimensions []string              `json:"dimensions"`
	Measures   map[string]ColumnType `json:"measures"`
}

func encode(dbs map[string]*database) ([]byte, error) {
	doc := catalogDoc{Version: formatVersion, Databases: make([]databaseDoc, 0, len(dbs))}
	for _, db := range dbs {
		d := databaseDoc{Name: db.name, CreatedAt: db.created, Tables: make([]tableDoc, 0, len(db.tables))}
		for _, t := range db.tables {
			s := t.Schema.clone()
			if s.Dimensions == nil {
				s.Dimensions = []string{}
			}
			d.Tables = append(d.Tables, tableDoc{
				Name:                  t.Name,
				MemoryRetentionHours:  t.MemoryRetentionHours,
				MagneticRetentionDays: t.MagneticRetentionDays,
				MagneticWrites:        t.MagneticWrites,
				CreatedAt:             t.CreatedAt,
				UpdatedAt:             t.UpdatedAt,
				Schema:                schemaDoc(s),
			})
		}
		slices.SortFunc(d.Tables, func(a, b tableDoc) int { return strings.Compare(a.Name, b.Name) })
		doc.Databases = append(doc.Databases, d)
	}
	slices.SortFunc(doc.Databases, func(a, b databaseDoc) int { return strings.Compare(a.Name, b.Name) })
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode table catalog: %w", err)
	}
	return append(data, '\n'), nil
}

// decode reads a catalog document, checking what a hand edit or a bug could have broken
// so that a bad catalog fails at startup rather than at the first write.
func decode(data []byte) (map[string]*database, error) {
	dbs := map[string]*database{}
	if len(data) == 0 {
		return dbs, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var doc catalogDoc
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if doc.Version != formatVersion {
		return nil, fmt.Errorf("catalog format version %d; this eddy reads version %d", doc.Version, formatVersion)
	}
	for _, d := range doc.Databases {
		if err := checkName("database", d.Name); err != nil {
			return nil, err
		}
		if _, ok := dbs[d.Name]; ok {
			return nil, fmt.Errorf("database %q appears twice", d.Name)
		}
		db := &database{name: d.Name, created: d.CreatedAt, tables: make(map[string]Table, len(d.Tables))}
		for _, td := range d.Tables {
			t, err := decodeTable(d.Name, td)
			if err != nil {
				return nil, fmt.Errorf("table %q.%q: %w", d.Name, td.Name, err)
			}
			if _, ok := db.tables[t.Name]; ok {
				return nil, fmt.Errorf("table %q.%q appears twice", d.Name, t.Name)
			}
			db.tables[t.Name] = t
		}
		dbs[d.Name] = db
	}
	return dbs, nil
}

func decodeTable(dbName string, td tableDoc) (Table, error) {
	if err := checkName("table", td.Name); err != nil {
		return Table{}, err
	}
	t := Table{Database: dbName, Name: td.Name, CreatedAt: td.CreatedAt, UpdatedAt: td.UpdatedAt}
	opts := TableOptions{
		MemoryRetentionHours:  &td.MemoryRetentionHours,
		MagneticRetentionDays: &td.MagneticRetentionDays,
		MagneticWrites:        &td.MagneticWrites,
	}
	if err := opts.apply(&t); err != nil {
		return Table{}, err
	}
	// Merging the stored columns into an empty schema checks their types and that no
	// name is both a dimension and a measure, and sorts the dimensions.
	cols := make([]Column, 0, len(td.Schema.Dimensions)+len(td.Schema.Measures))
	for _, name := range td.Schema.Dimensions {
		cols = append(cols, DimensionColumn(name))
	}
	for name, typ := range td.Schema.Measures {
		cols = append(cols, MeasureColumn(name, typ))
	}
	schema, _, err := Schema{}.Merge(cols...)
	if err != nil {
		return Table{}, err
	}
	t.Schema = schema.clone()
	return t, nil
}
