package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/rules/ports"
)

// advise writes what to do: built-in knowledge of the culprit and the
// verdict first, then the rule's own advice for the failing service.
//
// poolPorts are the UDP ports to keep out of the host's DNS socket pool:
// this finding's and those of the host's other pool findings.
func advise(f Finding, r *Rule, first *occurrence, in Inputs, known *ports.ServicePorts, poolPorts []ports.PortRange) string {
	facts := in.Facts
	vals := adviceValues(f, r, first.ev)
	var parts []string
	switch f.Verdict {
	case VerdictNotConflict:
		if r.errs != nil && !r.errs.advice.empty() {
			parts = append(parts, r.errs.advice.render(vals))
		} else {
			parts = append(parts, fmt.Sprintf("The error (%s) does not mean another process holds the port, so the port table cannot help; look at the service's configuration.", orUnknown(f.Error)))
		}
		return joinAdvice(parts)
	case VerdictHeld:
		if f.Culprit.PoolKind == "dns" {
			parts = append(parts, dnsPoolAdvice(f, first, in, known, poolPorts))
		} else {
			parts = append(parts, holderAdvice(f, known))
		}
	case VerdictExpected:
		parts = append(parts, fmt.Sprintf("%s/%d is held by its expected owner now, so the service has recovered. If the failures come back after a restart or reboot, capture the port table while it fails: something takes the port first at times.", f.Protocol, f.Port))
	case VerdictFree:
		parts = append(parts, freeAdvice(f, facts))
	case VerdictUnknown:
		if f.Note != "" && f.Port != 0 {
			parts = append(parts, fmt.Sprintf("The port table given is not from %s (%s). Analyse %s's logs with captures taken on %s itself (netstat -ano, tasklist /svc, or evtwatch ports there).", hostOr(f.Host, "this host"), f.Note, hostOr(f.Host, "this host"), hostOr(f.Host, "that host")))
		} else if f.Port == 0 {
			parts = append(parts, "The events do not say which port the service needs: find it in the service's configuration and check who holds it with `netstat -ano` and `tasklist /svc` (or `evtwatch ports`).")
		} else {
			parts = append(parts, fmt.Sprintf("No port table was given, so evtwatch cannot say who holds %s. On %s, while the failure repeats, run:\n  netstat -ano > netstat.txt\n  tasklist /svc > tasklist.txt\nand analyse them together with the logs (evtwatch analyze LOGS netstat.txt tasklist.txt), or run `evtwatch ports` there.", portsPhrase(f), hostOr(f.Host, "the server")))
		}
	}
	// A rule's advice is what to do once the port is freed ("start the
	// service again"); when the port is back with its owner there is
	// nothing to free, and that advice would contradict the verdict.
	if !r.advice.empty() && f.Verdict != VerdictExpected {
		parts = append(parts, r.advice.render(vals))
	}
	return joinAdvice(parts)
}

func joinAdvice(parts []string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "\n\n")
}

