package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestScanIncidentLifecycle follows one incident through scheduled runs
// with the fake clock: the first alert, repeats held back by the realert
// interval and counted into the reminder, and one resolved notice when
// the port table shows the port free.
func TestScanIncidentLifecycle(t *testing.T) {
	sink := startSMTP(t, "127.0.0.1:0")
	env := newScanEnv(t, sink.addr)
	at := func(d time.Duration) time.Time { return scanT0.Add(d) }
	for i := range 3 {
		env.autd(t, "SBSHQ01", at(-30*time.Minute+time.Duration(i)*8*time.Minute))
	}
	code, _, errOut := env.scan(t)
	require.Equal(t, exitFindings, code, errOut)
	require.Len(t, sink.messages(), 1)
	first := sink.messages()[0]
	require.True(t, strings.HasPrefix(first.Subject, "SBSHQ01:"), first.Subject)

	// Two more runs see the failure go on: held back, counted.
	for _, d := range []time.Duration{10 * time.Minute, 20 * time.Minute} {
		env.autd(t, "SBSHQ01", at(d-2*time.Minute))
		env.clock.set(at(d))
		code, _, errOut = env.scan(t)
		require.Equal(t, exitOK, code, errOut)
	}
	require.Len(t, sink.messages(), 1, "held back by the 4h realert")

	// Four hours later it still fails: one reminder, carrying the count.
	for i := range 3 {
		env.autd(t, "SBSHQ01", at(4*time.Hour+time.Duration(i)*8*time.Minute))
	}
	env.clock.set(at(4*time.Hour + 20*time.Minute))
	code, _, errOut = env.scan(t)
	require.Equal(t, exitFindings, code, errOut)
	msgs := sink.messages()
	require.Len(t, msgs, 2)
	require.Equal(t, "Still failing: "+first.Subject, msgs[1].Subject)
	require.Contains(t, msgs[1].Body, "2 repeats held back since")

	// dns.exe lets go of the port: one resolved notice, naming the
	// original culprit, and nothing after it.
	netstat := filepath.Join(env.dir, "captures", "netstat-ano.txt")
	b, err := os.ReadFile(netstat)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(netstat, []byte(strings.Replace(string(b), "UDP    0.0.0.0:2883           *:*                                    1692\n", "", 1)), 0o644))
	env.clock.set(at(4*time.Hour + 25*time.Minute))
	code, _, errOut = env.scan(t)
	require.Equal(t, exitFindings, code, errOut)
	msgs = sink.messages()
	require.Len(t, msgs, 3)
	require.Equal(t, "Resolved: "+first.Subject, msgs[2].Subject)
	require.Contains(t, msgs[2].Body, "is free now")

	env.clock.set(at(4*time.Hour + 30*time.Minute))
	code, _, errOut = env.scan(t)
	require.Equal(t, exitOK, code, errOut)
	require.Len(t, sink.messages(), 3, "one resolved notice, not one per run")
}
