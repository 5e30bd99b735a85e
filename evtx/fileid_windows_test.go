package evtx

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// idOf returns the file system identity of the file at path through the
// same call IdentifyFile uses (GetFileInformationByHandle).
func idOf(t *testing.T, path string) (volume, index uint64) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	volume, index, err = fileSystemID(f, st)
	require.NoError(t, err)
	return volume, index
}

// TestFileSystemIDOnWindows checks the volume serial number and file index:
// set, stable across handles and renames (a log moved aside keeps its
// identity), and different for another file or a file renamed over the
// original (a re-export replacing the log).
func TestFileSystemIDOnWindows(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.evtx")
	b := filepath.Join(dir, "b.evtx")
	require.NoError(t, os.WriteFile(a, []byte("first"), 0o644))
	require.NoError(t, os.WriteFile(b, []byte("second"), 0o644))

	vol, idx := idOf(t, a)
	require.NotZero(t, vol, "volume serial number")
	require.NotZero(t, idx, "file index")
	vol2, idx2 := idOf(t, a)
	require.Equal(t, vol, vol2, "same file, second handle")
	require.Equal(t, idx, idx2, "same file, second handle")

	volB, idxB := idOf(t, b)
	require.Equal(t, vol, volB, "same directory, same volume")
	require.NotEqual(t, idx, idxB, "another file")

	// Appending keeps the identity.
	f, err := os.OpenFile(a, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(" and more")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, idx2 = idOf(t, a)
	require.Equal(t, idx, idx2, "appended in place")

	// A rename keeps it; a file renamed over the original replaces it.
	moved := filepath.Join(dir, "moved.evtx")
	require.NoError(t, os.Rename(a, moved))
	_, idx2 = idOf(t, moved)
	require.Equal(t, idx, idx2, "renamed")
	require.NoError(t, os.Rename(b, moved))
	_, idx2 = idOf(t, moved)
	require.Equal(t, idxB, idx2, "replaced by another file")

	// IdentifyFile records it, so SameFile can tell the replacement.
	id, err := IdentifyFile(moved)
	require.NoError(t, err)
	require.Equal(t, vol, id.Volume)
	require.Equal(t, idxB, id.Index)
}
