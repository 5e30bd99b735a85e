package notify_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/notify"
	"github.com/evtwatch/evtwatch/notify/notifytest"
	"github.com/evtwatch/evtwatch/rules"
)

// inbox is a channel that records what it was asked to deliver, and fails
// while fail is set.
type inbox struct {
	mu       sync.Mutex
	messages [][]notify.Alert
	fail     func() (bool, error)
}

func (b *inbox) Notify(_ context.Context, alerts ...notify.Alert) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		if retry, err := b.fail(); err != nil {
			return retry, err
		}
	}
	b.messages = append(b.messages, alerts)
	return false, nil
}

func (b *inbox) take() [][]notify.Alert {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.messages
	b.messages = nil
	return m
}

type rig struct {
	t       *testing.T
	clock   *fakeClock
	state   *notify.State
	email   *inbox
	slack   *inbox
	d       *notify.Dispatcher
	logs    *notifytest.LogBuffer
	started time.Time
}

func newRig(t *testing.T, edit func(*notify.Config)) *rig {
	t.Helper()
	start := mustTime(t, "2024-03-05T14:00:00Z")
	r := &rig{t: t, clock: newFakeClock(start), state: notify.NewState(), email: &inbox{}, slack: &inbox{}, started: start}
	cfg := notify.DefaultConfig()
	if edit != nil {
		edit(&cfg)
	}
	logger, logs := notifytest.NewLogger()
	r.logs = logs
	d, err := notify.NewDispatcher(cfg, []notify.Channel{{Name: "email", Notifier: r.email}, {Name: "slack", Notifier: r.slack}},
		r.state, logger, notify.WithDispatchClock(r.clock.Now, r.clock.Sleep))
	require.NoError(t, err)
	r.d = d
	return r
}

// finding is the sample finding with its last event at the rig's clock
// time.
func (r *rig) finding(edit ...func(*rules.Finding)) rules.Finding {
	f := notify.SampleFinding(r.clock.Now())
	f.Last = r.clock.Now()
	for _, e := range edit {
		e(&f)
	}
	return f
}

func (r *rig) flush() notify.FlushReport {
	r.t.Helper()
	rep, err := r.d.Flush(context.Background(), nil)
	require.NoError(r.t, err)
	return rep
}

func titles(msgs [][]notify.Alert) []string {
	var out []string
	for _, m := range msgs {
		for _, a := range m {
			out = append(out, a.Title())
		}
	}
	return out
}

const sampleTitle = "SBSHQ01: ActiveSync cannot bind udp/2883 — held by dns.exe (PID 2216, DNS)"

func TestDispatchNewFindingGoesToEveryChannel(t *testing.T) {
	r := newRig(t, nil)
	res := r.d.Add(r.finding())
	require.Equal(t, notify.AddResult{Queued: 1}, res)
	require.Equal(t, 2, r.state.Outbox.Len(), "one entry per channel, in the state before anything is sent")

	rep := r.flush()
	require.Equal(t, 2, rep.Sent)
	require.Zero(t, rep.Pending)
	for _, ch := range []*inbox{r.email, r.slack} {
		msgs := ch.take()
		require.Len(t, msgs, 1)
		a := msgs[0][0]
		require.Equal(t, notify.StatusFiring, a.Status)
		require.Equal(t, sampleTitle, a.Title())
		require.Zero(t, a.Sequence)
		require.True(t, a.FirstNotified.Equal(r.started))
	}
}

func TestDispatchThrottleCountsRepeats(t *testing.T) {
	r := newRig(t, nil)
	r.d.Add(r.finding())
	r.flush()
	firstID := r.email.take()[0][0].ID
	r.slack.take()

	// Every 5 minutes for the next 3h55m the scan reports the finding
	// again, with newer events: held back and counted.
	for range 47 {
		r.clock.Advance(5 * time.Minute)
		require.Equal(t, notify.AddResult{Suppressed: 1}, r.d.Add(r.finding()))
		r.flush()
	}
	require.Empty(t, r.email.take())

	// The same report again, no newer event: not a repeat.
	require.Equal(t, notify.AddResult{Unchanged: 1}, r.d.Add(r.finding()))

	r.clock.Advance(5 * time.Minute) // 4h after the first message
	require.Equal(t, notify.AddResult{Queued: 1}, r.d.Add(r.finding()))
	r.flush()
	msgs := r.email.take()
	require.Len(t, msgs, 1)
	a := msgs[0][0]
	require.Equal(t, firstID, a.ID, "a reminder belongs to the same incident")
	require.Equal(t, 1, a.Sequence)
	require.Equal(t, 47, a.Suppressed)
	require.True(t, a.SuppressedSince.Equal(r.started.Add(5*time.Minute)))
	require.Equal(t, "Still failing: "+sampleTitle, a.Title())
	require.Contains(t, notify.RenderText([]notify.Alert{a}), "47 repeats held back since 2024-03-05 14:05:00 UTC")

	// The count starts again after a message.
	r.clock.Advance(5 * time.Minute)
	r.d.Add(r.finding())
	require.Equal(t, 1, r.state.Incidents[a.Key].Suppressed)
}

