package tables

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
)

// The stable codes of the catalog's errors.
const (
	CodeDatabaseNotFound  = "DatabaseNotFound"
	CodeDatabaseExists    = "DatabaseExists"
	CodeDatabaseNotEmpty  = "DatabaseNotEmpty"
	CodeTableNotFound     = "TableNotFound"
	CodeTableExists       = "TableExists"
	CodeInvalidName       = "InvalidName"
	CodeInvalidRetention  = "InvalidRetention"
	CodeInvalidColumnType = "InvalidColumnType"
	CodeTypeConflict      = "TypeConflict"
)

// Limits and defaults of names and retention (see the package documentation).
const (
	MinNameLen = 3
	MaxNameLen = 256

	MinMemoryRetentionHours     = 1
	MaxMemoryRetentionHours     = 8766
	DefaultMemoryRetentionHours = 6

	MinMagneticRetentionDays     = 1
	MaxMagneticRetentionDays     = 73000
	DefaultMagneticRetentionDays = 73000
)

// Database is a database as Describe and List report it.
type Database struct {
	Name       string
	CreatedAt  time.Time
	TableCount int
}

// Table is a table's settings and learned schema.
type Table struct {
	Database string
	Name     string
	// MemoryRetentionHours is how long records stay in the memory tier.
	MemoryRetentionHours int
	// MagneticRetentionDays is how long records stay in the magnetic tier.
	MagneticRetentionDays int
	// MagneticWrites is whether writes older than the memory retention may go straight
	// to the magnetic tier instead of being rejected.
	MagneticWrites bool
	CreatedAt      time.Time
	// UpdatedAt is the time of the last change to the settings or the schema.
	UpdatedAt time.Time
	Schema    Schema
}

// TableOptions are the settings of CreateTable and UpdateTable. A nil field means the
// default when creating and no change when updating.
type TableOptions struct {
	MemoryRetentionHours  *int
	MagneticRetentionDays *int
	MagneticWrites        *bool
}

// Catalog holds the databases and tables. It is safe for concurrent use.
type Catalog struct {
	store Store
	now   func() time.Time

	mu  sync.RWMutex
	dbs map[string]*database
}

type database struct {
	name    string
	created time.Time
	tables  map[string]Table
}

// Open loads the catalog from store, which may be empty. now is the clock stamped on
// created and updated times; nil means time.Now.
func Open(store Store, now func() time.Time) (*Catalog, error) {
	if now == nil {
		now = time.Now
	}
	data, err := store.Load()
	if err != nil {
		return nil, fmt.Errorf("load table catalog: %w", err)
	}
	dbs, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("read table catalog: %w", err)
	}
	return &Catalog{store: store, now: now, dbs: dbs}, nil
}

