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

// Process returns the process with the given PID.
func (s *Snapshot) Process(pid int) (*Process, bool) {
	p, ok := s.Processes[pid]
	return p, ok
}

// Lookup returns every binding of proto/port that would stop another
// process binding that port on all addresses (wildcard binds and binds to a
// specific address alike), with the owning process and its port counts.
// For TCP only listening sockets count: an outgoing connection that happens
// to use the port as its local port is reported after the listeners.
// The result is empty when the port is free.
func (s *Snapshot) Lookup(proto Protocol, port uint16) []Owner {
	var hits []Binding
	for _, b := range s.Bindings {
		if b.Protocol == proto && b.Port == port {
			hits = append(hits, b)
		}
	}
	if len(hits) == 0 {
		return nil
	}
	// Listeners first, then wildcard before specific addresses.
	rank := func(b Binding) int {
		r := 0
		if !b.Listening() {
			r += 2
		}
		if !b.Addr.IsUnspecified() {
			r++
		}
		return r
	}
	for i := 1; i < len(hits); i++ {
		for j := i; j > 0 && rank(hits[j]) < rank(hits[j-1]); j-- {
			hits[j], hits[j-1] = hits[j-1], hits[j]
		}
	}
	counts := s.portCounts()
	owners := make([]Owner, 0, len(hits))
	for _, b := range hits {
		o := Owner{Binding: b, Process: Process{PID: b.PID}}
		if p, ok := s.Processes[b.PID]; ok {
			o.Process = *p
		}
		c := counts[b.PID]
		o.TCPPorts, o.UDPPorts = c.tcp, c.udp
		o.Pool = c.dynamicUDP >= PoolThreshold || c.dynamicTCP >= PoolThreshold
		owners = append(owners, o)
	}
	return owners
}

// PoolThreshold is how many ports in the dynamic range a process must hold
// to be called a socket pool.
const PoolThreshold = 200

// DynamicRangeStart is the lowest port a random (ephemeral or socket-pool)
// bind can take on the systems evtwatch knows: 1024 on 2003 with MaxUserPort
// set, 49152 on Vista and later by default.
const DynamicRangeStart = 1024

type portCount struct{ tcp, udp, dynamicTCP, dynamicUDP int }

func (s *Snapshot) portCounts() map[int]portCount {
	counts := make(map[int]portCount)
	for _, b := range s.Bindings {
		c := counts[b.PID]
		dynamic := b.Port >= DynamicRangeStart && b.Listening()
		switch b.Protocol {
		case TCP:
			c.tcp++
			if dynamic {
				c.dynamicTCP++
			}
		case UDP:
			c.udp++
			if dynamic {
				c.dynamicUDP++
			}
		}
		counts[b.PID] = c
	}
	return counts
}