func TestDispatchResolvedWhenPortFree(t *testing.T) {
	r := newRig(t, nil)
	r.d.Add(r.finding())
	r.flush()
	orig := r.email.take()[0][0]
	r.slack.take()

	r.clock.Advance(10 * time.Minute)
	free := r.finding(func(f *rules.Finding) { f.Verdict, f.Culprit = rules.VerdictFree, nil })
	require.Equal(t, notify.AddResult{Resolved: 1}, r.d.Add(free))
	r.flush()
	msgs := r.email.take()
	require.Len(t, msgs, 1)
	res := msgs[0][0]
	require.Equal(t, notify.StatusResolved, res.Status)
	require.Equal(t, orig.ID, res.ID, "tied to the original")
	require.Equal(t, "Resolved: "+sampleTitle, res.Title(), "names the original culprit")
	require.Equal(t, "port udp/2883 is free now", res.Resolution.Reason)
	require.Equal(t, rules.VerdictFree, res.Resolution.By.Verdict)
	require.True(t, res.FirstNotified.Equal(orig.FirstNotified))

	// Later scans still see the old failures with the port free: nothing more.
	r.clock.Advance(5 * time.Minute)
	require.Equal(t, notify.AddResult{Unchanged: 1}, r.d.Add(r.finding(func(f *rules.Finding) { f.Verdict, f.Culprit = rules.VerdictFree, nil })))
	r.flush()
	require.Empty(t, r.email.take())

	// dns.exe takes the port again after a restart: a new incident.
	r.clock.Advance(time.Hour)
	require.Equal(t, notify.AddResult{Queued: 1}, r.d.Add(r.finding()))
	r.flush()
	again := r.email.take()[0][0]
	require.Equal(t, notify.StatusFiring, again.Status)
	require.NotEqual(t, orig.ID, again.ID)
	require.Zero(t, again.Sequence)
}

func TestDispatchCulpritChange(t *testing.T) {
	r := newRig(t, nil)
	r.d.Add(r.finding())
	r.flush()
	r.email.take()
	r.slack.take()

	r.clock.Advance(10 * time.Minute)
	other := r.finding(func(f *rules.Finding) {
		f.Culprit = &rules.Culprit{PID: 4012, Image: "bigfix.exe", Services: []string{"BESClient"}, PortsHeld: 3}
	})
	require.Equal(t, notify.AddResult{Queued: 1, Resolved: 1}, r.d.Add(other))
	r.flush()
	require.Equal(t, []string{
		"Resolved: " + sampleTitle,
		"SBSHQ01: ActiveSync cannot bind udp/2883 — held by bigfix.exe (PID 4012, BESClient)",
	}, titles(r.email.take()), "in order: the old culprit's incident ends, the new one starts")
}

// TestDispatchNoPortTable: a run without a port table reports the same
// failure with an unknown owner; that is the open incident still failing,
// not a new alert.
func TestDispatchNoPortTable(t *testing.T) {
	r := newRig(t, nil)
	r.d.Add(r.finding())
	r.flush()
	r.email.take()
	r.slack.take()

	unknown := func(f *rules.Finding) { f.Verdict, f.Culprit, f.Snapshot = rules.VerdictUnknown, nil, nil }
	r.clock.Advance(5 * time.Minute)
	require.Equal(t, notify.AddResult{Suppressed: 1}, r.d.Add(r.finding(unknown)))
	r.clock.Advance(4 * time.Hour)
	require.Equal(t, notify.AddResult{Queued: 1}, r.d.Add(r.finding(unknown)))
	r.flush()
	a := r.email.take()[0][0]
	require.Equal(t, "Still failing: "+sampleTitle, a.Title(), "the last known culprit is kept")
	require.True(t, a.Finding.Snapshot.Taken.Before(r.started), "with the old snapshot's time")

	// With no incident open, an unknown owner is news of its own.
	r2 := newRig(t, nil)
	require.Equal(t, notify.AddResult{Queued: 1}, r2.d.Add(r2.finding(unknown)))
}

