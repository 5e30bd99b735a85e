//go:build unix

package evtx

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOpenNamedPipe: a named pipe is refused at once instead of blocking
// the whole run until someone writes to it.
func TestOpenNamedPipe(t *testing.T) {
	pipe := filepath.Join(t.TempDir(), "pipe")
	require.NoError(t, syscall.Mkfifo(pipe, 0o600))
	done := make(chan error, 1)
	go func() {
		r, err := Open(pipe, Options{})
		if r != nil {
			r.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		require.EqualError(t, err, pipe+": not a regular file (named pipe)")
	case <-time.After(10 * time.Second):
		// Let the stuck open return so its goroutine ends, then fail.
		if f, err := os.OpenFile(pipe, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("Open blocked on a named pipe")
	}
}

// TestOpenFileAfterNamedPipe: the scheduled scan's file reader identifies
// a file before opening it; a named pipe among the sources must not block
// it either.
func TestOpenFileAfterNamedPipe(t *testing.T) {
	pipe := filepath.Join(t.TempDir(), "pipe")
	require.NoError(t, syscall.Mkfifo(pipe, 0o600))
	done := make(chan error, 1)
	go func() {
		fr, err := OpenFileAfter(pipe, FilePosition{}, time.Time{}, Options{})
		if fr != nil {
			fr.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		require.EqualError(t, err, pipe+": not a regular file (named pipe)")
	case <-time.After(10 * time.Second):
		if f, err := os.OpenFile(pipe, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("OpenFileAfter blocked on a named pipe")
	}
}
