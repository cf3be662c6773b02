package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// historyPath is the file of the shell's history, ~/.eddy_history; empty when there is
// no home directory.
func historyPath() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".eddy_history")
}

// lineHistory is the shell's history of lines (a term.History), bounded in memory and
// appended to a file so that the next shell recalls it.
type lineHistory struct {
	lines []string // oldest first
	max   int
	file  *os.File // nil: not kept
}

// openHistory loads the last max lines of the file at path; a file that cannot be
// read or written leaves the history in memory only.
func openHistory(path string, max int) *lineHistory {
	h := &lineHistory{max: max}
	if path == "" {
		return h
	}
	if b, err := os.ReadFile(path); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.TrimSpace(l) != "" {
				h.lines = append(h.lines, l)
			}
		}
		if len(h.lines) > max {
			h.lines = h.lines[len(h.lines)-max:]
		}
		if len(h.lines) < strings.Count(string(b), "\n")/2 {
			// The file has grown to twice what is kept: rewrite it.
			_ = os.WriteFile(path, []byte(strings.Join(h.lines, "\n")+"\n"), 0o600)
		}
	}
	h.file, _ = os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	return h
}

// Add records a line, except a blank one or a repeat of the last.
func (h *lineHistory) Add(line string) {
	if strings.TrimSpace(line) == "" || len(h.lines) > 0 && h.lines[len(h.lines)-1] == line {
		return
	}
	h.lines = append(h.lines, line)
	if len(h.lines) > h.max {
		h.lines = h.lines[1:]
	}
	if h.file != nil {
		fmt.Fprintln(h.file, line)
	}
}

// Len is the number of lines kept.
func (h *lineHistory) Len() int { return len(h.lines) }

// At returns a line, 0 being the most recent.
func (h *lineHistory) At(i int) string { return h.lines[len(h.lines)-1-i] }

func (h *lineHistory) close() {
	if h.file != nil {
		_ = h.file.Close()
	}
}
