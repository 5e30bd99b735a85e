package rules

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx"
)

// bigEVTX builds a 120 MB .evtx from the chunks of every shared sample
// with ../shared/tools/mkbig-evtx.py, or skips.
func bigEVTX(b *testing.B) string {
	b.Helper()
	shared := filepath.Join("..", "..", "shared")
	tool := filepath.Join(shared, "tools", "mkbig-evtx.py")
	if _, err := os.Stat(tool); err != nil {
		b.Skipf("%s not found", tool)
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		b.Skip("python3 not installed")
	}
	srcs, err := filepath.Glob(filepath.Join(shared, "testdata", "evtx-public", "*.evtx"))
	require.NoError(b, err)
	path := filepath.Join(b.TempDir(), "big.evtx")
	out, err := exec.Command(py, append([]string{tool, path, "120"}, srcs...)...).CombinedOutput()
	require.NoError(b, err, "%s", out)
	return path
}

// cpuTime is the CPU time (user + system) this process has used, from
// /proc/self/stat; 0 where that is not available. On a shared machine it
// says more than wall-clock time.
func cpuTime() time.Duration {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces
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
	return time.Duration(utime+stime) * (time.Second / 100) // USER_HZ
}

// BenchmarkRuleScanBigEVTX is what analyze does with a 120 MB .evtx and the
// built-in rules: every record's header is read from its template values,
// KeepHeader picks the records a rule names, only those are decoded and
// offered to the analysis. Compare BenchmarkEVTXBigFile in evtx (every
// record decoded) and golang-evtx's evtxdump (testdata/bench/compare.sh).
func BenchmarkRuleScanBigEVTX(b *testing.B) {
	path := bigEVTX(b)
	st, err := os.Stat(path)
	require.NoError(b, err)
	eng, err := NewEngine(mustBuiltin(b))
	require.NoError(b, err)
	b.SetBytes(st.Size())
	b.ReportAllocs()
	var records, decoded int
	cpu0 := cpuTime()
	for b.Loop() {
		records, decoded = 0, 0
		skipped := 0
		r, err := evtx.Open(path, evtx.Options{Filter: evtx.Filter{Keep: func(h evtx.Header) bool {
			if eng.KeepHeader(h) {
				return true
			}
			skipped++
			return false
		}}})
		require.NoError(b, err)
		a := eng.NewAnalysis()
		for {
			ev, err := r.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(b, err)
			a.Add(ev)
			decoded++
		}
		a.Skipped(skipped)
		records = a.Events()
		a.Result(Inputs{})
		r.Close()
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(records), "records/op")
	b.ReportMetric(float64(decoded), "decoded/op")
	if cpu > 0 {
		b.ReportMetric(float64(st.Size())*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
		b.ReportMetric(cpu.Seconds()*1e3/float64(b.N), "cpu-ms/op")
	}
}

func mustBuiltin(b *testing.B) *RuleSet {
	set, err := Builtin()
	require.NoError(b, err)
	return set
}
