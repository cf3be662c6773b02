package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// ConfigFlag names the flag (and, as EDDY_CONFIG, the environment variable)
// that points at the YAML config file. It is not a key inside that file.
const ConfigFlag = "config"

const configHelp = "YAML config file; its keys are the flag names, e.g. \"fsync: interval\""

// setting is one row of the table every other part of this package reads.
type setting struct {
	name string
	help string
	// field returns a pointer to the Config field the setting fills; its
	// type (*string, *int, *time.Duration, *ByteSize) decides the parsing.
	field func(c *Config) any
}

var settings = []setting{
	{"data-dir", "directory where eddy stores all its data",
		func(c *Config) any { return &c.DataDir }},
	{"http-addr", "listen address of the HTTP API",
		func(c *Config) any { return &c.HTTPAddr }},
	{"pg-addr", "listen address of the PostgreSQL wire protocol for psql, pgx, JDBC, Grafana and BI tools, e.g. 127.0.0.1:5432 (the password is an eddy token; statements are read-only); empty, the default, serves none",
		func(c *Config) any { return &c.PGAddr }},
	{"nats-url", "comma-separated URLs of an external NATS cluster; empty runs NATS JetStream embedded in eddy",
		func(c *Config) any { return &c.NATSURL }},
	{"nats-creds", "credentials file for the external NATS cluster (optional)",
		func(c *Config) any { return &c.NATSCreds }},
	{"fsync", "when JetStream syncs writes to disk: always (every write) or interval (every fsync-interval)",
		func(c *Config) any { return &c.Fsync }},
	{"fsync-interval", "how often JetStream syncs to disk when fsync is interval",
		func(c *Config) any { return &c.FsyncInterval }},
	{"max-store", "JetStream file store limit, e.g. 512MiB, 10GiB, 1GB; 0 means 75% of the free disk space of data-dir at start",
		func(c *Config) any { return &c.MaxStore }},
	{"max-memory", "JetStream memory store limit, e.g. 256MiB, 1GB",
		func(c *Config) any { return &c.MaxMemory }},
	{"replicas", "replicas of each stream on an external NATS cluster, 1 to 5; must be 1 when NATS is embedded",
		func(c *Config) any { return &c.Replicas }},
	{"dedupe-window", "how long producer record ids are remembered to drop duplicates, 1s to 24h",
		func(c *Config) any { return &c.DedupeWindow }},
	{"dedupe-max-ids", "most producer record ids remembered per stream, at least 1000",
		func(c *Config) any { return &c.DedupeMaxIDs }},
	{"log-level", "log level: debug, info, warn or error",
		func(c *Config) any { return &c.LogLevel }},
	{"log-format", "log format: text or json",
		func(c *Config) any { return &c.LogFormat }},
	{"shutdown-timeout", "how long shutdown waits for in-flight work before giving up",
		func(c *Config) any { return &c.ShutdownTimeout }},
	{"checkpoint-url", "where jobs keep checkpoints: file:///dir, s3://bucket (with ?endpoint=...&use_path_style=true for S3-compatible stores) or mem://; empty means <data-dir>/checkpoints",
		func(c *Config) any { return &c.CheckpointURL }},
	{"checkpoint-interval", "how often running jobs checkpoint their state and source positions",
		func(c *Config) any { return &c.CheckpointInterval }},
	{"restart-strategy", "how a failed job starts again from its latest checkpoint: exponential-backoff (restart-delay doubling to 1m), fixed-delay, failure-rate (gives up after more than 3 failures in 5m) or none",
		func(c *Config) any { return &c.RestartStrategy }},
	{"restart-delay", "delay before restarting a failed job (the first delay of the backoff)",
		func(c *Config) any { return &c.RestartDelay }},
	{"state-backend", "where hosted jobs keep keyed state: heap, or pebble (on disk under <data-dir>/state, with incremental checkpoints) for state larger than memory; a job restores only checkpoints of the backend it ran with",
		func(c *Config) any { return &c.StateBackend }},
	{"tables-magnetic-url", "where tables keep their magnetic tier (Parquet files): file:///dir or s3://bucket (with ?endpoint=...&use_path_style=true for S3-compatible stores; read through a local copy in <data-dir>/tables/cache); empty means <data-dir>/tables/magnetic",
		func(c *Config) any { return &c.TablesMagneticURL }},
	{"tiering-interval", "how often tables move rows older than the memory retention to the magnetic tier, drop partitions older than the magnetic retention and compact small files",
		func(c *Config) any { return &c.TieringInterval }},
	{"sql-memory-limit", "memory DuckDB may use (SQL queries and the tables' memory tier), e.g. 4GiB; 0 means DuckDB's default, 80% of the machine's memory",
		func(c *Config) any { return &c.SQLMemoryLimit }},
	{"query-max-timeout", "the longest timeout a SQL query may ask for; a query without one stops after 60s or this, whichever is shorter",
		func(c *Config) any { return &c.QueryMaxTimeout }},
}

