package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/eventlog"

	"github.com/evtwatch/evtwatch/evtx"
)

// TestRunSummaryReachesTheApplicationLog writes a run summary under a
// throwaway source and reads it back through the live reader. It needs a
// real Windows host and administrator rights (registering a source), and
// skips under Wine, whose event log is a stub.
func TestRunSummaryReachesTheApplicationLog(t *testing.T) {
	if windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil {
		t.Skip("Wine: the event log is a stub there")
	}
	src := fmt.Sprintf("evtwatch-test-%d", os.Getpid())
	if err := eventlog.InstallAsEventCreate(src, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil {
		t.Skipf("cannot register event source %s (needs administrator rights): %v", src, err)
	}
	t.Cleanup(func() { _ = eventlog.Remove(src) })

	sum := runSummary{Command: "scan", Code: exitPartial, Sources: 2, Events: 40, Findings: 1, Queued: 1, Pending: 1, Problems: 1}
	require.NoError(t, reportRunAs(src, sum))

	r, err := evtx.OpenLive(evtx.LiveOptions{Query: evtx.Query{Channel: "Application", Providers: []string{src}}, Messages: true})
	require.NoError(t, err)
	defer r.Close()
	ev, err := r.Next(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint16(103), ev.EventID, "100 + the exit status")
	require.Equal(t, evtx.LevelWarning, ev.Level, "partial is a warning")
	require.Contains(t, ev.Message, "evtwatch scan: partial: 2 source(s), 40 new event(s), 1 finding(s)")
	_, err = r.Next(context.Background())
	require.True(t, errors.Is(err, io.EOF))
}
