package state

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLockFileExExcludesSecondHandle drives the LockFileEx lock directly:
// a second handle on the lock file is refused without waiting, can still
// read the holder text (the locked byte lies far past it: Windows locks
// are mandatory), and gets the lock once the first handle unlocks.
func TestLockFileExExcludesSecondHandle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json.lock")
	first, err := acquireLock(path, time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC))
	require.NoError(t, err)

	second, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer second.Close()
	start := time.Now()
	held, err := tryLock(second)
	require.NoError(t, err)
	require.True(t, held, "LockFileEx let a second handle in")
	require.Less(t, time.Since(start), 5*time.Second, "LOCKFILE_FAIL_IMMEDIATELY: no waiting")
	require.Contains(t, readHolder(second), "since 2024-05-01T10:00:00Z", "the holder text stays readable")

	require.NoError(t, releaseLock(first))
	held, err = tryLock(second)
	require.NoError(t, err)
	require.False(t, held, "the lock is free after UnlockFileEx")
	require.NoError(t, unlock(second))
}

// TestReplaceFileOverwrites checks MoveFileEx(MOVEFILE_REPLACE_EXISTING |
// MOVEFILE_WRITE_THROUGH): the target gets the new content and the
// temporary file is gone.
func TestReplaceFileOverwrites(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "state.json")
	tmp := filepath.Join(dir, "state.json.tmp")
	require.NoError(t, os.WriteFile(target, []byte("old"), 0o644))
	require.NoError(t, os.WriteFile(tmp, []byte("new"), 0o644))
	require.NoError(t, replaceFile(tmp, target))
	b, err := os.ReadFile(target)
	require.NoError(t, err)
	require.Equal(t, "new", string(b))
	_, err = os.Stat(tmp)
	require.ErrorIs(t, err, os.ErrNotExist)

	err = replaceFile(filepath.Join(dir, "missing"), target)
	var le *os.LinkError
	require.ErrorAs(t, err, &le)
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestReplaceFileWaitsForAReader holds the state file open the way a
// reader does (os.Open: no FILE_SHARE_DELETE), which makes Windows refuse
// the replace, and lets go of it during the first pause: the save then
// goes through.
func TestReplaceFileWaitsForAReader(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "state.json")
	tmp := filepath.Join(dir, "state.json.tmp")
	require.NoError(t, os.WriteFile(target, []byte("old"), 0o644))
	require.NoError(t, os.WriteFile(tmp, []byte("new"), 0o644))
	reader, err := os.Open(target)
	require.NoError(t, err)
	defer reader.Close()

	var pauses []time.Duration
	err = replaceFileWith(tmp, target, func(d time.Duration) {
		pauses = append(pauses, d)
		require.NoError(t, reader.Close())
	})
	require.NoError(t, err)
	require.Equal(t, replaceRetries[:1], pauses, "one refused attempt, one pause")
	b, err := os.ReadFile(target)
	require.NoError(t, err)
	require.Equal(t, "new", string(b))
}

// TestReplaceFileGivesUpOnAHolder: a handle that stays open makes the
// replace fail after every pause, naming both files.
func TestReplaceFileGivesUpOnAHolder(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "state.json")
	tmp := filepath.Join(dir, "state.json.tmp")
	require.NoError(t, os.WriteFile(target, []byte("old"), 0o644))
	require.NoError(t, os.WriteFile(tmp, []byte("new"), 0o644))
	reader, err := os.Open(target)
	require.NoError(t, err)
	defer reader.Close()

	var pauses []time.Duration
	err = replaceFileWith(tmp, target, func(d time.Duration) { pauses = append(pauses, d) })
	var le *os.LinkError
	require.ErrorAs(t, err, &le)
	require.Equal(t, tmp, le.Old)
	require.Equal(t, target, le.New)
	require.Equal(t, replaceRetries, pauses)
	b, err := os.ReadFile(target)
	require.NoError(t, err)
	require.Equal(t, "old", string(b), "the old state is intact")
}
