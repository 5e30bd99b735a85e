package state

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/windows"
)

// lockOffset is where the locked byte range starts: far past the holder
// text, because LockFileEx locks are mandatory and would stop the second run
// from reading who holds the lock.
const lockOffset = 1 << 30

// tryLock takes an exclusive LockFileEx lock without waiting; held reports
// that another handle has it.
func tryLock(f *os.File) (held bool, err error) {
	ol := windows.Overlapped{Offset: lockOffset}
	err = windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return true, nil
	}
	return false, err
}

func unlock(f *os.File) error {
	ol := windows.Overlapped{Offset: lockOffset}
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
}

// replaceFile renames with MOVEFILE_WRITE_THROUGH, so the rename is on disk
// when it returns (Windows has no directory fsync).
func replaceFile(from, to string) error { return replaceFileWith(from, to, time.Sleep) }

// replaceRetries are the pauses between attempts to replace a file that
// another process has open without FILE_SHARE_DELETE: a virus scanner or
// backup agent looking at the freshly written state, or a dry run reading
// it. Windows refuses the replace while such a handle is open; these
// holders let go within moments.
var replaceRetries = []time.Duration{10 * time.Millisecond, 30 * time.Millisecond, 100 * time.Millisecond, 300 * time.Millisecond, time.Second}

func replaceFileWith(from, to string, sleep func(time.Duration)) error {
	f, err := windows.UTF16PtrFromString(from)
	if err != nil {
		return err
	}
	t, err := windows.UTF16PtrFromString(to)
	if err != nil {
		return err
	}
	for i := 0; ; i++ {
		err = windows.MoveFileEx(f, t, windows.MOVEFILE_REPLACE_EXISTING|windows.MOVEFILE_WRITE_THROUGH)
		if err == nil {
			return nil
		}
		held := errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_SHARING_VIOLATION)
		if !held || i == len(replaceRetries) {
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
		}
		sleep(replaceRetries[i])
	}
}

func syncDir(string) error { return nil }
