package notify_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/notify"
)

type previewFunc func(...notify.Alert) ([]byte, error)

func (f previewFunc) Preview(a ...notify.Alert) ([]byte, error) { return f(a...) }

// TestConsole: the dry-run notifier writes the message and never lets
// event text drive the terminal.
func TestConsole(t *testing.T) {
	now := mustTime(t, "2024-03-05T14:10:00Z")
	a := notify.SampleAlert(now)
	a.Finding.Evidence = append(a.Finding.Evidence, evtx.Event{
		Provider: "Evil", EventID: 7, Time: now,
		Data: []evtx.Data{{Name: "Title", Value: "\x1b]0;owned\x07\x1b[2Jcleared"}, {Value: "second"}},
	})
	var out bytes.Buffer
	retry, err := notify.NewConsole(&out, "dry-run", nil).Notify(context.Background(), a)
	require.NoError(t, err)
	require.False(t, retry)
	require.Contains(t, out.String(), "===== dry-run (dry run: not sent) =====\n"+a.Title())
	require.NotContains(t, out.String(), "\x1b")
	require.NotContains(t, out.String(), "\x07")
	require.Contains(t, out.String(), "Evil 7: Title=]0;owned[2Jcleared | second", "data items stand in for a missing message")

	out.Reset()
	_, err = notify.NewConsole(&out, "email", previewFunc(func(...notify.Alert) ([]byte, error) { return []byte("RAW"), nil })).Notify(context.Background(), a)
	require.NoError(t, err)
	require.Equal(t, "===== email (dry run: not sent) =====\nRAW\n", out.String())

	retry, err = notify.NewConsole(&out, "email", previewFunc(func(...notify.Alert) ([]byte, error) { return nil, errors.New("bad template") })).Notify(context.Background(), a)
	require.False(t, retry)
	require.ErrorContains(t, err, "render email message: bad template")
}

func TestTruncate(t *testing.T) {
	require.Equal(t, "abc", notify.Truncate("abc", 3))
	require.Equal(t, "ab…", notify.Truncate("abcd", 3))
	require.Equal(t, "a…", notify.Truncate("a  bcd", 3), "no dangling space before the mark")
	require.Equal(t, "—…", notify.Truncate("———", 2), "counts runes, not bytes")
	require.Empty(t, notify.Truncate("abc", 0))
}
