package ports

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ProcessSummary is one process in the ports view: what it is, how many
// sockets it holds and which ports, collapsed.
type ProcessSummary struct {
	PID      int       `json:"pid"`
	Image    string    `json:"image"`
	Path     string    `json:"path,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Services []string  `json:"services"`
	// TCP and UDP count sockets; Connections counts the TCP sockets that
	// are not listening.
	TCP         int `json:"tcp"`
	UDP         int `json:"udp"`
	Connections int `json:"connections"`
	// TCPListen and UDPPorts are the listening ports, collapsed.
	TCPListen []PortRange `json:"tcp_listening"`
	UDPPorts  []PortRange `json:"udp_ports"`
	// Pool is set for a process holding PoolThreshold or more ports at or
	// above 1024 of one protocol; PoolKind is "dns" for the DNS server's
	// socket pool (MS08-037), "other" otherwise.
	Pool     bool   `json:"pool"`
	PoolKind string `json:"pool_kind,omitempty"`
	// Takes lists fixed ports known services need that this process holds
	// although it is not one of their expected owners.
	Takes []TakenPort `json:"takes,omitempty"`
}

// TakenPort is a service's fixed port held by a process that is not the
// service.
type TakenPort struct {
	PortSpec
	Services []string `json:"services"` // display names
}

// Listening reports whether the process holds any listening socket.
func (p ProcessSummary) Listening() bool { return len(p.TCPListen)+len(p.UDPPorts) > 0 }

// IsDNSPool reports whether a process with this image and services is the
// DNS server, whose many UDP ports are its socket pool.
func IsDNSPool(image string, services []string) bool {
	if strings.EqualFold(image, "dns.exe") {
		return true
	}
	for _, s := range services {
		if strings.EqualFold(s, "DNS") {
			return true
		}
	}
	return false
}

// portIndex maps each known fixed port to the services that need it.
func portIndex() map[PortSpec][]ServicePorts {
	idx := map[PortSpec][]ServicePorts{}
	for _, s := range KnownServices() {
		for _, p := range s.Ports {
			idx[p] = append(idx[p], s)
		}
	}
	return idx
}

// Summarize groups the snapshot by process. Processes that need attention
// (socket pools, processes holding another service's port) come first,
// then other processes with listening sockets, then those with only
// connections; each group in PID order.
func Summarize(s *Snapshot) []ProcessSummary {
	type acc struct {
		sum     ProcessSummary
		tcp     []uint16
		udp     []uint16
		highTCP int
		highUDP int
	}
	byPID := map[int]*acc{}
	for _, b := range s.Bindings {
		a := byPID[b.PID]
		if a == nil {
			a = &acc{sum: ProcessSummary{PID: b.PID}}
			byPID[b.PID] = a
		}
		switch b.Protocol {
		case TCP:
			a.sum.TCP++
			if !b.Listening() {
				a.sum.Connections++
				continue
			}
			a.tcp = append(a.tcp, b.Port)
		case UDP:
			a.sum.UDP++
			a.udp = append(a.udp, b.Port)
		}
	}
	idx := portIndex()
	out := make([]ProcessSummary, 0, len(byPID))
	for pid, a := range byPID {
		sum := &a.sum
		if p, ok := s.Processes[pid]; ok {
			sum.Image, sum.Path, sum.Started = p.Image, p.Path, p.Started
			sum.Services = slices.Clone(p.Services)
		}
		if sum.Services == nil {
			sum.Services = []string{}
		}
		sum.TCPListen = CollapsePorts(a.tcp)
		sum.UDPPorts = CollapsePorts(a.udp)
		if sum.TCPListen == nil {
			sum.TCPListen = []PortRange{}
		}
		if sum.UDPPorts == nil {
			sum.UDPPorts = []PortRange{}
		}
		high := func(rs []PortRange) int {
			n := 0
			for _, r := range rs {
				if r.Last >= DynamicRangeStart {
					n += int(r.Last) - int(max(r.First, DynamicRangeStart)) + 1
				}
			}
			return n
		}
		if high(sum.TCPListen) >= PoolThreshold || high(sum.UDPPorts) >= PoolThreshold {
			sum.Pool = true
			sum.PoolKind = "other"
			if IsDNSPool(sum.Image, sum.Services) {
				sum.PoolKind = "dns"
			}
		}
		if sum.Image != "" {
			sum.Takes = takenPorts(idx, sum.Image, TCP, sum.TCPListen)
			sum.Takes = append(sum.Takes, takenPorts(idx, sum.Image, UDP, sum.UDPPorts)...)
		}
		out = append(out, *sum)
	}
	group := func(p ProcessSummary) int {
		switch {
		case p.Pool || len(p.Takes) > 0:
			return 0
		case p.Listening():
			return 1
		}
		return 2
	}
	slices.SortFunc(out, func(a, b ProcessSummary) int {
		if ga, gb := group(a), group(b); ga != gb {
			return ga - gb
		}
		return a.PID - b.PID
	})
	return out
}

func takenPorts(idx map[PortSpec][]ServicePorts, image string, proto Protocol, held []PortRange) []TakenPort {
	var out []TakenPort
	for spec, svcs := range idx {
		if spec.Protocol != proto || !InRanges(held, spec.Port) {
			continue
		}
		expected := false
		var names []string
		for _, s := range svcs {
			if s.ExpectedOwner(image) {
				expected = true
				break
			}
			names = append(names, s.DisplayNames[0])
		}
		if !expected {
			out = append(out, TakenPort{PortSpec: spec, Services: names})
		}
	}
	slices.SortFunc(out, func(a, b TakenPort) int { return int(a.Port) - int(b.Port) })
	return out
}

// PortsReport is what "evtwatch ports --json" prints.
type PortsReport struct {
	Taken     time.Time        `json:"taken,omitzero"`
	Source    string           `json:"source"`
	Sockets   int              `json:"sockets"`
	Port      uint16           `json:"port,omitempty"`
	NeededBy  []string         `json:"needed_by,omitempty"`
	Processes []ProcessSummary `json:"processes"`
	Bindings  []Binding        `json:"bindings"`
}

// NewPortsReport builds the report; port 0 means the whole table,
// otherwise only the processes and bindings holding that port (TCP or
// UDP).
func NewPortsReport(s *Snapshot, port uint16) PortsReport {
	r := PortsReport{Taken: s.Taken, Source: s.Source, Sockets: len(s.Bindings), Port: port}
	sums := Summarize(s)
	if port == 0 {
		r.Processes, r.Bindings = sums, s.Bindings
	} else {
		holders := map[int]bool{}
		for _, b := range s.Bindings {
			if b.Port == port {
				r.Bindings = append(r.Bindings, b)
				holders[b.PID] = true
			}
		}
		for _, p := range sums {
			if holders[p.PID] {
				r.Processes = append(r.Processes, p)
			}
		}
		for _, proto := range []Protocol{TCP, UDP} {
			for _, svc := range ServicesOnPort(proto, port) {
				r.NeededBy = append(r.NeededBy, fmt.Sprintf("%s (%s/%d)", svc.DisplayNames[0], proto, port))
			}
		}
	}
	if r.Processes == nil {
		r.Processes = []ProcessSummary{}
	}
	if r.Bindings == nil {
		r.Bindings = []Binding{}
	}
	return r
}

// FormatTime renders a snapshot or collection time; captures keep the
// zone they were taken in.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return "unknown time"
	}
	return t.Format("2006-01-02 15:04:05 -07:00")
}

// maxServicesShown is how many services a text line names before "+N".
const maxServicesShown = 3

func servicesText(svcs []string) string {
	if len(svcs) == 0 {
		return "-"
	}
	if len(svcs) <= maxServicesShown {
		return strings.Join(svcs, ",")
	}
	return strings.Join(svcs[:maxServicesShown], ",") + fmt.Sprintf(",+%d", len(svcs)-maxServicesShown)
}

// PortsText renders a process's ports: listening TCP, then UDP, then the
// number of TCP connections: "tcp 53; udp 53, 2,500 ports in 1025–65529".
func PortsText(p ProcessSummary) string {
	var parts []string
	for _, x := range []struct {
		name   string
		ranges []PortRange
	}{{"tcp", p.TCPListen}, {"udp", p.UDPPorts}} {
		if len(x.ranges) == 0 {
			continue
		}
		var ports []uint16
		for _, r := range x.ranges {
			for q := int(r.First); q <= int(r.Last); q++ {
				ports = append(ports, uint16(q))
			}
		}
		text, _ := PortSummary(ports)
		parts = append(parts, x.name+" "+text)
	}
	if p.Connections > 0 {
		word := "connections"
		if p.Connections == 1 {
			word = "connection"
		}
		parts = append(parts, fmt.Sprintf("%s tcp %s", FormatCount(p.Connections), word))
	}
	return strings.Join(parts, "; ")
}

// FlagsText explains why a process needs attention, or "".
func FlagsText(p ProcessSummary) string {
	var flags []string
	if p.Pool {
		if p.PoolKind == "dns" {
			flags = append(flags, "DNS server socket pool (MS08-037)")
		} else {
			flags = append(flags, "socket pool")
		}
	}
	for _, t := range p.Takes {
		flags = append(flags, fmt.Sprintf("holds %s needed by %s", t.PortSpec, strings.Join(t.Services, ", ")))
	}
	return strings.Join(flags, "; ")
}

// WriteText prints the report as "evtwatch ports" shows it.
func (r PortsReport) WriteText(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	procs := len(r.Processes)
	if r.Port != 0 {
		r.writePort(bw)
		return bw.Flush()
	}
	fmt.Fprintf(bw, "%s held by %s; %s, %s\n\n",
		plural(r.Sockets, "socket"), plural(procs, "process"), sourceText(r.Source), FormatTime(r.Taken))
	if procs == 0 {
		return bw.Flush()
	}
	imgW, svcW := len("IMAGE"), len("SERVICES")
	for _, p := range r.Processes {
		imgW = max(imgW, min(len(imageText(p)), 28))
		svcW = max(svcW, min(len(servicesText(p.Services)), 32))
	}
	fmt.Fprintf(bw, "%7s  %-*s  %-*s  %5s  %6s  %s\n", "PID", imgW, "IMAGE", svcW, "SERVICES", "TCP", "UDP", "LISTENING PORTS")
	notes, pools := 0, false
	for _, p := range r.Processes {
		line := fmt.Sprintf("%7s  %-*s  %-*s  %5s  %6s  %s", pidText(p.PID), imgW, clipText(imageText(p), imgW), svcW, clipText(servicesText(p.Services), svcW),
			FormatCount(p.TCP), FormatCount(p.UDP), PortsText(p))
		if f := FlagsText(p); f != "" {
			line += "  !! " + f
			notes++
			pools = pools || p.Pool
		}
		fmt.Fprintln(bw, strings.TrimRight(line, " "))
	}
	switch {
	case notes > 0 && !pools:
		fmt.Fprint(bw, "\n!! A process holds a fixed port another service needs; that service cannot bind\n"+
			"   it until the holder lets go. Run 'evtwatch ports --port N' for the details and\n"+
			"   'evtwatch audit' for the fix.\n")
	case notes > 0:
		fmt.Fprint(bw, "\n!! A socket pool binds hundreds of random ports at start and can take the fixed\n"+
			"   port another service needs; the DNS server's pool (2,500 UDP ports by default)\n"+
			"   is the classic case. Run 'evtwatch audit' for the odds and the fix.\n")
	}
	return bw.Flush()
}

func (r PortsReport) writePort(bw *bufio.Writer) {
	fmt.Fprintf(bw, "Port %d; %s, %s\n", r.Port, sourceText(r.Source), FormatTime(r.Taken))
	if len(r.NeededBy) > 0 {
		fmt.Fprintf(bw, "Needed by: %s\n", strings.Join(r.NeededBy, ", "))
	}
	byPID := map[int]ProcessSummary{}
	for _, p := range r.Processes {
		byPID[p.PID] = p
	}
	for _, proto := range []Protocol{TCP, UDP} {
		var hits []Binding
		for _, b := range r.Bindings {
			if b.Protocol == proto {
				hits = append(hits, b)
			}
		}
		if len(hits) == 0 {
			fmt.Fprintf(bw, "%s/%d: free\n", proto, r.Port)
			continue
		}
		for _, b := range hits {
			p := byPID[b.PID]
			what := "listening"
			if !b.Listening() {
				what = strings.ToLower(b.State) + " to " + b.Remote
			}
			if b.PID == UnknownPID {
				fmt.Fprintf(bw, "%s/%d: a process this user may not inspect (run as root or administrator) on %s, %s\n", proto, r.Port, b.Addr, what)
				continue
			}
			fmt.Fprintf(bw, "%s/%d: %s (PID %d) on %s, %s", proto, r.Port, imageText(p), b.PID, b.Addr, what)
			if len(p.Services) > 0 {
				fmt.Fprintf(bw, "; services %s", strings.Join(p.Services, ", "))
			}
			fmt.Fprintf(bw, "; holds %s TCP and %s UDP sockets", FormatCount(p.TCP), FormatCount(p.UDP))
			if f := FlagsText(p); f != "" {
				fmt.Fprintf(bw, "\n    !! %s", f)
			}
			fmt.Fprintln(bw)
		}
	}
}

// plural renders "1 socket", "2,500 sockets", "3 processes".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "s") {
		return FormatCount(n) + " " + word + "es"
	}
	return FormatCount(n) + " " + word + "s"
}

// clipText shortens s to w runes, marking the cut with "~".
func clipText(s string, w int) string {
	r := []rune(s)
	if len(r) <= w {
		return s
	}
	return string(r[:w-1]) + "~"
}

// UnknownPID marks bindings whose owner could not be seen (on Linux, a
// process of another user when not running as root). The port is still
// taken, so such bindings are kept.
const UnknownPID = -1

func pidText(pid int) string {
	if pid == UnknownPID {
		return "?"
	}
	return strconv.Itoa(pid)
}

func imageText(p ProcessSummary) string {
	if p.Image == "" {
		return "?"
	}
	return p.Image
}

// sourceText names the source compactly: "live", "from a.txt" or
// "from dir (a.txt, b.txt)" when every file sits in one folder.
func sourceText(src string) string {
	if src == "live" || src == "" {
		return "live"
	}
	files := strings.Split(src, ", ")
	dir := ""
	for i, f := range files {
		d, base := splitDir(f)
		if i == 0 {
			dir = d
		} else if d != dir {
			return "from " + src
		}
		files[i] = base
	}
	if dir == "" {
		return "from " + src
	}
	return fmt.Sprintf("from %s (%s)", dir, strings.Join(files, ", "))
}

func splitDir(p string) (dir, base string) {
	i := strings.LastIndexAny(p, `/\`)
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}
