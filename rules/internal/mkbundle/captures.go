package main

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// proc is one process of a generated machine.
type proc struct {
	pid      int
	image    string
	services []string
}

// sock is one socket in a generated netstat table.
type sock struct {
	proto  string // "TCP" or "UDP"
	local  string
	remote string
	state  string
	pid    int
}

// machine is what the captures describe.
type machine struct {
	procs []proc
	socks []sock
}

func (m *machine) listen(pid int, proto string, ports ...int) {
	for _, p := range ports {
		s := sock{proto: proto, local: fmt.Sprintf("0.0.0.0:%d", p), pid: pid}
		if proto == "TCP" {
			s.remote, s.state = "0.0.0.0:0", "LISTENING"
		} else {
			s.remote = "*:*"
		}
		m.socks = append(m.socks, s)
	}
}

func (m *machine) listen6(pid int, proto string, ports ...int) {
	for _, p := range ports {
		s := sock{proto: proto, local: fmt.Sprintf("[::]:%d", p), pid: pid}
		if proto == "TCP" {
			s.remote, s.state = "[::]:0", "LISTENING"
		} else {
			s.remote = "*:*"
		}
		m.socks = append(m.socks, s)
	}
}

func (m *machine) connect(pid int, local, remote string) {
	m.socks = append(m.socks, sock{proto: "TCP", local: local, remote: remote, state: "ESTABLISHED", pid: pid})
}

// dnsPool gives pid n random UDP ports in [lo, hi] that include must and
// avoid every UDP port another process holds, as dns.exe's socket pool
// (MS08-037) does at start.
func (m *machine) dnsPool(r *rand.Rand, pid, n, lo, hi int, must ...int) {
	taken := map[int]bool{}
	for _, s := range m.socks {
		if s.proto == "UDP" {
			var p int
			fmt.Sscanf(s.local[strings.LastIndex(s.local, ":")+1:], "%d", &p)
			taken[p] = true
		}
	}
	pool := map[int]bool{}
	for _, p := range must {
		pool[p] = true
	}
	for len(pool) < n {
		p := lo + r.IntN(hi-lo+1)
		if !taken[p] {
			pool[p] = true
		}
	}
	ports := make([]int, 0, n)
	for p := range pool {
		ports = append(ports, p)
	}
	sort.Ints(ports)
	m.listen(pid, "UDP", ports...)
}

// netstat renders "netstat -ano" as Windows prints it: TCP rows first,
// then UDP, each sorted by local endpoint.
func (m *machine) netstat() string {
	socks := append([]sock(nil), m.socks...)
	key := func(s sock) (int, bool, string, int) {
		i := strings.LastIndex(s.local, ":")
		var p int
		fmt.Sscanf(s.local[i+1:], "%d", &p)
		return map[string]int{"TCP": 0, "UDP": 1}[s.proto], strings.HasPrefix(s.local, "["), s.local[:i], p
	}
	sort.SliceStable(socks, func(i, j int) bool {
		pi, vi, ai, ni := key(socks[i])
		pj, vj, aj, nj := key(socks[j])
		switch {
		case pi != pj:
			return pi < pj
		case vi != vj:
			return !vi
		case ai != aj:
			return ai < aj
		}
		return ni < nj
	})
	var b strings.Builder
	b.WriteString("\r\nActive Connections\r\n\r\n  Proto  Local Address          Foreign Address        State           PID\r\n")
	for _, s := range socks {
		if s.proto == "UDP" {
			fmt.Fprintf(&b, "  %-5s  %-21s  %-21s                  %d\r\n", s.proto, s.local, s.remote, s.pid)
			continue
		}
		fmt.Fprintf(&b, "  %-5s  %-21s  %-21s  %-14s  %d\r\n", s.proto, s.local, s.remote, s.state, s.pid)
	}
	return b.String()
}

// tasklistSvc renders "tasklist /svc" in its table form, with the services
// column wrapped the way Windows wraps it.
func (m *machine) tasklistSvc() string {
	var b strings.Builder
	b.WriteString("\r\nImage Name                     PID Services                                    \r\n")
	b.WriteString("========================= ======== ============================================\r\n")
	for _, p := range m.procs {
		svc := "N/A"
		if len(p.services) > 0 {
			svc = strings.Join(p.services, ", ")
		}
		lines := wrap(svc, 44)
		fmt.Fprintf(&b, "%-25s %8d %s\r\n", p.image, p.pid, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(&b, "%-25s %8s %s\r\n", "", "", l)
		}
	}
	return b.String()
}

// wrap breaks a comma-separated list into lines of at most width runes,
// after a comma.
func wrap(s string, width int) []string {
	if len(s) <= width {
		return []string{s}
	}
	var lines []string
	var cur string
	for _, part := range strings.SplitAfter(s, ", ") {
		part = strings.TrimRight(part, " ")
		switch {
		case cur == "":
			cur = part
		case len(cur)+1+len(part) <= width:
			cur += " " + part
		default:
			lines = append(lines, cur)
			cur = part
		}
	}
	return append(lines, cur)
}

// regQuery renders "reg query KEY" output (REG.EXE 3.0, as on 2003).
func regQuery(key string, values [][3]string) string {
	var b strings.Builder
	b.WriteString("\r\n! REG.EXE VERSION 3.0\r\n\r\n" + key + "\r\n")
	for _, v := range values {
		fmt.Fprintf(&b, "    %s\t%s\t%s\r\n", v[0], v[1], v[2])
	}
	b.WriteString("\r\n")
	return b.String()
}

// collectInfo is the header file collect.cmd writes: it dates the captures.
func collectInfo(host string, at time.Time, offsetMinutes int) string {
	local := at.Add(time.Duration(offsetMinutes) * time.Minute)
	return fmt.Sprintf("evtwatch-collect 1\r\ncomputer=%s\r\nLocalDateTime=%s.000000%+04d\r\n", host, local.Format("20060102150405"), offsetMinutes)
}
