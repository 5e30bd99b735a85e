package ports

// The go:generate line sits in this untagged file: "GOOS=windows go
// generate" would build mkwinsyscall as a Windows binary, and a plain "go
// generate" skips files tagged for Windows.

//go:generate go run golang.org/x/sys/windows/mkwinsyscall -output zsyscall_windows.go syscall_windows.go
