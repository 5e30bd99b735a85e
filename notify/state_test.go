package notify_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

func TestStateRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify-state.json")
	empty, err := notify.LoadState(path)
	require.NoError(t, err, "a missing file is an empty state")
	require.Zero(t, empty.Outbox.Len())

	s := sampleState(t, 3)
	require.NoError(t, s.Save(path))
	got, err := notify.LoadState(path)
	require.NoError(t, err)
	require.Equal(t, s.Outbox.Len(), got.Outbox.Len())
	require.Equal(t, s.Outbox.Seq, got.Outbox.Seq)
	require.Equal(t, s.Outbox.Entries[1].Alert.Finding.Culprit, got.Outbox.Entries[1].Alert.Finding.Culprit)
	require.True(t, s.Outbox.Entries[1].Alert.FirstNotified.Equal(got.Outbox.Entries[1].Alert.FirstNotified))
	require.Len(t, got.Incidents, 3)

	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the outbox holds event text: owner only")
}

// TestStateLeftoverTempFile: a crash after writing the temporary file but
// before the rename leaves the old state intact, and the next save cleans
// the leftover up.
func TestStateLeftoverTempFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	s := sampleState(t, 2)
	require.NoError(t, s.Save(path))
	leftover := path + ".tmp-123456"
	require.NoError(t, os.WriteFile(leftover, []byte(`{"version":1,"outbox":{"entr`), 0o600))

	got, err := notify.LoadState(path)
	require.NoError(t, err)
	require.Equal(t, 2, got.Outbox.Len())

	require.NoError(t, got.Save(path))
	_, err = os.Stat(leftover)
	require.True(t, os.IsNotExist(err), "stale temporary file removed")
}

func TestStateCorrupt(t *testing.T) {
	for name, content := range map[string]string{
		"truncated":   `{"version":1,"outbox":{"entries":[{"id":"x"`,
		"not JSON":    "\x00\x00\x00garbage",
		"newer":       `{"version":99}`,
		"wrong types": `{"version":1,"outbox":{"entries":"nope"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
			s, err := notify.LoadState(path)
			require.ErrorIs(t, err, notify.ErrCorruptState)
			require.Contains(t, err.Error(), path)
			require.NotNil(t, s, "an empty state comes back so the run can go on")
			require.Zero(t, s.Outbox.Len())

			moved, err := notify.MoveAside(path, mustTime(t, "2024-03-05T14:00:00Z"))
			require.NoError(t, err)
			require.Equal(t, path+".corrupt-20240305T140000Z", moved)
			kept, err := os.ReadFile(moved)
			require.NoError(t, err)
			require.Equal(t, content, string(kept), "kept for inspection")
		})
	}
}

// TestStateCrashSafety kills a process that saves the state in a loop at
// random moments (kill -9, no clean-up) and checks that the file is always
// one complete version.
func TestStateCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "state.json")
	rng := rand.New(rand.NewPCG(1, 2))
	last := -1
	for round := range 6 {
		cmd := exec.Command(exe, "-test.run=^TestStateCrashHelper$")
		cmd.Env = append(os.Environ(), "EVTWATCH_STATE_CRASH_HELPER="+path)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		lines := bufio.NewScanner(out)
		// Let it complete a random number of saves, then kill it wherever
		// it is in the next one.
		for range 1 + rng.IntN(4) {
			require.True(t, lines.Scan(), "helper stopped early in round %d", round)
		}
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()

		s, err := notify.LoadState(path)
		require.NoError(t, err, "round %d: the state file must never be torn", round)
		n := s.Outbox.Len()
		require.GreaterOrEqual(t, n, 1)
		require.Equal(t, uint64(n), s.Outbox.Seq, "round %d: a whole version", round)
		require.GreaterOrEqual(t, n, last, "round %d: the state never goes back", round)
		last = n
	}
}

// TestStateCrashHelper is the child of TestStateCrashSafety: it loads the
// state, adds one entry and saves, forever, printing each completed save.
func TestStateCrashHelper(t *testing.T) {
	path := os.Getenv("EVTWATCH_STATE_CRASH_HELPER")
	if path == "" {
		t.Skip("helper process for TestStateCrashSafety")
	}
	now := time.Date(2024, 3, 5, 14, 0, 0, 0, time.UTC)
	for i := 0; ; i++ {
		s, err := notify.LoadState(path)
		if err != nil {
			fmt.Println("load:", err)
			os.Exit(1)
		}
		a := notify.SampleAlert(now)
		// Big enough that a write takes several syscalls.
		for j := range 200 {
			a.Finding.Evidence = append(a.Finding.Evidence, a.Finding.Evidence[j%3])
		}
		s.Outbox.Add("email", a, now)
		if err := s.Save(path); err != nil {
			fmt.Println("save:", err)
			os.Exit(1)
		}
		fmt.Println("saved " + strconv.Itoa(i))
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

// The scan embeds State in its own state file and decodes it with
// DecodeState: a newer layout must be refused as corrupt, as LoadState
// refuses it, and incidents written as null still give a usable map.
func TestDecodeState(t *testing.T) {
	s, err := notify.DecodeState([]byte(`{"version":1,"outbox":{},"incidents":null}`))
	require.NoError(t, err)
	require.NotNil(t, s.Incidents)

	_, err = notify.DecodeState([]byte(`{"version":99,"incidents":{}}`))
	require.ErrorIs(t, err, notify.ErrCorruptState)
	_, err = notify.DecodeState([]byte(`{"version":`))
	require.ErrorIs(t, err, notify.ErrCorruptState)
}
