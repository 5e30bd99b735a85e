package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx/evtxtest"
)

// TestDumpNoEventLog: inputs that hold no event log are not a clean, empty
// dump: dump says so and exits 1. An unreadable log named on the command
// line stays partial (3).
func TestDumpNoEventLog(t *testing.T) {
	empty := t.TempDir()
	code, out, errOut := runForTest(t, "dump", empty)
	require.Equal(t, exitError, code)
	require.Empty(t, out)
	require.Equal(t, "evtwatch dump: nothing to dump: no event log found among the inputs\n", errOut)

	notes := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(notes, "notes.txt"), []byte("not a log\n"), 0o644))
	code, out, errOut = runForTest(t, "dump", "--format", "csv", notes, empty)
	require.Equal(t, exitError, code)
	require.Empty(t, out)
	require.Equal(t, filepath.Join(notes, "notes.txt")+": skipped: not an event log\n"+
		"evtwatch dump: nothing to dump: no event log found among the inputs (1 file skipped: not an event log)\n", errOut)

	// A log with no events is a log: an empty dump, exit 0.
	logs := t.TempDir()
	require.NoError(t, evtxtest.WriteEVTXFile(filepath.Join(logs, "Empty.evtx"), nil, evtxtest.EVTXOptions{}))
	code, out, errOut = runForTest(t, "dump", logs)
	require.Equal(t, exitOK, code, errOut)
	require.Empty(t, out)
	require.Empty(t, errOut)

	// The help says so.
	code, _, errOut = runForTest(t, "dump", "--help")
	require.Equal(t, exitOK, code)
	require.Contains(t, strings.Join(strings.Fields(errOut), " "), "no event log among the inputs at all")
}

// TestDumpEscapesPaths: file names are attacker-influenced too (a log
// collected from a compromised server): dump writes them on stderr with
// control characters escaped, as analyze does.
func TestDumpEscapesPaths(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows file names cannot hold control characters")
	}
	dir := t.TempDir()
	evil := "evil\x1b]0;pwned\x07\x1b[2J"
	require.NoError(t, evtxtest.WriteEVTXFile(filepath.Join(dir, "System.evtx"), dumpEvents(), evtxtest.EVTXOptions{}))
	require.NoError(t, os.WriteFile(filepath.Join(dir, evil+".txt"), []byte("not a log\n"), 0o644))
	require.NoError(t, evtxtest.WriteEVTXFile(filepath.Join(dir, evil+".evtx"), dumpEvents(), evtxtest.EVTXOptions{
		RecordsPerChunk: 2,
		Corrupt:         []evtxtest.Corruption{{Chunk: 1, Kind: evtxtest.BadChunkMagic}},
	}))
	shown := clean(filepath.Join(dir, evil))

	code, out, errOut := runForTest(t, "dump", dir, filepath.Join(dir, evil+".missing"))
	require.Equal(t, exitPartial, code, errOut)
	require.Len(t, parseDump(t, out), 3+2, "the intact log and the damaged one's first chunk")
	require.NotContains(t, errOut, "\x1b")
	require.NotContains(t, errOut, "\x07")
	require.Contains(t, errOut, shown+".txt: skipped: not an event log\n")
	require.Contains(t, errOut, shown+".evtx: offset ")
	require.Contains(t, errOut, shown+".missing: no such file or directory")
	require.Contains(t, errOut, `evil\x1b]0;pwned\x07\x1b[2J`)
}
