package wevtapi

// The generator runs on any OS: this file has no build tag, so a plain
// `go generate ./...` on Linux sees the line (a windows-tagged file would be
// skipped, and GOOS=windows go generate would build the tool as an .exe).
//go:generate go run golang.org/x/sys/windows/mkwinsyscall -output zsyscall_windows.go syscall_windows.go
