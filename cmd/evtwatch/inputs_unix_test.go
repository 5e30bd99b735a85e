//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/evtx/evtxtest"
)

// TestFolderWithNamedPipe: a named pipe in a folder (left by some tool, or
// a mounted share's oddity) used to block dump and analyze for ever in
// open(2). It is skipped; the log beside it is read.
func TestFolderWithNamedPipe(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o600))
	require.NoError(t, evtxtest.WriteEVTXFile(filepath.Join(dir, "System.evtx"), []evtx.Event{{
		Provider: "Service Control Manager", EventID: 7036, Level: evtx.LevelInformation, Computer: "SRV", Channel: "System",
		Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), RecordID: 1,
	}}, evtxtest.EVTXOptions{}))

	type result struct {
		code     exitCode
		out, err string
	}
	for _, cmd := range []string{"dump", "analyze", "ports"} {
		done := make(chan result, 1)
		go func() {
			code, out, errOut := runForTest(t, cmd, dir)
			done <- result{code, out, errOut}
		}()
		select {
		case r := <-done:
			if cmd == "ports" {
				// No capture in the folder: an error, but an answer.
				require.Equal(t, exitError, r.code, r.err)
				require.Contains(t, r.err, "no port captures")
				continue
			}
			require.Equal(t, exitOK, r.code, "%s: %s", cmd, r.err)
			require.NotContains(t, r.out+r.err, "pipe", cmd)
			if cmd == "dump" {
				require.Equal(t, 1, strings.Count(r.out, "\n"), r.out)
			}
		case <-time.After(20 * time.Second):
			if f, err := os.OpenFile(filepath.Join(dir, "pipe"), os.O_WRONLY, 0); err == nil {
				f.Close()
			}
			t.Fatalf("%s blocked on a named pipe in the folder", cmd)
		}
	}
}

// TestNamedPipeArgument: a named pipe given on the command line is
// refused with its name (exit 3), not opened and waited on.
func TestNamedPipeArgument(t *testing.T) {
	pipe := filepath.Join(t.TempDir(), "pipe")
	require.NoError(t, syscall.Mkfifo(pipe, 0o600))
	type result struct {
		code exitCode
		err  string
	}
	for _, cmd := range []string{"dump", "analyze", "ports"} {
		done := make(chan result, 1)
		go func() {
			code, _, errOut := runForTest(t, cmd, pipe)
			done <- result{code, errOut}
		}()
		select {
		case r := <-done:
			if cmd == "ports" {
				require.Contains(t, r.err, pipe+": not a regular file")
				continue
			}
			require.Equal(t, exitPartial, r.code, "%s: %s", cmd, r.err)
		case <-time.After(20 * time.Second):
			if f, err := os.OpenFile(pipe, os.O_WRONLY, 0); err == nil {
				f.Close()
			}
			t.Fatalf("%s blocked on a named pipe", cmd)
		}
	}
}
