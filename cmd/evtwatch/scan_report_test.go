package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/notify/notifytest"
)

// editConfig replaces old with new in the scan config.
func (env *scanEnv) editConfig(t *testing.T, old, new string) {
	t.Helper()
	b, err := os.ReadFile(env.config)
	require.NoError(t, err)
	require.Contains(t, string(b), old)
	require.NoError(t, os.WriteFile(env.config, []byte(strings.Replace(string(b), old, new, 1)), 0o644))
}

func scanJSONOf(t *testing.T, out string) scanJSON {
	t.Helper()
	var js scanJSON
	require.NoError(t, json.Unmarshal([]byte(out), &js), out)
	return js
}

// The first run passes over what is older than the look-back and never
// reads it again: it says so, at warning level, with the count and the
// times, instead of reporting a clean run over logs it did not analyse.
func TestScanFirstRunSaysWhatItPassedOver(t *testing.T) {
	env := newScanEnv(t, freePort(t))
	for i := range 5 { // 15 events, the newest 30h before the run
		env.autd(t, "SBSHQ01", scanT0.Add(-54*time.Hour+time.Duration(i)*6*time.Hour))
	}
	env.autd(t, "SBSHQ01", scanT0.Add(-time.Hour)) // 3 within the 24h look-back

	code, out, errOut := env.scan(t, func(o *scanOptions) { o.JSON = true })
	require.Equal(t, exitOK, code, errOut)
	errOut = unquoteLogPaths(errOut)
	want := fmt.Sprintf("%s: first read: passed over 15 event(s) older than the look-back (before %s; newest at %s)",
		filepath.Join(env.logs, "Application.evtx"), scanT0.Add(-24*time.Hour).Format(time.RFC3339),
		scanT0.Add(-30*time.Hour+2*time.Second).Format(time.RFC3339))
	require.Contains(t, errOut, "level=WARN")
	require.Contains(t, errOut, want)
	js := scanJSONOf(t, out)
	require.Equal(t, 3, js.Events)
	require.Len(t, js.Warnings, 1)
	require.Contains(t, js.Warnings[0], want)

	// Said once: the next run continues after them.
	env.autd(t, "SBSHQ01", scanT0.Add(time.Minute))
	env.clock.set(scanT0.Add(5 * time.Minute))
	code, out, errOut = env.scan(t, func(o *scanOptions) { o.JSON = true })
	require.Equal(t, exitOK, code, errOut)
	require.NotContains(t, errOut, "passed over")
	js = scanJSONOf(t, out)
	require.Equal(t, 3, js.Events)
	require.Empty(t, js.Warnings)
}

// A source that cannot be read makes the run partial and is logged at
// error level with its name and the reason, so even --quiet (errors only)
// says why the run was partial.
func TestScanLogsUnreadableSources(t *testing.T) {
	env := newScanEnv(t, freePort(t))
	env.autd(t, "SBSHQ01", scanT0.Add(-time.Hour))
	missing := filepath.Join(env.dir, "no-such-folder")
	env.editConfig(t, "  - path: logs\n", "  - path: logs\n  - path: no-such-folder\n  - path: \"[\"\n")

	code, _, errOut := env.scan(t, func(o *scanOptions) { o.Quiet = true })
	require.Equal(t, exitPartial, code, errOut)
	errOut = unquoteLogPaths(errOut)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	require.Len(t, lines, 2, errOut)
	require.Contains(t, lines[0], "level=ERROR")
	require.Contains(t, lines[0], "source unreadable")
	require.Contains(t, lines[0], "source "+filepath.Join(env.dir, "[")+": syntax error in pattern", "a bad glob names the configured path")
	require.Contains(t, lines[1], "level=ERROR")
	require.Contains(t, lines[1], "source=file:"+missing)
	_, statErr := os.Stat(missing)
	var pe *os.PathError
	require.ErrorAs(t, statErr, &pe)
	require.Contains(t, lines[1], pe.Err.Error(), "the system's own words for a missing folder")

	code, out, errOut := env.scan(t, func(o *scanOptions) { o.JSON = true })
	require.Equal(t, exitPartial, code, errOut)
	require.Contains(t, errOut, "3 source(s)")
	require.Contains(t, errOut, "2 input problem(s)")
	js := scanJSONOf(t, out)
	require.Equal(t, 3, js.Sources, "the log and the two unreadable sources")
	require.Len(t, js.Problems, 2)
	require.Contains(t, js.Problems[1], "file:"+missing+": ")
}

