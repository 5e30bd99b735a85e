package ports

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// The dynamic-port audit: which ports random binds (ephemeral ports and
// the DNS server's socket pool) can take on this machine, which fixed ports
// of known services lie in that space unprotected, how likely a DNS start
// takes each, and the commands that protect them.

// AuditOptions tune the audit.
type AuditOptions struct {
	// All puts every known service's exposed ports into the fix, not only
	// those of services seen on the machine.
	All bool
}

// AuditReport is the audit result; "evtwatch audit --json" prints it.
type AuditReport struct {
	Host      string        `json:"host,omitempty"`
	OS        OSInfo        `json:"os"`
	OSFamily  string        `json:"os_family"`
	Legacy    bool          `json:"legacy"`
	Collected time.Time     `json:"collected,omitzero"`
	Source    string        `json:"source"`
	Ranges    []RandomRange `json:"ranges"`
	DNS       DNSPool       `json:"dns_pool"`
	Exposures []Exposure    `json:"exposures"`
	Fixes     []Fix         `json:"fixes"`
	// Notes say what was assumed because a capture was missing.
	Notes []string `json:"notes,omitempty"`
}

// RandomRange is where a protocol's ephemeral (wildcard, port 0) binds land.
type RandomRange struct {
	Protocol Protocol  `json:"protocol"`
	Range    PortRange `json:"range"`
	Basis    string    `json:"basis"`
	// Protected are the reserved or excluded ports inside Range.
	Protected []PortRange `json:"protected"`
}

// DNSPool describes the DNS server's socket pool.
type DNSPool struct {
	Present  bool   `json:"present"`
	Evidence string `json:"evidence,omitempty"`
	PID      int    `json:"pid,omitempty"`
	// Held counts the UDP ports at or above 1024 the DNS process holds now.
	Held      int       `json:"held,omitempty"`
	HeldRange PortRange `json:"held_range,omitzero"`
	Size      int       `json:"size"`
	SizeBasis string    `json:"size_basis"`
	Range     PortRange `json:"range"`
	// RangeBasis says why the pool draws from Range.
	RangeBasis string      `json:"range_basis"`
	Excluded   []PortRange `json:"excluded"`
	Candidates int         `json:"candidates"`
	// PerPort is the chance that one given candidate port is taken at a
	// DNS start: Size / Candidates.
	PerPort float64 `json:"per_port"`
	// AnyAtRisk is the chance that at least one of the ports in the fix is
	// taken at a DNS start.
	AnyAtRisk float64 `json:"any_at_risk"`
}

// Exposure is one fixed port of a known service and how safe it is.
type Exposure struct {
	PortSpec
	// Services are the display names of the known services that need the
	// port (only those seen on the machine, when any is), Keys their keys.
	Services []string `json:"services"`
	Keys     []string `json:"keys"`
	// Present is set when one of the services shows on the machine (its
	// service key in a process, or its port held by an expected image).
	Present bool `json:"present"`
	// InEphemeral and InPool: the port is in the ephemeral range / the
	// DNS pool's range and not protected there.
	InEphemeral bool `json:"in_ephemeral"`
	InPool      bool `json:"in_pool"`
	// Protected names what keeps it safe: "ReservedPorts", "excluded port
	// range", "SocketPoolExcludedPortRanges".
	Protected string `json:"protected,omitempty"`
	// PoolChance is the chance per DNS start that the pool takes the port.
	PoolChance float64 `json:"pool_chance,omitempty"`
	// HeldBy is the current holder when it is not the service.
	HeldBy    string `json:"held_by,omitempty"`
	HeldByPID int    `json:"held_by_pid,omitempty"`
	// InFix is set when the fix commands cover the port.
	InFix bool `json:"in_fix"`
}

// Fix is one step of the remedy.
type Fix struct {
	Title    string   `json:"title"`
	Commands []string `json:"commands,omitempty"`
	Why      string   `json:"why,omitempty"`
}

// Defaults the audit falls back on, per [S4]/[S8] of WINDOWS-EVENTS.md.
var (
	modernDynamic        = PortRange{49152, 65535}
	legacyEphemeralUnset = PortRange{1025, 5000}
	legacyPoolUnset      = PortRange{49152, 65535}
)

