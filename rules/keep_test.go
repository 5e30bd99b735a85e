package rules

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx"
)

func headerOf(ev *evtx.Event) evtx.Header {
	return evtx.Header{Provider: ev.Provider, Source: ev.Source, EventID: ev.EventID, RecordID: ev.RecordID, Time: ev.Time, Channel: ev.Channel}
}

func TestKeepHeader(t *testing.T) {
	eng := builtinEngine(t)
	at := time.Date(2009, 1, 12, 22, 14, 12, 0, time.UTC)
	tests := []struct {
		name string
		h    evtx.Header
		want bool
	}{
		{"rule's provider and ID", evtx.Header{Provider: "Server ActiveSync", EventID: 3015, Channel: "Application"}, true},
		{"provider case does not matter", evtx.Header{Provider: "server activesync", EventID: 3024}, true},
		{"classic source name", evtx.Header{Provider: "Microsoft-Windows-DNS-Server-Service", Source: "DNS", EventID: 407}, true},
		{"provider glob or manifest name", evtx.Header{Provider: "Microsoft-Windows-HttpEvent", EventID: 15005, Channel: "System"}, true},
		{"other ID", evtx.Header{Provider: "Server ActiveSync", EventID: 3016}, false},
		{"other provider", evtx.Header{Provider: "Service Control Manager", EventID: 3015}, false},
		{"other channel", evtx.Header{Provider: "Server ActiveSync", EventID: 3015, Channel: "System"}, false},
		{"unknown provider", evtx.Header{EventID: 3015}, true},
		{"unknown event ID", evtx.Header{Provider: "Server ActiveSync"}, true},
		{"nothing known", evtx.Header{RecordID: 7, Time: at}, true},
		{"known to be irrelevant, whatever the record", evtx.Header{Provider: "EventLog", EventID: 6005, RecordID: 7, Time: at}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, eng.KeepHeader(tt.h))
		})
	}
}

// TestKeepHeaderNeverDropsRelevant checks the promise filtering rests on:
// every event Relevant keeps has a header KeepHeader keeps, also with any
// of its fields unknown.
func TestKeepHeaderNeverDropsRelevant(t *testing.T) {
	eng := builtinEngine(t)
	var relevant int
	for _, r := range eng.Rules() {
		for _, m := range []*MatchSpec{r.Spec.Match, r.Spec.Corroborate} {
			if m == nil {
				continue
			}
			for _, p := range append(m.Provider, "Other Source") {
				for _, id := range m.EventID {
					for _, ch := range append(m.Channel, "", "Other") {
						ev := &evtx.Event{Provider: p, EventID: uint16(id.Lo), Channel: ch}
						h := headerOf(ev)
						for mask := range 8 {
							hh := h
							if mask&1 != 0 {
								hh.Provider = ""
							}
							if mask&2 != 0 {
								hh.EventID = 0
							}
							if mask&4 != 0 {
								hh.Channel = ""
							}
							if eng.Relevant(ev) {
								relevant++
								require.True(t, eng.KeepHeader(hh), "%+v", hh)
							}
						}
					}
				}
			}
		}
	}
	require.Positive(t, relevant)
}

// TestKeepHeaderSameResultsOnSamples is the fast path's equivalence proof:
// every shared sample log (.evtx and .evt) and every bundled testdata log is
// analysed twice, once decoding every record and once as analyze reads,
// with KeepHeader as the reader's filter (the .evtx fast path reads
// provider and EventID from template values and decodes only the records
// it keeps) and parallel chunk workers, and everything must agree: findings, below-threshold groups, events counted, the
// matched records themselves, and the damage reported.
func TestKeepHeaderSameResultsOnSamples(t *testing.T) {
	var files []string
	shared := filepath.Join("..", "..", "shared", "testdata")
	if _, err := os.Stat(shared); err == nil {
		for _, pat := range []string{"evtx-public/*.evtx", "evt-public/*.evt", "evt-public/*.Evt"} {
			m, err := filepath.Glob(filepath.Join(shared, pat))
			require.NoError(t, err)
			files = append(files, m...)
		}
	} else {
		t.Logf("shared samples not found at %s: only the bundled testdata is checked", shared)
	}
	for _, pat := range []string{"*/*.evtx", "*/*.Evt", "*/*.evt"} {
		m, err := filepath.Glob(filepath.Join("..", "testdata", pat))
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.NotEmpty(t, files)

	// golang-evtx logs stack traces for damaged samples.
	w := log.Writer()
	log.SetOutput(io.Discard)
	t.Cleanup(func() { log.SetOutput(w) })

	eng := builtinEngine(t)
	type run struct {
		a        *Analysis
		matched  []string
		problems []string
		events   int
	}
	analyse := func(paths []string, filtered bool) run {
		var out run
		out.a = eng.NewAnalysis()
		for _, path := range paths {
			var skipped int
			opts := evtx.Options{}
			if filtered {
				opts.Filter.Keep = func(h evtx.Header) bool {
					if eng.KeepHeader(h) {
						return true
					}
					skipped++
					return false
				}
			}
			// As analyze reads: filtered, with parallel chunk workers.
			var r evtx.Reader
			var err error
			if filtered {
				r, err = evtx.OpenParallel(path, opts, 2)
			} else {
				r, err = evtx.Open(path, opts)
			}
			require.NoError(t, err)
			for {
				ev, err := r.Next(context.Background())
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				out.events++
				out.a.Add(ev)
				if eng.Relevant(ev) {
					out.matched = append(out.matched, fmt.Sprintf("%s@%d #%d %s/%d %s", filepath.Base(path), ev.Origin.Offset, ev.RecordID, ev.Provider, ev.EventID, ev.Time.Format(time.RFC3339Nano)))
				}
			}
			for _, p := range r.Problems() {
				out.problems = append(out.problems, p.Error())
			}
			r.Close()
			out.a.Skipped(skipped)
			out.events += skipped
		}
		return out
	}
	check := func(t *testing.T, paths []string) (matched, events int) {
		full, fast := analyse(paths, false), analyse(paths, true)
		require.Equal(t, full.events, fast.events, "events read")
		require.Equal(t, full.a.Events(), fast.a.Events(), "events counted")
		require.Equal(t, full.matched, fast.matched, "matched records")
		require.Equal(t, full.problems, fast.problems, "damage reported")
		require.Equal(t, full.a.Result(Inputs{}), fast.a.Result(Inputs{}))
		return len(full.matched), full.events
	}
	var matched, events int
	for _, path := range files {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			m, n := check(t, []string{path})
			matched += m
			events += n
		})
	}
	// The bundles as analyze reads them, logs of one server together, so
	// the findings they hold are compared too.
	for _, dir := range []string{"sbs2003", "vpn", "modern"} {
		t.Run("bundle/"+dir, func(t *testing.T) {
			var paths []string
			for _, f := range files {
				if filepath.Dir(f) == filepath.Join("..", "testdata", dir) {
					paths = append(paths, f)
				}
			}
			require.NotEmpty(t, paths)
			full := analyse(paths, false)
			require.NotEmpty(t, full.a.Result(Inputs{}).Findings, "the %s bundle holds a finding", dir)
			check(t, paths)
		})
	}
	t.Logf("%d logs, %d events, %d matched by some rule: the same with and without the header filter", len(files), events, matched)
}
