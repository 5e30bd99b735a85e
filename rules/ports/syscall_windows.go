//go:build windows

package ports

// Bindings that golang.org/x/sys/windows lacks; zsyscall_windows.go is
// generated from these lines (see generate.go).

//sys	getExtendedTcpTable(table *byte, size *uint32, order bool, family uint32, class uint32, reserved uint32) (errcode error) = iphlpapi.GetExtendedTcpTable
//sys	getExtendedUdpTable(table *byte, size *uint32, order bool, family uint32, class uint32, reserved uint32) (errcode error) = iphlpapi.GetExtendedUdpTable
