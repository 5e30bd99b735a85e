package evtx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// benchmarkEVTXFile reads a whole file per iteration from memory, so the
// figure is the decoder's, not the disk's.
func benchmarkEVTXFile(b *testing.B, path string) {
	data, err := os.ReadFile(path)
	require.NoError(b, err)
	quietEVTXLibrary(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	events := 0
	start := time.Now()
	for b.Loop() {
		r, err := newEVTXReader(bytes.NewReader(data), int64(len(data)), nil, path, Options{})
		require.NoError(b, err)
		for {
			_, err := r.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(b, err)
			events++
		}
	}
	b.ReportMetric(float64(events)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkEVTXRead reads the largest public samples.
func BenchmarkEVTXRead(b *testing.B) {
	dir := evtxPublicDir(b)
	for _, name := range []string{
		"plaso__System.evtx",           // 5009 small System events
		"many-events-application.evtx", // Application, classic events
		"evtx__security.evtx",          // Security audit events
		"DFIRArtifactMuseum_APTSimulatorVM_EventLogs_Server2022__Microsoft-Windows-PowerShell%4Operational.evtx", // big script-block events
	} {
		b.Run(name, func(b *testing.B) { benchmarkEVTXFile(b, filepath.Join(dir, name)) })
	}
}

var (
	evtxBigOnce sync.Once
	evtxBigPath string
	evtxBigErr  error
)

// evtxBigFile builds (once per process) a 120 MB .evtx out of the public
// samples' chunks with the shared mkbig-evtx.py tool.
func evtxBigFile(tb testing.TB) string {
	tb.Helper()
	dir := evtxPublicDir(tb)
	tool := filepath.Join(dir, "..", "..", "tools", "mkbig-evtx.py")
	if _, err := os.Stat(tool); err != nil {
		tb.Skipf("%s not found", tool)
	}
	if _, err := exec.LookPath("python3"); err != nil {
		tb.Skip("python3 not installed")
	}
	evtxBigOnce.Do(func() {
		tmp, err := os.MkdirTemp("", "evtwatch-big")
		if err != nil {
			evtxBigErr = err
			return
		}
		evtxBigPath = filepath.Join(tmp, "big.evtx")
		srcs, _ := filepath.Glob(filepath.Join(dir, "*.evtx"))
		out, err := exec.Command("python3", append([]string{tool, evtxBigPath, "120"}, srcs...)...).CombinedOutput()
		if err != nil {
			evtxBigErr = errors.New(string(out))
		}
	})
	require.NoError(tb, evtxBigErr)
	return evtxBigPath
}

// evtxPeakMemory reads the whole file at path and returns the number of
// events and the peak heap in use and memory obtained from the OS, sampled
// every few thousand events.
func evtxPeakMemory(tb testing.TB, path string) (events int, peakHeap, peakSys uint64) {
	tb.Helper()
	runtime.GC()
	var ms runtime.MemStats
	sample := func() {
		runtime.ReadMemStats(&ms)
		peakHeap = max(peakHeap, ms.HeapInuse)
		peakSys = max(peakSys, ms.Sys)
	}
	sample()
	r, err := Open(path, Options{})
	require.NoError(tb, err)
	defer r.Close()
	for {
		_, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(tb, err)
		if events++; events%5000 == 0 {
			sample()
		}
	}
	sample()
	require.Empty(tb, r.Problems())
	return events, peakHeap, peakSys
}

// BenchmarkEVTXBigFile reads a 120 MB file and reports throughput and peak
// memory, which must not grow with the file.
func BenchmarkEVTXBigFile(b *testing.B) {
	path := evtxBigFile(b)
	st, err := os.Stat(path)
	require.NoError(b, err)
	quietEVTXLibrary(b)
	b.SetBytes(st.Size())
	var events int
	var heap, sys uint64
	start := time.Now()
	for b.Loop() {
		var h, s uint64
		var n int
		n, h, s = evtxPeakMemory(b, path)
		events += n
		heap, sys = max(heap, h), max(sys, s)
	}
	b.ReportMetric(float64(events)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(sys)/(1<<20), "peak-sys-MB")
}
