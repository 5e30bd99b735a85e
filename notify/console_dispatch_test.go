package notify_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/notify"
	"github.com/evtwatch/evtwatch/notify/notifytest"
)

// TestDispatchDryRunSaysPrinted: through the console notifier nothing is
// sent, and the log must not claim otherwise.
func TestDispatchDryRunSaysPrinted(t *testing.T) {
	logger, logs := notifytest.NewLogger()
	var out bytes.Buffer
	st := notify.NewState()
	clock := newFakeClock(mustTime(t, "2024-03-05T14:10:00Z"))
	d, err := notify.NewDispatcher(notify.DefaultConfig(), []notify.Channel{{Name: "email", Notifier: notify.NewConsole(&out, "email", nil)}},
		st, logger, notify.WithDispatchClock(clock.Now, clock.Sleep))
	require.NoError(t, err)
	d.Add(notify.SampleFinding(clock.Now()))
	_, err = d.Flush(context.Background(), nil)
	require.NoError(t, err)
	require.Contains(t, out.String(), "(dry run: not sent)")
	require.Contains(t, logs.String(), `msg="alert printed (dry run: not sent)"`)
	require.NotContains(t, logs.String(), `msg="alert sent"`)
}
