package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/cmd/evtwatch/internal/state"
	"github.com/evtwatch/evtwatch/evtx/evtxtest"
)

func TestScanIncrementalRunsAlertOnce(t *testing.T) {
	sink := startSMTP(t, "127.0.0.1:0")
	env := newScanEnv(t, sink.addr)

	// History from two days ago: a pattern, but older than the look-back.
	for i := range 5 {
		env.autd(t, "SBSHQ01", scanT0.Add(-48*time.Hour+time.Duration(i)*7*time.Minute))
	}
	// Two recent failures: below the threshold of three.
	env.autd(t, "SBSHQ01", scanT0.Add(-20*time.Minute))
	env.autd(t, "SBSHQ01", scanT0.Add(-12*time.Minute))

	code, _, errOut := env.scan(t)
	require.Equal(t, exitOK, code, errOut)
	require.Empty(t, sink.messages(), "the first run does not alert on history beyond the look-back")

	// The third failure arrives; the next run sees it with the two carried
	// over from the previous run: a pattern.
	env.autd(t, "SBSHQ01", scanT0.Add(-3*time.Minute))
	env.clock.set(scanT0.Add(5 * time.Minute))
	code, out, errOut := env.scan(t, func(o *scanOptions) { o.JSON = true })
	require.Equal(t, exitFindings, code, errOut)
	msgs := sink.messages()
	require.Len(t, msgs, 1)
	require.Contains(t, msgs[0].Subject, "SBSHQ01")
	require.Contains(t, msgs[0].Subject, "2883")
	require.Contains(t, msgs[0].Subject, "dns.exe")
	require.Contains(t, msgs[0].Body, "1692")
	var js scanJSON
	require.NoError(t, json.Unmarshal([]byte(out), &js))
	require.Equal(t, 5, js.Exit)
	require.Equal(t, 3, js.Events, "only the new pair and its neighbour were read")
	require.Equal(t, 1, js.Sent)
	require.Equal(t, 0, js.Pending)

	// Nothing new: nothing read, nothing sent.
	env.clock.set(scanT0.Add(10 * time.Minute))
	code, _, errOut = env.scan(t)
	require.Equal(t, exitOK, code, errOut)
	require.Len(t, sink.messages(), 1)

	// The failure goes on: counted, but held back by the 4h realert.
	env.autd(t, "SBSHQ01", scanT0.Add(12*time.Minute))
	env.clock.set(scanT0.Add(15 * time.Minute))
	code, _, errOut = env.scan(t)
	require.Equal(t, exitOK, code, errOut)
	require.Len(t, sink.messages(), 1, "no duplicate across runs")

	// Another host's failures are their own incident.
	for i := range 3 {
		env.autd(t, "BRANCH02", scanT0.Add(16*time.Minute+time.Duration(i)*6*time.Minute))
	}
	env.clock.set(scanT0.Add(40 * time.Minute))
	code, _, errOut = env.scan(t)
	require.Equal(t, exitFindings, code, errOut)
	msgs = sink.messages()
	require.Len(t, msgs, 2)
	require.Contains(t, msgs[1].Subject, "BRANCH02")
	require.NotEqual(t, msgs[0].MessageID, msgs[1].MessageID)
}

func TestScanFirstRunLookback(t *testing.T) {
	sink := startSMTP(t, "127.0.0.1:0")
	env := newScanEnv(t, sink.addr)
	for i := range 4 {
		env.autd(t, "SBSHQ01", scanT0.Add(-30*time.Hour+time.Duration(i)*6*time.Minute))
	}
	// A 48h look-back reaches the pattern; the default 24h did not.
	cfg, err := os.ReadFile(env.config)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(env.config, []byte(strings.Replace(string(cfg), "lookback: 24h", "lookback: 2d", 1)), 0o644))
	code, _, errOut := env.scan(t)
	require.Equal(t, exitFindings, code, errOut)
	require.Len(t, sink.messages(), 1)
}

func TestScanLockContention(t *testing.T) {
	sink := startSMTP(t, "127.0.0.1:0")
	env := newScanEnv(t, sink.addr)
	env.autd(t, "SBSHQ01", scanT0.Add(-time.Minute))
	holder, _, _, err := state.Open(env.statePath, state.Options{})
	require.NoError(t, err)

	code, _, errOut := env.scan(t)
	require.Equal(t, exitLocked, code)
	require.Contains(t, errOut, "another evtwatch run")
	require.Contains(t, errOut, "pid ")
	_, err = os.Stat(env.statePath)
	require.ErrorIs(t, err, os.ErrNotExist, "the locked-out run wrote nothing")

	require.NoError(t, holder.Close())
	code, _, errOut = env.scan(t)
	require.Equal(t, exitOK, code, errOut)
}

