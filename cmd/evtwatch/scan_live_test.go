package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/cmd/evtwatch/internal/state"
	"github.com/evtwatch/evtwatch/evtx"
)

func scm(at time.Time) evtx.Event {
	return evtx.Event{Provider: "Service Control Manager", EventID: 7036, Level: evtx.LevelInformation, Computer: "SBSHQ01", Time: at,
		Data: []evtx.Data{{Name: "param1", Value: "Print Spooler"}}}
}

func autdEvent(host string, at time.Time) evtx.Event {
	return evtx.Event{Provider: "Server ActiveSync", EventID: 3015, Level: evtx.LevelError, Computer: host, Time: at,
		Data: []evtx.Data{{Value: "0x80004005"}, {Value: "2883"}}}
}

// readChannel runs one read of a channel source from pos.
func readChannel(t *testing.T, src *channelSource, pos *state.Source, now time.Time) sourceRead {
	t.Helper()
	out, err := src.read(context.Background(), pos, readContext{
		lookback: now.Add(-24 * time.Hour), now: now, log: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	require.NotNil(t, out.pos)
	return out
}

func ids(evs []*evtx.Event) []uint64 {
	out := []uint64{}
	for _, ev := range evs {
		out = append(out, ev.RecordID)
	}
	return out
}

func TestChannelSourceResumes(t *testing.T) {
	live := newFakeLive()
	now := scanT0
	for i := range 10 {
		live.write("System", scm(now.Add(-48*time.Hour+time.Duration(i)*time.Minute)))
	}
	live.write("System", scm(now.Add(-3*time.Hour)), scm(now.Add(-2*time.Hour)), scm(now.Add(-time.Hour)))
	src := &channelSource{api: live, channel: "System"}

	// First run: the look-back.
	out := readChannel(t, src, nil, now)
	require.Equal(t, []uint64{11, 12, 13}, ids(out.events))
	require.Empty(t, out.warnings)
	pos := out.pos
	require.Equal(t, uint64(13), pos.Last.RecordID)
	require.Equal(t, now.Add(-time.Hour), pos.Last.Time)
	bm, err := evtx.ParseBookmarkXML(pos.Bookmark)
	require.NoError(t, err)
	id, _ := bm.RecordID("System")
	require.Equal(t, uint64(13), id)

	// Nothing new.
	out = readChannel(t, src, pos, now)
	require.Empty(t, out.events)
	require.Equal(t, uint64(13), out.pos.Last.RecordID)

	// New records the query filters out still move the position to the
	// newest record, so a log that later wraps is not mistaken for a gap.
	src.filter = channelFilter{EventIDs: []uint16{3015}}
	live.write("System", scm(now.Add(time.Minute)), scm(now.Add(2*time.Minute)))
	out = readChannel(t, src, pos, now.Add(5*time.Minute))
	require.Empty(t, out.events)
	require.Equal(t, uint64(15), out.pos.Last.RecordID)
	require.Equal(t, now.Add(2*time.Minute), out.pos.Last.Time)
	pos = out.pos
	src.filter = channelFilter{}

	// The log wraps past the saved record: say how many were lost, go on
	// from the oldest.
	for i := range 20 {
		live.write("System", scm(now.Add(10*time.Minute+time.Duration(i)*time.Second)))
	}
	live.roll("System", 8) // records 28..35 remain; 16..27 are gone
	out = readChannel(t, src, pos, now.Add(20*time.Minute))
	require.Equal(t, []uint64{28, 29, 30, 31, 32, 33, 34, 35}, ids(out.events))
	require.Len(t, out.warnings, 1)
	require.Contains(t, out.warnings[0], "rolled over")
	require.Contains(t, out.warnings[0], "up to 12 record(s)")
	pos = out.pos

	// The log is cleared and written again: IDs restart. Everything written
	// since the saved time is read, with a warning that the rest is lost.
	live.clear("System")
	live.write("System", scm(now.Add(30*time.Minute)), scm(now.Add(31*time.Minute)))
	out = readChannel(t, src, pos, now.Add(35*time.Minute))
	require.Equal(t, []uint64{1, 2}, ids(out.events))
	require.Len(t, out.warnings, 1)
	require.Contains(t, out.warnings[0], "cleared")
	require.Equal(t, uint64(2), out.pos.Last.RecordID)
	pos = out.pos

	// Cleared and refilled past the saved ID: the record with that ID has
	// another time, so it is a clear too, not a continuation.
	live.clear("System")
	for i := range 5 {
		live.write("System", scm(now.Add(40*time.Minute+time.Duration(i)*time.Minute)))
	}
	out = readChannel(t, src, pos, now.Add(50*time.Minute))
	require.Equal(t, []uint64{1, 2, 3, 4, 5}, ids(out.events))
	require.Contains(t, out.warnings[0], "cleared")
}

func TestChannelSourceStaleResultRetries(t *testing.T) {
	live := newFakeLive()
	now := scanT0
	for i := range 6 {
		live.write("Application", scm(now.Add(-time.Duration(6-i)*time.Minute)))
	}
	live.staleAfter = 2 // the log changes under the first reader
	src := &channelSource{api: live, channel: "Application"}
	out := readChannel(t, src, nil, now)
	require.Equal(t, []uint64{1, 2, 3, 4, 5, 6}, ids(out.events), "re-planned from what was read: no gap, no repeat")
	require.Len(t, live.opened, 2)
}

func TestChannelSourceFollowUsesBookmark(t *testing.T) {
	live := newFakeLive()
	now := scanT0
	live.write("Application", scm(now.Add(-time.Minute)))
	src := &channelSource{api: live, channel: "Application", follow: true}
	out := readChannel(t, src, nil, now)
	require.Equal(t, []uint64{1}, ids(out.events))
	pos := out.pos

	// The subscription stays open between cycles.
	live.write("Application", scm(now))
	out = readChannel(t, src, pos, now)
	require.Equal(t, []uint64{2}, ids(out.events))
	require.Len(t, live.opened, 1)
	pos = out.pos

	// A new process resumes the subscription from the saved bookmark.
	require.NoError(t, src.close())
	live.write("Application", scm(now.Add(time.Minute)))
	out = readChannel(t, src, pos, now.Add(time.Minute))
	require.Equal(t, []uint64{3}, ids(out.events))
	require.Len(t, live.opened, 2)
	require.Equal(t, pos.Bookmark, live.opened[1].Bookmark, "resumed after the bookmark")
}

// liveScanEnv is scanEnv reading the Application channel of a fake log.
func liveScanEnv(t *testing.T, smtpAddr string) (*scanEnv, *fakeLive) {
	env := newScanEnv(t, smtpAddr)
	cfg, err := os.ReadFile(env.config)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(env.config, []byte(strings.Replace(string(cfg), "  - path: logs", "  - channel: Application", 1)), 0o644))
	return env, newFakeLive()
}

func TestScanOverLiveChannel(t *testing.T) {
	sink := startSMTP(t, "127.0.0.1:0")
	env, live := liveScanEnv(t, sink.addr)
	withLive := func(o *scanOptions) { o.live, o.goos = live, "windows" }
	for i := range 3 {
		live.write("Application", scm(scanT0.Add(-40*time.Minute)), autdEvent("SBSHQ01", scanT0.Add(-30*time.Minute+time.Duration(i)*9*time.Minute)))
	}
	code, _, errOut := env.scan(t, withLive)
	require.Equal(t, exitFindings, code, errOut)
	require.Len(t, sink.messages(), 1)
	// The query asked the service only for what the rules use.
	require.Contains(t, live.opened[0].Query.EventIDs, uint16(3015))
	require.NotContains(t, live.opened[0].Query.EventIDs, uint16(7036))

	env.clock.set(scanT0.Add(5 * time.Minute))
	code, _, errOut = env.scan(t, withLive)
	require.Equal(t, exitOK, code, errOut)
	require.Len(t, sink.messages(), 1)
	st, err := state.Peek(env.statePath)
	require.NoError(t, err)
	require.Equal(t, uint64(6), st.Source("channel:Application").Last.RecordID)
}

func TestWatchWakesOnSubscriptionSignal(t *testing.T) {
	sink := startSMTP(t, "127.0.0.1:0")
	env, live := liveScanEnv(t, sink.addr)
	live.write("Application", autdEvent("SBSHQ01", scanT0.Add(-20*time.Minute)), autdEvent("SBSHQ01", scanT0.Add(-12*time.Minute)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := env.opts()
	o.live, o.goos = live, "windows"
	cycles := make(chan struct{})
	o.onCommit = func() { cycles <- struct{}{} }
	done := make(chan exitCode, 1)
	go func() {
		code, _ := watchRun(ctx, o, streams{In: &bytes.Buffer{}, Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, make(chan time.Time))
		done <- code
	}()
	<-cycles
	require.Empty(t, sink.messages())

	// No tick ever comes: the event itself wakes watch.
	live.write("Application", autdEvent("SBSHQ01", scanT0.Add(-time.Minute)))
	<-cycles
	require.Len(t, sink.messages(), 1)
	cancel()
	require.Equal(t, exitInterrupted, <-done)
}

func TestWatchCycleThatCannotCommitRereads(t *testing.T) {
	sink := startSMTP(t, "127.0.0.1:0")
	env, live := liveScanEnv(t, sink.addr)
	o := env.opts()
	o.live, o.goos = live, "windows"
	o.defaults()
	sc, err := newScanner(context.Background(), o, streams{In: &bytes.Buffer{}, Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, slog.New(slog.DiscardHandler), true)
	require.NoError(t, err)
	defer sc.close()

	live.write("Application", autdEvent("SBSHQ01", scanT0.Add(-20*time.Minute)), autdEvent("SBSHQ01", scanT0.Add(-12*time.Minute)))
	_, err = sc.cycle(context.Background())
	require.NoError(t, err)

	// The state file cannot be replaced (a folder is in its way, which
	// stops root too): the cycle reads the third failure from the
	// subscription but cannot commit.
	live.write("Application", autdEvent("SBSHQ01", scanT0.Add(-2*time.Minute)))
	require.NoError(t, os.Remove(env.statePath))
	require.NoError(t, os.MkdirAll(filepath.Join(env.statePath, "blocker"), 0o755))
	_, err = sc.cycle(context.Background())
	require.Error(t, err)
	require.Empty(t, sink.messages())

	// Writable again: the event the failed cycle consumed is read again.
	require.NoError(t, os.RemoveAll(env.statePath))
	res, err := sc.cycle(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, res.Events)
	require.Len(t, sink.messages(), 1)
}
