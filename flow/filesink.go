package flow

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ToFiles writes s to files in dir, one record per line as format renders it. Each
// subtask writes its own files. With checkpoints the sink is exactly-once: it writes to
// a hidden temporary file and renames it to part-<subtask>-<checkpoint>.txt when the
// checkpoint completes (a rename is atomic, and a repeated commit finds the file already
// in place); without checkpoints each subtask writes part-<subtask>-final.txt when its
// input ends.
func ToFiles[T any](s *Stream[T], name, dir string, format func(v T) []byte) {
	SinkTo(s, name, func(subtask, _ int) (Writer[T], error) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
		return &fileWriter[T]{dir: dir, subtask: subtask, format: format}, nil
	})
}

type fileWriter[T any] struct {
	dir     string
	subtask int
	format  func(T) []byte
	f       *os.File
	w       *bufio.Writer
	cleaned bool
}

// fileTxn is a file waiting for its checkpoint to complete.
type fileTxn struct{ Temp, Final string }

func (fw *fileWriter[T]) open() error {
	if !fw.cleaned {
		// Temporary files of this subtask left by a crash belong to checkpoints that never
		// completed (those of the restored checkpoint were renamed at restore): their
		// records are being written again.
		fw.cleaned = true
		old, _ := filepath.Glob(filepath.Join(fw.dir, fmt.Sprintf(".part-%d-*.tmp", fw.subtask)))
		for _, name := range old {
			_ = os.Remove(name)
		}
	}
	f, err := os.CreateTemp(fw.dir, fmt.Sprintf(".part-%d-*.tmp", fw.subtask))
	if err != nil {
		return err
	}
	fw.f, fw.w = f, bufio.NewWriterSize(f, 64<<10)
	return nil
}

func (fw *fileWriter[T]) Write(v T, _ int64) error {
	if fw.f == nil {
		if err := fw.open(); err != nil {
			return err
		}
	}
	b := fw.format(v)
	if _, err := fw.w.Write(b); err != nil {
		return err
	}
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return fw.w.WriteByte('\n')
	}
	return nil
}

func (fw *fileWriter[T]) Flush() error { return nil }

// PreCommit makes the current file durable and names it after the checkpoint.
func (fw *fileWriter[T]) PreCommit(checkpoint int64) ([]byte, error) {
	if fw.f == nil {
		return nil, nil
	}
	if err := fw.w.Flush(); err != nil {
		return nil, err
	}
	if err := fw.f.Sync(); err != nil {
		return nil, err
	}
	if err := fw.f.Close(); err != nil {
		return nil, err
	}
	final := fmt.Sprintf("part-%d-%d.txt", fw.subtask, checkpoint)
	if checkpoint < 0 {
		final = fmt.Sprintf("part-%d-final.txt", fw.subtask)
	}
	txn := []byte(fw.f.Name() + "\x00" + filepath.Join(fw.dir, final))
	fw.f, fw.w = nil, nil
	return txn, nil
}

// Commit renames the file into place; done before, it finds the file there already.
func (fw *fileWriter[T]) Commit(txn []byte) error {
	if len(txn) == 0 {
		return nil
	}
	var t fileTxn
	for i, c := range txn {
		if c == 0 {
			t = fileTxn{Temp: string(txn[:i]), Final: string(txn[i+1:])}
		}
	}
	err := os.Rename(t.Temp, t.Final)
	if errors.Is(err, os.ErrNotExist) {
		if _, statErr := os.Stat(t.Final); statErr == nil {
			return nil
		}
	}
	return err
}

func (fw *fileWriter[T]) Close() error {
	if fw.f != nil {
		name := fw.f.Name()
		_ = fw.f.Close()
		return os.Remove(name)
	}
	return nil
}