func TestScanCorruptStateRecovers(t *testing.T) {
	sink := startSMTP(t, "127.0.0.1:0")
	env := newScanEnv(t, sink.addr)
	for i := range 3 {
		env.autd(t, "SBSHQ01", scanT0.Add(-30*time.Minute+time.Duration(i)*8*time.Minute))
	}
	require.NoError(t, os.MkdirAll(filepath.Dir(env.statePath), 0o755))
	require.NoError(t, os.WriteFile(env.statePath, []byte(`{"version":1,"sources":{"file:x":{"file":`), 0o644))

	code, _, errOut := env.scan(t)
	require.Equal(t, exitFindings, code, errOut)
	require.Contains(t, errOut, "was unusable and was moved to")
	aside, err := filepath.Glob(env.statePath + ".corrupt-*")
	require.NoError(t, err)
	require.Len(t, aside, 1)
	require.Len(t, sink.messages(), 1, "the run went on from the look-back")

	st, err := state.Peek(env.statePath)
	require.NoError(t, err)
	require.Len(t, st.Sources, 1, "a good state was written")
}

func TestScanOutboxRetriedWhenSMTPComesUp(t *testing.T) {
	addr := freePort(t) // nobody listens: the mail server is down
	env := newScanEnv(t, addr)
	for i := range 3 {
		env.autd(t, "SBSHQ01", scanT0.Add(-30*time.Minute+time.Duration(i)*8*time.Minute))
	}
	code, _, errOut := env.scan(t)
	require.Equal(t, exitPartial, code, "alerts queued for retry: partial")
	require.Contains(t, errOut, "1 waiting for retry")
	st, err := state.Peek(env.statePath)
	require.NoError(t, err)
	require.Contains(t, string(st.Notify), "2883", "the alert is in the outbox")

	// Still down on the next run: still queued, nothing lost.
	env.clock.set(scanT0.Add(5 * time.Minute))
	code, _, _ = env.scan(t)
	require.Equal(t, exitPartial, code)

	// The server comes up on the same address: the next run delivers it.
	sink := startSMTP(t, addr)
	env.clock.set(scanT0.Add(10 * time.Minute))
	code, _, errOut = env.scan(t)
	require.Equal(t, exitFindings, code, errOut)
	msgs := sink.messages()
	require.Len(t, msgs, 1)
	require.Contains(t, msgs[0].Subject, "2883")

	env.clock.set(scanT0.Add(15 * time.Minute))
	code, _, _ = env.scan(t)
	require.Equal(t, exitOK, code)
	require.Len(t, sink.messages(), 1, "delivered once")
}

func TestScanDryRunChangesNothing(t *testing.T) {
	sink := startSMTP(t, "127.0.0.1:0")
	env := newScanEnv(t, sink.addr)
	for i := range 3 {
		env.autd(t, "SBSHQ01", scanT0.Add(-30*time.Minute+time.Duration(i)*8*time.Minute))
	}
	code, out, errOut := env.scan(t, func(o *scanOptions) { o.DryRun = true })
	require.Equal(t, exitFindings, code, errOut)
	require.Contains(t, out, "2883")
	require.Empty(t, sink.messages())
	_, err := os.Stat(env.statePath)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestScanUsage(t *testing.T) {
	code, _, errOut := runForTest(t, "scan", "some.evtx")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "evtwatch analyze")
	code, _, errOut = runForTest(t, "scan", "--config", filepath.Join(t.TempDir(), "missing.yaml"))
	require.Equal(t, exitConfig, code)
	require.Contains(t, errOut, "missing.yaml")
}

func TestScanReportsDamageOnce(t *testing.T) {
	sink := startSMTP(t, "127.0.0.1:0")
	env := newScanEnv(t, sink.addr)
	env.corrupt = []evtxtest.Corruption{{Chunk: 0, Kind: evtxtest.BadChunkMagic}}
	for i := range 8 { // 24 records: chunk 0 (damaged) and chunk 1
		env.autd(t, "SBSHQ01", scanT0.Add(-50*time.Minute+time.Duration(i)*5*time.Minute))
	}
	code, out, errOut := env.scan(t, func(o *scanOptions) { o.JSON = true })
	require.Equal(t, exitPartial, code, errOut)
	var js scanJSON
	require.NoError(t, json.Unmarshal([]byte(out), &js))
	require.NotEmpty(t, js.Problems)
	require.Contains(t, js.Problems[0], "Application.evtx")
	require.Len(t, sink.messages(), 1, "the readable part still alerts")

	// The damage is still there, but it was reported: the next run is clean.
	env.clock.set(scanT0.Add(5 * time.Minute))
	code, out, errOut = env.scan(t, func(o *scanOptions) { o.JSON = true })
	require.Equal(t, exitOK, code, errOut)
	js = scanJSON{}
	require.NoError(t, json.Unmarshal([]byte(out), &js))
	require.Empty(t, js.Problems)
}
