package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// loadWith runs Load the way the server does: flags from AddFlags parsed
// from args, an environment from a map, and file (if not empty) written to
// a temporary eddy.yaml that EDDY_CONFIG points at unless env already names
// a config file.
func loadWith(t *testing.T, args []string, env map[string]string, file string) (Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("eddy", pflag.ContinueOnError)
	AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse flags %q: %v", args, err)
	}
	envCopy := make(map[string]string, len(env)+1)
	for k, v := range env {
		envCopy[k] = v
	}
	if file != "" {
		path := filepath.Join(t.TempDir(), "eddy.yaml")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, ok := envCopy["EDDY_CONFIG"]; !ok {
			envCopy["EDDY_CONFIG"] = path
		}
	}
	return Load(fs, func(k string) (string, bool) {
		v, ok := envCopy[k]
		return v, ok
	})
}

func TestLoadPrecedence(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		file  string
		check func(t *testing.T, c Config)
	}{
		{
			name:  "defaults",
			check: func(t *testing.T, c Config) { assertEqual(t, c, Default()) },
		},
		{
			name: "file over default",
			file: "data-dir: /from/file\nfsync: interval\nfsync-interval: 250ms\nmax-store: 10GiB\nreplicas: 1\ndedupe-max-ids: 5000\n",
			check: func(t *testing.T, c Config) {
				want := Default()
				want.DataDir = "/from/file"
				want.Fsync = FsyncEveryInterval
				want.FsyncInterval = 250 * time.Millisecond
				want.MaxStore = 10 << 30
				want.DedupeMaxIDs = 5000
				assertEqual(t, c, want)
			},
		},
		{
			name: "env over file",
			file: "data-dir: /from/file\nlog-level: debug\n",
			env:  map[string]string{"EDDY_DATA_DIR": "/from/env", "EDDY_MAX_MEMORY": "1GB"},
			check: func(t *testing.T, c Config) {
				want := Default()
				want.DataDir = "/from/env"
				want.LogLevel = "debug"
				want.MaxMemory = 1_000_000_000
				assertEqual(t, c, want)
			},
		},
		{
			name: "flag over env and file",
			args: []string{"--data-dir=/from/flag", "--shutdown-timeout", "5s"},
			file: "data-dir: /from/file\nshutdown-timeout: 1m\nlog-format: json\n",
			env:  map[string]string{"EDDY_DATA_DIR": "/from/env", "EDDY_SHUTDOWN_TIMEOUT": "10s"},
			check: func(t *testing.T, c Config) {
				want := Default()
				want.DataDir = "/from/flag"
				want.ShutdownTimeout = 5 * time.Second
				want.LogFormat = "json"
				assertEqual(t, c, want)
			},
		},
		{
			// A flag given with its default value still counts as set.
			name: "explicit flag equal to default beats env",
			args: []string{"--fsync=always"},
			env:  map[string]string{"EDDY_FSYNC": "interval"},
			check: func(t *testing.T, c Config) {
				if c.Fsync != FsyncAlways {
					t.Errorf("Fsync = %q, want always", c.Fsync)
				}
			},
		},
		{
			name: "unset flags do not override env",
			env:  map[string]string{"EDDY_HTTP_ADDR": ":9090"},
			check: func(t *testing.T, c Config) {
				if c.HTTPAddr != ":9090" {
					t.Errorf("HTTPAddr = %q, want :9090", c.HTTPAddr)
				}
			},
		},
		{
			name: "external cluster",
			file: "nats-url: nats://a:4222, nats://b:4222\nnats-creds: /etc/eddy/nats.creds\nreplicas: 3\n",
			check: func(t *testing.T, c Config) {
				want := Default()
				want.NATSURL = "nats://a:4222, nats://b:4222"
				want.NATSCreds = "/etc/eddy/nats.creds"
				want.Replicas = 3
				assertEqual(t, c, want)
			},
		},
		{
			name: "env empty string overrides file",
			file: "nats-url: nats://a:4222\n",
			env:  map[string]string{"EDDY_NATS_URL": ""},
			check: func(t *testing.T, c Config) {
				if !c.Embedded() {
					t.Errorf("NATSURL = %q, want empty (embedded)", c.NATSURL)
				}
			},
		},
		{
			name:  "empty file",
			file:  "# nothing set yet\n",
			check: func(t *testing.T, c Config) { assertEqual(t, c, Default()) },
		},
		{
			name: "null value",
			file: "nats-url:\n",
			check: func(t *testing.T, c Config) {
				if c.NATSURL != "" {
					t.Errorf("NATSURL = %q, want empty", c.NATSURL)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadWith(t, tt.args, tt.env, tt.file)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadConfigPath(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	b := filepath.Join(dir, "b.yaml")
	if err := os.WriteFile(a, []byte("data-dir: /a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte("data-dir: /b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"none", nil, nil, Default().DataDir},
		{"env", nil, map[string]string{"EDDY_CONFIG": a}, "/a"},
		{"flag", []string{"--config", b}, nil, "/b"},
		{"flag over env", []string{"--config", b}, map[string]string{"EDDY_CONFIG": a}, "/b"},
		{"empty env means none", nil, map[string]string{"EDDY_CONFIG": ""}, Default().DataDir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadWith(t, tt.args, tt.env, "")
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.DataDir != tt.want {
				t.Errorf("DataDir = %q, want %q", c.DataDir, tt.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		file string
		// want are substrings of the error: setting, source, value, reason.
		want []string
	}{
		{
			name: "missing config file from flag",
			args: []string{"--config", missing},
			want: []string{"read config file", "flag --config", missing, "no such file"},
		},
		{
			name: "missing config file from env",
			env:  map[string]string{"EDDY_CONFIG": missing},
			want: []string{"read config file", "env EDDY_CONFIG", missing, "no such file"},
		},
		{
			name: "unknown key",
			file: "data-dir: /x\nfsycn: interval\n",
			want: []string{"eddy.yaml", "line 2", `unknown key "fsycn"`},
		},
		{
			name: "config is not a file key",
			file: "config: other.yaml\n",
			want: []string{`unknown key "config"`},
		},
		{
			name: "duplicate key",
			file: "fsync: always\nfsync: interval\n",
			want: []string{`key "fsync" already set on line 1`},
		},
		{
			name: "not a mapping",
			file: "- data-dir\n",
			want: []string{"eddy.yaml", "want a mapping"},
		},
		{
			name: "list value",
			file: "nats-url: [nats://a, nats://b]\n",
			want: []string{`key "nats-url" needs a single value`},
		},
		{
			name: "bad yaml",
			file: "data-dir: [\n",
			want: []string{"parse config file", "eddy.yaml"},
		},
		{
			name: "bad duration in file",
			file: "\nfsync-interval: soon\n",
			want: []string{"setting fsync-interval", `"soon"`, `key "fsync-interval" (line 2)`, "not a duration"},
		},
		{
			name: "bad int in env",
			env:  map[string]string{"EDDY_REPLICAS": "three"},
			want: []string{"setting replicas", `"three"`, "env EDDY_REPLICAS", "not an integer"},
		},
		{
			name: "bad byte size in env",
			env:  map[string]string{"EDDY_MAX_STORE": "10XB"},
			want: []string{"setting max-store", `"10XB"`, "env EDDY_MAX_STORE", `unknown unit "XB"`},
		},
		{
			name: "bad file value overridden by flag is still reported",
			args: []string{"--dedupe-window=1m"},
			file: "dedupe-window: forever\n",
			want: []string{"setting dedupe-window", `"forever"`, "eddy.yaml"},
		},
		{
			name: "validation names the flag",
			args: []string{"--fsync=sometimes"},
			want: []string{"setting fsync", `"sometimes"`, "flag --fsync", "must be one of always, interval"},
		},
		{
			name: "validation names the env var",
			env:  map[string]string{"EDDY_LOG_LEVEL": "loud"},
			want: []string{"setting log-level", `"loud"`, "env EDDY_LOG_LEVEL", "must be one of debug, info, warn, error"},
		},
		{
			name: "validation names the file key",
			file: "log-format: xml\n",
			want: []string{"setting log-format", `"xml"`, `key "log-format" (line 1)`, "must be one of text, json"},
		},
		{
			name: "replicas with embedded NATS",
			env:  map[string]string{"EDDY_REPLICAS": "3"},
			want: []string{"setting replicas", `"3"`, "env EDDY_REPLICAS", "must be 1 when NATS runs embedded"},
		},
		{
			name: "all problems at once",
			env:  map[string]string{"EDDY_FSYNC": "never", "EDDY_DEDUPE_MAX_IDS": "10"},
			want: []string{"setting fsync", "setting dedupe-max-ids"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadWith(t, tt.args, tt.env, tt.file)
			if err == nil {
				t.Fatal("Load succeeded, want error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadMissingFileWrapsNotExist(t *testing.T) {
	_, err := loadWith(t, nil, map[string]string{"EDDY_CONFIG": filepath.Join(t.TempDir(), "nope.yaml")}, "")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want it to wrap fs.ErrNotExist", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(c *Config)
		setting string
		reason  string
	}{
		{"empty data dir", func(c *Config) { c.DataDir = " " }, "data-dir", "must not be empty"},
		{"http addr without port", func(c *Config) { c.HTTPAddr = "localhost" }, "http-addr", "must be host:port"},
		{"pg addr without port", func(c *Config) { c.PGAddr = "localhost" }, "pg-addr", "must be host:port"},
		{"nats url bad scheme", func(c *Config) { c.NATSURL = "http://a:4222" }, "nats-url", `has scheme "http"`},
		{"nats url without host", func(c *Config) { c.NATSURL = "nats://:4222" }, "nats-url", "is not a NATS URL"},
		{"nats url only commas", func(c *Config) { c.NATSURL = " , " }, "nats-url", "lists no URL"},
		{"creds without url", func(c *Config) { c.NATSCreds = "/x.creds" }, "nats-creds", "only used with an external NATS cluster"},
		{"fsync mode", func(c *Config) { c.Fsync = "sometimes" }, "fsync", "must be one of always, interval"},
		{"fsync interval zero", func(c *Config) { c.FsyncInterval = 0 }, "fsync-interval", "must be greater than 0"},
		{"fsync interval negative", func(c *Config) { c.FsyncInterval = -time.Second }, "fsync-interval", "must be greater than 0"},
		{"max store negative", func(c *Config) { c.MaxStore = -1 }, "max-store", "must not be negative"},
		{"max memory zero", func(c *Config) { c.MaxMemory = 0 }, "max-memory", "must be greater than 0"},
		{"replicas zero", func(c *Config) { c.Replicas = 0 }, "replicas", "between 1 and 5"},
		{"replicas six", func(c *Config) { c.NATSURL = "nats://a"; c.Replicas = 6 }, "replicas", "between 1 and 5"},
		{"replicas embedded", func(c *Config) { c.Replicas = 2 }, "replicas", "must be 1 when NATS runs embedded"},
		{"dedupe window short", func(c *Config) { c.DedupeWindow = 999 * time.Millisecond }, "dedupe-window", "between 1s and 24h"},
		{"dedupe window long", func(c *Config) { c.DedupeWindow = 25 * time.Hour }, "dedupe-window", "between 1s and 24h"},
		{"dedupe max ids", func(c *Config) { c.DedupeMaxIDs = 999 }, "dedupe-max-ids", "at least 1000"},
		{"log level", func(c *Config) { c.LogLevel = "trace" }, "log-level", "must be one of debug, info, warn, error"},
		{"log format", func(c *Config) { c.LogFormat = "xml" }, "log-format", "must be one of text, json"},
		{"shutdown timeout", func(c *Config) { c.ShutdownTimeout = 0 }, "shutdown-timeout", "must be greater than 0"},
		{"sql memory limit small", func(c *Config) { c.SQLMemoryLimit = 1 << 20 }, "sql-memory-limit", "at least 64MiB"},
		{"query max timeout", func(c *Config) { c.QueryMaxTimeout = time.Millisecond }, "query-max-timeout", "at least 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			err := c.Validate()
			var se *SettingError
			if !errors.As(err, &se) {
				t.Fatalf("Validate() = %v, want a *SettingError", err)
			}
			if se.Setting != tt.setting || !strings.Contains(se.Reason, tt.reason) {
				t.Errorf("got setting %q reason %q; want setting %q reason containing %q", se.Setting, se.Reason, tt.setting, tt.reason)
			}
		})
	}
}

func TestValidateAcceptsBounds(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
	}{
		{"defaults", func(*Config) {}},
		{"external cluster with 5 replicas", func(c *Config) { c.NATSURL = "tls://a:4222,b:4222"; c.NATSCreds = "/x"; c.Replicas = 5 }},
		{"websocket cluster", func(c *Config) { c.NATSURL = "wss://nats.example.com" }},
		{"dedupe window 1s", func(c *Config) { c.DedupeWindow = time.Second }},
		{"dedupe window 24h", func(c *Config) { c.DedupeWindow = 24 * time.Hour }},
		{"dedupe max ids 1000", func(c *Config) { c.DedupeMaxIDs = 1000 }},
		{"listen on all interfaces", func(c *Config) { c.HTTPAddr = ":7070" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
		})
	}
}

// Every default must survive the trip through its own text form, or --help,
// the README and the config file would describe values eddy does not use.
func TestDefaultsRoundTrip(t *testing.T) {
	def := Default()
	var c Config
	for _, s := range settings {
		if err := s.set(&c, s.format(&def)); err != nil {
			t.Errorf("%s: default %q does not parse: %v", s.name, s.format(&def), err)
		}
	}
	assertEqual(t, c, def)
}

func TestAddFlags(t *testing.T) {
	fs := pflag.NewFlagSet("eddy", pflag.ContinueOnError)
	AddFlags(fs)
	names := []string{ConfigFlag}
	for _, s := range Default().Settings() {
		names = append(names, s.Name)
	}
	if len(names) != 25 {
		t.Errorf("got %d flags, want 25 (24 settings and --config)", len(names))
	}
	for _, n := range names {
		f := fs.Lookup(n)
		if f == nil {
			t.Errorf("flag --%s not registered", n)
			continue
		}
		if !strings.Contains(f.Usage, EnvVar(n)) {
			t.Errorf("help of --%s %q does not mention %s", n, f.Usage, EnvVar(n))
		}
	}
	usage := fs.FlagUsages()
	for _, want := range []string{`--http-addr string`, `(default "127.0.0.1:7070")`, "--dedupe-window duration", "(default 2m)", "--max-memory bytes", "(default 256MiB)"} {
		if !strings.Contains(usage, want) {
			t.Errorf("--help output lacks %q:\n%s", want, usage)
		}
	}
	if err := fs.Parse([]string{"--replicas=many"}); err == nil || !strings.Contains(err.Error(), "not an integer") {
		t.Errorf("--replicas=many: err = %v, want not an integer", err)
	}
}

func TestEnvVar(t *testing.T) {
	if got := EnvVar("dedupe-max-ids"); got != "EDDY_DEDUPE_MAX_IDS" {
		t.Errorf("EnvVar = %q", got)
	}
}

func TestSettingsShowValues(t *testing.T) {
	c := Default()
	c.MaxStore = 10 << 30
	for _, s := range c.Settings() {
		if s.Name == "max-store" {
			if s.Value != "10GiB" || s.Default != "0" || s.Env != "EDDY_MAX_STORE" {
				t.Errorf("max-store row = %+v", s)
			}
			return
		}
	}
	t.Fatal("no max-store row")
}

func TestMarkdownTable(t *testing.T) {
	md := MarkdownTable()
	lines := strings.Split(strings.TrimSpace(md), "\n")
	if lines[0] != "| flag | env | default | meaning |" {
		t.Errorf("header = %q", lines[0])
	}
	if got, want := len(lines), 2+1+len(settings); got != want {
		t.Errorf("%d lines, want %d:\n%s", got, want, md)
	}
	for _, want := range []string{
		"| `--config` | `EDDY_CONFIG` | (empty) |",
		"| `--fsync-interval` | `EDDY_FSYNC_INTERVAL` | `1s` |",
		"| `--max-memory` | `EDDY_MAX_MEMORY` | `256MiB` |",
		"| `--nats-url` | `EDDY_NATS_URL` | (empty) |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
	for _, l := range lines {
		if strings.Count(l, "|")-strings.Count(l, `\|`) != 5 {
			t.Errorf("row does not have 4 cells: %q", l)
		}
	}
}

func TestStoreLimit(t *testing.T) {
	t.Run("explicit", func(t *testing.T) {
		c := Default()
		c.MaxStore = 512 << 20
		dir := filepath.Join(t.TempDir(), "never-created")
		got, err := c.StoreLimit(dir)
		if err != nil || got != 512<<20 {
			t.Fatalf("StoreLimit = %d, %v; want %d", got, err, 512<<20)
		}
	})
	t.Run("from free space", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data", "js")
		got, err := Default().StoreLimit(dir)
		if err != nil {
			t.Fatalf("StoreLimit: %v", err)
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			t.Fatalf("StoreLimit did not create %s: %v", dir, err)
		}
		free, err := freeBytes(dir)
		if err != nil {
			t.Fatal(err)
		}
		// Other processes write to the same disk; allow 1% drift.
		want := free / 4 * 3
		if diff := got - want; diff > want/100 || diff < -want/100 {
			t.Errorf("StoreLimit = %d, want about 75%% of %d free = %d", got, free, want)
		}
	})
	t.Run("dir cannot be created", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Default().StoreLimit(filepath.Join(file, "sub"))
		if err == nil || !strings.Contains(err.Error(), "measure free disk space") {
			t.Errorf("err = %v, want an error naming what failed", err)
		}
	})
}

func assertEqual(t *testing.T, got, want Config) {
	t.Helper()
	if got != want {
		t.Errorf("config mismatch\n got: %+v\nwant: %+v", got, want)
	}
}
