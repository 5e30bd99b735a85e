package state

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx"
)

var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return t0 }

func TestSaveAndLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "state.json")
	store, st, res, err := Open(path, Options{Now: fixedNow})
	require.NoError(t, err)
	require.True(t, res.Fresh)
	require.Empty(t, st.Sources)

	st.SetSource("file:/logs/System.evtx", &Source{File: &evtx.FilePosition{
		File:  evtx.FileIdentity{Volume: 1, Index: 2, PrintOffset: 4608, PrintLen: 100, Fingerprint: "ab", Size: 69632},
		Last:  evtx.Position{RecordID: 42, Time: t0},
		Count: 42,
	}})
	st.SetSource("channel:System", &Source{Last: evtx.Position{RecordID: 7, Time: t0}, Bookmark: evtx.NewBookmarkXML("System", 7)})
	st.Rules = json.RawMessage(`{"windows":[1,2]}`)
	st.Notify = json.RawMessage(`{"outbox":[]}`)
	require.NoError(t, store.Save(st))
	require.NoError(t, store.Close())
	require.NoError(t, store.Close(), "Close is idempotent")

	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.ElementsMatch(t, []string{"state.json", "state.json.lock"}, names, "no temp file left behind")
	if runtime.GOOS != "windows" {
		info, err := os.Stat(path)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the outbox holds event text: owner only")
	}

	store, back, res, err := Open(path, Options{Now: fixedNow})
	require.NoError(t, err)
	defer store.Close()
	require.False(t, res.Fresh)
	require.Equal(t, Version, back.Version)
	require.Equal(t, t0, back.Saved)
	require.Equal(t, st.Sources, back.Sources)
	require.JSONEq(t, string(st.Rules), string(back.Rules))
	require.JSONEq(t, string(st.Notify), string(back.Notify))
}

func TestCloneIsDeep(t *testing.T) {
	st := New()
	st.SetSource("a", &Source{File: &evtx.FilePosition{Count: 1}})
	st.Rules = json.RawMessage(`[1]`)
	c := st.Clone()
	c.Sources["a"].File.Count = 2
	c.Rules[1] = '2'
	c.SetSource("b", &Source{})
	require.Equal(t, uint64(1), st.Sources["a"].File.Count)
	require.Equal(t, `[1]`, string(st.Rules))
	require.Nil(t, st.Source("b"))
}

func TestCorruptStateIsMovedAside(t *testing.T) {
	tests := map[string]string{
		"garbage":       "\x00\x01not json",
		"empty":         "",
		"truncated":     `{"version":1,"sources":{"file:x":{"last":{"record_id":`,
		"newer version": `{"version":99}`,
		"no version":    `{"sources":{}}`,
		"trailing data": `{"version":1} {"version":1}`,
		"wrong shape":   `{"version":1,"sources":[1,2,3]}`,
		"not an object": `[]`,
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
			var logs bytes.Buffer
			store, st, res, err := Open(path, Options{Now: fixedNow, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			require.NoError(t, err)
			defer store.Close()
			require.True(t, res.Fresh)
			require.Equal(t, path+".corrupt-20240501T100000Z", res.MovedAside)
			require.Empty(t, st.Sources)
			kept, err := os.ReadFile(res.MovedAside)
			require.NoError(t, err)
			require.Equal(t, content, string(kept), "the bad file is kept for inspection")
			_, err = os.Stat(path)
			require.ErrorIs(t, err, os.ErrNotExist)
			require.Contains(t, logs.String(), "moved aside")
			require.Contains(t, logs.String(), res.MovedAside)

			// The run continues: the next save writes a good state.
			require.NoError(t, store.Save(st))
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			_, err = decode(b)
			require.NoError(t, err)
		})
	}
}

func TestLockContention(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	first, _, _, err := Open(path, Options{Now: fixedNow})
	require.NoError(t, err)

	_, _, _, err = Open(path, Options{Now: fixedNow})
	require.ErrorIs(t, err, ErrLocked)
	var le *LockedError
	require.True(t, errors.As(err, &le))
	require.Contains(t, le.Holder, fmt.Sprintf("pid %d", os.Getpid()))
	require.Contains(t, err.Error(), "another evtwatch run")

	require.NoError(t, first.Close())
	second, _, _, err := Open(path, Options{Now: fixedNow})
	require.NoError(t, err)
	require.NoError(t, second.Close())
}

// TestMain lets the test binary act as a lock holder in a child process.
func TestMain(m *testing.M) {
	if path := os.Getenv("EVTWATCH_STATE_LOCK_HOLDER"); path != "" {
		store, _, _, err := Open(path, Options{})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		defer store.Close()
		fmt.Println("locked")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // hold until killed
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestLockOfKilledProcessIsReleased(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "EVTWATCH_STATE_LOCK_HOLDER="+path)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "locked", strings.TrimSpace(line))

	_, _, _, err = Open(path, Options{})
	var le *LockedError
	require.ErrorAs(t, err, &le)
	require.Contains(t, le.Holder, fmt.Sprintf("pid %d", cmd.Process.Pid))

	require.NoError(t, cmd.Process.Kill()) // SIGKILL: no cleanup runs in the child
	_ = cmd.Wait()

	store, _, _, err := Open(path, Options{})
	require.NoError(t, err, "the OS released the dead holder's lock")
	require.NoError(t, store.Close())
}

func TestPeekAndReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	st, err := Peek(path)
	require.NoError(t, err)
	require.Empty(t, st.Sources)

	store, st, _, err := Open(path, Options{Now: fixedNow})
	require.NoError(t, err)
	st.SetSource("a", &Source{Last: evtx.Position{RecordID: 3}})
	require.NoError(t, store.Save(st))

	peeked, err := Peek(path) // works while another process holds the lock
	require.NoError(t, err)
	require.Equal(t, uint64(3), peeked.Source("a").Last.RecordID)
	require.NoError(t, store.Close())

	ro := ReadOnly(path)
	peeked.SetSource("a", &Source{Last: evtx.Position{RecordID: 99}})
	require.NoError(t, ro.Save(peeked))
	again, err := Peek(path)
	require.NoError(t, err)
	require.Equal(t, uint64(3), again.Source("a").Last.RecordID, "a read-only store never writes")

	require.NoError(t, os.WriteFile(path, []byte("junk"), 0o644))
	_, err = Peek(path)
	require.Error(t, err)
}
