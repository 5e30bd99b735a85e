package evtx_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/evtx/evtxtest"
)

// hourlyLogs writes n events one hour apart from t0, alternating two event
// IDs, in .evtx and .evt form.
func hourlyLogs(t *testing.T, t0 time.Time, n int) []string {
	t.Helper()
	var evs []evtx.Event
	for i := range n {
		evs = append(evs, evtx.Event{
			RecordID: uint64(i + 1), Provider: "Server ActiveSync", EventID: uint16(3015 + i%2*9),
			Level: evtx.LevelError, Channel: "Application", Computer: "SBS01", Time: t0.Add(time.Duration(i) * time.Hour),
			Data: []evtx.Data{{Value: "0x80004005"}, {Value: fmt.Sprint(2883 + i)}},
		})
	}
	dir := t.TempDir()
	x := filepath.Join(dir, "Application.evtx")
	require.NoError(t, evtxtest.WriteEVTXFile(x, evs, evtxtest.EVTXOptions{RecordsPerChunk: 3}))
	e := filepath.Join(dir, "AppEvent.Evt")
	require.NoError(t, evtxtest.WriteEVTFile(e, evs, evtxtest.EVTOptions{}))
	return []string{x, e}
}

func drain(t *testing.T, fr *evtx.FileRead) []*evtx.Event {
	t.Helper()
	var out []*evtx.Event
	for {
		ev, err := fr.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out = append(out, ev)
	}
}

// A first read passes over what is older than the look-back and moves its
// position past it for good: Gap says so, with the count and the times, so
// a folder of old exports is not reported clean without a word.
func TestFileReadFirstReadSaysWhatItPassedOver(t *testing.T) {
	t0 := time.Date(2009, 1, 12, 8, 0, 0, 0, time.UTC)
	lookback := t0.Add(6 * time.Hour)
	want := fmt.Sprintf("first read: passed over 6 event(s) older than the look-back (before %s; newest at %s)",
		lookback.Format(time.RFC3339), t0.Add(5*time.Hour).Format(time.RFC3339))
	for _, path := range hourlyLogs(t, t0, 10) {
		t.Run(filepath.Ext(path), func(t *testing.T) {
			for _, tc := range []struct {
				name     string
				keep     func(evtx.Header) bool
				returned int
				filtered int
			}{
				{name: "decoded", returned: 4},
				// The rules want neither ID: every record is refused by
				// Keep before decoding (FileRead.passOver).
				{name: "refused by keep", keep: func(h evtx.Header) bool { return h.EventID == 7036 }, filtered: 4},
				// The rules want one of the two IDs: both paths count.
				{name: "half refused", keep: func(h evtx.Header) bool { return h.EventID == 3015 }, returned: 2, filtered: 2},
			} {
				t.Run(tc.name, func(t *testing.T) {
					fr, err := evtx.OpenFileAfter(path, evtx.FilePosition{}, lookback, evtx.Options{Filter: evtx.Filter{Keep: tc.keep}})
					require.NoError(t, err)
					got := drain(t, fr)
					require.NoError(t, fr.Close())
					require.Len(t, got, tc.returned)
					for _, ev := range got {
						require.False(t, ev.Time.Before(lookback))
					}
					require.Equal(t, tc.filtered, fr.Filtered())
					require.Equal(t, 6, fr.PassedOver())
					require.Equal(t, path+": "+want+"; they will not be analysed ('evtwatch analyze' reads a whole file)", fr.Gap())
					require.Equal(t, uint64(10), fr.Position().Last.RecordID, "the position is past every record read")

					// The next read continues: nothing new, nothing passed over.
					fr, err = evtx.OpenFileAfter(path, fr.Position(), lookback, evtx.Options{Filter: evtx.Filter{Keep: tc.keep}})
					require.NoError(t, err)
					require.Empty(t, drain(t, fr))
					require.NoError(t, fr.Close())
					require.Zero(t, fr.PassedOver())
					require.Empty(t, fr.Gap())
				})
			}
		})
	}
}

func TestFileReadFirstReadWithinLookbackHasNoGap(t *testing.T) {
	t0 := time.Date(2009, 1, 12, 8, 0, 0, 0, time.UTC)
	for _, path := range hourlyLogs(t, t0, 5) {
		for _, lookback := range []time.Time{{}, t0, t0.Add(-time.Hour)} {
			fr, err := evtx.OpenFileAfter(path, evtx.FilePosition{}, lookback, evtx.Options{})
			require.NoError(t, err)
			require.Len(t, drain(t, fr), 5)
			require.NoError(t, fr.Close())
			require.Zero(t, fr.PassedOver())
			require.Empty(t, fr.Gap(), "%s, look-back %s", path, lookback)
		}
	}
}