// Audit checks the snapshot and facts. Either may be nearly empty; what is
// missing is assumed from Windows defaults and said so in Notes.
func Audit(s *Snapshot, f *Facts, opts AuditOptions) *AuditReport {
	if s == nil {
		s = &Snapshot{Processes: map[int]*Process{}}
	}
	if f == nil {
		f = newFacts()
	}
	r := &AuditReport{Host: f.Host, OS: f.OS, Collected: f.Collected, Source: s.Source}
	if r.Collected.IsZero() {
		r.Collected = s.Taken
	}
	r.Legacy = r.decideOS(f)
	r.OSFamily = r.OS.Family()
	r.ranges(f)
	r.dnsPool(f, Summarize(s))
	r.exposures(s, f, opts)
	r.fixes(f)
	return r
}

func (r *AuditReport) notef(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// decideOS says whether the machine follows the NT 5.x rules.
func (r *AuditReport) decideOS(f *Facts) bool {
	if f.OS.Known() {
		return f.OS.Legacy()
	}
	switch {
	case len(f.Dynamic) > 0 || len(f.Excluded) > 0:
		r.notef("OS version not captured; netsh dynamic port output shows Vista/2008 or later")
		return false
	case f.Tcpip != nil && f.Tcpip.MaxUserPort > 0:
		r.notef("OS version not captured; MaxUserPort set and no netsh output: assumed Windows Server 2003")
		return true
	}
	r.notef("OS version not captured: assumed Vista/2008 or later")
	return false
}

func (r *AuditReport) ranges(f *Facts) {
	if r.Legacy {
		tcpip := f.Tcpip
		var reserved []PortRange
		basis := "MaxUserPort not set: 2000/XP/2003 hand out 1025–5000"
		eph := legacyEphemeralUnset
		if tcpip == nil {
			r.notef(`Tcpip\Parameters not captured: assumed MaxUserPort and ReservedPorts unset`)
		} else {
			reserved = MergeRanges(tcpip.ReservedPorts)
			if tcpip.MaxUserPort >= 5000 {
				eph = PortRange{1025, uint16(min(tcpip.MaxUserPort, 65534))}
				basis = fmt.Sprintf("MaxUserPort is %d: 2000/XP/2003 hand out 1025..MaxUserPort", tcpip.MaxUserPort)
			} else if tcpip.MaxUserPort > 0 {
				basis = fmt.Sprintf("MaxUserPort is %d, below the 5000 minimum, so ignored: 1025–5000", tcpip.MaxUserPort)
			}
		}
		for _, p := range []Protocol{TCP, UDP} {
			r.Ranges = append(r.Ranges, RandomRange{Protocol: p, Range: eph, Basis: basis, Protected: clip(reserved, eph)})
		}
		return
	}
	for _, p := range []Protocol{TCP, UDP} {
		rr := RandomRange{Protocol: p, Range: modernDynamic, Basis: "netsh dynamicport not captured: Windows default 49152–65535"}
		if d, ok := f.Dynamic[p]; ok {
			rr.Range = d
			rr.Basis = fmt.Sprintf("netsh int ipv4 show dynamicport %s: start %d, %s ports", p, d.First, FormatCount(d.Len()))
		} else {
			r.notef("netsh int ipv4 show dynamicport %s not captured: assumed 49152–65535", p)
		}
		ex, ok := f.Excluded[p]
		if !ok {
			r.notef("netsh int ipv4 show excludedportrange protocol=%s not captured: assumed no exclusions", p)
		}
		rr.Protected = clip(excludedRanges(ex), rr.Range)
		r.Ranges = append(r.Ranges, rr)
	}
}

func excludedRanges(ex []ExcludedRange) []PortRange {
	var out []PortRange
	for _, e := range ex {
		out = append(out, e.Range)
	}
	return MergeRanges(out)
}

// clip returns the parts of rs inside span, merged.
func clip(rs []PortRange, span PortRange) []PortRange {
	out := []PortRange{}
	for _, x := range MergeRanges(rs) {
		lo, hi := max(x.First, span.First), min(x.Last, span.Last)
		if lo <= hi {
			out = append(out, PortRange{lo, hi})
		}
	}
	return out
}

func (r *AuditReport) rangeFor(p Protocol) RandomRange {
	for _, x := range r.Ranges {
		if x.Protocol == p {
			return x
		}
	}
	return RandomRange{}
}

func (r *AuditReport) dnsPool(f *Facts, sums []ProcessSummary) {
	d := &r.DNS
	for _, p := range sums {
		if !IsDNSPool(p.Image, p.Services) {
			continue
		}
		d.Present, d.PID = true, p.PID
		var held []uint16
		for _, rg := range p.UDPPorts {
			for q := int(max(rg.First, DynamicRangeStart)); q <= int(rg.Last); q++ {
				held = append(held, uint16(q))
			}
		}
		d.Held = len(held)
		if len(held) > 0 {
			d.HeldRange = PortRange{held[0], held[len(held)-1]}
		}
		d.Evidence = fmt.Sprintf("%s (PID %d) is the DNS server", imageText(p), p.PID)
		break
	}
	if !d.Present && f.DNS != nil {
		d.Present = true
		d.Evidence = `DNS\Parameters registry key present (DNS Server installed; not running in the snapshot)`
	}
	if !d.Present {
		d.Evidence = `no dns.exe in the snapshot and no DNS\Parameters key captured`
		for _, p := range sums {
			if p.Pool && p.Image == "" {
				r.notef("PID %d holds %s UDP and %s TCP sockets, a socket pool, but its image is unknown: add tasklist /svc output to tell whether it is the DNS server",
					p.PID, FormatCount(p.UDP), FormatCount(p.TCP))
			}
		}
	}

	d.Size, d.SizeBasis = DefaultSocketPoolSize, "SocketPoolSize not set: default 2,500"
	switch {
	case f.DNS != nil && f.DNS.SocketPoolSize != nil:
		d.Size = *f.DNS.SocketPoolSize
		d.SizeBasis = fmt.Sprintf("SocketPoolSize is %s", FormatCount(d.Size))
	case f.DNS == nil && d.Held >= PoolThreshold:
		d.Size = d.Held
		d.SizeBasis = fmt.Sprintf(`DNS\Parameters not captured: the %s ports held now`, FormatCount(d.Held))
	case f.DNS == nil:
		d.SizeBasis = `DNS\Parameters not captured: default 2,500`
	}

	udp := r.rangeFor(UDP)
	if r.Legacy {
		if f.Tcpip != nil && f.Tcpip.MaxUserPort >= 5000 {
			d.Range = PortRange{DynamicRangeStart, uint16(min(f.Tcpip.MaxUserPort, 65534))}
			d.RangeBasis = fmt.Sprintf("MaxUserPort is %d, so the 2003 pool draws from 1024..MaxUserPort", f.Tcpip.MaxUserPort)
		} else {
			d.Range = legacyPoolUnset
			d.RangeBasis = "MaxUserPort not set, so the 2003 pool draws from 49152–65535"
			if f.Tcpip != nil && f.Tcpip.MaxUserPort > 0 {
				// TCP/IP ignores values below 5000; what the DNS server
				// does with one is not documented.
				d.RangeBasis = fmt.Sprintf("MaxUserPort is %d, below the 5000 minimum: taken as not set, so the 2003 pool draws from 49152–65535", f.Tcpip.MaxUserPort)
			}
		}
		d.Excluded = clip(udp.Protected, d.Range)
	} else {
		d.Range = udp.Range
		d.RangeBasis = "the UDP dynamic port range"
		excl := slices.Clone(udp.Protected)
		if f.DNS != nil && len(f.DNS.SocketPoolExcludedPortRanges) > 0 {
			if r.OS.AtLeast(6, 1) || !r.OS.Known() {
				excl = append(excl, f.DNS.SocketPoolExcludedPortRanges...)
			} else {
				r.notef("SocketPoolExcludedPortRanges is set but needs Windows Server 2008 R2 or later; ignored")
			}
		}
		d.Excluded = clip(excl, d.Range)
	}
	d.Candidates = d.Range.Len() - CountInRanges(d.Excluded, d.Range)
	if d.Size > 0 && d.Candidates > 0 {
		d.PerPort = min(1, float64(d.Size)/float64(d.Candidates))
	}
	if d.Held >= PoolThreshold && (d.HeldRange.First < d.Range.First || d.HeldRange.Last > d.Range.Last) {
		r.notef("the DNS server holds ports in %s, outside the computed pool range %s: the settings captured are not the ones it started with", d.HeldRange.Display(), d.Range.Display())
	}
}

func (r *AuditReport) exposures(s *Snapshot, f *Facts, opts AuditOptions) {
	svcKeys := map[string]bool{}
	for _, p := range s.Processes {
		for _, k := range p.Services {
			svcKeys[strings.ToLower(k)] = true
		}
	}
	// A service is on the machine when its key (or the key it runs with)
	// shows in a process, or one of its ports is held by an image it is
	// expected in.
	known := KnownServices()
	present := make([]bool, len(known))
	for i, svc := range known {
		present[i] = svcKeys[strings.ToLower(svc.Key)]
		for _, k := range svc.RunsWith {
			present[i] = present[i] || svcKeys[strings.ToLower(k)]
		}
		for _, spec := range svc.Ports {
			for _, o := range s.Lookup(spec.Protocol, spec.Port) {
				if o.Binding.Listening() && svc.ExpectedOwner(o.Process.Image) {
					present[i] = true
				}
			}
		}
	}
	byPort := map[PortSpec]*Exposure{}
	var order []PortSpec
	for i, svc := range known {
		for _, spec := range svc.Ports {
			e := byPort[spec]
			if e == nil {
				e = &Exposure{PortSpec: spec}
				byPort[spec] = e
				order = append(order, spec)
			}
			if present[i] && !e.Present {
				// Name only the services seen here once one is.
				e.Services, e.Keys = nil, nil
			}
			if present[i] || !e.Present {
				e.Services = append(e.Services, svc.DisplayNames[0])
				e.Keys = append(e.Keys, svc.Key)
			}
			e.Present = e.Present || present[i]
		}
	}
	for _, spec := range order {
		e := byPort[spec]
		svcs := ServicesOnPort(spec.Protocol, spec.Port)
		for _, o := range s.Lookup(spec.Protocol, spec.Port) {
			if !o.Binding.Listening() || o.Process.Image == "" {
				continue
			}
			expected := false
			for _, svc := range svcs {
				expected = expected || svc.ExpectedOwner(o.Process.Image)
			}
			if !expected {
				e.HeldBy = fmt.Sprintf("%s (PID %d)", o.Process.Image, o.Process.PID)
				e.HeldByPID = o.Process.PID
				break
			}
		}
		r.place(e)
		if !e.InEphemeral && !e.InPool && e.HeldBy == "" && e.Protected == "" {
			continue // out of reach of random binds, and free
		}
		e.InFix = (e.InEphemeral || e.InPool) && (e.Present || e.HeldBy != "" || opts.All)
		r.Exposures = append(r.Exposures, *e)
	}
	slices.SortStableFunc(r.Exposures, func(a, b Exposure) int {
		rank := func(e Exposure) int {
			switch {
			case e.HeldBy != "":
				return 0
			case e.InFix:
				return 1
			case e.Protected != "":
				return 2
			}
			return 3
		}
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		if a.Protocol != b.Protocol {
			return strings.Compare(string(b.Protocol), string(a.Protocol)) // udp first
		}
		return int(a.Port) - int(b.Port)
	})
	// The chance that the pool takes at least one port in the fix:
	// 1 − C(M−k, N)/C(M, N) for k such ports among M candidates.
	d := &r.DNS
	k := 0
	for _, e := range r.Exposures {
		if e.InFix && e.InPool {
			k++
		}
	}
	if d.Present && d.Candidates > 0 && k > 0 {
		keep := 1.0
		for i := 0; i < k; i++ {
			keep *= max(0, float64(d.Candidates-d.Size-i)) / float64(d.Candidates-i)
		}
		d.AnyAtRisk = 1 - keep
	}
}

// place works out where a fixed port stands against the random ranges.
func (r *AuditReport) place(e *Exposure) {
	rr := r.rangeFor(e.Protocol)
	if rr.Range.Contains(e.Port) {
		if InRanges(rr.Protected, e.Port) {
			e.Protected = "excluded port range"
			if r.Legacy {
				e.Protected = "ReservedPorts"
			}
		} else {
			e.InEphemeral = true
		}
	}
	d := r.DNS
	if e.Protocol != UDP || !d.Present || !d.Range.Contains(e.Port) {
		return
	}
	if InRanges(d.Excluded, e.Port) {
		if e.Protected == "" {
			e.Protected = "SocketPoolExcludedPortRanges"
		}
		return
	}
	e.InPool = true
	e.PoolChance = d.PerPort
}

func (r *AuditReport) fixPorts(p Protocol, pool bool) []PortRange {
	var ports []uint16
	for _, e := range r.Exposures {
		if e.InFix && e.Protocol == p && (!pool || e.InPool) {
			ports = append(ports, e.Port)
		}
	}
	return CollapsePorts(ports)
}

func (r *AuditReport) fixes(f *Facts) {
	// A port another process holds outside the random ranges (or despite a
	// reservation) was bound on purpose, or under the port settings in
	// force when the holder started: no reservation frees it.
	for _, e := range r.Exposures {
		if e.HeldBy == "" || e.InFix {
			continue
		}
		r.Fixes = append(r.Fixes, Fix{
			Title: fmt.Sprintf("Free %s for %s: %s holds it", e.PortSpec, strings.Join(e.Services, ", "), e.HeldBy),
			Why: fmt.Sprintf("the port is outside the random ranges, so the holder bound it on purpose or started under other port settings: "+
				"reconfigure or restart it (evtwatch ports --port %d shows what it holds), then start the service", e.Port),
		})
	}
	udp, tcp := r.fixPorts(UDP, false), r.fixPorts(TCP, false)
	if len(udp)+len(tcp) == 0 {
		return
	}
	var victims []string
	seen := map[string]bool{}
	for _, e := range r.Exposures {
		for _, name := range e.Services {
			if e.InFix && !seen[name] {
				seen[name] = true
				victims = append(victims, name)
			}
		}
	}
	if r.Legacy {
		var existing []PortRange
		if f.Tcpip != nil {
			existing = f.Tcpip.ReservedPorts
		}
		all := MergeRanges(append(append(append([]PortRange(nil), existing...), udp...), tcp...))
		parts := make([]string, len(all))
		for i, x := range all {
			parts[i] = x.String()
		}
		r.Fixes = append(r.Fixes, Fix{
			Title: "Reserve the ports (ReservedPorts keeps them out of ephemeral binds and of the DNS socket pool on 2000/XP/2003)",
			Commands: []string{
				`reg add "HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters" /v ReservedPorts /t REG_MULTI_SZ /d "` + strings.Join(parts, `\0`) + `" /f`,
			},
			Why: "the value replaces any existing ReservedPorts, whose ranges are merged in; contiguous ports stay on one line (KB 812873)",
		})
		r.Fixes = append(r.Fixes, Fix{
			Title:    "Restart the server so TCP/IP reads ReservedPorts and the DNS server draws a new pool",
			Commands: []string{"shutdown /r /t 0"},
			Why:      "then check that these run: " + strings.Join(victims, ", ") + "; and audit a fresh capture",
		})
	} else {
		var cmds []string
		for _, x := range []struct {
			proto  Protocol
			ranges []PortRange
		}{{UDP, udp}, {TCP, tcp}} {
			for _, rg := range x.ranges {
				for _, ipv := range []string{"ipv4", "ipv6"} {
					cmds = append(cmds, fmt.Sprintf("netsh int %s add excludedportrange protocol=%s startport=%d numberofports=%d store=persistent", ipv, x.proto, rg.First, rg.Len()))
				}
			}
		}
		r.Fixes = append(r.Fixes, Fix{
			Title:    "Exclude the ports from the dynamic range (persistent across reboots)",
			Commands: cmds,
			Why:      `netsh refuses a port that is bound right now ("The process cannot access the file because it is being used by another process"): stop its current holder first; on 2008 R2 this needs hotfix 2665809`,
		})
		if pool := r.fixPorts(UDP, true); r.DNS.Present && len(pool) > 0 && (r.OS.AtLeast(6, 1) || !r.OS.Known()) {
			var existing []PortRange
			if f.DNS != nil {
				existing = f.DNS.SocketPoolExcludedPortRanges
			}
			all := MergeRanges(append(slices.Clone(existing), pool...))
			parts := make([]string, len(all))
			for i, x := range all {
				parts[i] = x.String()
			}
			r.Fixes = append(r.Fixes, Fix{
				Title: "Keep the DNS socket pool off them too (Windows Server 2008 R2 and later), then restart DNS",
				Commands: []string{
					"dnscmd /Config /SocketPoolExcludedPortRanges " + strings.Join(parts, " "),
					"net stop dns && net start dns",
				},
				Why: "the command sets the whole list (existing ranges are merged in); check it with dnscmd /Info /SocketPoolExcludedPortRanges",
			})
		}
		r.Fixes = append(r.Fixes, Fix{
			Title: "Then start any of these that failed to bind: " + strings.Join(victims, ", "),
		})
	}
	if r.DNS.Present {
		r.Fixes = append(r.Fixes, r.poolSizeFix(f))
	}
}

// poolSizeFix advises on SocketPoolSize: leave it alone unless someone
// lowered it, in which case it goes back to the default (the registry on
// 2000/2003, whose dnscmd predates the value; dnscmd on 2008 and later).
func (r *AuditReport) poolSizeFix(f *Facts) Fix {
	why := "a smaller pool lowers the odds in proportion but weakens the protection against DNS spoofing; 0 (one socket) only to confirm the diagnosis"
	size := r.DNS.Size
	switch {
	case f.DNS == nil || f.DNS.SocketPoolSize == nil:
		return Fix{Title: fmt.Sprintf("Leave SocketPoolSize as it is (not set: the default %s)", FormatCount(DefaultSocketPoolSize)), Why: why}
	case size >= DefaultSocketPoolSize:
		return Fix{Title: fmt.Sprintf("Leave SocketPoolSize as it is (%s)", FormatCount(size)), Why: why}
	}
	set := fmt.Sprintf("dnscmd /Config /SocketPoolSize %d", DefaultSocketPoolSize)
	if r.Legacy {
		set = fmt.Sprintf(`reg add "HKLM\SYSTEM\CurrentControlSet\Services\DNS\Parameters" /v SocketPoolSize /t REG_DWORD /d %d /f`, DefaultSocketPoolSize)
	}
	return Fix{
		Title:    fmt.Sprintf("Set SocketPoolSize back to %s (it is %s), then restart DNS", FormatCount(DefaultSocketPoolSize), FormatCount(size)),
		Commands: []string{set, "net stop dns && net start dns"},
		Why:      why,
	}
}

// Percent renders a probability: "3.875%".
func Percent(p float64) string {
	switch {
	case p <= 0:
		return "0%"
	case p >= 1:
		return "100%"
	case p < 0.0001:
		return "<0.01%"
	}
	return fmt.Sprintf("%.3f%%", 100*p)
}

// WriteText prints the audit as "evtwatch audit" shows it.
func (r *AuditReport) WriteText(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 16<<10)
	name := r.OS.Name
	if name == "" {
		name = r.OSFamily
	}
	host := r.Host
	if host == "" {
		host = "(host unknown)"
	}
	version := r.OS.Version
	if version == "" {
		version = "version unknown"
	}
	fmt.Fprintf(bw, "Port audit of %s: %s (%s)\n", host, name, version)
	fmt.Fprintf(bw, "Collected %s, %s\n", FormatTime(r.Collected), sourceText(r.Source))

	fmt.Fprint(bw, "\nRANDOM PORT RANGES\n")
	for _, x := range r.Ranges {
		fmt.Fprintf(bw, "  %s  %-12s  %s\n", x.Protocol, x.Range.Display(), x.Basis)
	}
	if r.Legacy {
		// ReservedPorts covers TCP and UDP alike.
		fmt.Fprintf(bw, "  reserved (ReservedPorts, tcp and udp): %s\n", rangesText(r.rangeFor(UDP).Protected))
	} else {
		for _, x := range r.Ranges {
			fmt.Fprintf(bw, "  %s excluded: %s\n", x.Protocol, rangesText(x.Protected))
		}
	}

	d := r.DNS
	fmt.Fprint(bw, "\nDNS SOCKET POOL\n")
	if !d.Present {
		fmt.Fprintf(bw, "  no DNS server: %s\n", d.Evidence)
	} else {
		fmt.Fprintf(bw, "  %s\n", d.Evidence)
		if d.Held > 0 {
			fmt.Fprintf(bw, "  held now: %s in %s\n", plural(d.Held, "UDP port"), d.HeldRange.Display())
		}
		fmt.Fprintf(bw, "  pool size: %s (%s)\n", FormatCount(d.Size), d.SizeBasis)
		fmt.Fprintf(bw, "  draws from: udp %s (%s), %s ports", d.Range.Display(), d.RangeBasis, FormatCount(d.Range.Len()))
		if n := CountInRanges(d.Excluded, d.Range); n > 0 {
			fmt.Fprintf(bw, " minus %s excluded (%s) = %s candidates", FormatCount(n), rangesText(d.Excluded), FormatCount(d.Candidates))
		}
		fmt.Fprintln(bw)
		if d.Size == 0 {
			fmt.Fprint(bw, "  the pool is off (SocketPoolSize 0): one socket, no random ports\n")
		} else {
			fmt.Fprintf(bw, "  chance that a DNS start takes a given port in that range: %s / %s = %s\n",
				FormatCount(d.Size), FormatCount(d.Candidates), Percent(d.PerPort))
		}
		if d.AnyAtRisk > 0 {
			fmt.Fprintf(bw, "  chance that a DNS start takes at least one of the ports in the fix below: %s\n", Percent(d.AnyAtRisk))
		}
	}

	fmt.Fprint(bw, "\nFIXED PORTS OF KNOWN SERVICES IN RANDOM REACH\n")
	if len(r.Exposures) == 0 {
		fmt.Fprint(bw, "  none\n")
	}
	var notSeen []string
	svcW := len("SERVICE")
	for _, e := range r.Exposures {
		svcW = max(svcW, len(strings.Join(e.Services, ", ")))
	}
	shown := 0
	for _, e := range r.Exposures {
		if !e.Present && !e.InFix && e.HeldBy == "" {
			notSeen = append(notSeen, fmt.Sprintf("%s %s", e.PortSpec, strings.Join(e.Services, ", ")))
			continue
		}
		if shown == 0 {
			fmt.Fprintf(bw, "  %-10s  %-*s  %-4s  %s\n", "PORT", svcW, "SERVICE", "HERE", "STATUS")
		}
		shown++
		here := "no"
		if e.Present {
			here = "yes"
		}
		fmt.Fprintf(bw, "  %-10s  %-*s  %-4s  %s\n", e.PortSpec, svcW, strings.Join(e.Services, ", "), here, exposureStatus(e))
	}
	if len(notSeen) > 0 {
		fmt.Fprintf(bw, "  services not seen on this machine, left out of the fix (--all includes them):\n")
		for _, s := range notSeen {
			fmt.Fprintf(bw, "    %s\n", s)
		}
	}

	fmt.Fprint(bw, "\nFIX\n")
	if len(r.Fixes) == 0 {
		fmt.Fprint(bw, "  nothing to do: no fixed port of a service on this machine is in random reach\n")
	}
	for i, fx := range r.Fixes {
		fmt.Fprintf(bw, "  %d. %s\n", i+1, fx.Title)
		for _, c := range fx.Commands {
			fmt.Fprintf(bw, "       %s\n", c)
		}
		if fx.Why != "" {
			fmt.Fprintf(bw, "     %s\n", fx.Why)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprint(bw, "\nNOTES\n")
		for _, n := range r.Notes {
			fmt.Fprintf(bw, "  - %s\n", n)
		}
	}
	return bw.Flush()
}

func exposureStatus(e Exposure) string {
	var parts []string
	if e.HeldBy != "" {
		parts = append(parts, "TAKEN by "+e.HeldBy)
	}
	switch {
	case e.InPool:
		parts = append(parts, Percent(e.PoolChance)+" per DNS start")
	case e.InEphemeral:
		parts = append(parts, "in the ephemeral range")
	}
	if e.Protected != "" {
		parts = append(parts, "protected ("+e.Protected+")")
	}
	if e.InPool && e.InEphemeral {
		parts[len(parts)-1] += ", and in the ephemeral range"
	}
	return strings.Join(parts, "; ")
}

func rangesText(rs []PortRange) string {
	if len(rs) == 0 {
		return "none"
	}
	parts := make([]string, len(rs))
	for i, x := range rs {
		parts[i] = x.Display()
	}
	return strings.Join(parts, ", ")
}
