//go:build !windows

package evtx

import (
	"os"
	"syscall"
)

// fileSystemID returns the device and inode of an open file, zero when the
// platform does not expose them.
func fileSystemID(_ *os.File, st os.FileInfo) (volume, index uint64, err error) {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(sys.Dev), uint64(sys.Ino), nil //nolint:unconvert // Dev is int32 on some systems
	}
	return 0, 0, nil
}
