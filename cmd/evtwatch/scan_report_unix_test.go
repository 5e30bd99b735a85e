//go:build unix

package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A source folder is walked as analyze walks folders: a named pipe or a
// socket in it is passed over (never a log; opening a pipe would block), a
// link to a folder is followed once, and a glob matching a pipe skips it.
// Before, the pipe was listed and reported as an unreadable source on
// every run.
func TestScanFolderSkipsPipesAndFollowsLinksOnce(t *testing.T) {
	env := newScanEnv(t, freePort(t))
	env.autd(t, "SBSHQ01", scanT0.Add(-time.Hour))
	require.NoError(t, syscall.Mkfifo(filepath.Join(env.logs, "pipe.evtx"), 0o600))
	sub := filepath.Join(env.logs, "sub")
	require.NoError(t, os.Mkdir(sub, 0o755))
	require.NoError(t, syscall.Mkfifo(filepath.Join(sub, "other.evtx"), 0o600))
	require.NoError(t, os.Symlink(env.logs, filepath.Join(sub, "loop"))) // a link loop
	env.editConfig(t, "  - path: logs\n", "  - path: logs\n  - path: logs/*.evtx\n")

	type result struct {
		code     exitCode
		out, err string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errOut := env.scan(t, func(o *scanOptions) { o.JSON = true })
		done <- result{code, out, errOut}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(20 * time.Second): // a safety net for a regression, not a timing assertion
		for _, p := range []string{filepath.Join(env.logs, "pipe.evtx"), filepath.Join(sub, "other.evtx")} {
			if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
		}
		t.Fatal("scan blocked on a named pipe in a source folder")
	}
	require.Equal(t, exitOK, r.code, r.err)
	require.NotContains(t, r.err, "pipe")
	require.NotContains(t, r.err, "other.evtx")
	js := scanJSONOf(t, r.out)
	require.Empty(t, js.Problems)
	require.Equal(t, 1, js.Sources, "Application.evtx, once")
	require.Equal(t, 3, js.Events)
}

// A subfolder that cannot be read is reported by name and the rest of the
// folder is still read (the walk used to give up on the whole source).
func TestScanUnreadableSubfolderIsReportedAndTheRestRead(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any folder: an unreadable one cannot be made")
	}
	env := newScanEnv(t, freePort(t))
	env.autd(t, "SBSHQ01", scanT0.Add(-time.Hour))
	locked := filepath.Join(env.logs, "locked")
	require.NoError(t, os.Mkdir(locked, 0o755))
	require.NoError(t, os.Chmod(locked, 0))
	t.Cleanup(func() { os.Chmod(locked, 0o755) })

	code, out, errOut := env.scan(t, func(o *scanOptions) { o.JSON = true })
	require.Equal(t, exitPartial, code, errOut)
	js := scanJSONOf(t, out)
	require.Equal(t, 3, js.Events, "the log beside it was read")
	require.Len(t, js.Problems, 1)
	require.Contains(t, js.Problems[0], locked)
	require.Contains(t, errOut, "source=file:"+locked)
}
