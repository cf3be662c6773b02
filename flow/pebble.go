package flow

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/eddy-streams/eddy/internal/engine"
)

// pebbleStore is one keyed subtask's Pebble database: every declared value state of the
// subtask's keyed operator keeps its entries in it.
//
// A key is the key group (2 bytes, big-endian), the state's name (1 byte of length, then
// the name) and the encoded key; so one key group's entries are one contiguous range,
// and a subtask restoring at another parallelism takes its key groups' range from each
// old subtask's files. A value is the time it was written (8 bytes, for TTL) and the
// encoded value.
//
// The write-ahead log is off: the memtable is flushed at each checkpoint barrier, so a
// checkpoint is a set of SST files, and state after the last checkpoint is redone from
// the sources after a failure anyway. The barrier only starts the flush: until the
// flush is done and the Pebble checkpoint taken, the subtask's writes wait in an indexed
// batch (which reads see), so the database holds exactly the state at the barrier.
type pebbleStore struct {
	// dir holds the live database (db/) and the checkpoints being uploaded (chk-<n>/).
	dir      string
	db       *pebble.DB
	first    int // the subtask's key groups
	last     int
	operator string
	// instance names the SST files this database uploads: file numbers are unique only
	// within one database, and a restored database may write numbers another run wrote.
	instance string
	// captures numbers the checkpoint directories.
	captures int
	// cur is the capture whose Pebble checkpoint is being taken, and window the writes
	// made since its barrier; both nil between captures.
	cur    *pebbleCapture
	window *pebble.Batch

	mu sync.Mutex
	// confirmed are the files of the newest completed checkpoint this subtask took (or
	// restored), by file name: a later checkpoint refers to them instead of uploading
	// them again. pending are the files of checkpoints not yet known to be complete.
	confirmed map[string]sharedFile
	pending   map[int64]map[string]sharedFile
}

// pebbleMemTable bounds the memtable, and so the flush each barrier starts and the
// writes held back while it runs. pebbleCache is each store's block cache.
const (
	pebbleMemTable = 4 << 20
	pebbleCache    = 32 << 20
)

// pebbleOptions configures a working copy. It never syncs files: the copy is scratch,
// rebuilt from the checkpoint after a crash, and fsyncs (several per flush and per
// Pebble checkpoint) would only make checkpoints slower.
func pebbleOptions() *pebble.Options {
	o := &pebble.Options{
		DisableWAL:                  true,
		MemTableSize:                pebbleMemTable,
		MemTableStopWritesThreshold: 4,
		MaxManifestFileSize:         1 << 20,
		// L0 holds up to 16 sublevels (a flush each) before they are compacted into the
		// level below: with keys spread over every key group, each such compaction
		// rewrites most of that level, and the next checkpoint uploads what it wrote.
		L0CompactionThreshold: 16,
		L0StopWritesThreshold: 64,
		// A second compaction when the debt grows (Pebble's default is one).
		CompactionConcurrencyRange: func() (int, int) { return 1, 2 },
		Logger:                     quietLogger{},
		FS:                         noSyncFS{vfs.Default},
	}
	for i := range o.Levels {
		o.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	return o
}

// openPebble opens the database in dir with its own block cache.
func openPebble(dir string, readOnly bool) (*pebble.DB, error) {
	o := pebbleOptions()
	o.ReadOnly = readOnly
	o.Cache = pebble.NewCache(pebbleCache)
	defer o.Cache.Unref()
	return pebble.Open(dir, o)
}

// noSyncFS is the OS file system with syncs left out.
type noSyncFS struct{ vfs.FS }

type noSyncFile struct{ vfs.File }

func (noSyncFile) Sync() error                             { return nil }
func (noSyncFile) SyncData() error                         { return nil }
func (noSyncFile) SyncTo(int64) (fullSync bool, err error) { return false, nil }

func wrapNoSync(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return noSyncFile{f}, nil
}

func (fs noSyncFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return wrapNoSync(fs.FS.Create(name, c))
}

func (fs noSyncFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	return wrapNoSync(fs.FS.OpenReadWrite(name, c, opts...))
}

func (fs noSyncFS) OpenDir(name string) (vfs.File, error) { return wrapNoSync(fs.FS.OpenDir(name)) }

func (fs noSyncFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return wrapNoSync(fs.FS.ReuseForWrite(oldname, newname, c))
}

// quietLogger drops Pebble's informational messages; errors reach the job as errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)           {}
func (quietLogger) Errorf(string, ...any)          {}
func (quietLogger) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }

