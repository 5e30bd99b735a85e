package evtx

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenFolder: a folder gives an error naming it once, not
// "read x: read x: is a directory".
func TestOpenFolder(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(dir, Options{})
	require.EqualError(t, err, dir+": is a folder, not a log file")
}
