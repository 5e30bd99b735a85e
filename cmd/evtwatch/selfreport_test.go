package main

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunSummary(t *testing.T) {
	s := runSummary{Command: "scan", Code: exitFindings, Sources: 3, Events: 120, Findings: 2, Queued: 1, Sent: 1}
	require.Equal(t, "evtwatch scan: findings alerted: 3 source(s), 120 new event(s), 2 finding(s), 1 alert(s) queued, 1 message(s) sent, 0 waiting for retry", s.line())
	require.Equal(t, uint32(105), s.eventID())
	require.Equal(t, severityInfo, s.severity())

	s = runSummary{Command: "watch", Code: exitError, Problems: 2, Err: errors.New("save state: disk full")}
	require.Contains(t, s.line(), "2 input problem(s); error: save state: disk full")
	require.Equal(t, severityError, s.severity())
	require.Equal(t, severityWarning, runSummary{Code: exitPartial}.severity())
	require.Equal(t, severityInfo, runSummary{Code: exitLocked}.severity(), "a skipped overlapping run is normal")
	require.Equal(t, uint32(230), runSummary{Code: exitInterrupted}.eventID())
	for _, c := range exitCodes {
		require.NotEmpty(t, outcome(c.code))
	}
}
