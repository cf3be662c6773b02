package verify

import (
	"slices"
	"testing"
)

func TestBruteForceExpectations(t *testing.T) {
	evs := []event{{"a", "1", 1000}, {"a", "2", 1300}, {"b", "3", 1100}, {"a", "4", 1601}}
	if got, want := expectSessions(evs, 300), []string{"a 1000 1600 2", "a 1601 1901 1", "b 1100 1400 1"}; !slices.Equal(got, want) {
		t.Errorf("sessions %q, want %q", got, want)
	}
	got := expectSliding(evs, 1000, 500)
	want := []string{"a 500 2", "a 1000 3", "a 1500 1", "b 500 1", "b 1000 1"}
	if !slices.Equal(got, want) {
		t.Errorf("sliding %q, want %q", got, want)
	}
	right := []event{{"a", "9", 990}, {"a", "10", 1020}, {"b", "11", 1100}, {"a", "12", 1320}}
	if got, want := expectJoin(evs, right, -10, 20), []string{"a 1 9", "a 1 10", "a 2 12", "b 3 11"}; !slices.Equal(got, want) {
		t.Errorf("join %q, want %q", got, want)
	}
}

func TestCheckLinesComparesMultisets(t *testing.T) {
	var r Report
	r.checkLines([]string{"a 1", "a 1", "b 2", "c 3"}, []string{"a 1", "b 2", "b 2", "d 4", "c 3"})
	if r.Pass || r.Missing != 1 || r.Duplicates != 1 || r.Extra != 1 || r.Expected != 4 || r.Output != 5 {
		t.Fatalf("report %+v", r)
	}
	r.checkLines([]string{"a 1", "b 2"}, []string{"b 2", "a 1"})
	if !r.Pass || len(r.Problems) != 0 {
		t.Fatalf("report %+v", r)
	}
}
