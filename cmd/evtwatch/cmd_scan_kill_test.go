package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/cmd/evtwatch/internal/state"
)

// TestScanChildProcess is the child of TestScanKilledAtRandomMoments: one
// scan with the clock and config the parent gives, then exit with its
// status. It does nothing in a normal test run.
func TestScanChildProcess(t *testing.T) {
	cfg := os.Getenv("EVTWATCH_TEST_SCAN_CONFIG")
	if cfg == "" {
		t.Skip("child process of TestScanKilledAtRandomMoments")
	}
	now, err := time.Parse(time.RFC3339Nano, os.Getenv("EVTWATCH_TEST_SCAN_NOW"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(99)
	}
	code, err := scanRun(context.Background(), scanOptions{
		ConfigPath: cfg,
		Quiet:      true,
		now:        func() time.Time { return now },
		sleep:      noSleep,
		lookupEnv:  func(string) (string, bool) { return "", false },
		goos:       "linux",
	}, streams{In: &bytes.Buffer{}, Out: os.Stdout, Err: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = codeFor(err)
	}
	os.Exit(int(code))
}

// TestScanKilledAtRandomMoments kills scans with SIGKILL at random moments
// (while reading, correlating, writing the state or talking to the mail
// server) and checks what the receiving side got: every alert at least
// once, and nothing more than the message in flight when a run was
// killed, which carries the same Message-ID as its resend.
func TestScanKilledAtRandomMoments(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	sink := startSMTP(t, "127.0.0.1:0")
	sink.delay = 3 * time.Millisecond // widen the window between "accepted" and "removed from the outbox"
	env := newScanEnv(t, sink.addr)
	cfg, err := os.ReadFile(env.config)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(env.config, []byte(strings.Replace(string(cfg), "realert: 4h", "realert: 4h\n  resolve_after: 30d", 1)), 0o644))

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 6))
	const iterations = 20
	clock := scanT0
	var hosts []string
	kills, completed := 0, 0
	run := func(killAfter time.Duration) (killed bool, code int) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestScanChildProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "EVTWATCH_TEST_SCAN_CONFIG="+env.config, "EVTWATCH_TEST_SCAN_NOW="+clock.Format(time.RFC3339Nano))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Start())
		var timer *time.Timer
		var terminated atomic.Bool
		if killAfter > 0 {
			timer = time.AfterFunc(killAfter, func() {
				terminated.Store(true) // first: Wait can return before Kill does
				_ = cmd.Process.Kill()
			})
		}
		err := cmd.Wait()
		if timer != nil {
			timer.Stop()
		}
		if ee, ok := err.(*exec.ExitError); ok && !ee.Exited() {
			return true, -1 // killed by the signal
		}
		code = cmd.ProcessState.ExitCode()
		if terminated.Load() && code == 1 {
			return true, -1 // Windows: TerminateProcess, which leaves exit status 1
		}
		require.Contains(t, []int{int(exitOK), int(exitFindings), int(exitPartial)}, code, "child failed: %s%s", stdout.String(), stderr.String())
		return false, code
	}

	for i := range iterations {
		host := fmt.Sprintf("HOST%02d", i)
		hosts = append(hosts, host)
		for k := range 3 {
			env.autd(t, host, clock.Add(-25*time.Minute+time.Duration(k)*7*time.Minute))
		}
		killed, _ := run(time.Duration(rng.IntN(200_000)) * time.Microsecond)
		if killed {
			kills++
		} else {
			completed++
		}
		clock = clock.Add(5 * time.Minute)
	}
	// Let the last runs finish what the killed ones left queued.
	for range 2 {
		killed, code := run(0)
		require.False(t, killed)
		require.Contains(t, []int{int(exitOK), int(exitFindings)}, code)
		clock = clock.Add(5 * time.Minute)
	}
	t.Logf("%d runs killed, %d completed before the kill", kills, completed)

	msgs := sink.messages()
	byHost := map[string]map[string]int{} // host -> Message-ID -> copies
	for _, m := range msgs {
		var host string
		for _, h := range hosts {
			if strings.Contains(m.Subject, h) {
				host = h
			}
		}
		require.NotEmpty(t, host, "unexpected message %q", m.Subject)
		if byHost[host] == nil {
			byHost[host] = map[string]int{}
		}
		byHost[host][m.MessageID]++
	}
	duplicates := 0
	for _, h := range hosts {
		ids := byHost[h]
		require.Len(t, ids, 1, "%s: exactly one alert (one Message-ID), got %v", h, ids)
		for _, n := range ids {
			duplicates += n - 1
		}
	}
	t.Logf("%d messages received for %d alerts: %d resent after a kill (same Message-ID)", len(msgs), len(hosts), duplicates)
	require.LessOrEqual(t, duplicates, kills, "a resend only for a message in flight when a run was killed")

	st, err := state.Peek(env.statePath)
	require.NoError(t, err, "the state file is intact after every kill")
	require.Len(t, st.Sources, 1)
}
