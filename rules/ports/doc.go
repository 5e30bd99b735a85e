// Package ports owns port-ownership snapshots: which process holds which
// TCP/UDP port, with the process's image, path, start time and services.
// Snapshots come from the live tables (Windows: GetExtendedTcpTable/UdpTable
// and the SCM; Linux: /proc) or from captured command output (netstat -ano,
// tasklist /svc, PowerShell CSV, netsh, reg query) recognised by content.
package ports
