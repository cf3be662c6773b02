package verify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// plannedKill is one kill of the schedule.
type plannedKill struct {
	timing KillTiming
	// at is the number of stored events that sets the kill off.
	at int
	// gate is the event index the producer may not reach before this kill is done.
	gate int
	// done is closed once the server has been killed and restarted.
	done chan struct{}
}

// plan draws the kill schedule. The timings come in equal parts in a random order. Kill
// k is set off at a random event in the middle of the k-th of kills+1 equal shares of
// the events, and the producer may not pass the start of the next share, nor start the
// last batch, until it is done. So the kills spread over the whole feeding,
// and the producer is still putting records at each kill.
func plan(rng *rand.Rand, kills, events int) []plannedKill {
	timings := make([]KillTiming, kills)
	for i := range timings {
		timings[i] = KillTiming(i % 3)
	}
	rng.Shuffle(len(timings), func(i, j int) { timings[i], timings[j] = timings[j], timings[i] })
	share := float64(events) / float64(kills+1)
	out := make([]plannedKill, kills)
	for k := range out {
		gate := max(min(events*(k+2)/(kills+1), events-batchSize), 1)
		at := int(share*float64(k+1) + share*(rng.Float64()-0.5))
		out[k] = plannedKill{timing: timings[k], at: min(max(at, 1), gate), gate: gate, done: make(chan struct{})}
	}
	return out
}

// killAndRestart waits for kill k's event, kills the server at the moment its timing
// asks for and starts a new one on the same data dir.
func (r *run) killAndRestart(k int, pk plannedKill) error {
	// A kill also waits for the producer to store a batch on the server it kills,
	// unless the producer already waits at this kill's gate.
	at := max(pk.at, min(r.fedAtRestart+1, pk.gate))
	for int(r.fed.Load()) < at {
		if !sleep(r.ctx, time.Millisecond) {
			return context.Cause(r.ctx)
		}
	}
	srv := r.current()
	kill := Kill{Timing: pk.timing}
	var err error
	switch pk.timing {
	case WhileFeeding:
		// Anywhere in the next put or pause.
		if !sleep(r.ctx, time.Duration(r.rng.IntN(10_000))*time.Microsecond) {
			return context.Cause(r.ctx)
		}
	case AfterCheckpoint:
		kill.Checkpoint, err = r.awaitCheckpoint(srv, completed)
	case InCheckpoint:
		kill.Checkpoint, err = r.awaitCheckpoint(srv, started)
	}
	if err != nil {
		return err
	}
	kill.Time = time.Now()
	srv.kill()
	kill.Fed = int(r.fed.Load())
	if kill.Interrupted, err = r.interruptedCheckpoint(); err != nil {
		return err
	}
	r.report.Kills = append(r.report.Kills, kill)
	line := fmt.Sprintf("kill %d/%d %s: SIGKILL to pid %d, %d events fed", k+1, r.cfg.Kills, pk.timing, srv.pid(), kill.Fed)
	switch {
	case kill.Timing == AfterCheckpoint:
		line += fmt.Sprintf(", checkpoint %d had just completed", kill.Checkpoint)
	case kill.Interrupted != 0:
		line += fmt.Sprintf(", checkpoint %d left incomplete", kill.Interrupted)
	case kill.Timing == InCheckpoint:
		line += fmt.Sprintf(", checkpoint %d completed before the kill landed", kill.Checkpoint)
	}
	r.logf("%s", line)
	if _, err := r.startServer(); err != nil {
		return err
	}
	r.fedAtRestart = int(r.fed.Load())
	close(pk.done)
	return nil
}

// awaitCheckpoint watches the checkpoint store and returns as soon as the checkpoint in
// progress, or else the next one, reaches the state want: started (the coordinator
// has written a snapshot file, not the _metadata marker) or completed (the marker is
// written: the checkpoint is durable, and its sink commit has had at most a look's time
// to run). The store is watched rather than the job's checkpoints listed by the API, as
// a file lands in it before the coordinator tells the sinks to commit, and a look takes
// microseconds rather than an HTTP request's fraction of a millisecond.
func (r *run) awaitCheckpoint(srv *server, want checkpointState) (int64, error) {
	highest, err := r.scanCheckpoints()
	if err != nil {
		return 0, err
	}
	next := highest.id
	if highest.id <= r.highestCheckpoint || highest.state != started {
		// None in progress: the next is numbered after the highest in the store,
		// complete or not.
		next++
	}
	deadline := time.Now().Add(r.checkpointWait())
	for time.Now().Before(deadline) {
		st, err := r.checkpointState(next)
		if err != nil {
			return 0, err
		}
		switch {
		case st == want:
			return next, nil
		case st == completed:
			// It started and completed between two looks: aim at the one after.
			next++
		}
		if !sleep(r.ctx, 100*time.Microsecond) {
			return 0, context.Cause(r.ctx)
		}
	}
	return 0, fmt.Errorf("job %s took no checkpoint in %s:\n%s", jobName, r.checkpointWait(), srv.stderr)
}

// checkpointWait is how long a kill waits for a checkpoint before the run gives up.
func (r *run) checkpointWait() time.Duration {
	return 30*time.Second + 20*r.cfg.CheckpointInterval
}

// interruptedCheckpoint looks, with the server dead, for a checkpoint started after the
// previous kill and left incomplete, and returns its id or 0.
func (r *run) interruptedCheckpoint() (int64, error) {
	prev := r.highestCheckpoint
	highest, err := r.scanCheckpoints()
	if err != nil {
		return 0, err
	}
	r.highestCheckpoint = max(prev, highest.id)
	// Checkpoints are taken one at a time, so only the newest can be in progress.
	if highest.id > prev && highest.state == started {
		return highest.id, nil
	}
	return 0, nil
}

// checkpointState is how far the coordinator got with writing a checkpoint.
type checkpointState int

const (
	absent    checkpointState = iota // no file written, or pruned
	started                          // snapshot files, no _metadata marker
	completed                        // _metadata written
)

// checkpointDir is where a checkpoint's files are in the default store
// (docs/checkpoints.md: <data-dir>/checkpoints/<job>/chk-<id as 20 digits>/).
func (r *run) checkpointDir(id int64) string {
	return filepath.Join(r.cfg.DataDir, "checkpoints", jobName, fmt.Sprintf("chk-%020d", id))
}

func (r *run) checkpointState(id int64) (checkpointState, error) {
	dir := r.checkpointDir(id)
	if _, err := os.Stat(filepath.Join(dir, "_metadata")); err == nil {
		return completed, nil
	}
	// A pruned checkpoint leaves its empty directories behind: look for a file.
	found := false
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	switch {
	case errors.Is(err, os.ErrNotExist):
		return absent, nil
	case err != nil:
		return absent, fmt.Errorf("look at checkpoint %d: %w", id, err)
	case found:
		return started, nil
	}
	return absent, nil
}

// checkpointInfo is a checkpoint in the store.
type checkpointInfo struct {
	id    int64
	state checkpointState
}

// scanCheckpoints returns the checkpoint with the highest id in the store.
func (r *run) scanCheckpoints() (checkpointInfo, error) {
	var out checkpointInfo
	entries, err := os.ReadDir(filepath.Dir(r.checkpointDir(0)))
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("list checkpoints: %w", err)
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), "chk-")
		id, err := strconv.ParseInt(rest, 10, 64)
		if ok && err == nil && e.IsDir() {
			out.id = max(out.id, id)
		}
	}
	if out.id > 0 {
		out.state, err = r.checkpointState(out.id)
	}
	return out, err
}