// lookupSetting returns the table row for a flag name.
func lookupSetting(name string) (setting, bool) {
	for _, s := range settings {
		if s.name == name {
			return s, true
		}
	}
	return setting{}, false
}

// EnvVar returns the environment variable that sets the named flag:
// "fsync-interval" becomes "EDDY_FSYNC_INTERVAL".
func EnvVar(flag string) string {
	return "EDDY_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// set parses raw into the field of c. Errors describe only the problem, not
// the value, because every caller already reports the value.
func (s setting) set(c *Config, raw string) error {
	switch p := s.field(c).(type) {
	case *string:
		*p = raw
	case *int:
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		*p = n
	case *time.Duration:
		d, err := time.ParseDuration(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("not a duration (write e.g. 500ms, 30s, 2m, 1h)")
		}
		*p = d
	case *ByteSize:
		return p.Set(raw)
	default:
		panic(fmt.Sprintf("config: setting %s has unsupported field type %T", s.name, p))
	}
	return nil
}

// format renders the setting's value in c the way set parses it back.
func (s setting) format(c *Config) string {
	switch p := s.field(c).(type) {
	case *string:
		return *p
	case *int:
		return strconv.Itoa(*p)
	case *time.Duration:
		return formatDuration(*p)
	case *ByteSize:
		return p.String()
	default:
		panic(fmt.Sprintf("config: setting %s has unsupported field type %T", s.name, p))
	}
}

// kind is the argument name pflag shows in --help.
func (s setting) kind() string {
	switch s.field(&Config{}).(type) {
	case *int:
		return "int"
	case *time.Duration:
		return "duration"
	case *ByteSize:
		return "bytes"
	default:
		return "string"
	}
}

// formatDuration drops the zero tails time.Duration.String adds ("2m0s"),
// so help and docs read "2m" while staying parseable by time.ParseDuration.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Setting describes one server setting for documentation and for showing
// the effective configuration.
type Setting struct {
	// Name is the flag name without dashes and the config file key.
	Name string
	// Env is the environment variable that sets it.
	Env string
	// Default is the value used when nothing sets it.
	Default string
	// Value is the setting's value in the Config that produced this row.
	Value string
	// Help says what the setting does.
	Help string
}

// Settings lists every setting with its value in c, in --help order.
func (c Config) Settings() []Setting {
	def := Default()
	out := make([]Setting, 0, len(settings))
	for _, s := range settings {
		out = append(out, Setting{
			Name:    s.name,
			Env:     EnvVar(s.name),
			Default: s.format(&def),
			Value:   s.format(&c),
			Help:    s.help,
		})
	}
	return out
}

// MarkdownTable renders the configuration reference for the README: one row
// per flag, including --config.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| flag | env | default | meaning |\n")
	b.WriteString("| --- | --- | --- | --- |\n")
	row := func(name, def, help string) {
		if def == "" {
			def = "(empty)"
		} else {
			def = "`" + def + "`"
		}
		help = strings.ReplaceAll(help, "|", `\|`)
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s |\n", name, EnvVar(name), def, help)
	}
	row(ConfigFlag, "", configHelp)
	for _, s := range Default().Settings() {
		row(s.Name, s.Default, s.Help)
	}
	return b.String()
}

// AddFlags registers --config and one flag per setting on fs. The flags keep
// the text the user typed; Load reads it back and applies precedence, so the
// flag set holds no Config of its own.
func AddFlags(fs *pflag.FlagSet) {
	fs.String(ConfigFlag, "", fmt.Sprintf("%s (env %s)", configHelp, EnvVar(ConfigFlag)))
	def := Default()
	for _, s := range settings {
		v := &flagValue{s: s, raw: s.format(&def)}
		fs.Var(v, s.name, fmt.Sprintf("%s (env %s)", s.help, EnvVar(s.name)))
	}
}

// flagValue checks a flag's text with the setting's parser at parse time, so
// a bad flag fails with the same message as a bad environment variable.
type flagValue struct {
	s   setting
	raw string
}

func (v *flagValue) String() string { return v.raw }

func (v *flagValue) Set(raw string) error {
	var scratch Config
	if err := v.s.set(&scratch, raw); err != nil {
		return err
	}
	v.raw = raw
	return nil
}

func (v *flagValue) Type() string { return v.s.kind() }
