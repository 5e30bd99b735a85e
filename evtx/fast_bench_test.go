package evtx

import (
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The issue #7 benchmarks, on the 120 MB .evtx mkbig-evtx.py builds from
// every public sample (evtxBigFile). Each reports CPU time besides wall
// time: the machine they run on is often shared. Run them with
// -benchtime=1x to 5x; testdata/bench/compare.sh runs the same paths
// through the CLI next to golang-evtx's evtxdump.

// allocMeter reports heap allocations per event and the peak heap.
type allocMeter struct {
	ms                runtime.MemStats
	mallocs, bytes    uint64
	peakHeap, peakSys uint64
}

func (m *allocMeter) start() {
	runtime.GC()
	runtime.ReadMemStats(&m.ms)
	m.mallocs, m.bytes = m.ms.Mallocs, m.ms.TotalAlloc
}

func (m *allocMeter) sample() {
	runtime.ReadMemStats(&m.ms)
	m.peakHeap = max(m.peakHeap, m.ms.HeapInuse)
	m.peakSys = max(m.peakSys, m.ms.Sys)
}

func (m *allocMeter) report(b *testing.B, events int) {
	m.sample()
	if events > 0 {
		b.ReportMetric(float64(m.ms.Mallocs-m.mallocs)/float64(events), "allocs/event")
		b.ReportMetric(float64(m.ms.TotalAlloc-m.bytes)/float64(events), "B/event")
	}
	b.ReportMetric(float64(m.peakHeap)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(m.peakSys)/(1<<20), "peak-sys-MB")
}

// BenchmarkEVTXDumpBig decodes every record of the 120 MB file, as dump
// does, with one worker (the plain reader) and with one per core
// (OpenParallel): throughput, allocations per rendered event, peak memory.
func BenchmarkEVTXDumpBig(b *testing.B) {
	path := evtxBigFile(b)
	st, err := os.Stat(path)
	require.NoError(b, err)
	quietEVTXLibrary(b)
	for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run("workers="+strconv.Itoa(workers), func(b *testing.B) {
			b.SetBytes(st.Size())
			var m allocMeter
			m.start()
			events := 0
			start, cpu := time.Now(), evtxCPUSeconds()
			for b.Loop() {
				r, err := OpenParallel(path, Options{}, workers)
				require.NoError(b, err)
				for {
					_, err := r.Next(context.Background())
					if errors.Is(err, io.EOF) {
						break
					}
					require.NoError(b, err)
					if events++; events%4096 == 0 {
						m.sample()
					}
				}
				require.Empty(b, r.Problems())
				require.NoError(b, r.Close())
			}
			b.ReportMetric(float64(events)/time.Since(start).Seconds(), "events/s")
			perCPUSecond(b, float64(events), cpu, "events/cpu-s")
			perCPUSecond(b, float64(st.Size())*float64(b.N)/1e6, cpu, "MB/cpu-s")
			m.report(b, events)
		})
	}
}

// BenchmarkEVTXHeaderScanBig reads every record's header through the fast
// path and decodes none (a filter that keeps nothing): the floor under a
// rule scan, which decodes only the few records its rules name (see
// rules.BenchmarkRuleScanBigEVTX).
func BenchmarkEVTXHeaderScanBig(b *testing.B) {
	path := evtxBigFile(b)
	st, err := os.Stat(path)
	require.NoError(b, err)
	b.SetBytes(st.Size())
	b.ReportAllocs()
	records, decoded := 0, 0
	cpu := evtxCPUSeconds()
	for b.Loop() {
		records = 0
		r, err := Open(path, Options{Filter: Filter{Keep: func(Header) bool { records++; return false }}})
		require.NoError(b, err)
		_, err = r.Next(context.Background())
		require.ErrorIs(b, err, io.EOF)
		decoded = r.(*evtxReader).decoded // records without a template instance
		require.Empty(b, r.Problems())
		r.Close()
	}
	b.ReportMetric(float64(records), "records/op")
	b.ReportMetric(float64(decoded), "decoded/op")
	perCPUSecond(b, float64(st.Size())*float64(b.N)/1e6, cpu, "MB/cpu-s")
}

// BenchmarkEVTXCaughtUpBig is a scheduled scan of the 120 MB file when
// nothing was written since the last one: identify the file, resume after
// the saved position, find nothing. Chunks are skipped after reading their
// header and last record. (The saved position is the highest
// EventRecordID read; in this file, assembled from other logs' chunks,
// record headers are renumbered but EventRecordIDs are not.)
func BenchmarkEVTXCaughtUpBig(b *testing.B) {
	path := evtxBigFile(b)
	fr, err := OpenFileAfter(path, FilePosition{}, time.Time{}, Options{Filter: Filter{Keep: func(Header) bool { return false }}})
	require.NoError(b, err)
	_, err = fr.Next(context.Background())
	require.ErrorIs(b, err, io.EOF)
	pos := fr.Position()
	fr.Close()
	require.NotZero(b, pos.Last.RecordID)
	cpu := evtxCPUSeconds()
	decoded := 0
	for b.Loop() {
		fr, err := OpenFileAfter(path, pos, time.Time{}, Options{})
		require.NoError(b, err)
		ev, err := fr.Next(context.Background())
		require.ErrorIs(b, err, io.EOF, "caught-up read returned %+v", ev)
		// Only records the fast path cannot read (forwarded events
		// without a template instance) are decoded.
		decoded = fr.r.(*evtxReader).decoded
		fr.Close()
	}
	b.ReportMetric(float64(decoded), "decoded/op")
	if c := evtxCPUSeconds() - cpu; cpu > 0 && c > 0 {
		b.ReportMetric(c*1e3/float64(b.N), "cpu-ms/op")
	}
}
