package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/cmd/evtwatch/internal/state"
	"github.com/evtwatch/evtwatch/notify"
	"github.com/evtwatch/evtwatch/notify/notifytest"
)

// TestScanDryRunSaysNothingWasSent: a dry run prints the messages; its
// log and summary must not say they were sent or queued.
func TestScanDryRunSaysNothingWasSent(t *testing.T) {
	sink := startSMTP(t, "127.0.0.1:0")
	env := newScanEnv(t, sink.addr)
	for i := range 3 {
		env.autd(t, "SBSHQ01", scanT0.Add(-30*time.Minute+time.Duration(i)*8*time.Minute))
	}
	code, out, errOut := env.scan(t, func(o *scanOptions) { o.DryRun = true })
	require.Equal(t, exitFindings, code, errOut)
	require.Contains(t, out, "===== email (dry run: not sent) =====")
	require.Empty(t, sink.messages())
	require.Contains(t, errOut, "evtwatch scan (dry run: nothing sent, nothing saved): findings to alert: 1 source(s), 9 new event(s), 1 finding(s), 1 message(s) printed above")
	require.Contains(t, errOut, `msg="alert printed (dry run: not sent)"`)
	require.NotContains(t, errOut, "alert sent")
	require.NotContains(t, errOut, "message(s) sent")
}

func TestRunSummaryDryRun(t *testing.T) {
	s := runSummary{Command: "scan", Code: exitOK, Sources: 2, DryRun: true}
	require.Equal(t, "evtwatch scan (dry run: nothing sent, nothing saved): clean: 2 source(s), 0 new event(s), 0 finding(s), 0 message(s) printed above", s.line())
}

// TestConfigShowOmitsUnsetSourceKeys: a path source is shown without an
// empty channel key (and a channel without an empty path).
func TestConfigShowOmitsUnsetSourceKeys(t *testing.T) {
	path := writeConfig(t, "sources:\n  - path: logs\nstate: state.json\n")
	code, out, errOut := runForTest(t, "config", "show", "--config", path)
	require.Equal(t, exitOK, code, errOut)
	require.NotContains(t, out, `channel: ""`)
	require.Contains(t, out, "path: ")
}

// TestRunSummaryCountsResolvedNotices: a run that queues only a resolved
// notice says so, instead of "0 alert(s) queued, 2 message(s) sent".
func TestRunSummaryCountsResolvedNotices(t *testing.T) {
	var s runSummary
	s.fill(cycleResult{Added: notify.AddResult{Resolved: 1}, Flush: notify.FlushReport{Sent: 2}})
	require.Equal(t, 1, s.Queued)
}

// TestConfigShowResolvesSecretFilePaths: config show promises relative
// paths made absolute; that includes *_file secrets and ca_file.
func TestConfigShowResolvesSecretFilePaths(t *testing.T) {
	path := writeConfig(t, strings.Replace(goodConfig, "password: hunter2-smtp", "password_file: pw.txt\n    ca_file: ca.pem", 1))
	dir := filepath.Dir(path)
	caPEM, err := os.ReadFile(notifytest.NewSMTPServer(t, notifytest.SMTPOptions{}).CAFile)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pw.txt"), []byte("file-secret-xyz\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ca.pem"), caPEM, 0o600))
	code, out, errOut := runForTest(t, "config", "show", "--config", path)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "password_file: "+filepath.Join(dir, "pw.txt"))
	require.Contains(t, out, "ca_file: "+filepath.Join(dir, "ca.pem"))
	require.NotContains(t, out, "file-secret-xyz")
}

// TestScanLockedQuiet: under a scheduler (--quiet) an overlapping run is
// not an error worth a line (cron would mail it): only the exit status.
func TestScanLockedQuiet(t *testing.T) {
	env := newScanEnv(t, freePort(t))
	holder, _, _, err := state.Open(env.statePath, state.Options{})
	require.NoError(t, err)
	defer holder.Close()
	code, out, errOut := env.scan(t, func(o *scanOptions) { o.Quiet = true })
	require.Equal(t, exitLocked, code)
	require.Empty(t, out)
	require.Empty(t, errOut)
}

// TestCfgDurationMatchesNotify: lookback and watch.interval take the same
// syntax as notify's durations (realert: 1d12h worked, lookback: 1d12h
// did not).
func TestCfgDurationMatchesNotify(t *testing.T) {
	got, err := parseCfgDuration("1d12h")
	require.NoError(t, err)
	require.Equal(t, 36*time.Hour, got)
}
