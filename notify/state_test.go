package notify_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/notify"
)

func sampleState(t *testing.T, n int) *notify.State {
	t.Helper()
	now := mustTime(t, "2024-03-05T14:00:00Z")
	s := notify.NewState()
	for i := range n {
		a := notify.SampleAlert(now.Add(time.Duration(i) * time.Minute))
		s.Outbox.Add("email", a, now)
		s.Incidents[fmt.Sprintf("%s-%d", a.Key, i)] = &notify.Incident{ID: a.ID, Key: a.Key, Finding: a.Finding, FirstNotified: now, LastNotified: now, LastEvent: a.Finding.Last}
	}
	return s
}

// writeState stands in for the scan's state file: State as JSON on disk.
func writeState(s *notify.State, path string) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// The scan keeps State as JSON inside its own state file.
func TestStateRoundTrip(t *testing.T) {
	s := sampleState(t, 3)
	b, err := json.Marshal(s)
	require.NoError(t, err)
	got, err := notify.DecodeState(b)
	require.NoError(t, err)
	require.Equal(t, s.Outbox.Len(), got.Outbox.Len())
	require.Equal(t, s.Outbox.Seq, got.Outbox.Seq)
	require.Equal(t, s.Outbox.Entries[1].Alert.Finding.Culprit, got.Outbox.Entries[1].Alert.Finding.Culprit)
	require.True(t, s.Outbox.Entries[1].Alert.FirstNotified.Equal(got.Outbox.Entries[1].Alert.FirstNotified))
	require.Len(t, got.Incidents, 3)
}

func TestStateCorrupt(t *testing.T) {
	for name, content := range map[string]string{
		"truncated":   `{"version":1,"outbox":{"entries":[{"id":"x"`,
		"not JSON":    "\x00\x00\x00garbage",
		"newer":       `{"version":99}`,
		"wrong types": `{"version":1,"outbox":{"entries":"nope"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			s, err := notify.DecodeState([]byte(content))
			require.ErrorIs(t, err, notify.ErrCorruptState)
			require.NotNil(t, s, "an empty state comes back so the run can go on")
			require.Zero(t, s.Outbox.Len())
		})
	}
}

func TestOutboxOrderAndExpiry(t *testing.T) {
	now := mustTime(t, "2024-03-05T14:00:00Z")
	var o notify.Outbox
	a := notify.SampleAlert(now)
	id1 := o.Add("email", a, now.Add(-8*24*time.Hour))
	id2 := o.Add("slack", a, now.Add(-time.Hour))
	id3 := o.Add("email", a, now)
	require.Equal(t, []string{id1, id3}, o.Due("email", now))
	e, ok := o.Get(id3)
	require.True(t, ok)
	e.NotBefore = now.Add(time.Minute)
	require.Equal(t, []string{id1}, o.Due("email", now), "held back until Retry-After passed")

	dropped := o.Expire(now, 7*24*time.Hour)
	require.Len(t, dropped, 1)
	require.Equal(t, id1, dropped[0].ID)
	o.Remove(id2)
	require.Equal(t, 1, o.Len())

	b, err := json.Marshal(o)
	require.NoError(t, err)
	var back notify.Outbox
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, o.Entries[0].ID, back.Entries[0].ID)
}

// Incidents written as null (a hand-edited state file) still decode to a
// usable map.
func TestDecodeStateNullIncidents(t *testing.T) {
	s, err := notify.DecodeState([]byte(`{"version":1,"outbox":{},"incidents":null}`))
	require.NoError(t, err)
	require.NotNil(t, s.Incidents)
}