func TestDispatchResolvedWhenEventsStop(t *testing.T) {
	r := newRig(t, nil) // resolve_after 2h
	r.d.Add(r.finding())
	r.flush()
	orig := r.email.take()[0][0]
	r.slack.take()

	r.clock.Advance(119 * time.Minute)
	r.flush()
	require.Empty(t, r.email.take(), "not yet")

	r.clock.Advance(time.Minute)
	r.flush()
	msgs := r.email.take()
	require.Len(t, msgs, 1)
	require.Equal(t, notify.StatusResolved, msgs[0][0].Status)
	require.Equal(t, orig.ID, msgs[0][0].ID)
	require.Equal(t, "no new failures for 2h (last at 2024-03-05 14:00:00 UTC)", msgs[0][0].Resolution.Reason)
	require.Nil(t, msgs[0][0].Resolution.By)

	// A stale report of the same old events does not reopen it.
	require.Equal(t, notify.AddResult{Unchanged: 1}, r.d.Add(r.finding(func(f *rules.Finding) { f.Last = r.started })))

	// Resolved incidents are forgotten once they cannot matter.
	r.clock.Advance(5 * time.Hour)
	r.flush()
	require.Empty(t, r.state.Incidents)
}

func TestDispatchFailedChannelKeepsOnlyItsEntries(t *testing.T) {
	r := newRig(t, nil)
	down := errors.New("dial tcp: connection refused")
	r.slack.fail = func() (bool, error) { return true, down }
	r.d.Add(r.finding())
	rep := r.flush()
	require.Equal(t, 1, rep.Sent)
	require.Equal(t, 1, rep.Failed)
	require.Equal(t, 1, rep.Pending)
	require.Equal(t, notify.ChannelReport{Failed: 1, LastError: down.Error(), Retryable: true}, rep.Channels["slack"])
	require.Len(t, r.email.take(), 1)
	require.Len(t, r.clock.Slept(), 3, "retried with backoff within the flush")

	e := r.state.Outbox.Entries[0]
	require.Equal(t, "slack", e.Channel)
	require.Equal(t, 1, e.Attempts, "one flush tried it")
	require.Equal(t, down.Error(), e.LastError)
	require.False(t, e.Permanent)
	require.Contains(t, r.logs.String(), "alert not delivered; kept in the outbox")

	// Next run: Slack is back; email is not sent twice.
	r.slack.fail = nil
	r.clock.Advance(5 * time.Minute)
	rep = r.flush()
	require.Equal(t, 1, rep.Sent)
	require.Zero(t, rep.Pending)
	require.Len(t, r.slack.take(), 1)
	require.Empty(t, r.email.take())
}

func TestDispatchChannelDownStopsItsQueue(t *testing.T) {
	r := newRig(t, nil)
	calls := 0
	r.slack.fail = func() (bool, error) { calls++; return true, errors.New("503") }
	r.d.Add(r.finding(), r.finding(func(f *rules.Finding) { f.Port = 1812; f.Service = "IAS" }))
	rep := r.flush()
	require.Equal(t, 4, calls, "the first message's retries only; the second waits for the next run")
	require.Equal(t, 1, rep.Channels["slack"].Failed)
	require.Equal(t, 2, rep.Channels["email"].Sent)
	require.Equal(t, 2, rep.Pending)
}

func TestDispatchPermanentFailureIsKept(t *testing.T) {
	r := newRig(t, nil)
	r.email.fail = func() (bool, error) { return false, errors.New("550 5.1.1 no such user") }
	r.d.Add(r.finding())
	rep := r.flush()
	require.Equal(t, notify.ChannelReport{Failed: 1, LastError: "550 5.1.1 no such user"}, rep.Channels["email"])
	require.Empty(t, r.clock.Slept(), "no retry within the run")
	require.True(t, r.state.Outbox.Entries[0].Permanent)
	require.Contains(t, r.logs.String(), "alert rejected; kept in the outbox, fix the configuration")

	r.email.fail = nil         // the admin fixed the address
	r.clock.Advance(time.Hour) // tried again after the hold-back (see rejection_test.go)
	require.Equal(t, 1, r.flush().Sent)
}

func TestDispatchRetryAfterHoldsTheChannel(t *testing.T) {
	r := newRig(t, func(c *notify.Config) { c.Timeout = notify.Duration(time.Second) })
	r.slack.fail = func() (bool, error) {
		return true, notify.WithRetryAfter(errors.New("slack rate limit exceeded"), 10*time.Minute)
	}
	r.d.Add(r.finding())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The fake clock must stay inside the real deadline's reach.
	r.clock.t = time.Now()
	rep, err := r.d.Flush(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Channels["slack"].Failed)
	require.Empty(t, r.clock.Slept(), "a 10 minute wait does not fit a 1 minute run")
	e := r.state.Outbox.Entries[0]
	require.True(t, e.NotBefore.Equal(r.clock.Now().Add(10*time.Minute)))

	r.slack.fail = nil
	r.clock.Advance(5 * time.Minute)
	rep = r.flush()
	require.Zero(t, rep.Sent, "still inside Retry-After")
	r.clock.Advance(5 * time.Minute)
	require.Equal(t, 1, r.flush().Sent)
}

