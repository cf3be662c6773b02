// Package jobs runs stream-processing jobs inside the eddy server: jobs written in Go
// with package flow and compiled into the binary register here by name (built-in jobs),
// and the server starts, lists, describes and stops instances of them.
//
// The manager records each started job in <dir>/jobs.json and starts it again when the
// server restarts; with a checkpoint store, a restarted job resumes from its latest
// complete checkpoint, so its state and its stream positions survive a crash.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/streams"
)

// Env is what a built-in job may use to build itself.
type Env struct {
	Streams *streams.Service
	Logger  *slog.Logger
	// Dir keeps jobs.json, the jobs to start again after a restart; "" keeps nothing.
	Dir string
	// Checkpoints, when set, is where jobs checkpoint, every CheckpointInterval.
	Checkpoints        flow.CheckpointStore
	CheckpointInterval time.Duration
	// JobName is the name of the job instance being built.
	JobName string
	// RestoreFrom is a savepoint the job instance starts from, if any.
	RestoreFrom string
	// Restart decides how a failed job is restarted (default: exponential backoff from
	// 1 s to 1 min, without end).
	Restart RestartStrategy
	// StateBackend is where jobs keep their keyed state (default: the heap); a Pebble
	// backend keeps each job's stores under its directory, by job name.
	StateBackend flow.StateBackend
}

// JobOptions are the options a built-in job should run with: the server's checkpoint
// settings and the given parallelism.
func (e Env) JobOptions(parallelism int) flow.JobOptions {
	o := flow.JobOptions{Parallelism: parallelism, StateBackend: e.StateBackend}
	if e.Checkpoints != nil {
		o.Checkpoints = &flow.CheckpointOptions{Store: e.Checkpoints, Interval: e.CheckpointInterval, RestoreFrom: e.RestoreFrom}
	}
	return o
}

// Builtin is a job compiled into the binary.
type Builtin struct {
	Name        string
	Description string
	// Args lists the arguments Build understands, with their meaning.
	Args []Arg
	// Build makes the job graph from validated arguments.
	Build func(env Env, args map[string]string) (*flow.Job, error)
}

// Arg describes one argument of a built-in job.
type Arg struct {
	Name     string
	Help     string
	Required bool
	Default  string
}

// Manager starts and tracks job instances.
type Manager struct {
	env      Env
	builtins map[string]Builtin

	mu       sync.Mutex
	jobs     map[string]*instance
	starting map[string]bool
	closed   bool
}

type instance struct {
	name    string
	builtin string
	args    map[string]string
	cancel  context.CancelFunc
	done    chan struct{}
	stopped bool

	mu       sync.Mutex // guards job, err and restarts, which change on a restart
	job      *flow.Job
	err      error
	restarts int
}

// Info summarises a job instance.
type Info struct {
	Name    string
	Builtin string
	Args    map[string]string
	Status  flow.JobStatus
	// Checkpoints are the checkpoints the job's current run completed, oldest first.
	Checkpoints []flow.CheckpointStatus
	// CheckpointsCompleted counts every checkpoint of the current run; Checkpoints keeps
	// only the newest.
	CheckpointsCompleted int64
	// Restarts counts how often the job failed and was started again.
	Restarts int
}

// NewManager returns a manager that knows the given built-in jobs.
func NewManager(env Env, builtins ...Builtin) *Manager {
	m := &Manager{env: env, builtins: map[string]Builtin{}, jobs: map[string]*instance{}, starting: map[string]bool{}}
	for _, b := range builtins {
		m.builtins[b.Name] = b
	}
	return m
}

