package ports

import (
	"regexp"
	"strconv"
	"strings"
)

// reg query output, from REG.EXE 3.0 (2003: "! REG.EXE VERSION 3.0",
// tab-separated) and later (four spaces). A key line starts with
// "HKEY_"; value lines are indented "name TYPE data". REG_MULTI_SZ data is
// shown with literal "\0" separators.

var regValue = regexp.MustCompile(`^\s+(.*?)\s+(REG_[A-Z_]+)(?:\s+(.*?))?\s*$`)

const (
	tcpipKey = `\services\tcpip\parameters`
	dnsKey   = `\services\dns\parameters`
)

func isRegKeyLine(s string) bool {
	return strings.HasPrefix(s, "HKEY_") || strings.HasPrefix(s, `HKLM\`)
}

func sniffRegQuery(lines []string) CaptureKind {
	seen := 0
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "! REG.EXE") {
			continue
		}
		if seen++; seen > 3 {
			return KindUnknown
		}
		if !isRegKeyLine(t) {
			continue
		}
		for _, next := range lines[i+1:] {
			if strings.TrimSpace(next) == "" {
				continue
			}
			if regValue.MatchString(next) || isRegKeyLine(strings.TrimSpace(next)) {
				return KindRegQuery
			}
			return KindUnknown
		}
		return KindRegQuery // an empty key
	}
	return KindUnknown
}

// multiSZ splits REG_MULTI_SZ data as reg query prints it.
func multiSZ(s string) []string {
	var out []string
	for _, p := range strings.Split(s, `\0`) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func regDWORD(s string) (int, bool) {
	s = strings.TrimSpace(s)
	var n uint64
	var err error
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		n, err = strconv.ParseUint(h, 16, 32)
	} else {
		n, err = strconv.ParseUint(s, 10, 32)
	}
	return int(n), err == nil
}

func parseRegQuery(l *loader, file string, lines []string) (int, CaptureKind) {
	n := 0
	key := ""
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "! REG.EXE") {
			continue
		}
		if isRegKeyLine(t) {
			key = strings.ToLower(t)
			switch {
			case strings.HasSuffix(key, tcpipKey) && l.facts.Tcpip == nil:
				l.facts.Tcpip = &TcpipParams{}
			case strings.HasSuffix(key, dnsKey) && l.facts.DNS == nil:
				l.facts.DNS = &DNSParams{}
			}
			continue
		}
		m := regValue.FindStringSubmatch(line)
		if m == nil {
			l.problemf(file, i+1, "not a reg query line: %q", t)
			continue
		}
		n++
		name, typ, data := strings.ToLower(m[1]), m[2], m[3]
		bad := func() { l.problemf(file, i+1, "bad %s %s value %q", m[1], typ, data) }
		switch {
		case strings.HasSuffix(key, tcpipKey):
			p := l.facts.Tcpip
			switch name {
			case "maxuserport":
				if v, ok := regDWORD(data); ok {
					p.MaxUserPort = v
				} else {
					bad()
				}
			case "tcptimedwaitdelay":
				if v, ok := regDWORD(data); ok {
					p.TcpTimedWaitDelay = v
				} else {
					bad()
				}
			case "reservedports":
				p.ReservedPorts = l.regRanges(file, i+1, data)
			}
		case strings.HasSuffix(key, dnsKey):
			p := l.facts.DNS
			switch name {
			case "socketpoolsize":
				if v, ok := regDWORD(data); ok {
					p.SocketPoolSize = &v
				} else {
					bad()
				}
			case "socketpoolexcludedportranges":
				p.SocketPoolExcludedPortRanges = l.regRanges(file, i+1, data)
			}
		}
	}
	return n, KindRegQuery
}

// regRanges reads "1645-1646\01812-1813" (REG_MULTI_SZ) or a REG_SZ with
// ranges separated by spaces, commas or semicolons.
func (l *loader) regRanges(file string, line int, data string) []PortRange {
	var out []PortRange
	for _, part := range multiSZ(data) {
		for _, f := range strings.FieldsFunc(part, func(r rune) bool { return r == ' ' || r == ',' || r == ';' || r == '\t' }) {
			r, err := ParsePortRange(f)
			if err != nil {
				l.problemf(file, line, "%v", err)
				continue
			}
			out = append(out, r)
		}
	}
	return out
}
