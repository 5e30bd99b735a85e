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
func advise(f Finding, r *Rule, first *occurrence, facts *ports.Facts, known *ports.ServicePorts) string {
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
			parts = append(parts, dnsPoolAdvice(f, first, facts, known))
		} else {
			parts = append(parts, holderAdvice(f, known))
		}
	case VerdictExpected:
		parts = append(parts, fmt.Sprintf("%s/%d is held by its expected owner now, so the service has recovered. If the failures come back after a restart or reboot, capture the port table while it fails: something takes the port first at times.", f.Protocol, f.Port))
	case VerdictFree:
		parts = append(parts, freeAdvice(f, facts))
	case VerdictUnknown:
		if f.Port == 0 {
			parts = append(parts, "The events do not say which port the service needs: find it in the service's configuration and check who holds it with `netstat -ano` and `tasklist /svc` (or `evtwatch ports`).")
		} else {
			parts = append(parts, fmt.Sprintf("No port table was given, so evtwatch cannot say who holds %s. On %s, while the failure repeats, run:\n  netstat -ano > netstat.txt\n  tasklist /svc > tasklist.txt\nand analyse them together with the logs (evtwatch analyze LOGS netstat.txt tasklist.txt), or run `evtwatch ports` there.", portsPhrase(f), hostOr(f.Host, "the server")))
		}
	}
	if !r.advice.empty() {
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
// (WINDOWS-EVENTS.md §3).
func dnsPoolAdvice(f Finding, first *occurrence, facts *ports.Facts, known *ports.ServicePorts) string {
	c := f.Culprit
	var b strings.Builder
	poolSize := ports.DefaultSocketPoolSize
	var dns *ports.DNSParams
	var tcpip *ports.TcpipParams
	if facts != nil {
		dns, tcpip = facts.DNS, facts.Tcpip
		poolSize = dns.PoolSize()
	}
	fmt.Fprintf(&b, "%s is the DNS Server's socket pool (MS08-037): at every start dns.exe binds %s random UDP ports and keeps them; this time it drew %s/%d. It holds %s UDP ports now. Each DNS restart or reboot draws again, which is why a reboot \"fixes\" it until the next time.\n",
		culpritName(c), ports.FormatCount(poolSize), f.Protocol, f.Port, ports.FormatCount(c.UDPPorts))

	// What the captured settings say.
	var facts2 []string
	if dns != nil {
		if dns.SocketPoolSize == nil {
			facts2 = append(facts2, "SocketPoolSize is not set, so the pool is the default 2,500 sockets.")
		} else {
			facts2 = append(facts2, fmt.Sprintf("SocketPoolSize is %d.", *dns.SocketPoolSize))
		}
	}
	if tcpip != nil {
		if tcpip.MaxUserPort > 0 {
			facts2 = append(facts2, fmt.Sprintf("MaxUserPort is %d, so on Windows Server 2003 the pool draws from ports 1024–%d: any fixed UDP port in that span (2883, 1645/1646, 1701, 1812/1813, 4500) can be hit.", tcpip.MaxUserPort, tcpip.MaxUserPort))
		} else if platformOf(facts, first.ev) == platform2003 {
			facts2 = append(facts2, "MaxUserPort is not set, so on Windows Server 2003 the pool draws from 49152–65535.")
		}
		if len(tcpip.ReservedPorts) > 0 {
			facts2 = append(facts2, "ReservedPorts already holds "+strings.Join(rangeStrings(tcpip.ReservedPorts), ", ")+".")
		}
	}
	if len(facts2) > 0 {
		b.WriteString(strings.Join(facts2, " ") + "\n")
	}

	reserve := reservePorts(f, known)
	display := make([]string, len(reserve))
	for i, r := range reserve {
		display[i] = r.Display()
	}
	list := "UDP " + strings.Join(display, ", ")
	b.WriteString("\nFix: keep the pool away from " + list + " and restart DNS so it draws again.\n")

	plat := platformOf(facts, first.ev)
	if plat == platform2003 || plat == platformUnknown {
		var existing []ports.PortRange
		if tcpip != nil {
			existing = tcpip.ReservedPorts
		}
		merged := ports.MergeRanges(append(append([]ports.PortRange(nil), existing...), reserve...))
		b.WriteString("\nWindows Server 2003 / SBS 2003 (ReservedPorts; the command replaces the value, so it lists every range to keep):\n")
		fmt.Fprintf(&b, "  reg add HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters /v ReservedPorts /t REG_MULTI_SZ /d \"%s\" /f\n", strings.Join(rangeStrings(merged), `\0`))
		b.WriteString("  net stop dns && net start dns\n")
		b.WriteString("  (ReservedPorts takes effect for the pool at its next start; a reboot also works.)\n")
	}
	if plat == platform2008 || plat == platformUnknown {
		b.WriteString("\nWindows Server 2008 (excluded port range; stop DNS first, the exclusion fails while the port is bound):\n")
		b.WriteString("  net stop dns\n")
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
		fmt.Fprintf(&b, "  dnscmd /config /socketpoolexcludedportranges %s\n", strings.Join(rangeStrings(merged), " "))
		b.WriteString("  net stop dns && net start dns\n")
	}
	b.WriteString("\nDo not set SocketPoolSize to 0 except briefly to confirm the diagnosis: the pool protects against DNS spoofing. A smaller pool (dnscmd /config /socketpoolsize 500) only lowers the odds. Lowering MaxUserPort on 2003 narrows the range the pool draws from, but Exchange and SBS need the ephemeral ports; reserving the victim's ports is the fix.")
	return b.String()
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
