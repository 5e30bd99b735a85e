package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWatchFollowsAGrowingLog(t *testing.T) {
	sink := startSMTP(t, "127.0.0.1:0")
	env := newScanEnv(t, sink.addr)
	env.autd(t, "SBSHQ01", scanT0.Add(-20*time.Minute))
	env.autd(t, "SBSHQ01", scanT0.Add(-12*time.Minute))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ticks := make(chan time.Time)
	cycles := make(chan struct{})
	o := env.opts()
	o.onCommit = func() { cycles <- struct{}{} }
	var errOut bytes.Buffer
	type result struct {
		code exitCode
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := watchRun(ctx, o, streams{In: &bytes.Buffer{}, Out: &bytes.Buffer{}, Err: &errOut}, ticks)
		done <- result{code, err}
	}()

	<-cycles // the first cycle runs at once
	require.Empty(t, sink.messages(), "two failures are not a pattern yet")

	// A scheduled scan while watch runs finds the state locked.
	code, _, scanErr := env.scan(t)
	require.Equal(t, exitLocked, code)
	require.Contains(t, scanErr, "another evtwatch run")

	// The log grows; the next cycle reads only the new records.
	env.autd(t, "SBSHQ01", scanT0.Add(-2*time.Minute))
	env.clock.set(scanT0.Add(time.Minute))
	ticks <- env.clock.now()
	<-cycles
	msgs := sink.messages()
	require.Len(t, msgs, 1)
	require.Contains(t, msgs[0].Subject, "dns.exe")

	// Quiet interval: nothing more.
	env.clock.set(scanT0.Add(2 * time.Minute))
	ticks <- env.clock.now()
	<-cycles
	require.Len(t, sink.messages(), 1)

	cancel()
	res := <-done
	require.NoError(t, res.err)
	require.Equal(t, exitInterrupted, res.code)
}
