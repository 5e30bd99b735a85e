package evtx

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/eventlog"
)

// liveTestSource installs a throwaway event source in the Application log
// and removes it when the test ends. It skips under Wine (whose wevtapi is a
// stub) and without administrator rights (installing a source writes HKLM).
func liveTestSource(t *testing.T) string {
	t.Helper()
	if windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil {
		t.Skip("Wine: the Event Log API is a stub there (see ../shared/guide/WINDOWS-ON-LINUX.md)")
	}
	src := fmt.Sprintf("evtwatch-test-%d", os.Getpid())
	if err := eventlog.InstallAsEventCreate(src, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil {
		t.Skipf("cannot install event source %s (needs administrator rights): %v", src, err)
	}
	t.Cleanup(func() { _ = eventlog.Remove(src) })
	return src
}

func writeTestEvent(t *testing.T, src string, id uint32, msg string) {
	t.Helper()
	l, err := eventlog.Open(src)
	require.NoError(t, err)
	defer l.Close()
	require.NoError(t, l.Error(id, msg))
}

// nextLive returns the next event of a following reader, waiting for the
// service's signal, within the context's deadline.
func nextLive(ctx context.Context, t *testing.T, r LiveReader) *Event {
	t.Helper()
	for {
		ev, err := r.Next(ctx)
		if errors.Is(err, ErrCaughtUp) {
			require.NoError(t, r.Wait(ctx))
			continue
		}
		require.NoError(t, err)
		return ev
	}
}

func TestLiveSubscriptionAndBookmark(t *testing.T) {
	src := liveTestSource(t)
	rng, err := LiveLogRange("Application")
	require.NoError(t, err)

	q := Query{Channel: "Application", Providers: []string{src}, AfterRecordID: rng.Newest()}
	r, err := OpenLive(LiveOptions{Query: q, Follow: true, Messages: true})
	require.NoError(t, err)
	defer r.Close()

	const text = "Verify that no other applications are currently bound to UDP port [2883]"
	writeTestEvent(t, src, 3015, text)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ev := nextLive(ctx, t, r)
	require.Equal(t, uint16(3015), ev.EventID)
	require.True(t, ev.FromProvider(src))
	require.Equal(t, "Application", ev.Channel)
	require.Equal(t, FormatLive, ev.Origin.Format)
	require.Contains(t, ev.Message, "UDP port [2883]", "EvtFormatMessage renders the EventCreate message")
	require.Greater(t, ev.RecordID, rng.Newest())

	// The bookmark points at that record and round-trips through our parser.
	bm, err := r.Bookmark()
	require.NoError(t, err)
	l, err := ParseBookmarkXML(bm)
	require.NoError(t, err)
	id, ok := l.RecordID("Application")
	require.True(t, ok)
	require.Equal(t, ev.RecordID, id)

	// The record's time can be looked up for stale-bookmark checks.
	tm, ok, err := LiveRecordTime("Application", ev.RecordID)
	require.NoError(t, err)
	require.True(t, ok)
	require.WithinDuration(t, ev.Time, tm, time.Millisecond)

	// Resuming a new subscription from the bookmark yields only what came after.
	writeTestEvent(t, src, 3024, "second")
	r2, err := OpenLive(LiveOptions{Query: Query{Channel: "Application", Providers: []string{src}}, Bookmark: bm, Follow: true})
	require.NoError(t, err)
	defer r2.Close()
	ev2 := nextLive(ctx, t, r2)
	require.Equal(t, uint16(3024), ev2.EventID)
	require.Greater(t, ev2.RecordID, ev.RecordID)

	// A scan query bounded by the record ID sees the second event only, then EOF.
	r3, err := OpenLive(LiveOptions{Query: Query{Channel: "Application", Providers: []string{src}, AfterRecordID: ev.RecordID}})
	require.NoError(t, err)
	defer r3.Close()
	got := readAll(t, r3)
	require.Len(t, got, 1)
	require.Equal(t, ev2.RecordID, got[0].RecordID)

	// A position saved on this log plans a plain continuation.
	rng, err = LiveLogRange("Application")
	require.NoError(t, err)
	plan := PlanResume(Position{RecordID: ev.RecordID, Time: ev.Time}, time.Time{}, rng, tm, true)
	require.Equal(t, ResumeContinue, plan.Kind)
}

func TestLiveMissingChannel(t *testing.T) {
	if windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil {
		t.Skip("Wine: the Event Log API is a stub there")
	}
	_, err := OpenLive(LiveOptions{Query: Query{Channel: "evtwatch-no-such-channel"}})
	require.ErrorContains(t, err, "does not exist")
}