func TestDispatchDropsAfterMaxAge(t *testing.T) {
	r := newRig(t, func(c *notify.Config) {
		c.Outbox.MaxAge = notify.Duration(24 * time.Hour)
		c.ResolveAfter = notify.Duration(48 * time.Hour)
	})
	r.slack.fail = func() (bool, error) { return true, errors.New("502 bad gateway") }
	r.d.Add(r.finding())
	r.flush()
	for range 23 {
		r.clock.Advance(time.Hour)
		r.flush()
	}
	require.Equal(t, 1, r.state.Outbox.Len())
	r.clock.Advance(time.Hour + time.Second)
	rep := r.flush()
	require.Equal(t, 1, rep.Dropped)
	require.Zero(t, rep.Pending)
	logs := r.logs.String()
	require.Contains(t, logs, "dropping undelivered alert: older than outbox max_age")
	require.Contains(t, logs, "channel=slack")
	require.Contains(t, logs, `last_error="502 bad gateway"`)
	require.Contains(t, logs, "max_age=1d")
}

func TestDispatchDigest(t *testing.T) {
	r := newRig(t, func(c *notify.Config) { c.Digest = true })
	r.d.Add(
		r.finding(),
		r.finding(func(f *rules.Finding) { f.Port, f.Service = 1812, "IAS" }),
		r.finding(func(f *rules.Finding) { f.Port, f.Service = 4500, "IPSEC Services" }),
	)
	rep := r.flush()
	require.Equal(t, 6, rep.Sent)
	for _, ch := range []*inbox{r.email, r.slack} {
		msgs := ch.take()
		require.Len(t, msgs, 1, "one message per run")
		require.Len(t, msgs[0], 3)
		require.Equal(t, "SBSHQ01: 3 problems", notify.DigestTitle(msgs[0]))
	}
}

// TestDispatchCheckpointAndCrash persists after every change and shows
// that a crash after a delivery repeats nothing that was checkpointed.
func TestDispatchCheckpointAndCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	r := newRig(t, nil)
	saves := 0
	save := func() error { saves++; return writeState(r.state, path) }

	r.d.Add(r.finding())
	require.NoError(t, writeState(r.state, path)) // what the scan does before advancing
	_, err := r.d.Flush(context.Background(), save)
	require.NoError(t, err)
	require.Equal(t, 2, saves, "once per delivered message")

	// A new process starts from the file: nothing is pending, and a repeat
	// is throttled because the history survived.
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	st, err := notify.DecodeState(b)
	require.NoError(t, err)
	require.Zero(t, st.Outbox.Len())
	email := &inbox{}
	d2, err := notify.NewDispatcher(notify.DefaultConfig(), []notify.Channel{{Name: "email", Notifier: email}}, st, nil,
		notify.WithDispatchClock(r.clock.Now, r.clock.Sleep))
	require.NoError(t, err)
	r.clock.Advance(5 * time.Minute)
	require.Equal(t, notify.AddResult{Suppressed: 1}, d2.Add(r.finding()))

	failing := errors.New("disk full")
	r.d.Add(r.finding(func(f *rules.Finding) { f.Port = 1812 }))
	_, err = r.d.Flush(context.Background(), func() error { return failing })
	require.ErrorIs(t, err, failing)
}

func TestNewDispatcherRejectsBadChannels(t *testing.T) {
	n := &inbox{}
	_, err := notify.NewDispatcher(notify.DefaultConfig(), []notify.Channel{{Name: "email", Notifier: n}, {Name: "email", Notifier: n}}, notify.NewState(), nil)
	require.ErrorContains(t, err, `channel "email" given twice`)
	_, err = notify.NewDispatcher(notify.DefaultConfig(), nil, nil, nil)
	require.ErrorContains(t, err, "nil state")
}

func TestDispatchDropsEntriesOfRemovedChannels(t *testing.T) {
	st := notify.NewState()
	st.Outbox.Add("pager", notify.SampleAlert(time.Now()), time.Now())
	logger, logs := notifytest.NewLogger()
	d, err := notify.NewDispatcher(notify.DefaultConfig(), nil, st, logger)
	require.NoError(t, err)
	rep, err := d.Flush(context.Background(), nil)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Dropped)
	require.Contains(t, logs.String(), "its channel is no longer configured")
}
