package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

var (
	fsyncModes = []string{FsyncAlways, FsyncEveryInterval}
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"text", "json"}
	natsScheme = []string{"nats", "tls", "ws", "wss"}
)

const (
	maxReplicas     = 5 // the most JetStream supports for one stream
	minDedupeWindow = time.Second
	maxDedupeWindow = 24 * time.Hour
	minDedupeMaxIDs = 1000
)

// Validate reports every setting of c that eddy cannot run with, each as a
// *SettingError, joined with errors.Join.
func (c Config) Validate() error {
	var errs []error
	for _, e := range c.problems() {
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// problems returns SettingErrors without a source; Load fills it in because
// only Load knows where each value came from.
func (c Config) problems() []*SettingError {
	var out []*SettingError
	bad := func(name, reason string, args ...any) {
		s, ok := lookupSetting(name)
		if !ok {
			panic("config: validation names unknown setting " + name)
		}
		out = append(out, &SettingError{Setting: name, Value: s.format(&c), Reason: fmt.Sprintf(reason, args...)})
	}
	oneOf := func(name, v string, allowed []string) {
		if !slices.Contains(allowed, v) {
			bad(name, "must be one of %s", strings.Join(allowed, ", "))
		}
	}

	if strings.TrimSpace(c.DataDir) == "" {
		bad("data-dir", "must not be empty")
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("http-addr", "must be host:port, e.g. 127.0.0.1:7070 or :7070")
	}
	if c.PGAddr != "" {
		if _, _, err := net.SplitHostPort(c.PGAddr); err != nil {
			bad("pg-addr", "must be host:port, e.g. 127.0.0.1:5432, or empty to serve no PostgreSQL wire protocol")
		}
	}
	if !c.Embedded() {
		if reason := checkNATSURLs(c.NATSURL); reason != "" {
			bad("nats-url", "%s", reason)
		}
	}
	if c.Embedded() && c.NATSCreds != "" {
		bad("nats-creds", "is only used with an external NATS cluster; set nats-url too, or leave nats-creds empty")
	}
	oneOf("fsync", c.Fsync, fsyncModes)
	if c.FsyncInterval <= 0 {
		bad("fsync-interval", "must be greater than 0")
	}
	if c.MaxStore < 0 {
		bad("max-store", "must not be negative (0 means 75%% of the free disk space)")
	}
	if c.MaxMemory <= 0 {
		bad("max-memory", "must be greater than 0")
	}
	switch {
	case c.Replicas < 1 || c.Replicas > maxReplicas:
		bad("replicas", "must be between 1 and %d", maxReplicas)
	case c.Embedded() && c.Replicas != 1:
		bad("replicas", "must be 1 when NATS runs embedded (nats-url is empty); set nats-url to use an external cluster")
	}
	if c.DedupeWindow < minDedupeWindow || c.DedupeWindow > maxDedupeWindow {
		bad("dedupe-window", "must be between %s and %s", formatDuration(minDedupeWindow), formatDuration(maxDedupeWindow))
	}
	if c.DedupeMaxIDs < minDedupeMaxIDs {
		bad("dedupe-max-ids", "must be at least %d", minDedupeMaxIDs)
	}
	oneOf("log-level", c.LogLevel, logLevels)
	oneOf("log-format", c.LogFormat, logFormats)
	switch c.RestartStrategy {
	case "exponential-backoff", "fixed-delay", "failure-rate", "none":
	default:
		bad("restart-strategy", "must be one of exponential-backoff, fixed-delay, failure-rate, none")
	}
	if c.StateBackend != "heap" && c.StateBackend != "pebble" {
		bad("state-backend", "must be heap or pebble")
	}
	if c.RestartDelay <= 0 {
		bad("restart-delay", "must be greater than 0")
	}
	if c.TieringInterval < 100*time.Millisecond {
		bad("tiering-interval", "must be at least 100ms")
	}
	if c.SQLMemoryLimit != 0 && c.SQLMemoryLimit < 64<<20 {
		bad("sql-memory-limit", "must be 0 (DuckDB's default) or at least 64MiB")
	}
	if c.QueryMaxTimeout < time.Second {
		bad("query-max-timeout", "must be at least 1s")
	}
	if c.CheckpointInterval < 10*time.Millisecond {
		bad("checkpoint-interval", "must be at least 10ms")
	}
	if c.ShutdownTimeout <= 0 {
		bad("shutdown-timeout", "must be greater than 0")
	}
	return out
}

// checkNATSURLs mirrors how the NATS client reads the list (comma-separated,
// blanks skipped, nats:// assumed without a scheme) so that a typo fails at
// start with a clear message instead of as a connection error later.
func checkNATSURLs(list string) string {
	n := 0
	for _, raw := range strings.Split(list, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		n++
		s := raw
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		if err != nil || u.Hostname() == "" {
			return fmt.Sprintf("%q is not a NATS URL such as nats://host:4222", raw)
		}
		if !slices.Contains(natsScheme, u.Scheme) {
			return fmt.Sprintf("%q has scheme %q; use one of %s", raw, u.Scheme, strings.Join(natsScheme, ", "))
		}
	}
	if n == 0 {
		return "lists no URL; leave it empty to run NATS embedded"
	}
	return ""
}
