package evtx

import (
	"os"

	"golang.org/x/sys/windows"
)

// fileSystemID returns the volume serial number and file index of an open
// file (BY_HANDLE_FILE_INFORMATION), which stay the same while the file is
// appended to and change when it is replaced.
func fileSystemID(f *os.File, _ os.FileInfo) (volume, index uint64, err error) {
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(windows.Handle(f.Fd()), &info); err != nil {
		return 0, 0, err
	}
	return uint64(info.VolumeSerialNumber), uint64(info.FileIndexHigh)<<32 | uint64(info.FileIndexLow), nil
}
