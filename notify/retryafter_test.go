package notify_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/notify"
	"github.com/evtwatch/evtwatch/notify/notifytest"
	"github.com/evtwatch/evtwatch/notify/slack"
)

// TestLongRetryAfterIsLeftToTheOutbox: a scan has no deadline, so a server
// asking for an hour's pause (a 429 from Slack or a gateway) must not
// hold the run, and with it the state lock, for an hour: the entry waits
// in the outbox until then and the run goes on.
func TestLongRetryAfterIsLeftToTheOutbox(t *testing.T) {
	fake := notifytest.NewSlack(t)
	fake.Script(notifytest.SlackReply{Status: 429, RetryAfter: "3600", Body: "ratelimited"})
	cfg, err := notify.ParseConfig([]byte("slack: {webhook_url: \""+fake.WebhookURL()+"\"}"), "", nil)
	require.NoError(t, err)
	sn, err := slack.New(cfg.Slack, nil)
	require.NoError(t, err)

	clock := newFakeClock(mustTime(t, "2024-03-05T14:00:00Z"))
	st := notify.NewState()
	d, err := notify.NewDispatcher(cfg, []notify.Channel{{Name: "slack", Notifier: sn}}, st, nil,
		notify.WithDispatchClock(clock.Now, clock.Sleep))
	require.NoError(t, err)
	d.Add(notify.SampleFinding(clock.Now()))
	rep, err := d.Flush(context.Background(), nil) // no deadline, as in a scan
	require.NoError(t, err)
	require.Empty(t, clock.Slept(), "no wait of an hour inside the run")
	require.Equal(t, 1, rep.Failed)
	require.Equal(t, 1, st.Outbox.Len())
	require.True(t, st.Outbox.Entries[0].NotBefore.Equal(clock.Now().Add(time.Hour)), "held in the outbox until Retry-After")

	clock.Advance(time.Hour)
	rep, err = d.Flush(context.Background(), nil)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Sent)
	require.Len(t, fake.Accepted(), 1)
}

func TestRetryWaitsAtMostBackoffMax(t *testing.T) {
	calls := 0
	n := notify.NotifierFunc(func(context.Context, ...notify.Alert) (bool, error) {
		calls++
		return true, notify.WithRetryAfter(errors.New("429"), 31*time.Second)
	})
	clock := newFakeClock(time.Unix(0, 0))
	retry, err := notify.Retry(n, notify.DefaultBackoff(), nil, notify.WithClock(clock.Now, clock.Sleep)).Notify(context.Background())
	require.True(t, retry)
	require.Error(t, err)
	after, ok := notify.RetryAfter(err)
	require.True(t, ok, "the hint reaches the caller")
	require.Equal(t, 31*time.Second, after)
	require.Equal(t, 1, calls)
	require.Empty(t, clock.Slept())
}
