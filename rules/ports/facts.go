package ports

import (
	"fmt"
	"time"
)

// Facts are the settings that decide which ports random binds may take,
// read from captures (reg query, netsh, ver, systeminfo) or, on Windows,
// live. A nil pointer or a missing map key means "not captured", which
// the audit keeps apart from "captured and not set".
type Facts struct {
	Host string `json:"host,omitempty"`
	OS   OSInfo `json:"os"`
	// Collected is when the collector ran, zero when unknown.
	Collected time.Time `json:"collected,omitzero"`
	// Dynamic is the dynamic (ephemeral) port range per protocol from
	// "netsh int ipv4 show dynamicport tcp|udp".
	Dynamic map[Protocol]PortRange `json:"dynamic_ports,omitempty"`
	// Excluded are the excluded port ranges per protocol from "netsh int
	// ipv4 show excludedportrange"; a present key with an empty list means
	// captured and empty.
	Excluded map[Protocol][]ExcludedRange `json:"excluded_ports,omitempty"`
	Tcpip    *TcpipParams                 `json:"tcpip,omitempty"`
	DNS      *DNSParams                   `json:"dns,omitempty"`
	// Captures lists the files the facts and the snapshot came from.
	Captures []CaptureFile `json:"captures,omitempty"`
}

// ExcludedRange is one excluded port range; Administered marks ranges an
// administrator added (netsh prints them with "*"), the others are taken at
// run time by components such as Hyper-V or WinNAT.
type ExcludedRange struct {
	Range        PortRange `json:"range"`
	Administered bool      `json:"administered,omitempty"`
}

// TcpipParams are the values under HKLM\SYSTEM\CurrentControlSet\Services\
// Tcpip\Parameters that shape the port space.
type TcpipParams struct {
	// MaxUserPort is 0 when the value is not set. On 2000/XP/2003 it is the
	// top of the ephemeral range (1024..MaxUserPort) and, with the MS08-037
	// DNS update, of the DNS socket pool's range.
	MaxUserPort int `json:"max_user_port,omitempty"`
	// ReservedPorts (REG_MULTI_SZ "1645-1646\01812-1813") are kept out of
	// ephemeral and socket-pool binds on 2000/XP/2003.
	ReservedPorts     []PortRange `json:"reserved_ports,omitempty"`
	TcpTimedWaitDelay int         `json:"tcp_timed_wait_delay,omitempty"`
}

// DNSParams are the values under HKLM\SYSTEM\CurrentControlSet\Services\
// DNS\Parameters; a non-nil DNSParams means the DNS Server service is
// installed.
type DNSParams struct {
	// SocketPoolSize is nil when unset (the server uses 2500).
	SocketPoolSize *int `json:"socket_pool_size,omitempty"`
	// SocketPoolExcludedPortRanges (2008 R2 and later).
	SocketPoolExcludedPortRanges []PortRange `json:"socket_pool_excluded_port_ranges,omitempty"`
}

// DefaultSocketPoolSize is the DNS server's pool size when SocketPoolSize
// is not set (MS08-037).
const DefaultSocketPoolSize = 2500

// PoolSize is the effective DNS socket pool size.
func (d *DNSParams) PoolSize() int {
	if d == nil || d.SocketPoolSize == nil {
		return DefaultSocketPoolSize
	}
	return *d.SocketPoolSize
}

// CaptureFile is one input file and what it was recognised as.
type CaptureFile struct {
	Path    string      `json:"path"`
	Kind    CaptureKind `json:"kind"`
	Records int         `json:"records"`
}

// OSInfo is the Windows version from ver or systeminfo.
type OSInfo struct {
	Name    string `json:"name,omitempty"`    // "Microsoft(R) Windows(R) Server 2003 for Small Business Server"
	Version string `json:"version,omitempty"` // "5.2.3790"
	Major   int    `json:"major,omitempty"`
	Minor   int    `json:"minor,omitempty"`
	Build   int    `json:"build,omitempty"`
}

// Known reports whether the version was captured.
func (o OSInfo) Known() bool { return o.Major > 0 }

// Legacy reports an NT 5.x system (2000, XP, Server 2003): ephemeral and
// DNS pool ports there follow MaxUserPort and ReservedPorts instead of the
// netsh dynamic range and exclusions.
func (o OSInfo) Legacy() bool { return o.Known() && o.Major < 6 }

// AtLeast reports whether the version is major.minor or later.
func (o OSInfo) AtLeast(major, minor int) bool {
	return o.Major > major || (o.Major == major && o.Minor >= minor)
}

// Family names the Windows release for the version number, e.g.
// "Windows Server 2003 / XP x64" or "Windows Server 2019 / Windows 10".
func (o OSInfo) Family() string {
	switch {
	case !o.Known():
		return "unknown Windows version"
	case o.Major == 5 && o.Minor == 0:
		return "Windows 2000"
	case o.Major == 5 && o.Minor == 1:
		return "Windows XP"
	case o.Major == 5:
		return "Windows Server 2003 / XP x64"
	case o.Major == 6 && o.Minor == 0:
		return "Windows Server 2008 / Vista"
	case o.Major == 6 && o.Minor == 1:
		return "Windows Server 2008 R2 / 7"
	case o.Major == 6 && o.Minor == 2:
		return "Windows Server 2012 / 8"
	case o.Major == 6 && o.Minor == 3:
		return "Windows Server 2012 R2 / 8.1"
	case o.Major == 10 && o.Build >= 26100:
		return "Windows Server 2025 / Windows 11 24H2"
	case o.Major == 10 && o.Build >= 22000:
		return "Windows 11"
	case o.Major == 10 && o.Build >= 20348:
		return "Windows Server 2022"
	case o.Major == 10 && o.Build >= 17763:
		return "Windows Server 2019 / Windows 10"
	case o.Major == 10 && o.Build >= 14393:
		return "Windows Server 2016 / Windows 10"
	case o.Major == 10:
		return "Windows 10"
	}
	return fmt.Sprintf("Windows %d.%d", o.Major, o.Minor)
}

func newFacts() *Facts {
	return &Facts{
		Dynamic:  map[Protocol]PortRange{},
		Excluded: map[Protocol][]ExcludedRange{},
	}
}
