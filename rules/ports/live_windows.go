//go:build windows

package ports

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

const (
	afInet              = 2  // AF_INET
	afInet6             = 23 // AF_INET6
	tcpTableOwnerPIDAll = 5  // TCP_TABLE_OWNER_PID_ALL
	udpTableOwnerPID    = 1  // UDP_TABLE_OWNER_PID
)

// Live takes a snapshot of this machine's sockets: the TCP and UDP owner
// tables (IPv4 and IPv6) from iphlpapi, each owner's image, path and start
// time, and the services each process hosts from the service control
// manager. Without administrator rights the paths and start times of some
// system processes stay empty; their image names still come from the
// process list.
func Live(ctx context.Context) (*Snapshot, error) {
	return liveWindows(ctx, time.Now)
}

func liveWindows(ctx context.Context, now func() time.Time) (*Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	snap := &Snapshot{Taken: now(), Source: "live", Processes: map[int]*Process{}}
	tables := []struct {
		name   string
		call   func(*byte, *uint32) error
		decode func([]byte) ([]Binding, error)
	}{
		{"tcp4", func(b *byte, n *uint32) error {
			return getExtendedTcpTable(b, n, false, afInet, tcpTableOwnerPIDAll, 0)
		}, decodeTCP4Table},
		{"tcp6", func(b *byte, n *uint32) error {
			return getExtendedTcpTable(b, n, false, afInet6, tcpTableOwnerPIDAll, 0)
		}, decodeTCP6Table},
		{"udp4", func(b *byte, n *uint32) error { return getExtendedUdpTable(b, n, false, afInet, udpTableOwnerPID, 0) }, decodeUDP4Table},
		{"udp6", func(b *byte, n *uint32) error { return getExtendedUdpTable(b, n, false, afInet6, udpTableOwnerPID, 0) }, decodeUDP6Table},
	}
	for _, t := range tables {
		buf, err := ownerTable(t.call)
		if err != nil {
			if strings.HasSuffix(t.name, "6") && errors.Is(err, windows.ERROR_NOT_SUPPORTED) {
				continue // no IPv6 stack
			}
			return nil, fmt.Errorf("%s owner table: %w", t.name, err)
		}
		bs, err := t.decode(buf)
		if err != nil {
			return nil, fmt.Errorf("%s owner table: %w", t.name, err)
		}
		snap.Bindings = append(snap.Bindings, bs...)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	names := processNames()
	for _, b := range snap.Bindings {
		if _, ok := snap.Processes[b.PID]; ok {
			continue
		}
		p := &Process{PID: b.PID, Image: names[b.PID]}
		fillProcess(p)
		snap.Processes[b.PID] = p
	}
	if svcs, err := servicesByPID(); err == nil {
		for pid, keys := range svcs {
			if p, ok := snap.Processes[pid]; ok {
				p.Services = keys
			}
		}
	}
	sortBindings(snap.Bindings)
	return snap, nil
}

// ownerTable calls a Get*Table function with a buffer that grows until the
// table fits; the table can grow between the size query and the call.
func ownerTable(call func(*byte, *uint32) error) ([]byte, error) {
	size := uint32(64 << 10)
	for range 8 {
		buf := make([]byte, size)
		err := call(&buf[0], &size)
		switch {
		case err == nil:
			return buf, nil
		case errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER):
			size += size / 4
		default:
			return nil, err
		}
	}
	return nil, errors.New("table kept growing")
}

// processNames maps every PID to its image name from a Toolhelp process
// snapshot, which works for protected processes too.
func processNames() map[int]string {
	names := map[int]string{0: "System Idle Process", 4: "System"}
	h, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return names
	}
	defer windows.CloseHandle(h)
	var e windows.ProcessEntry32
	e.Size = uint32(unsafe.Sizeof(e))
	for err = windows.Process32First(h, &e); err == nil; err = windows.Process32Next(h, &e) {
		if _, fixed := names[int(e.ProcessID)]; !fixed {
			names[int(e.ProcessID)] = windows.UTF16ToString(e.ExeFile[:])
		}
	}
	return names
}

// fillProcess adds path and start time where the process may be opened.
func fillProcess(p *Process) {
	if p.PID == 0 || p.PID == 4 {
		return
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(p.PID))
	if err != nil {
		return
	}
	defer windows.CloseHandle(h)
	buf := make([]uint16, windows.MAX_LONG_PATH)
	n := uint32(len(buf))
	if windows.QueryFullProcessImageName(h, 0, &buf[0], &n) == nil {
		p.Path = windows.UTF16ToString(buf[:n])
		if p.Image == "" {
			p.Image = filepath.Base(p.Path)
		}
	}
	var created, exited, kernel, user windows.Filetime
	if windows.GetProcessTimes(h, &created, &exited, &kernel, &user) == nil {
		p.Started = time.Unix(0, created.Nanoseconds())
	}
}