// openPebbleStore creates an empty database for a subtask of operator under base.
func openPebbleStore(base, job, operator string, subtask, first, last int) (*pebbleStore, error) {
	var id [8]byte
	_, _ = rand.Read(id[:])
	instance := hex.EncodeToString(id[:])
	dir := filepath.Join(base, url.PathEscape(job), url.PathEscape(operator), strconv.Itoa(subtask)+"-"+instance)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pebble state: %w", err)
	}
	st := &pebbleStore{dir: dir, first: first, last: last, operator: operator, instance: instance, confirmed: map[string]sharedFile{}, pending: map[int64]map[string]sharedFile{}}
	db, err := openPebble(st.dbDir(), false)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pebble state: open %s: %w", st.dbDir(), err)
	}
	st.db = db
	return st, nil
}

func (st *pebbleStore) dbDir() string { return filepath.Join(st.dir, "db") }

// close releases the database and removes the working copy.
func (st *pebbleStore) close() {
	if st.cur != nil {
		<-st.cur.done
		st.cur = nil
	}
	if st.window != nil {
		_ = st.window.Close()
		st.window = nil
	}
	if st.db != nil {
		_ = st.db.Close()
		st.db = nil
	}
	_ = os.RemoveAll(st.dir)
}

// mustPebble turns a Pebble error into a job failure.
func mustPebble(state string, err error) {
	if err != nil {
		panic(failure{fmt.Errorf("state %q: pebble: %w", state, err)})
	}
}

// pebbleCapture is a barrier's Pebble checkpoint while it is being taken.
type pebbleCapture struct {
	// done closes when the checkpoint is taken (or failed with err).
	done chan struct{}
	err  error
	// blocking says the subtask stopped to wait for done; it closes resumed when it
	// goes on, having set blocked to how long it waited.
	blocking atomic.Bool
	resumed  chan struct{}
	blocked  time.Duration
}

// pebbleWindowMax bounds the writes held back while a checkpoint is taken; beyond it
// the subtask waits for the checkpoint, and the wait counts as the checkpoint's pause.
const pebbleWindowMax = 64 << 20

// settle ends the capture in flight once its checkpoint is taken, or at once if wait
// (report says the wait is the pause of that capture, not of the next), and writes the
// writes held back meanwhile to the database.
func (st *pebbleStore) settle(wait, report bool) {
	c := st.cur
	if c == nil {
		return
	}
	switch {
	case !wait:
		select {
		case <-c.done:
		default:
			return
		}
	case report:
		c.blocking.Store(true)
		start := time.Now()
		<-c.done
		c.blocked = time.Since(start)
		close(c.resumed)
	default:
		<-c.done
	}
	st.cur = nil
	w := st.window
	st.window = nil
	mustPebble("pebble", st.db.Apply(w, pebble.NoSync))
	_ = w.Close()
}

func (st *pebbleStore) get(key []byte) ([]byte, io.Closer, error) {
	st.settle(false, false)
	if st.window != nil {
		return st.window.Get(key)
	}
	return st.db.Get(key)
}

func (st *pebbleStore) set(key, value []byte) error {
	st.settle(false, false)
	if st.window != nil && st.window.Len() >= pebbleWindowMax {
		st.settle(true, true)
	}
	if st.window != nil {
		return st.window.Set(key, value, nil)
	}
	return st.db.Set(key, value, pebble.NoSync)
}

func (st *pebbleStore) delete(key []byte) error {
	st.settle(false, false)
	if st.window != nil {
		return st.window.Delete(key, nil)
	}
	return st.db.Delete(key, pebble.NoSync)
}

// pebbleValues is a ValueState's part of the subtask's pebbleStore.
type pebbleValues[V any, K comparable] struct {
	st     *pebbleStore
	prefix []byte // the state's name, length-prefixed
	key    func(dst []byte, k K) []byte
	val    codec[V]
	kbuf   []byte
	vbuf   []byte
}

func newPebbleValues[V any, K comparable](st *pebbleStore, name string) *pebbleValues[V, K] {
	if len(name) > 255 {
		panic(failure{fmt.Errorf("state name %q: the pebble state backend takes names of at most 255 bytes", name)})
	}
	return &pebbleValues[V, K]{st: st, prefix: append([]byte{byte(len(name))}, name...), key: keyEncoder[K](), val: codecFor[V]()}
}