func adviceValues(f Finding, r *Rule, ev *evtx.Event) map[string]string {
	ps := make([]string, 0, len(f.Ports))
	for _, c := range f.Ports {
		ps = append(ps, fmt.Sprintf("%s/%d", c.Protocol, c.Port))
	}
	v := map[string]string{
		"rule":      f.Rule,
		"title":     f.Title,
		"host":      f.Host,
		"service":   f.Service,
		"source":    f.Source,
		"protocol":  string(f.Protocol),
		"ports":     strings.Join(ps, ", "),
		"count":     strconv.Itoa(f.Count),
		"first":     f.First.Format("2006-01-02 15:04:05Z07:00"),
		"last":      f.Last.Format("2006-01-02 15:04:05Z07:00"),
		"cadence":   f.Cadence.String(),
		"window":    humanDuration(r.Window),
		"threshold": strconv.Itoa(r.Threshold),
		"error":     f.Error,
	}
	if f.Port != 0 {
		v["port"] = strconv.Itoa(int(f.Port))
	}
	if ev != nil {
		for i, d := range ev.Data {
			val := resolveParams(d.Value)
			v["data."+strconv.Itoa(i+1)] = val
			if d.Name != "" {
				v["data."+d.Name] = val
			}
		}
	}
	if c := f.Culprit; c != nil {
		v["culprit"] = culpritName(c)
		v["culprit.image"] = c.Image
		v["culprit.pid"] = strconv.Itoa(c.PID)
		v["culprit.path"] = c.Path
		v["culprit.services"] = strings.Join(c.Services, ", ")
		v["culprit.ports_held"] = strconv.Itoa(c.PortsHeld)
	}
	return v
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func hostOr(h, def string) string {
	if h == "" {
		return def
	}
	return h
}

func portsPhrase(f Finding) string {
	if len(f.Ports) <= 1 {
		return fmt.Sprintf("%s/%d", f.Protocol, f.Port)
	}
	ps := make([]string, 0, len(f.Ports))
	for _, c := range f.Ports {
		ps = append(ps, fmt.Sprintf("%s/%d", c.Protocol, c.Port))
	}
	return strings.Join(ps, ", ")
}

// platform is which generation of Windows the advice's commands are for.
type platform int

const (
	platformUnknown platform = iota
	platform2003             // NT 5.x: ReservedPorts, MaxUserPort
	platform2008             // 6.0: netsh excluded port ranges
	platform2008R2           // 6.1+: SocketPoolExcludedPortRanges too
)

// platformOf works the Windows generation out from the captured version,
// else from the log format (.evt is written only by NT 5.x and earlier).
func platformOf(facts *ports.Facts, ev *evtx.Event) platform {
	if facts != nil && facts.OS.Known() {
		switch {
		case facts.OS.Legacy():
			return platform2003
		case facts.OS.AtLeast(6, 1):
			return platform2008R2
		}
		return platform2008
	}
	if ev != nil && ev.Origin.Format == evtx.FormatEVT {
		return platform2003
	}
	return platformUnknown
}

// reservePorts is what to keep away from random binds: every UDP port of
// the failing service the pool can take (IAS needs four), else the held one.
func reservePorts(f Finding, known *ports.ServicePorts) []ports.PortRange {
	var nums []uint16
	if known != nil {
		for _, p := range known.PoolExposed() {
			nums = append(nums, p.Port)
		}
	}
	for _, c := range f.Ports {
		if c.Protocol == ports.UDP && c.Port >= ports.DynamicRangeStart && !slices.Contains(nums, c.Port) {
			nums = append(nums, c.Port)
		}
	}
	if len(nums) == 0 && f.Port != 0 {
		nums = []uint16{f.Port}
	}
	return ports.CollapsePorts(nums)
}

func rangeStrings(rs []ports.PortRange) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

// dnsPoolAdvice explains the DNS socket pool (MS08-037) and gives the
// commands that keep it off the failing service's ports
// (WINDOWS-EVENTS.md §3). When the port-ownership audit of the same
// captures (evtwatch audit) covers those ports, its fix is used: it also
// protects the server's other fixed ports the pool can take, so one reboot
// fixes them all.
func dnsPoolAdvice(f Finding, first *occurrence, in Inputs, known *ports.ServicePorts, poolPorts []ports.PortRange) string {
	c := f.Culprit
	facts := in.Facts
	var b strings.Builder
	poolSize := ports.DefaultSocketPoolSize
	var dns *ports.DNSParams
	var tcpip *ports.TcpipParams
	if facts != nil {
		dns, tcpip = facts.DNS, facts.Tcpip
		poolSize = dns.PoolSize()
	}
	plat := platformOf(facts, first.ev)
	fmt.Fprintf(&b, "%s is the DNS Server's socket pool (MS08-037): at every start dns.exe binds %s random UDP ports and keeps them; this time it drew %s/%d. Each DNS restart or reboot draws again, which is why a reboot \"fixes\" it until the next time.",
		culpritName(c), ports.FormatCount(poolSize), f.Protocol, f.Port)
	var known2 []string
	if dns != nil {
		if dns.SocketPoolSize == nil {
			known2 = append(known2, "SocketPoolSize is not set (the default pool of 2,500).")
		} else {
			known2 = append(known2, fmt.Sprintf("SocketPoolSize is %d.", *dns.SocketPoolSize))
		}
	}
	if tcpip != nil && plat == platform2003 {
		if tcpip.MaxUserPort > 0 {
			known2 = append(known2, fmt.Sprintf("MaxUserPort is %d, so the pool draws from 1024–%d and can hit any fixed UDP port in that span.", tcpip.MaxUserPort, tcpip.MaxUserPort))
		} else {
			known2 = append(known2, "MaxUserPort is not set, so the pool draws from 49152–65535.")
		}
		if len(tcpip.ReservedPorts) > 0 {
			known2 = append(known2, "ReservedPorts holds "+strings.Join(rangeStrings(tcpip.ReservedPorts), ", ")+".")
		}
	}
	if len(known2) > 0 {
		b.WriteString(" " + strings.Join(known2, " "))
	}
	b.WriteString("\n")

	own := reservePorts(f, known)
	reserve := ports.MergeRanges(append(append([]ports.PortRange(nil), own...), poolPorts...))
	list := "UDP " + displayRanges(own)
	if extra := ports.CountInRanges(reserve, ports.PortRange{First: 1, Last: 65535}) - ports.CountInRanges(own, ports.PortRange{First: 1, Last: 65535}); extra > 0 {
		list = "UDP " + displayRanges(reserve) + " (with the ports of the other DNS-pool findings on " + hostOr(f.Host, "this host") + ": one command must list them all)"
	}

	if fixes, n, ok := auditFix(in, reserve); ok {
		fmt.Fprintf(&b, "\nFix: keep the pool away from %s. These steps (evtwatch audit on the same captures) also protect the server's other %d fixed port(s) in its reach:\n", list, n)
		for i, fx := range fixes {
			fmt.Fprintf(&b, "  %d. %s\n", i+1, fx.Title)
			for _, cmd := range fx.Commands {
				b.WriteString("       " + cmd + "\n")
			}
			if fx.Why != "" {
				b.WriteString("     (" + fx.Why + ")\n")
			}
		}
		b.WriteString("\nLowering MaxUserPort would narrow the range the pool draws from on 2003, but Exchange and SBS need those ephemeral ports: reserving the victims' ports is the fix.")
		return b.String()
	}

	b.WriteString("\nFix: keep the pool away from " + list + ", then let DNS draw a new pool.\n")
	if plat == platform2003 || plat == platformUnknown {
		var existing []ports.PortRange
		if tcpip != nil {
			existing = tcpip.ReservedPorts
		}
		merged := ports.MergeRanges(append(append([]ports.PortRange(nil), existing...), reserve...))
		b.WriteString("\nWindows Server 2003 / SBS 2003 (ReservedPorts; the command replaces the value, so it lists every range to keep):\n")
		fmt.Fprintf(&b, "  reg add \"HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\" /v ReservedPorts /t REG_MULTI_SZ /d \"%s\" /f\n", strings.Join(rangeStrings(merged), `\0`))
		b.WriteString("  shutdown /r /t 0\n  (TCP/IP reads ReservedPorts at start, and DNS draws its new pool after it.)\n")
	}
	if plat == platform2008 || plat == platformUnknown {
		b.WriteString("\nWindows Server 2008 (excluded port range; stop DNS first, netsh refuses a port that is bound):\n  net stop dns\n")
		for _, r := range reserve {
			fmt.Fprintf(&b, "  netsh int ipv4 add excludedportrange protocol=udp startport=%d numberofports=%d store=persistent\n", r.First, r.Len())
		}
		b.WriteString("  net start dns\n")
	}
	if plat == platform2008R2 || plat == platformUnknown {
		var existing []ports.PortRange
		if dns != nil {
			existing = dns.SocketPoolExcludedPortRanges
		}
		merged := ports.MergeRanges(append(append([]ports.PortRange(nil), existing...), reserve...))
		b.WriteString("\nWindows Server 2008 R2 and later (SocketPoolExcludedPortRanges; the command replaces the list):\n")
		fmt.Fprintf(&b, "  dnscmd /Config /SocketPoolExcludedPortRanges %s\n", strings.Join(rangeStrings(merged), " "))
		b.WriteString("  net stop dns && net start dns\n")
	}
	smaller := "dnscmd /Config /SocketPoolSize 500"
	if plat == platform2003 {
		// 2003 has no dnscmd switch for it; Microsoft documents the value.
		smaller = `reg add "HKLM\SYSTEM\CurrentControlSet\Services\DNS\Parameters" /v SocketPoolSize /t REG_DWORD /d 500 /f`
	}
	b.WriteString("\nDo not set SocketPoolSize to 0 except briefly to confirm the diagnosis: the pool protects against DNS spoofing, and a smaller one (" + smaller + ", then restart DNS) only lowers the odds. Lowering MaxUserPort on 2003 narrows the range the pool draws from, but Exchange and SBS need the ephemeral ports; reserving the victim's ports is the fix.")
	return b.String()
}

func displayRanges(rs []ports.PortRange) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Display()
	}
	return strings.Join(out, ", ")
}

