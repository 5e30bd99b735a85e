package ports

import (
	"net/netip"
	"time"
)

// Protocol is "tcp" or "udp".
type Protocol string

// Protocols.
const (
	TCP Protocol = "tcp"
	UDP Protocol = "udp"
)

// Binding is one socket: a local endpoint held by a process.
type Binding struct {
	Protocol Protocol   `json:"protocol"`
	Addr     netip.Addr `json:"address"` // unspecified (0.0.0.0 / ::) for wildcard binds
	Port     uint16     `json:"port"`
	// State is the TCP state ("LISTENING", "ESTABLISHED", ...); empty for UDP.
	State string `json:"state,omitempty"`
	// Remote is the remote endpoint of a connected TCP socket, if any.
	Remote string `json:"remote,omitempty"`
	PID    int    `json:"pid"`
}

// Listening reports whether the binding accepts traffic on its port: every
// UDP socket, and TCP sockets in LISTEN state.
func (b Binding) Listening() bool {
	return b.Protocol == UDP || b.State == "LISTENING" || b.State == "LISTEN"
}

// Process is a process that holds sockets.
type Process struct {
	PID   int    `json:"pid"`
	Image string `json:"image,omitempty"` // e.g. "dns.exe"
	Path  string `json:"path,omitempty"`  // full path when known
	// Started is the process start time, zero when unknown.
	Started  time.Time `json:"started,omitzero"`
	Services []string  `json:"services,omitempty"` // service key names hosted in the process
}

// Snapshot is the port table at one moment.
type Snapshot struct {
	Taken     time.Time        `json:"taken"`
	Source    string           `json:"source"` // "live", or the capture file(s) it came from
	Bindings  []Binding        `json:"bindings"`
	Processes map[int]*Process `json:"-"`
}

// Owner is the answer to "who holds proto/port".
type Owner struct {
	Binding Binding
	Process Process // PID only, when the process is unknown
	// PortsHeld counts the process's bindings per protocol.
	TCPPorts, UDPPorts int
	// Pool is set when the process holds a socket pool: hundreds of ports in
	// the dynamic range (the DNS server case).
	Pool bool
}