// Files in a source folder that are not event logs (captures, notes) are
// skipped and not counted as sources; the run says how many it skipped.
func TestScanCountsOnlyEventLogs(t *testing.T) {
	env := newScanEnv(t, freePort(t))
	env.autd(t, "SBSHQ01", scanT0.Add(-time.Hour))
	require.NoError(t, os.WriteFile(filepath.Join(env.logs, "netstat-ano.txt"), []byte("Active Connections\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(env.logs, "README.md"), []byte("# exported from SBSHQ01\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(env.logs, "old"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(env.logs, "old", "info.txt"), []byte("Windows Server 2003\n"), 0o644))

	code, out, errOut := env.scan(t, func(o *scanOptions) { o.JSON = true })
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, errOut, "clean: 1 source(s), 3 new event(s)")
	require.Contains(t, errOut, `msg="skipped files that are not event logs" files=3`)
	js := scanJSONOf(t, out)
	require.Equal(t, 1, js.Sources)
	require.Equal(t, 3, js.NotLogs)
	require.Empty(t, js.Problems)
}

// A file reached through two configured paths (the folder and a glob) is
// one source with one position: read once, counted once.
func TestScanOverlappingSourcesReadOnce(t *testing.T) {
	env := newScanEnv(t, freePort(t))
	env.autd(t, "SBSHQ01", scanT0.Add(-time.Hour))
	env.editConfig(t, "  - path: logs\n", "  - path: logs\n  - path: logs/*.evtx\n")
	code, out, errOut := env.scan(t, func(o *scanOptions) { o.JSON = true })
	require.Equal(t, exitOK, code, errOut)
	js := scanJSONOf(t, out)
	require.Equal(t, 1, js.Sources)
	require.Equal(t, 3, js.Events)
}

// lockedBuffer is stderr shared with a running watch.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// take returns what was written since the last take.
func (l *lockedBuffer) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	l.b.Reset()
	return s
}

// watch logs a source that stays unreadable once, at error level, not
// every interval, and says when it can be read again.
func TestWatchLogsAnUnreadableSourceOnce(t *testing.T) {
	env := newScanEnv(t, freePort(t))
	env.autd(t, "SBSHQ01", scanT0.Add(-time.Hour))
	share := filepath.Join(env.dir, "share")
	env.editConfig(t, "  - path: logs\n", "  - path: logs\n  - path: share\n")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ticks := make(chan time.Time)
	committed, release := make(chan struct{}), make(chan struct{})
	o := env.opts()
	// Each cycle waits after its commit until the test has read the log:
	// what the test reads is exactly what the cycles so far logged.
	o.onCommit = func() {
		committed <- struct{}{}
		<-release
	}
	var errOut lockedBuffer
	done := make(chan exitCode, 1)
	go func() {
		code, _ := watchRun(ctx, o, streams{In: &bytes.Buffer{}, Out: &bytes.Buffer{}, Err: &errOut}, ticks)
		done <- code
	}()
	first := true
	cycle := func() string {
		if !first {
			ticks <- env.clock.now()
		}
		first = false
		<-committed
		out := errOut.take()
		release <- struct{}{}
		return out
	}
	out := cycle()
	require.Equal(t, 1, strings.Count(out, "level=ERROR"), out)
	require.Contains(t, out, `msg="source unreadable" source=file:`+share)
	out = cycle()
	require.Contains(t, out, "1 input problem(s)", "the cycle summary still counts it")
	require.NotContains(t, out, "level=ERROR", "still the same problem: said once")
	out = cycle()
	require.NotContains(t, out, "level=ERROR", "still the same problem: said once")

	// The share is back.
	require.NoError(t, os.Mkdir(share, 0o755))
	out = cycle()
	require.NotContains(t, out, "level=ERROR")
	require.Contains(t, out, `msg="source readable again" source=file:`+share)

	cancel()
	require.Equal(t, exitInterrupted, <-done)
}

// A mail server that refuses the recipient (550) is not asked again on
// every scheduled run, with an error line each time, but after an hour,
// then two...; a scan with the address fixed sends at once.
func TestScanRejectedAlertIsHeldBack(t *testing.T) {
	srv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
	var rcpts atomic.Int32
	srv.SetHooks(notifytest.SMTPHooks{OnRcpt: func(to string) error {
		rcpts.Add(1)
		if to != "admins@sbs.example" {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}})
	env := newScanEnv(t, fmt.Sprintf("%s:%d", srv.Host, srv.Port))
	env.editConfig(t, "to: [admins@sbs.example]", "to: [admin@sbs.example]")
	for i := range 3 {
		env.autd(t, "SBSHQ01", scanT0.Add(-30*time.Minute+time.Duration(i)*6*time.Minute))
	}
	code, _, errOut := env.scan(t, func(o *scanOptions) { o.Quiet = true })
	require.Equal(t, exitPartial, code, errOut)
	require.Equal(t, 1, strings.Count(errOut, "alert rejected"), errOut)
	require.Contains(t, errOut, "no such user")
	require.Equal(t, int32(1), rcpts.Load())

	// Scheduled runs every 5 minutes: the alert stays queued (partial),
	// unsent and unlogged, until the hour is over.
	for i := 1; i < 12; i++ {
		env.clock.set(scanT0.Add(time.Duration(i) * 5 * time.Minute))
		code, _, errOut = env.scan(t, func(o *scanOptions) { o.Quiet = true })
		require.Equal(t, exitPartial, code, errOut)
		require.Empty(t, errOut)
	}
	require.Equal(t, int32(1), rcpts.Load())
	env.clock.set(scanT0.Add(time.Hour))
	_, _, errOut = env.scan(t, func(o *scanOptions) { o.Quiet = true })
	require.Equal(t, 1, strings.Count(errOut, "alert rejected"), errOut)
	require.Equal(t, int32(2), rcpts.Load())

	// The admin fixes the address: the next run sends it.
	env.editConfig(t, "to: [admin@sbs.example]", "to: [admins@sbs.example]")
	env.clock.set(scanT0.Add(65 * time.Minute))
	code, _, errOut = env.scan(t)
	require.Equal(t, exitFindings, code, errOut)
	require.Contains(t, errOut, "channel configuration changed")
	require.Len(t, srv.Messages(), 1)
}

// unquoteLogPaths undoes slog's quoting of backslashes, so Windows paths in
// log lines can be compared with filepath.Join results.
func unquoteLogPaths(s string) string { return strings.ReplaceAll(s, `\\`, `\`) }
