// Package sql is eddy's one boundary with DuckDB, the embedded SQL engine that answers
// queries on tables. Nothing else imports the DuckDB driver.
//
// DuckDB runs in-process with an in-memory database. It is opened so that it can never
// download anything (extension auto-install and auto-load are off; the extensions it
// needs, parquet among them, are built in) and so that a query can read files only under
// the directories eddy names.
package sql