// CreateDatabase creates an empty database.
func (c *Catalog) CreateDatabase(name string) (Database, error) {
	if err := checkName("database", name); err != nil {
		return Database{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.dbs[name]; ok {
		return Database{}, apierr.New(apierr.Conflict, CodeDatabaseExists, "database %q already exists", name)
	}
	for other := range c.dbs {
		if strings.EqualFold(other, name) {
			return Database{}, apierr.New(apierr.Conflict, CodeDatabaseExists,
				"database %q exists, and SQL does not tell names apart by case", other)
		}
	}
	db := &database{name: name, created: c.stamp(), tables: map[string]Table{}}
	next := c.with(name, db)
	if err := c.save(next); err != nil {
		return Database{}, fmt.Errorf("create database %q: %w", name, err)
	}
	c.dbs = next
	return db.describe(), nil
}

// DescribeDatabase returns the database called name.
func (c *Catalog) DescribeDatabase(name string) (Database, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	db, err := c.database(name)
	if err != nil {
		return Database{}, err
	}
	return db.describe(), nil
}

// ListDatabases returns every database, sorted by name.
func (c *Catalog) ListDatabases() []Database {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Database, 0, len(c.dbs))
	for _, db := range c.dbs {
		out = append(out, db.describe())
	}
	slices.SortFunc(out, func(a, b Database) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// DeleteDatabase deletes the database called name, which must hold no tables: deleting
// a table deletes its data, and that should be asked for table by table.
func (c *Catalog) DeleteDatabase(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	db, err := c.database(name)
	if err != nil {
		return err
	}
	if n := len(db.tables); n > 0 {
		return apierr.New(apierr.Conflict, CodeDatabaseNotEmpty,
			"database %q still holds %d tables; delete them first", name, n)
	}
	next := c.with(name, nil)
	if err := c.save(next); err != nil {
		return fmt.Errorf("delete database %q: %w", name, err)
	}
	c.dbs = next
	return nil
}

// CreateTable creates an empty table in database dbName.
func (c *Catalog) CreateTable(dbName, name string, opts TableOptions) (Table, error) {
	if err := checkName("table", name); err != nil {
		return Table{}, err
	}
	t := Table{
		Database:              dbName,
		Name:                  name,
		MemoryRetentionHours:  DefaultMemoryRetentionHours,
		MagneticRetentionDays: DefaultMagneticRetentionDays,
		Schema:                Schema{Measures: map[string]ColumnType{}},
	}
	if err := opts.apply(&t); err != nil {
		return Table{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	db, err := c.database(dbName)
	if err != nil {
		return Table{}, err
	}
	if _, ok := db.tables[name]; ok {
		return Table{}, apierr.New(apierr.Conflict, CodeTableExists, "table %q already exists in database %q", name, dbName)
	}
	for other := range db.tables {
		if strings.EqualFold(other, name) {
			return Table{}, apierr.New(apierr.Conflict, CodeTableExists,
				"table %q exists in database %q, and SQL does not tell names apart by case", other, dbName)
		}
	}
	t.CreatedAt = c.stamp()
	t.UpdatedAt = t.CreatedAt
	if err := c.putTable(db, t); err != nil {
		return Table{}, fmt.Errorf("create table %q.%q: %w", dbName, name, err)
	}
	return t.clone(), nil
}

// DescribeTable returns table name of database dbName.
func (c *Catalog) DescribeTable(dbName, name string) (Table, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, _, err := c.table(dbName, name)
	if err != nil {
		return Table{}, err
	}
	return t.clone(), nil
}

// ListTables returns the tables of database dbName, sorted by name.
func (c *Catalog) ListTables(dbName string) ([]Table, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	db, err := c.database(dbName)
	if err != nil {
		return nil, err
	}
	out := make([]Table, 0, len(db.tables))
	for _, t := range db.tables {
		out = append(out, t.clone())
	}
	slices.SortFunc(out, func(a, b Table) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// UpdateTable changes the settings opts sets and leaves the others. An update that
// changes nothing is not saved and leaves UpdatedAt alone.
func (c *Catalog) UpdateTable(dbName, name string, opts TableOptions) (Table, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, db, err := c.table(dbName, name)
	if err != nil {
		return Table{}, err
	}
	next := t
	if err := opts.apply(&next); err != nil {
		return Table{}, err
	}
	if next.MemoryRetentionHours == t.MemoryRetentionHours &&
		next.MagneticRetentionDays == t.MagneticRetentionDays &&
		next.MagneticWrites == t.MagneticWrites {
		return t.clone(), nil
	}
	next.UpdatedAt = c.stamp()
	if err := c.putTable(db, next); err != nil {
		return Table{}, fmt.Errorf("update table %q.%q: %w", dbName, name, err)
	}
	return next.clone(), nil
}

// DeleteTable deletes table name of database dbName.
func (c *Catalog) DeleteTable(dbName, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, db, err := c.table(dbName, name)
	if err != nil {
		return err
	}
	tables := maps.Clone(db.tables)
	delete(tables, name)
	next := c.with(dbName, &database{name: db.name, created: db.created, tables: tables})
	if err := c.save(next); err != nil {
		return fmt.Errorf("delete table %q.%q: %w", dbName, name, err)
	}
	c.dbs = next
	return nil
}

// LearnColumns merges cols into the schema of table name of database dbName (see
// Schema.Merge) and returns the table. A type conflict is a *TypeConflictError and
// changes nothing; columns the table already knows are not saved again.
func (c *Catalog) LearnColumns(dbName, name string, cols ...Column) (Table, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, db, err := c.table(dbName, name)
	if err != nil {
		return Table{}, err
	}
	schema, changed, err := t.Schema.Merge(cols...)
	if err != nil {
		return Table{}, fmt.Errorf("learn columns of table %q.%q: %w", dbName, name, err)
	}
	if !changed {
		return t.clone(), nil
	}
	t.Schema = schema
	t.UpdatedAt = c.stamp()
	if err := c.putTable(db, t); err != nil {
		return Table{}, fmt.Errorf("learn columns of table %q.%q: %w", dbName, name, err)
	}
	return t.clone(), nil
}

func (c *Catalog) stamp() time.Time { return c.now().Round(0).UTC() }

func (c *Catalog) database(name string) (*database, error) {
	db, ok := c.dbs[name]
	if !ok {
		return nil, apierr.New(apierr.NotFound, CodeDatabaseNotFound, "database %q does not exist", name)
	}
	return db, nil
}

func (c *Catalog) table(dbName, name string) (Table, *database, error) {
	db, err := c.database(dbName)
	if err != nil {
		return Table{}, nil, err
	}
	t, ok := db.tables[name]
	if !ok {
		return Table{}, nil, apierr.New(apierr.NotFound, CodeTableNotFound, "table %q does not exist in database %q", name, dbName)
	}
	return t, db, nil
}

// with returns a copy of the database map with name set to db, or removed if db is nil.
// Changes are built as copies and swapped in only once saved, so a failed save leaves
// the catalog as it was; the database structs themselves are never modified in place.
func (c *Catalog) with(name string, db *database) map[string]*database {
	next := maps.Clone(c.dbs)
	if db == nil {
		delete(next, name)
	} else {
		next[name] = db
	}
	return next
}

// putTable saves and applies db with t in it.
func (c *Catalog) putTable(db *database, t Table) error {
	tables := maps.Clone(db.tables)
	tables[t.Name] = t
	next := c.with(db.name, &database{name: db.name, created: db.created, tables: tables})
	if err := c.save(next); err != nil {
		return err
	}
	c.dbs = next
	return nil
}

func (c *Catalog) save(dbs map[string]*database) error {
	data, err := encode(dbs)
	if err != nil {
		return err
	}
	if err := c.store.Save(data); err != nil {
		return fmt.Errorf("save table catalog: %w", err)
	}
	return nil
}

func (db *database) describe() Database {
	return Database{Name: db.name, CreatedAt: db.created, TableCount: len(db.tables)}
}

// clone returns t with a schema the caller may modify without touching the catalog's.
func (t Table) clone() Table {
	t.Schema = t.Schema.clone()
	return t
}

func (o TableOptions) apply(t *Table) error {
	if o.MemoryRetentionHours != nil {
		h := *o.MemoryRetentionHours
		if h < MinMemoryRetentionHours || h > MaxMemoryRetentionHours {
			return apierr.New(apierr.Invalid, CodeInvalidRetention,
				"memory retention is %d hours; it must be %d to %d hours", h, MinMemoryRetentionHours, MaxMemoryRetentionHours)
		}
		t.MemoryRetentionHours = h
	}
	if o.MagneticRetentionDays != nil {
		d := *o.MagneticRetentionDays
		if d < MinMagneticRetentionDays || d > MaxMagneticRetentionDays {
			return apierr.New(apierr.Invalid, CodeInvalidRetention,
				"magnetic retention is %d days; it must be %d to %d days", d, MinMagneticRetentionDays, MaxMagneticRetentionDays)
		}
		t.MagneticRetentionDays = d
	}
	if o.MagneticWrites != nil {
		t.MagneticWrites = *o.MagneticWrites
	}
	return nil
}

// checkName enforces the naming rules of the package documentation on a database or
// table name; what says which.
func checkName(what, name string) error {
	if len(name) < MinNameLen || len(name) > MaxNameLen {
		return apierr.New(apierr.Invalid, CodeInvalidName,
			"%s name %q has %d characters; it must have %d to %d", what, name, len(name), MinNameLen, MaxNameLen)
	}
	for i, r := range name {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-' || r == '.') {
			return apierr.New(apierr.Invalid, CodeInvalidName,
				"%s name %q has %q at byte %d; a name has only ASCII letters, digits, '_', '-' and '.'", what, name, r, i)
		}
	}
	return nil
}