// dbKey encodes k of key group kg into the state's buffer.
func (p *pebbleValues[V, K]) dbKey(kg int, k K) []byte {
	b := binary.BigEndian.AppendUint16(p.kbuf[:0], uint16(kg))
	b = append(b, p.prefix...)
	b = p.key(b, k)
	p.kbuf = b
	return b
}

// get returns the value of k and when it was written.
func (p *pebbleValues[V, K]) get(state string, kg int, k K) (V, int64, bool) {
	var zero V
	data, closer, err := p.st.get(p.dbKey(kg, k))
	if errors.Is(err, pebble.ErrNotFound) {
		return zero, 0, false
	}
	mustPebble(state, err)
	defer closer.Close()
	if len(data) < 8 {
		mustPebble(state, fmt.Errorf("value of %d bytes", len(data)))
	}
	v, err := p.val.dec(data[8:])
	mustPebble(state, err)
	return v, int64(binary.BigEndian.Uint64(data)), true
}

func (p *pebbleValues[V, K]) set(state string, kg int, k K, v V, written int64) {
	b := binary.BigEndian.AppendUint64(p.vbuf[:0], uint64(written))
	b, err := p.val.enc(b, v)
	if err != nil {
		mustPebble(state, fmt.Errorf("encode value: %w (state values must be gob-encodable: exported fields)", err))
	}
	p.vbuf = b
	mustPebble(state, p.st.set(p.dbKey(kg, k), b))
}

func (p *pebbleValues[V, K]) delete(state string, kg int, k K) {
	mustPebble(state, p.st.delete(p.dbKey(kg, k)))
}

// codec turns values into bytes and back; dec must not keep its input.
type codec[V any] struct {
	enc func(dst []byte, v V) ([]byte, error)
	dec func(b []byte) (V, error)
}

// codecFor picks, once per type, a direct encoding for byte slices, strings and numbers,
// and gob for everything else: a gob value carries its type description each time, which
// costs bytes and time (the pebble backend's price for arbitrary types).
func codecFor[V any]() codec[V] {
	t := reflect.TypeFor[V]()
	switch {
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return codec[V]{
			enc: func(dst []byte, v V) ([]byte, error) { return append(dst, *(*[]byte)(unsafe.Pointer(&v))...), nil },
			dec: func(b []byte) (V, error) {
				var v V
				*(*[]byte)(unsafe.Pointer(&v)) = bytes.Clone(b)
				return v, nil
			},
		}
	case t.Kind() == reflect.String:
		return codec[V]{
			enc: func(dst []byte, v V) ([]byte, error) { return append(dst, *(*string)(unsafe.Pointer(&v))...), nil },
			dec: func(b []byte) (V, error) {
				var v V
				*(*string)(unsafe.Pointer(&v)) = string(b)
				return v, nil
			},
		}
	case isFixedNumber(t.Kind()):
		size := int(t.Size())
		return codec[V]{
			enc: func(dst []byte, v V) ([]byte, error) {
				return append(dst, unsafe.Slice((*byte)(unsafe.Pointer(&v)), size)...), nil
			},
			dec: func(b []byte) (V, error) {
				var v V
				if len(b) != size {
					return v, fmt.Errorf("value of %d bytes, want %d", len(b), size)
				}
				copy(unsafe.Slice((*byte)(unsafe.Pointer(&v)), size), b)
				return v, nil
			},
		}
	}
	return codec[V]{
		enc: func(dst []byte, v V) ([]byte, error) {
			buf := bytes.NewBuffer(dst)
			err := gob.NewEncoder(buf).Encode(&v)
			return buf.Bytes(), err
		},
		dec: func(b []byte) (V, error) {
			var v V
			err := gob.NewDecoder(bytes.NewReader(b)).Decode(&v)
			return v, err
		},
	}
}