// auditFix runs the port audit on the finding's port table and returns its
// fix when the fix covers every port to reserve, with how many other
// ports it covers.
func auditFix(in Inputs, reserve []ports.PortRange) ([]ports.Fix, int, bool) {
	if in.Snapshot == nil || len(reserve) == 0 {
		return nil, 0, false
	}
	rep := ports.Audit(in.Snapshot, in.Facts, ports.AuditOptions{})
	if len(rep.Fixes) == 0 {
		return nil, 0, false
	}
	covered := 0
	others := 0
	for _, e := range rep.Exposures {
		if !e.InFix {
			continue
		}
		if e.Protocol == ports.UDP && ports.InRanges(reserve, e.Port) {
			covered++
		} else {
			others++
		}
	}
	want := 0
	for _, r := range reserve {
		want += r.Len()
	}
	if covered < want {
		return nil, 0, false
	}
	return rep.Fixes, others, true
}

// holderAdvice is for a culprit that is not a known socket pool.
func holderAdvice(f Finding, known *ports.ServicePorts) string {
	c := f.Culprit
	var b strings.Builder
	fmt.Fprintf(&b, "%s holds %s/%d", culpritName(c), f.Protocol, f.Port)
	if c.Pool {
		fmt.Fprintf(&b, " among %s ports it holds (a socket pool)", ports.FormatCount(c.PortsHeld))
	}
	b.WriteString(". ")
	if f.Protocol == ports.UDP && f.Port >= ports.DynamicRangeStart && c.Pool {
		b.WriteString("It probably took the port at random; reserve the port so random binds skip it (Windows Server 2003: ReservedPorts; 2008 and later: netsh int ipv4 add excludedportrange protocol=" + string(f.Protocol) + " startport=" + strconv.Itoa(int(f.Port)) + " numberofports=1 store=persistent), then restart it.")
	} else {
		fmt.Fprintf(&b, "Find out why it listens there: stop or reconfigure it (its own port setting), or move the failing service to another port. To see it: tasklist /svc /fi \"PID eq %d\".", c.PID)
	}
	if known != nil && known.Note != "" {
		b.WriteString(" (" + known.Key + ": " + known.Note + ".)")
	}
	return b.String()
}

func freeAdvice(f Finding, facts *ports.Facts) string {
	s := fmt.Sprintf("Nobody holds %s now: the conflict was transient (the holder has let go, or the server was restarted since the failures).", portsPhrase(f))
	if f.Protocol == ports.UDP && f.Port >= ports.DynamicRangeStart {
		s += " A UDP port at or above 1024 that is taken only at times is the mark of random binds — on a DNS server, its socket pool (MS08-037)."
		if facts != nil && facts.DNS != nil {
			s += " This server runs the DNS Server service."
		}
		s += " Reserving the port stops it recurring; run `evtwatch audit` on the server for the commands."
	}
	s += " Capture `netstat -ano` and `tasklist /svc` the next time it fails to name the holder."
	return s
}
