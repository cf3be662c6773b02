package config

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// SettingError reports a setting whose value cannot be used, and where the
// value came from so the user knows what to edit.
type SettingError struct {
	// Setting is the flag name, e.g. "fsync".
	Setting string
	// Source is where the value came from: "flag --fsync", "env EDDY_FSYNC",
	// `config file eddy.yaml, key "fsync" (line 3)` or "default". Validate
	// leaves it empty because a bare Config does not know its sources.
	Source string
	// Value is the offending value as given.
	Value string
	// Reason says why it was rejected.
	Reason string
}

func (e *SettingError) Error() string {
	if e.Source == "" {
		return fmt.Sprintf("setting %s: invalid value %q: %s", e.Setting, e.Value, e.Reason)
	}
	return fmt.Sprintf("setting %s: invalid value %q from %s: %s", e.Setting, e.Value, e.Source, e.Reason)
}

// Load builds the Config from, highest precedence first: flags the user set
// on fs, environment variables (EDDY_*, read through lookupEnv), the YAML
// file named by --config or EDDY_CONFIG, and Default. fs must already be
// parsed; it may be nil, and so may lookupEnv (os.LookupEnv in production),
// to skip that source. The result is validated. Every bad value is reported,
// each naming its setting, source, value and reason.
func Load(fs *pflag.FlagSet, lookupEnv func(string) (string, bool)) (Config, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	cfg := Default()
	sources := make(map[string]string, len(settings))
	for _, s := range settings {
		sources[s.name] = "default"
	}
	var errs []error
	apply := func(s setting, raw, source string) {
		sources[s.name] = source
		if err := s.set(&cfg, raw); err != nil {
			errs = append(errs, &SettingError{Setting: s.name, Source: source, Value: raw, Reason: err.Error()})
		}
	}

	path, pathSource := configPath(fs, lookupEnv)
	if path != "" {
		if err := loadFile(path, pathSource, apply); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range settings {
		if raw, ok := lookupEnv(EnvVar(s.name)); ok {
			apply(s, raw, "env "+EnvVar(s.name))
		}
	}
	if fs != nil {
		for _, s := range settings {
			if f := fs.Lookup(s.name); f != nil && f.Changed {
				apply(s, f.Value.String(), "flag --"+s.name)
			}
		}
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}

	for _, e := range cfg.problems() {
		e.Source = sources[e.Setting]
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return cfg, nil
}

// configPath finds the config file the user asked for, if any, and says
// where the request came from for error messages.
func configPath(fs *pflag.FlagSet, lookupEnv func(string) (string, bool)) (path, source string) {
	if fs != nil {
		if f := fs.Lookup(ConfigFlag); f != nil && f.Changed {
			return f.Value.String(), "flag --" + ConfigFlag
		}
	}
	if p, ok := lookupEnv(EnvVar(ConfigFlag)); ok {
		return p, "env " + EnvVar(ConfigFlag)
	}
	return "", ""
}

// loadFile applies every key of the YAML file at path. It walks yaml.Node
// rather than decoding into a struct so that each value keeps its line
// number for error messages and so that any scalar ("3", "10GiB", "2m")
// goes through the same parser as flags and environment variables.
func loadFile(path, pathSource string, apply func(s setting, raw, source string)) error {
	data, err := os.ReadFile(path)
	if err != nil {
		// The user named this file, so a missing file is a mistake, not a
		// reason to fall back to defaults.
		return fmt.Errorf("read config file (from %s): %w", pathSource, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("parse config file %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil // empty or comments only
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("config file %s: line %d: want a mapping of setting names to values, e.g. \"fsync: interval\"", path, root.Line)
	}
	seen := make(map[string]int)
	var errs []error
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		if key.Kind != yaml.ScalarNode {
			errs = append(errs, fmt.Errorf("config file %s: line %d: keys must be setting names", path, key.Line))
			continue
		}
		if prev, dup := seen[key.Value]; dup {
			errs = append(errs, fmt.Errorf("config file %s: line %d: key %q already set on line %d", path, key.Line, key.Value, prev))
			continue
		}
		seen[key.Value] = key.Line
		s, ok := lookupSetting(key.Value)
		if !ok {
			errs = append(errs, fmt.Errorf("config file %s: line %d: unknown key %q (keys are the flag names, e.g. data-dir, fsync)", path, key.Line, key.Value))
			continue
		}
		if val.Kind == yaml.AliasNode {
			val = val.Alias
		}
		if val.Kind != yaml.ScalarNode {
			errs = append(errs, fmt.Errorf("config file %s: line %d: key %q needs a single value, not a list or mapping", path, val.Line, key.Value))
			continue
		}
		apply(s, val.Value, fmt.Sprintf("config file %s, key %q (line %d)", path, key.Value, val.Line))
	}
	return errors.Join(errs...)
}
