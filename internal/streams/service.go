package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/eddy-streams/eddy/internal/apierr"
)

// Options configure a Service.
type Options struct {
	// Replicas of each JetStream stream; more than 1 needs an external cluster.
	Replicas int
	// DedupeWindow is how long producer record ids are remembered, and DedupeMaxIDs how
	// many at most per stream; the effective window is the shorter of the two.
	DedupeWindow time.Duration
	DedupeMaxIDs int
	// MinRetention is the shortest retention a stream may have. It is 24 hours for
	// users; tests lower it to watch records expire.
	MinRetention time.Duration
	// MaxMessageBytes caps how many bytes of records a shard writer coalesces into one
	// message. A single larger record still goes alone.
	MaxMessageBytes int
	// MaxQueuedBytes bounds each shard writer's queue; puts wait when it is full.
	MaxQueuedBytes int
	// PublishTimeout bounds one publish attempt to JetStream.
	PublishTimeout time.Duration
	Now            func() time.Time
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
}

func (o *Options) setDefaults() {
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.DedupeWindow == 0 {
		o.DedupeWindow = 2 * time.Minute
	}
	if o.DedupeMaxIDs == 0 {
		o.DedupeMaxIDs = 1_000_000
	}
	if o.MinRetention == 0 {
		o.MinRetention = MinRetention
	}
	if o.MaxMessageBytes == 0 {
		o.MaxMessageBytes = 1 << 20
	}
	if o.MaxQueuedBytes == 0 {
		o.MaxQueuedBytes = 32 << 20
	}
	if o.PublishTimeout == 0 {
		o.PublishTimeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Service manages streams and their records.
type Service struct {
	opts    Options
	nc      *nats.Conn
	js      jetstream.JetStream
	metrics *metrics
	reads   *directReader

	mu      sync.Mutex
	streams map[string]*stream
	closed  bool
}

// jsPrefix is prepended to a stream's name to name its JetStream stream, so eddy's
// streams are told apart from anything else on a shared NATS cluster.
const jsPrefix = "EDDY_"

func jsName(name string) string { return jsPrefix + name }

// subjectPrefix is the start of every subject eddy stores records under.
const subjectPrefix = "eddy.s."

func shardSubject(stream, shardID string) string { return subjectPrefix + stream + "." + shardID }
func streamSubjects(stream string) string        { return subjectPrefix + stream + ".*" }

// Open returns a service over the JetStream connection nc.
func Open(nc *nats.Conn, opts Options) (*Service, error) {
	opts.setDefaults()
	// A 1 MiB record plus its framing and headers must fit one message.
	if need := int64(MaxRecordBytes + 64<<10); nc.MaxPayload() < need {
		return nil, fmt.Errorf("NATS max_payload is %d bytes; eddy stores records up to %d bytes and needs at least %d: raise max_payload in the NATS server config", nc.MaxPayload(), MaxRecordBytes, need)
	}
	if max := int(nc.MaxPayload()) - 64<<10; opts.MaxMessageBytes > max {
		opts.MaxMessageBytes = max
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("open JetStream: %w", err)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	reads, err := newDirectReader(nc)
	if err != nil {
		return nil, err
	}
	return &Service{opts: opts, nc: nc, js: js, metrics: m, reads: reads, streams: map[string]*stream{}}, nil
}

// Close flushes every shard writer's queue and stops the writers.
func (s *Service) Close() {
	s.mu.Lock()
	s.closed = true
	sts := make([]*stream, 0, len(s.streams))
	for _, st := range s.streams {
		sts = append(sts, st)
	}
	s.streams = map[string]*stream{}
	s.mu.Unlock()
	for _, st := range sts {
		st.stopWriters()
	}
	s.reads.close()
}

// Config is what a user chooses when creating a stream.
type Config struct {
	Shards    int
	Retention time.Duration
}

// Info describes a stream.
type Info struct {
	Name      string
	Retention time.Duration
	Created   time.Time
	// OpenShards is the number of shards taking writes.
	OpenShards int
	Shards     []ShardInfo
	Records    uint64
	Bytes      uint64
	Oldest     time.Time
	Newest     time.Time
}

// Summary is a stream in a list.
type Summary struct {
	Name       string
	OpenShards int
	Retention  time.Duration
	Created    time.Time
}

func errStreamNotFound(name string) error {
	return apierr.New(apierr.NotFound, "StreamNotFound", "stream %q does not exist", name)
}

// Create makes a new stream.
func (s *Service) Create(ctx context.Context, name string, cfg Config) (Info, error) {
	if err := ValidateName(name); err != nil {
		return Info{}, err
	}
	if cfg.Shards == 0 {
		cfg.Shards = 1
	}
	if err := validateShardCount(cfg.Shards); err != nil {
		return Info{}, err
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if err := s.validateRetention(cfg.Retention); err != nil {
		return Info{}, err
	}
	now := s.opts.Now().UTC()
	gens := []generation{{First: 0, Count: cfg.Shards, Created: now}}
	jcfg := jetstream.StreamConfig{
		Name:        jsName(name),
		Description: "eddy stream " + name,
		Subjects:    []string{streamSubjects(name)},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      cfg.Retention,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		Storage:     jetstream.FileStorage,
		Replicas:    s.opts.Replicas,
		Duplicates:  min(2*time.Minute, cfg.Retention),
		AllowDirect: true,
		Metadata: map[string]string{
			metaGenerations: encodeGenerations(gens),
			"eddy.created":  now.Format(time.RFC3339Nano),
		},
	}
	if _, err := s.js.CreateStream(ctx, jcfg); err != nil {
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return Info{}, apierr.New(apierr.Conflict, "StreamExists", "stream %q already exists", name)
		}
		return Info{}, fmt.Errorf("create stream %q: %w", name, storageError(err))
	}
	return s.Describe(ctx, name)
}

// List returns every stream, sorted by name.
func (s *Service) List(ctx context.Context) ([]Summary, error) {
	var out []Summary
	lister := s.js.ListStreams(ctx, jetstream.WithStreamListSubject(subjectPrefix+">"))
	for info := range lister.Info() {
		name, ok := strings.CutPrefix(info.Config.Name, jsPrefix)
		if !ok {
			continue
		}
		gens, err := decodeGenerations(info.Config.Metadata[metaGenerations])
		if err != nil {
			return nil, fmt.Errorf("list streams: %s: %w", name, err)
		}
		out = append(out, Summary{Name: name, OpenShards: gens[len(gens)-1].Count, Retention: info.Config.MaxAge, Created: created(info)})
	}
	if err := lister.Err(); err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	slices.SortFunc(out, func(a, b Summary) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func created(info *jetstream.StreamInfo) time.Time {
	t, err := time.Parse(time.RFC3339Nano, info.Config.Metadata["eddy.created"])
	if err != nil {
		return info.Created
	}
	return t
}

// Describe reports a stream's shards and what it holds.
func (s *Service) Describe(ctx context.Context, name string) (Info, error) {
	if err := ValidateName(name); err != nil {
		return Info{}, err
	}
	info, err := s.streamInfo(ctx, name)
	if err != nil {
		return Info{}, err
	}
	gens, err := decodeGenerations(info.Config.Metadata[metaGenerations])
	if err != nil {
		return Info{}, fmt.Errorf("describe stream %q: %w", name, err)
	}
	out := Info{
		Name:       name,
		Retention:  info.Config.MaxAge,
		Created:    created(info),
		OpenShards: gens[len(gens)-1].Count,
		Shards:     shardInfos(gens),
		Bytes:      info.State.Bytes,
	}
	if info.State.Msgs > 0 {
		out.Oldest, out.Newest = info.State.FirstTime, info.State.LastTime
	}
	// Per-shard counts come from the first and last batch of each shard: a batch
	// records how many records its shard held before it.
	var subjects map[string]uint64
	if info.State.Msgs > 0 {
		si, err := s.js.Stream(ctx, jsName(name))
		if err == nil {
			full, ierr := si.Info(ctx, jetstream.WithSubjectFilter(streamSubjects(name)))
			if ierr == nil {
				subjects = full.State.Subjects
			}
		}
	}
	for i := range out.Shards {
		sh := &out.Shards[i]
		if subjects[shardSubject(name, sh.ID)] == 0 {
			continue
		}
		first, last, err := s.reads.bounds(ctx, jsName(name), shardSubject(name, sh.ID))
		if err != nil {
			return Info{}, fmt.Errorf("describe stream %q shard %s: %w", name, sh.ID, err)
		}
		if first == nil {
			continue
		}
		sh.Records = last.hdr.baseOffset + uint64(last.hdr.count) - first.hdr.baseOffset
		sh.Oldest, sh.Newest = first.time, last.time
		out.Records += sh.Records
	}
	return out, nil
}

func (s *Service) streamInfo(ctx context.Context, name string) (*jetstream.StreamInfo, error) {
	st, err := s.js.Stream(ctx, jsName(name))
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, errStreamNotFound(name)
		}
		return nil, fmt.Errorf("look up stream %q: %w", name, err)
	}
	return st.CachedInfo(), nil
}

// UpdateRetention changes how long a stream keeps records. Shortening it removes the
// records that fall outside the new window.
func (s *Service) UpdateRetention(ctx context.Context, name string, retention time.Duration) (Info, error) {
	if err := s.validateRetention(retention); err != nil {
		return Info{}, err
	}
	info, err := s.streamInfo(ctx, name)
	if err != nil {
		return Info{}, err
	}
	cfg := info.Config
	cfg.MaxAge = retention
	if _, err := s.js.UpdateStream(ctx, cfg); err != nil {
		return Info{}, fmt.Errorf("update retention of stream %q: %w", name, err)
	}
	s.mu.Lock()
	if st := s.streams[name]; st != nil {
		st.setRetention(retention)
	}
	s.mu.Unlock()
	return s.Describe(ctx, name)
}

// UpdateShardCount reshards a stream: the open shards are closed and count new shards
// split the hash-key space evenly. Records of one partition key stay in order across
// the change as long as a reader finishes a shard's parents before reading the shard;
// a reader of the whole stream (Subscribe) sees records in stored order anyway.
func (s *Service) UpdateShardCount(ctx context.Context, name string, count int) (Info, error) {
	if err := validateShardCount(count); err != nil {
		return Info{}, err
	}
	st, err := s.load(ctx, name)
	if err != nil {
		return Info{}, err
	}
	if err := st.reshard(ctx, count); err != nil {
		return Info{}, err
	}
	return s.Describe(ctx, name)
}

// Delete removes a stream and all its records.
func (s *Service) Delete(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	s.mu.Lock()
	st := s.streams[name]
	delete(s.streams, name)
	s.mu.Unlock()
	if st != nil {
		st.stopWriters()
	}
	if err := s.js.DeleteStream(ctx, jsName(name)); err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return errStreamNotFound(name)
		}
		return fmt.Errorf("delete stream %q: %w", name, err)
	}
	return nil
}

// load returns the stream's in-memory state, reading it from JetStream on first use.
func (s *Service) load(ctx context.Context, name string) (*stream, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, apierr.New(apierr.Unavailable, "ShuttingDown", "the streams service is shutting down")
	}
	if st := s.streams[name]; st != nil {
		s.mu.Unlock()
		return st, nil
	}
	s.mu.Unlock()
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	info, err := s.streamInfo(ctx, name)
	if err != nil {
		return nil, err
	}
	gens, err := decodeGenerations(info.Config.Metadata[metaGenerations])
	if err != nil {
		return nil, fmt.Errorf("load stream %q: %w", name, err)
	}
	st := &stream{svc: s, name: name, gens: gens, retention: info.Config.MaxAge}
	st.dedupe = newDedupe(s.opts.DedupeWindow, s.opts.DedupeMaxIDs, s.opts.Now)
	if err := st.rebuildDedupe(ctx); err != nil {
		return nil, err
	}
	st.startWriters()
	s.mu.Lock()
	defer s.mu.Unlock()
	if other := s.streams[name]; other != nil {
		st.stopWriters()
		return other, nil
	}
	s.streams[name] = st
	return st, nil
}
