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
	"strconv"
	"strings"
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
	start, cpu := time.Now(), evtxCPUSeconds()
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
	perCPUSecond(b, float64(events), cpu, "events/cpu-s")
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

// evtxBigFile builds a 120 MB .evtx out of the public samples' chunks with
// the shared mkbig-evtx.py tool, in the test's temporary directory.
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
	path := filepath.Join(tb.TempDir(), "big.evtx")
	srcs, err := filepath.Glob(filepath.Join(dir, "*.evtx"))
	require.NoError(tb, err)
	out, err := exec.Command("python3", append([]string{tool, path, "120"}, srcs...)...).CombinedOutput()
	require.NoError(tb, err, "%s", out)
	return path
}

// evtxCPUSeconds is the CPU time (user + system) this process has used so
// far, from /proc/self/stat; 0 where that is not available. On a shared
// machine it says more about the reader's speed than wall-clock time does.
// (runtime/metrics' CPU classes cannot stand in: they count the time a P is
// busy, including while the OS has descheduled its thread.)
func evtxCPUSeconds() float64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: utime and stime are the 12th and 13th, in clock ticks.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	const ticks = 100 // USER_HZ on every Linux architecture Go supports
	return float64(utime+stime) / ticks
}

// perCPUSecond reports n per CPU second since cpu0, when CPU time is known.
func perCPUSecond(b *testing.B, n float64, cpu0 float64, unit string) {
	if cpu := evtxCPUSeconds() - cpu0; cpu0 > 0 && cpu > 0 {
		b.ReportMetric(n/cpu, unit)
	}
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
	start, cpu := time.Now(), evtxCPUSeconds()
	for b.Loop() {
		var h, s uint64
		var n int
		n, h, s = evtxPeakMemory(b, path)
		events += n
		heap, sys = max(heap, h), max(sys, s)
	}
	b.ReportMetric(float64(events)/time.Since(start).Seconds(), "events/s")
	perCPUSecond(b, float64(events), cpu, "events/cpu-s")
	b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(sys)/(1<<20), "peak-sys-MB")
}

// TestEVTXBigFileMemory reads a 120 MB file and checks that memory stays
// bounded: the reader holds one 64 KiB chunk and the events of one record at
// a time, whatever the file size. Building the file takes a while, so the
// test runs only with EVTWATCH_BIG=1.
func TestEVTXBigFileMemory(t *testing.T) {
	if os.Getenv("EVTWATCH_BIG") != "1" {
		t.Skip("set EVTWATCH_BIG=1 to read a 120 MB .evtx and check peak memory")
	}
	path := evtxBigFile(t)
	quietEVTXLibrary(t)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Greater(t, st.Size(), int64(100e6))
	start, cpu := time.Now(), evtxCPUSeconds()
	events, heap, sys := evtxPeakMemory(t, path)
	elapsed, cpu := time.Since(start), evtxCPUSeconds()-cpu
	mb := float64(st.Size()) / 1e6
	t.Logf("%d events from %.0f MB in %v wall, %.1f s CPU (%.1f MB/s and %.0f events/s per CPU second; 0 when unknown); peak heap in use %.1f MB, peak from OS %.1f MB",
		events, mb, elapsed.Round(time.Millisecond), cpu, mb/cpu, float64(events)/cpu,
		float64(heap)/(1<<20), float64(sys)/(1<<20))
	require.Greater(t, events, 100000)
	require.Less(t, heap, uint64(64<<20))
	require.Less(t, sys, uint64(64<<20))
}
