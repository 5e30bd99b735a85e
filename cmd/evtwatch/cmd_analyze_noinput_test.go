package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx/evtxtest"
)

// TestAnalyzeNothingRead: an analysis that read no event cannot find
// anything, so it must not read as "no conflict found": it says why
// nothing was read, still lists the inputs, and exits 1.
func TestAnalyzeNothingRead(t *testing.T) {
	empty := t.TempDir()
	captures := t.TempDir()
	netstat, err := os.ReadFile(filepath.Join(repoRoot, "testdata", "sbs2003", "netstat-ano.txt"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(captures, "netstat-ano.txt"), netstat, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(captures, "notes.txt"), []byte("just notes\n"), 0o644))
	emptyLog := filepath.Join(t.TempDir(), "Empty.evtx")
	require.NoError(t, evtxtest.WriteEVTXFile(emptyLog, nil, evtxtest.EVTXOptions{}))

	tests := []struct {
		name string
		args []string
		why  string
		code exitCode
	}{
		{"empty folder", []string{empty}, "no event log found among the inputs", exitError},
		{"only captures", []string{captures}, "no event log found among the inputs (only port captures: 'evtwatch ports' shows who holds what)", exitError},
		{"a log without events", []string{emptyLog, captures}, "the event logs among the inputs hold no event", exitError},
		// An input that could not be read is partial (3), as for dump.
		{"only an unreadable log", []string{filepath.Join(empty, "nope.evtx")}, "no event log could be read from the inputs", exitPartial},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runForTest(t, append([]string{"analyze"}, tt.args...)...)
			require.Equal(t, tt.code, code, errOut)
			require.True(t, strings.HasPrefix(out, "Nothing analysed: "+tt.why+".\n"), out)
			require.NotContains(t, out, "No repeating port conflict found")
			require.Contains(t, out, "\nINPUTS\n")
			require.Contains(t, out, "0 events read with")
			if tt.code == exitPartial {
				require.Contains(t, out, "nothing analysed, some input could not be read (exit status 3)")
				require.Empty(t, errOut)
			} else {
				require.Contains(t, out, "nothing analysed (exit status 1)")
				require.Equal(t, "evtwatch analyze: nothing to analyse: "+tt.why+"\n", errOut)
			}

			code, out, errOut = runForTest(t, append([]string{"analyze", "--format", "json"}, tt.args...)...)
			require.Equal(t, tt.code, code, errOut)
			var rep struct {
				Events  int               `json:"events"`
				Inputs  []json.RawMessage `json:"inputs"`
				Nothing string            `json:"nothing_analysed"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
			require.Zero(t, rep.Events)
			require.Equal(t, tt.why, rep.Nothing)
			if tt.code == exitError {
				require.Contains(t, errOut, "nothing to analyse: "+tt.why)
			}
		})
	}

	// The help says so.
	code, _, errOut := runForTest(t, "analyze", "--help")
	require.Equal(t, exitOK, code)
	require.Contains(t, strings.Join(strings.Fields(errOut), " "), "If no event was read at all")
}
