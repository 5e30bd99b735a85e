package state

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// ErrLocked means another evtwatch process holds the state lock.
var ErrLocked = errors.New("state is locked by another evtwatch run")

// LockedError says who holds the lock, as far as the lock file tells.
type LockedError struct {
	Path   string
	Holder string // "pid 1234 on HOST since 2024-05-01T10:00:00Z", or ""
}

func (e *LockedError) Error() string {
	msg := "another evtwatch run holds the state lock " + e.Path
	if e.Holder != "" {
		msg += " (" + e.Holder + ")"
	}
	return msg + ": this run does nothing; the next run picks up the work"
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// acquireLock opens the lock file and locks it without waiting. The lock is
// the operating system's (released when the process exits, however it
// exits); the text in the file only helps a person see who held it.
func acquireLock(path string, now time.Time) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if held {
		holder := readHolder(f)
		f.Close()
		return nil, &LockedError{Path: path, Holder: holder}
	}
	host, _ := os.Hostname()
	info := fmt.Sprintf("pid %d on %s since %s\n", os.Getpid(), host, now.UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(info), 0) // informational only
	}
	return f, nil
}

func readHolder(f *os.File) string {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 256))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func releaseLock(f *os.File) error {
	err := unlock(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