// Builtins lists the jobs that can be started, by name.
func (m *Manager) Builtins() []Builtin {
	out := make([]Builtin, 0, len(m.builtins))
	for _, b := range m.builtins {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

var jobNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// Start builds a built-in job with args and runs it under name.
func (m *Manager) Start(name, builtin string, args map[string]string) (Info, error) {
	return m.StartFrom(name, builtin, args, "")
}

// StartFrom is Start from a savepoint (a path Savepoint returned); "" starts from the
// job's latest checkpoint, if any.
func (m *Manager) StartFrom(name, builtin string, args map[string]string, savepoint string) (Info, error) {
	if savepoint != "" && m.env.Checkpoints == nil {
		return Info{}, apierr.New(apierr.Invalid, "NoCheckpointStore", "the server has no checkpoint store to read savepoint %q from", savepoint)
	}
	if !jobNameRE.MatchString(name) {
		return Info{}, apierr.New(apierr.Invalid, "InvalidJobName", "job name %q is invalid: use 1 to 128 letters, digits, '_' or '-', starting with a letter or digit", name)
	}
	b, ok := m.builtins[builtin]
	if !ok {
		names := make([]string, 0, len(m.builtins))
		for n := range m.builtins {
			names = append(names, n)
		}
		slices.Sort(names)
		return Info{}, apierr.New(apierr.NotFound, "BuiltinNotFound", "no built-in job %q; built-in jobs: %s", builtin, strings.Join(names, ", "))
	}
	full, err := resolveArgs(b, args)
	if err != nil {
		return Info{}, err
	}
	// LATEST means "from now": record now, so a job that crashes before its first
	// checkpoint starts again where it first started, not at a later LATEST.
	if full["start"] == string(streams.Latest) {
		full["start"] = string(streams.AtTimestamp) + ":" + time.Now().UTC().Format(time.RFC3339Nano)
	}
	// Reserve the name while the job is built, so two starts of one name cannot both win.
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return Info{}, apierr.New(apierr.Unavailable, "ShuttingDown", "the server is shutting down")
	}
	if m.starting[name] {
		m.mu.Unlock()
		return Info{}, apierr.New(apierr.Conflict, "JobExists", "job %q is being started", name)
	}
	if old, ok := m.jobs[name]; ok {
		select {
		case <-old.done:
		default:
			m.mu.Unlock()
			return Info{}, apierr.New(apierr.Conflict, "JobExists", "job %q is already running; stop it first", name)
		}
	}
	m.starting[name] = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.starting, name)
		m.mu.Unlock()
	}()
	env := m.env
	env.JobName = name
	env.RestoreFrom = savepoint
	job, err := b.Build(env, full)
	if err != nil {
		if _, ok := apierr.As(err); ok {
			return Info{}, err
		}
		return Info{}, apierr.New(apierr.Invalid, "InvalidJob", "build job %s: %v", builtin, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	inst := &instance{name: name, builtin: builtin, args: full, job: job, cancel: cancel, done: make(chan struct{})}
	m.mu.Lock()
	m.jobs[name] = inst
	err = m.saveLocked()
	m.mu.Unlock()
	if err != nil {
		m.env.Logger.Warn("record started job", "job", name, "err", err)
	}
	go m.supervise(ctx, inst, b, env)
	// Answer once the job has left CREATED, so the caller sees it running (or failed).
	for deadline := time.Now().Add(2 * time.Second); job.Status().State == flow.JobCreated && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	m.env.Logger.Info("job started", "job", name, "builtin", builtin)
	return inst.info(), nil
}

func resolveArgs(b Builtin, args map[string]string) (map[string]string, error) {
	known := map[string]Arg{}
	full := map[string]string{}
	for _, a := range b.Args {
		known[a.Name] = a
		if a.Default != "" {
			full[a.Name] = a.Default
		}
	}
	for k, v := range args {
		if _, ok := known[k]; !ok {
			return nil, apierr.New(apierr.Invalid, "UnknownArgument", "built-in job %s has no argument %q", b.Name, k)
		}
		full[k] = v
	}
	for _, a := range b.Args {
		if a.Required && full[a.Name] == "" {
			return nil, apierr.New(apierr.Invalid, "MissingArgument", "built-in job %s needs argument %q: %s", b.Name, a.Name, a.Help)
		}
	}
	return full, nil
}

func (i *instance) info() Info {
	i.mu.Lock()
	job, restarts := i.job, i.restarts
	i.mu.Unlock()
	return Info{Name: i.name, Builtin: i.builtin, Args: i.args, Status: job.Status(), Checkpoints: job.Checkpoints(),
		CheckpointsCompleted: job.CheckpointsCompleted(), Restarts: restarts}
}

// supervise runs a job until it finishes or is stopped; when it fails, the restart
// strategy decides whether it runs again, from its latest complete checkpoint.
func (m *Manager) supervise(ctx context.Context, inst *instance, b Builtin, env Env) {
	defer close(inst.done)
	var failures []time.Time
	for {
		inst.mu.Lock()
		job := inst.job
		inst.mu.Unlock()
		err := flow.Run(ctx, job)
		inst.mu.Lock()
		inst.err = err
		inst.mu.Unlock()
		switch {
		case err == nil:
			m.env.Logger.Info("job finished", "job", inst.name)
			return
		case ctx.Err() != nil:
			m.env.Logger.Info("job stopped", "job", inst.name)
			return
		}
		now := time.Now()
		failures = append(failures, now)
		if len(failures) > 100 {
			failures = failures[1:]
		}
		delay, ok := m.env.Restart.next(failures, now)
		if !ok {
			m.env.Logger.Error("job failed; the restart strategy gives up", "job", inst.name, "err", err)
			return
		}
		m.env.Logger.Warn("job failed; restarting from its latest checkpoint", "job", inst.name, "in", delay, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		env.RestoreFrom = "" // a restart resumes from the latest checkpoint
		next, err := b.Build(env, inst.args)
		if err != nil {
			m.env.Logger.Error("job failed; rebuilding it for a restart failed", "job", inst.name, "err", err)
			return
		}
		inst.mu.Lock()
		inst.job = next
		inst.restarts++
		inst.mu.Unlock()
	}
}

// List returns every job instance the server ran since it started, by name.
func (m *Manager) List() []Info {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Info, 0, len(m.jobs))
	for _, i := range m.jobs {
		out = append(out, i.info())
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// Describe returns one job instance.
func (m *Manager) Describe(name string) (Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, ok := m.jobs[name]
	if !ok {
		return Info{}, apierr.New(apierr.NotFound, "JobNotFound", "job %q does not exist", name)
	}
	return i.info(), nil
}

// Stop cancels a running job and waits until every subtask has stopped.
func (m *Manager) Stop(ctx context.Context, name string) (Info, error) {
	m.mu.Lock()
	i, ok := m.jobs[name]
	m.mu.Unlock()
	if !ok {
		return Info{}, apierr.New(apierr.NotFound, "JobNotFound", "job %q does not exist", name)
	}
	i.cancel()
	select {
	case <-i.done:
	case <-ctx.Done():
		return Info{}, apierr.New(apierr.Unavailable, "StopTimeout", "job %q did not stop before the request ended", name)
	}
	m.mu.Lock()
	i.stopped = true
	err := m.saveLocked()
	m.mu.Unlock()
	if err != nil {
		return Info{}, err
	}
	return i.info(), nil
}

// Savepoint takes a checkpoint of a running job now and keeps it as a savepoint; it
// returns the savepoint's path for StartFrom.
func (m *Manager) Savepoint(ctx context.Context, name string) (string, error) {
	m.mu.Lock()
	i, ok := m.jobs[name]
	m.mu.Unlock()
	if !ok {
		return "", apierr.New(apierr.NotFound, "JobNotFound", "job %q does not exist", name)
	}
	i.mu.Lock()
	job := i.job
	i.mu.Unlock()
	path, err := job.Savepoint(ctx)
	if err != nil {
		return "", apierr.New(apierr.Conflict, "SavepointFailed", "job %q: %v", name, err)
	}
	m.env.Logger.Info("savepoint taken", "job", name, "path", path)
	return path, nil
}

// spec is a started job as jobs.json records it.
type spec struct {
	Name    string            `json:"name"`
	Builtin string            `json:"builtin"`
	Args    map[string]string `json:"args"`
}

func (m *Manager) specFile() string { return filepath.Join(m.env.Dir, "jobs.json") }

// saveLocked writes the jobs that should run after a restart: those not stopped.
func (m *Manager) saveLocked() error {
	if m.env.Dir == "" {
		return nil
	}
	specs := []spec{}
	for _, i := range m.jobs {
		if !i.stopped {
			specs = append(specs, spec{Name: i.name, Builtin: i.builtin, Args: i.args})
		}
	}
	sort.Slice(specs, func(a, b int) bool { return specs[a].Name < specs[b].Name })
	data, err := json.MarshalIndent(specs, "", "  ")
	if err != nil {
		return err
	}
	tmp := m.specFile() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("record jobs: %w", err)
	}
	return os.Rename(tmp, m.specFile())
}

// Resume starts the jobs recorded before the last shutdown or crash.
func (m *Manager) Resume() error {
	if m.env.Dir == "" {
		return nil
	}
	data, err := os.ReadFile(m.specFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read recorded jobs: %w", err)
	}
	var specs []spec
	if err := json.Unmarshal(data, &specs); err != nil {
		return fmt.Errorf("read recorded jobs %s: %w", m.specFile(), err)
	}
	for _, s := range specs {
		if _, err := m.Start(s.Name, s.Builtin, s.Args); err != nil {
			m.env.Logger.Error("resume job", "job", s.Name, "err", err)
		}
	}
	return nil
}

// Close stops every job, waiting up to timeout.
func (m *Manager) Close(timeout time.Duration) {
	m.mu.Lock()
	m.closed = true
	all := make([]*instance, 0, len(m.jobs))
	for _, i := range m.jobs {
		all = append(all, i)
	}
	m.mu.Unlock()
	deadline := time.After(timeout)
	for _, i := range all {
		i.cancel()
	}
	for _, i := range all {
		select {
		case <-i.done:
		case <-deadline:
			m.env.Logger.Warn("job did not stop in time", "job", i.name)
			return
		}
	}
}