// servicesByPID lists the running Win32 services per hosting process.
func servicesByPID() (map[int][]string, error) {
	scm, err := windows.OpenSCManager(nil, nil, windows.SC_MANAGER_ENUMERATE_SERVICE)
	if err != nil {
		return nil, fmt.Errorf("open service manager: %w", err)
	}
	defer windows.CloseServiceHandle(scm)
	out := map[int][]string{}
	var resume uint32
	buf := make([]byte, 64<<10)
	for {
		var needed, returned uint32
		err := windows.EnumServicesStatusEx(scm, windows.SC_ENUM_PROCESS_INFO, windows.SERVICE_WIN32,
			windows.SERVICE_ACTIVE, &buf[0], uint32(len(buf)), &needed, &returned, &resume, nil)
		if err != nil && !errors.Is(err, windows.ERROR_MORE_DATA) {
			return nil, fmt.Errorf("enumerate services: %w", err)
		}
		if returned > 0 {
			entries := unsafe.Slice((*windows.ENUM_SERVICE_STATUS_PROCESS)(unsafe.Pointer(&buf[0])), returned)
			for _, e := range entries {
				pid := int(e.ServiceStatusProcess.ProcessId)
				if pid != 0 {
					out[pid] = append(out[pid], windows.UTF16PtrToString(e.ServiceName))
				}
			}
		}
		if err == nil {
			return out, nil
		}
		if needed > uint32(len(buf)) {
			buf = make([]byte, needed)
		}
	}
}

// LiveFacts reads the port-space settings of this machine: the Tcpip and
// DNS registry values, the dynamic port ranges and exclusions (from netsh,
// parsed like a capture), and the OS version.
func LiveFacts(ctx context.Context) (*Facts, error) {
	l := newLoader()
	f := l.facts
	f.Collected = time.Now()
	f.Host, _ = os.Hostname()
	v := windows.RtlGetVersion()
	f.OS = OSInfo{
		Major: int(v.MajorVersion), Minor: int(v.MinorVersion), Build: int(v.BuildNumber),
		Version: fmt.Sprintf("%d.%d.%d", v.MajorVersion, v.MinorVersion, v.BuildNumber),
	}
	if k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Windows NT\CurrentVersion`, registry.QUERY_VALUE); err == nil {
		if name, _, err := k.GetStringValue("ProductName"); err == nil {
			f.OS.Name = name
		}
		k.Close()
	}
	l.serviceParams(registry.LOCAL_MACHINE, servicesKey)
	for _, args := range [][]string{
		{"int", "ipv4", "show", "dynamicport", "tcp"},
		{"int", "ipv4", "show", "dynamicport", "udp"},
		{"int", "ipv4", "show", "excludedportrange", "protocol=tcp"},
		{"int", "ipv4", "show", "excludedportrange", "protocol=udp"},
	} {
		out, err := exec.CommandContext(ctx, "netsh", args...).Output()
		if err != nil {
			continue // no netsh context on this edition; the audit notes the gap
		}
		l.add("netsh "+strings.Join(args, " "), out, time.Time{})
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.Captures = nil // the netsh runs are not files
	return f, nil
}

// servicesKey is where the Tcpip and DNS Server parameters live under
// HKLM; tests point serviceParams at a key of their own.
const servicesKey = `SYSTEM\CurrentControlSet\Services`

// serviceParams reads the Tcpip and DNS Server parameters from
// services\Tcpip\Parameters and services\DNS\Parameters under root. A
// missing DNS key leaves Facts.DNS nil: the DNS Server is not installed.
func (l *loader) serviceParams(root registry.Key, services string) {
	f := l.facts
	if k, err := registry.OpenKey(root, services+`\Tcpip\Parameters`, registry.QUERY_VALUE); err == nil {
		p := &TcpipParams{}
		if n, _, err := k.GetIntegerValue("MaxUserPort"); err == nil {
			p.MaxUserPort = int(n)
		}
		if n, _, err := k.GetIntegerValue("TcpTimedWaitDelay"); err == nil {
			p.TcpTimedWaitDelay = int(n)
		}
		p.ReservedPorts = l.regRanges("ReservedPorts", 0, strings.Join(regStrings(k, "ReservedPorts"), `\0`))
		k.Close()
		f.Tcpip = p
	}
	if k, err := registry.OpenKey(root, services+`\DNS\Parameters`, registry.QUERY_VALUE); err == nil {
		p := &DNSParams{}
		if n, _, err := k.GetIntegerValue("SocketPoolSize"); err == nil {
			size := int(n)
			p.SocketPoolSize = &size
		}
		p.SocketPoolExcludedPortRanges = l.regRanges("SocketPoolExcludedPortRanges", 0, strings.Join(regStrings(k, "SocketPoolExcludedPortRanges"), `\0`))
		k.Close()
		f.DNS = p
	}
}

// regStrings reads a REG_MULTI_SZ, or a REG_SZ holding a list.
func regStrings(k registry.Key, name string) []string {
	if v, _, err := k.GetStringsValue(name); err == nil {
		return v
	}
	if v, _, err := k.GetStringValue(name); err == nil && v != "" {
		return []string{v}
	}
	return nil
}
