package main

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestExpandInputsFollowsLinksOnce: links to files and folders are
// followed, under the name the user gave, and a link loop ends.
func TestExpandInputsFollowsLinksOnce(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need a privilege on Windows")
	}
	base := t.TempDir()
	logs := filepath.Join(base, "logs")
	other := filepath.Join(base, "other")
	require.NoError(t, os.MkdirAll(filepath.Join(logs, "sub"), 0o755))
	require.NoError(t, os.MkdirAll(other, 0o755))
	for _, f := range []string{filepath.Join(logs, "a.evtx"), filepath.Join(logs, "sub", "b.evt"), filepath.Join(other, "c.txt")} {
		require.NoError(t, os.WriteFile(f, []byte("x"), 0o644))
	}
	require.NoError(t, os.Symlink(other, filepath.Join(logs, "to-other")))
	require.NoError(t, os.Symlink(logs, filepath.Join(logs, "sub", "loop")))
	require.NoError(t, os.Symlink(filepath.Join(other, "c.txt"), filepath.Join(logs, "c-link.txt")))
	link := filepath.Join(base, "link-to-logs")
	require.NoError(t, os.Symlink(logs, link))

	got, err := expandInputs([]string{logs})
	require.NoError(t, err)
	require.Equal(t, []string{
		filepath.Join(logs, "a.evtx"),
		filepath.Join(logs, "c-link.txt"),
		filepath.Join(logs, "sub", "b.evt"),
		filepath.Join(logs, "to-other", "c.txt"),
	}, got)

	// A folder given as a link is walked, and named as given.
	got, err = expandInputs([]string{link})
	require.NoError(t, err)
	require.Contains(t, got, filepath.Join(link, "a.evtx"))
	require.Contains(t, got, filepath.Join(link, "to-other", "c.txt"))
	require.Len(t, got, 4)
}

// TestExpandInputsKeepsNamedArguments: an argument that is not a folder is
// kept as given, even when missing, so opening it reports the error.
func TestExpandInputsKeepsNamedArguments(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.evtx")
	got, err := expandInputs([]string{missing})
	require.NoError(t, err)
	require.Equal(t, []string{missing}, got)
}