// isFixedNumber reports kinds whose memory is their value; they are stored as the
// machine's bytes, so a checkpoint of Pebble state restores on machines of the same byte
// order (amd64 and arm64 are both little-endian).
func isFixedNumber(k reflect.Kind) bool {
	switch k {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// keyEncoder picks, once per key type, how keys become bytes: the same key must always
// give the same bytes. Strings and byte arrays are their bytes, integers their 8 bytes,
// other types (those implementing KeyHasher) their gob encoding, which for a comparable
// type without interfaces depends only on the value.
func keyEncoder[K comparable]() func(dst []byte, k K) []byte {
	t := reflect.TypeFor[K]()
	switch {
	case t.Kind() == reflect.String:
		return func(dst []byte, k K) []byte { return append(dst, *(*string)(unsafe.Pointer(&k))...) }
	case t.Kind() == reflect.Array && t.Elem().Kind() == reflect.Uint8, isFixedNumber(t.Kind()):
		size := int(t.Size())
		return func(dst []byte, k K) []byte { return append(dst, unsafe.Slice((*byte)(unsafe.Pointer(&k)), size)...) }
	}
	return func(dst []byte, k K) []byte {
		buf := bytes.NewBuffer(dst)
		if err := gob.NewEncoder(buf).Encode(&k); err != nil {
			panic(failure{fmt.Errorf("encode key %v for the pebble state backend: %w", k, err)})
		}
		return buf.Bytes()
	}
}

// pebbleSection is what a subtask's checkpoint file says of its Pebble state: the key
// groups the database held, the SST files it consisted of (uploaded to the store's
// shared area, listed with their keys and checksums in the checkpoint's _metadata), and
// its small private files (MANIFEST, OPTIONS, markers) inline.
type pebbleSection struct {
	First, Last int
	Shared      []string
	Private     []privateFile
}

type privateFile struct {
	Name string
	Data []byte
}

// pebbleSectionName is the section of a keyed component that holds pebbleSection.
const pebbleSectionName = "pebble"

// isSharedFile says which files of a Pebble checkpoint are immutable data that later
// checkpoints may refer to: SST and blob files.
func isSharedFile(name string) bool {
	return strings.HasSuffix(name, ".sst") || strings.HasSuffix(name, ".blob")
}

// capture starts a flush of the memtable, so that everything written before the
// barrier goes to SST files, and holds the subtask's later writes back in a batch until
// a goroutine has taken a Pebble checkpoint once the flush is done: hard links to the
// live SST files and copies of the small metadata files, in a directory of its own. SST
// files never change, so the subtask goes on while they are uploaded.
func (st *pebbleStore) capture() func(w *stateWriter) error {
	// A barrier that comes before the previous checkpoint was taken waits for it.
	st.settle(true, false)
	st.captures++
	dir := filepath.Join(st.dir, "chk-"+strconv.Itoa(st.captures))
	flushed, err := st.db.AsyncFlush()
	if err != nil {
		return func(*stateWriter) error { return fmt.Errorf("pebble flush: %w", err) }
	}
	c := &pebbleCapture{done: make(chan struct{}), resumed: make(chan struct{})}
	st.cur, st.window = c, st.db.NewIndexedBatch()
	db := st.db
	go func() {
		<-flushed
		c.err = db.Checkpoint(dir)
		close(c.done)
	}()
	return func(w *stateWriter) error {
		defer os.RemoveAll(dir)
		<-c.done
		if c.blocking.Load() {
			<-c.resumed
			w.pause += c.blocked
		}
		if c.err != nil {
			return fmt.Errorf("pebble checkpoint: %w", c.err)
		}
		return st.upload(w, dir)
	}
}

// upload writes the SST files of checkpoint directory dir that the newest completed
// checkpoint does not already hold to the shared area, and the section that lists them.
func (st *pebbleStore) upload(w *stateWriter, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	st.mu.Lock()
	confirmed := st.confirmed
	st.mu.Unlock()
	sec := pebbleSection{First: st.first, Last: st.last}
	files := map[string]sharedFile{}
	for _, e := range entries {
		name := e.Name()
		data, err := os.ReadFile(filepath.Join(dir, name))
		if !isSharedFile(name) {
			if err != nil {
				return err
			}
			sec.Private = append(sec.Private, privateFile{Name: name, Data: data})
			continue
		}
		sec.Shared = append(sec.Shared, name)
		if f, ok := confirmed[name]; ok {
			files[name] = f
			w.shared = append(w.shared, f)
			continue
		}
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		f := sharedFile{Name: name, Key: w.sharedPrefix + url.PathEscape(st.operator) + "/" + st.instance + "-" + name, Bytes: len(data), SHA256: hex.EncodeToString(sum[:])}
		if err := w.store.Put(w.ctx, f.Key, data); err != nil {
			return fmt.Errorf("upload %s: %w", f.Key, err)
		}
		w.uploaded += len(data)
		files[name] = f
		w.shared = append(w.shared, f)
	}
	st.mu.Lock()
	st.pending[w.id] = files
	st.mu.Unlock()
	return w.put(pebbleSectionName, unionGroup, sec)
}

// complete learns that checkpoint id completed: its files are what the next checkpoint
// may refer to.
func (st *pebbleStore) complete(id int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if files, ok := st.pending[id]; ok {
		st.confirmed = files
	}
	for p := range st.pending {
		if p <= id {
			delete(st.pending, p)
		}
	}
}

// restore builds the subtask's database from the Pebble sections of the old subtasks
// whose key groups overlap its own. When one old subtask had exactly its key groups (a
// restore at the same parallelism), that subtask's files become the database, and the
// next checkpoint refers to them rather than uploading them again. Otherwise each
// overlapping old database is opened read-only in a scratch directory and the entries of
// the key groups this subtask owns are copied over.
func (st *pebbleStore) restore(r *stateReader) error {
	type part struct {
		old int
		sec pebbleSection
	}
	var parts []part
	err := r.eachFrom(pebbleSectionName, func(old int, dec *gob.Decoder) error {
		var sec pebbleSection
		if err := dec.Decode(&sec); err != nil {
			return err
		}
		if sec.Last >= st.first && sec.First <= st.last {
			parts = append(parts, part{old, sec})
		}
		return nil
	})
	if err != nil || len(parts) == 0 {
		return err
	}
	if len(parts) == 1 && parts[0].sec.First == st.first && parts[0].sec.Last == st.last {
		p := parts[0]
		if err := st.db.Close(); err != nil {
			return err
		}
		st.db = nil
		if err := os.RemoveAll(st.dbDir()); err != nil {
			return err
		}
		files, err := r.download(st.dbDir(), p.old, p.sec)
		if err != nil {
			return err
		}
		if st.db, err = openPebble(st.dbDir(), false); err != nil {
			return fmt.Errorf("open restored pebble state: %w", err)
		}
		// Files of a savepoint or another job are copied again by the next checkpoint:
		// a checkpoint refers only to its own job's shared area.
		for name, f := range files {
			if strings.HasPrefix(f.Key, r.sharedPrefix) {
				st.confirmed[name] = f
			}
		}
		return nil
	}
	for i, p := range parts {
		scratch := filepath.Join(st.dir, "restore-"+strconv.Itoa(i))
		if err := st.copyRange(r, scratch, p.old, p.sec); err != nil {
			return err
		}
	}
	return st.db.Flush()
}

// copyRange copies the entries of the subtask's key groups from an old subtask's files.
func (st *pebbleStore) copyRange(r *stateReader, scratch string, old int, sec pebbleSection) error {
	defer os.RemoveAll(scratch)
	if _, err := r.download(scratch, old, sec); err != nil {
		return err
	}
	src, err := openPebble(scratch, true)
	if err != nil {
		return fmt.Errorf("open checkpointed pebble state: %w", err)
	}
	defer src.Close()
	lower := binary.BigEndian.AppendUint16(nil, uint16(max(st.first, sec.First)))
	iterOpts := &pebble.IterOptions{LowerBound: lower}
	if end := min(st.last, sec.Last) + 1; end <= 0xffff {
		iterOpts.UpperBound = binary.BigEndian.AppendUint16(nil, uint16(end))
	}
	it, err := src.NewIter(iterOpts)
	if err != nil {
		return err
	}
	defer it.Close()
	b := st.db.NewBatch()
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if err := b.Set(it.Key(), v, nil); err != nil {
			return err
		}
		if b.Len() >= 16<<20 {
			if err := b.Commit(pebble.NoSync); err != nil {
				return err
			}
			b = st.db.NewBatch()
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	return b.Commit(pebble.NoSync)
}

// openPebble opens the subtask's Pebble store, which the run closes and removes when it
// ends, and which learns from the subtask when checkpoints complete.
func (sub *subtask) openPebble(dir string) *pebbleStore {
	maxPar := sub.run.job.opts.MaxParallelism
	first, last := engine.KeyGroupRange(sub.index, maxPar, sub.parallelism)
	operator := "operator"
	if sub.vertex != nil {
		operator = sub.vertex.name
	}
	st, err := openPebbleStore(dir, sub.run.job.name, operator, sub.index, first, last)
	if err != nil {
		panic(failure{err})
	}
	sub.run.onClose(st.close)
	sub.committers = append(sub.committers, st.complete)
	sub.stores = append(sub.stores, st)
	return st
}
