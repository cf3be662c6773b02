package wire

import "time"

// CreateDatabaseRequest is the body of POST /v1/databases.
type CreateDatabaseRequest struct {
	Name string `json:"name"`
}

// Database is the body of GET /v1/databases/{db} and of its creation, and one
// database in a list.
type Database struct {
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"createdAt"`
	TableCount int       `json:"tableCount"`
}

// ListDatabasesResponse is the body of GET /v1/databases.
type ListDatabasesResponse struct {
	Databases []Database `json:"databases"`
}

// CreateTableRequest is the body of POST /v1/databases/{db}/tables. A setting left out
// takes the default: 6 hours in memory, 73000 days in the magnetic tier, no magnetic
// writes.
type CreateTableRequest struct {
	Name                  string `json:"name"`
	MemoryRetentionHours  *int   `json:"memoryRetentionHours,omitempty"`
	MagneticRetentionDays *int   `json:"magneticRetentionDays,omitempty"`
	MagneticWrites        *bool  `json:"magneticWrites,omitempty"`
}

// UpdateTableRequest is the body of PATCH /v1/databases/{db}/tables/{table}; each
// setting given is applied, and at least one must be.
type UpdateTableRequest struct {
	MemoryRetentionHours  *int  `json:"memoryRetentionHours,omitempty"`
	MagneticRetentionDays *int  `json:"magneticRetentionDays,omitempty"`
	MagneticWrites        *bool `json:"magneticWrites,omitempty"`
}

// TableSummary is one table in a list: its settings without its schema.
type TableSummary struct {
	Database string `json:"database"`
	Name     string `json:"name"`
	// MemoryRetentionHours is how long records stay in the memory tier.
	MemoryRetentionHours int `json:"memoryRetentionHours"`
	// MagneticRetentionDays is how long records stay in the magnetic tier.
	MagneticRetentionDays int `json:"magneticRetentionDays"`
	// MagneticWrites is whether writes older than the memory retention go to the
	// magnetic tier instead of being rejected.
	MagneticWrites bool      `json:"magneticWrites"`
	CreatedAt      time.Time `json:"createdAt"`
	// UpdatedAt is the time of the last change to the settings or the schema.
	UpdatedAt time.Time `json:"updatedAt"`
}

// ListTablesResponse is the body of GET /v1/databases/{db}/tables.
type ListTablesResponse struct {
	Tables []TableSummary `json:"tables"`
}

// Table is the body of GET /v1/databases/{db}/tables/{table} and of the calls that
// create or change a table.
type Table struct {
	TableSummary
	Schema TableSchema `json:"schema"`
}

// TableSchema is what a table has learned from its writes.
type TableSchema struct {
	// Dimensions holds the dimension names, sorted; their values are strings.
	Dimensions []string `json:"dimensions"`
	// Measures are sorted by name.
	Measures []Measure `json:"measures"`
}

// Measure is a measure column and the type of its values: double, bigint, varchar,
// boolean or timestamp.
type Measure struct {
	Name string `json:"name"`
	Type string `json:"type"`
}
