package evtx

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func readAllReader(t *testing.T, r Reader) []*Event {
	t.Helper()
	var evs []*Event
	for ev, err := range All(context.Background(), r) {
		require.NoError(t, err)
		evs = append(evs, ev)
	}
	return evs
}

// TestOpenParallelSameAsOpen reads every public sample with parallel chunk
// workers, unfiltered and filtered, and requires exactly what the
// sequential reader gives: the same events in the same order and the same
// problems (damaged samples included).
func TestOpenParallelSameAsOpen(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	quietEVTXLibrary(t)
	files, err := filepath.Glob(filepath.Join(evtxPublicDir(t), "*.evtx"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	read := func(t *testing.T, path string, opts Options, workers int) ([]*Event, []Problem) {
		var r Reader
		var err error
		if workers == 0 {
			r, err = Open(path, opts)
		} else {
			r, err = OpenParallel(path, opts, workers)
		}
		require.NoError(t, err)
		defer func() { require.NoError(t, r.Close()) }()
		if workers > 0 {
			require.IsType(t, &parallelEVTX{}, r)
		}
		evs := readAllReader(t, r)
		_, err = r.Next(context.Background())
		require.ErrorIs(t, err, io.EOF)
		return evs, r.Problems()
	}
	for _, path := range files {
		name := filepath.Base(path)
		want, wantProblems := read(t, path, Options{}, 0)
		got, problems := read(t, path, Options{}, 2)
		require.Equal(t, want, got, name)
		require.Equal(t, wantProblems, problems, name)
		if len(want) == 0 {
			continue
		}
		// Filtered: by header fields, and from a record near the end
		// (whole chunks skipped).
		keep := func() Options {
			return Options{Filter: Filter{Keep: func(h Header) bool { return h.EventID == 0 || h.EventID%3 == 0 }}}
		}
		min := Options{Filter: Filter{MinRecordID: want[len(want)*9/10].RecordID}}
		for _, tt := range []struct {
			opts    func() Options
			workers int
		}{{keep, 2}, {keep, 3}, {func() Options { return min }, 2}} {
			want, wantProblems := read(t, path, tt.opts(), 0)
			got, problems := read(t, path, tt.opts(), tt.workers)
			require.Equal(t, want, got, "%s %+v", name, tt.opts().Filter)
			require.Equal(t, wantProblems, problems, name)
		}
	}
}

// TestOpenParallelStops: closing early, or cancelling, stops the workers
// (no goroutine outlives Close) and Next says why.
func TestOpenParallelStops(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	quietEVTXLibrary(t)
	path := filepath.Join(evtxPublicDir(t), "plaso__System.evtx")

	r, err := OpenParallel(path, Options{}, 2)
	require.NoError(t, err)
	for range 10 {
		_, err := r.Next(context.Background())
		require.NoError(t, err)
	}
	require.NoError(t, r.Close())
	_, err = r.Next(context.Background())
	require.Error(t, err)
	require.NoError(t, r.Close(), "a second Close is harmless")

	ctx, cancel := context.WithCancel(context.Background())
	r, err = OpenParallel(path, Options{}, 2)
	require.NoError(t, err)
	_, err = r.Next(ctx)
	require.NoError(t, err)
	cancel()
	_, err = r.Next(ctx)
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
	require.NoError(t, r.Close())

	// Closed before reading anything: no worker was started.
	r, err = OpenParallel(path, Options{}, 4)
	require.NoError(t, err)
	require.NoError(t, r.Close())
}

// TestOpenParallelOtherFormats: formats other than .evtx, and one worker,
// get the ordinary reader.
func TestOpenParallelOtherFormats(t *testing.T) {
	evt := filepath.Join(sharedTestdata(t), "evt-public", "System.evt")
	r, err := OpenParallel(evt, Options{}, 2)
	require.NoError(t, err)
	require.Equal(t, FormatEVT, r.Format())
	require.NoError(t, r.Close())
	r, err = OpenParallel(filepath.Join(evtxPublicDir(t), "plaso__System.evtx"), Options{}, 1)
	require.NoError(t, err)
	require.IsType(t, &evtxReader{}, r)
	require.NoError(t, r.Close())
}

// TestOpenParallelBigFileMemory reads the 120 MB file with parallel
// workers and checks that memory stays bounded: a few chunks of events in
// flight, whatever the file size. Building the file takes a while, so the
// test runs only with EVTWATCH_BIG=1 (as TestEVTXBigFileMemory).
func TestOpenParallelBigFileMemory(t *testing.T) {
	if os.Getenv("EVTWATCH_BIG") != "1" {
		t.Skip("set EVTWATCH_BIG=1 to read a 120 MB .evtx in parallel and check peak memory")
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	path := evtxBigFile(t)
	quietEVTXLibrary(t)
	var m allocMeter
	m.start()
	r, err := OpenParallel(path, Options{}, 4)
	require.NoError(t, err)
	events := 0
	for ev, err := range All(context.Background(), r) {
		require.NoError(t, err)
		require.Empty(t, ev.Err)
		if events++; events%2000 == 0 {
			m.sample()
		}
	}
	require.Empty(t, r.Problems())
	require.NoError(t, r.Close())
	m.sample()
	t.Logf("%d events, peak heap in use %.1f MB, peak from OS %.1f MB", events, float64(m.peakHeap)/(1<<20), float64(m.peakSys)/(1<<20))
	require.Greater(t, events, 100000)
	require.Less(t, m.peakHeap, uint64(64<<20))
	require.Less(t, m.peakSys, uint64(64<<20))
}
