package ports

import (
	"net/netip"
	"strconv"
	"strings"
)

// PowerShell Get-NetUDPEndpoint / Get-NetTCPConnection | Export-Csv, raw
// (with the "#TYPE Microsoft.Management.Infrastructure.CimInstance#..."
// line and every CIM column) or projected (Select-Object LocalAddress,
// LocalPort, OwningProcess, ...). Column names are property names, which
// PowerShell does not localize, so columns are found by name here. The
// separator is a comma, or the culture's list separator with -UseCulture
// (";" in most of Europe) or -Delimiter: the header tells which.

func psHeader(lines []string) (idx int, cols map[string]int, tcp bool, sep rune) {
	for _, sep := range []rune{',', ';', '\t'} {
		if idx, cols, tcp := psHeaderSep(lines, sep); idx >= 0 {
			return idx, cols, tcp, sep
		}
	}
	return -1, nil, false, 0
}

func psHeaderSep(lines []string, sep rune) (idx int, cols map[string]int, tcp bool) {
	seen := 0
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if t == "" {
			continue
		}
		if strings.HasPrefix(t, "#") {
			if strings.Contains(strings.ToLower(t), "msft_nettcpconnection") {
				tcp = true
			}
			continue
		}
		if seen++; seen > 1 {
			return -1, nil, false
		}
		rec, err := readCSVLineSep(t, sep)
		if err != nil {
			return -1, nil, false
		}
		cols = map[string]int{}
		for j, name := range rec {
			cols[strings.ToLower(strings.TrimSpace(name))] = j
		}
		_, lp := cols["localport"]
		_, op := cols["owningprocess"]
		_, la := cols["localaddress"]
		if !lp || !op || !la {
			return -1, nil, false
		}
		if _, ok := cols["state"]; ok {
			tcp = true
		}
		if _, ok := cols["remoteport"]; ok {
			tcp = true
		}
		return i, cols, tcp
	}
	return -1, nil, false
}

func sniffPSCSV(lines []string) CaptureKind {
	i, _, tcp, _ := psHeader(lines)
	switch {
	case i < 0:
		return KindUnknown
	case tcp:
		return KindPSTCP
	}
	return KindPSUDP
}

// psStates maps MSFT_NetTCPConnection.State, as Export-Csv writes it (the
// enum name) or as the raw CIM value, to netstat's spelling.
var psStates = map[string]string{
	"closed": "CLOSED", "1": "CLOSED",
	"listen": "LISTENING", "2": "LISTENING",
	"synsent": "SYN_SENT", "3": "SYN_SENT",
	"synreceived": "SYN_RECEIVED", "4": "SYN_RECEIVED",
	"established": "ESTABLISHED", "5": "ESTABLISHED",
	"finwait1": "FIN_WAIT_1", "6": "FIN_WAIT_1",
	"finwait2": "FIN_WAIT_2", "7": "FIN_WAIT_2",
	"closewait": "CLOSE_WAIT", "8": "CLOSE_WAIT",
	"closing": "CLOSING", "9": "CLOSING",
	"lastack": "LAST_ACK", "10": "LAST_ACK",
	"timewait": "TIME_WAIT", "11": "TIME_WAIT",
	"deletetcb": "DELETE_TCB", "12": "DELETE_TCB",
	"bound": "BOUND", "100": "BOUND",
}

func parsePSCSV(l *loader, file string, lines []string) (int, CaptureKind) {
	hdr, cols, tcp, sep := psHeader(lines)
	if hdr < 0 {
		return 0, KindUnknown
	}
	kind, proto := KindPSUDP, UDP
	if tcp {
		kind, proto = KindPSTCP, TCP
	}
	field := func(rec []string, name string) string {
		if j, ok := cols[name]; ok && j < len(rec) {
			return strings.TrimSpace(rec[j])
		}
		return ""
	}
	n := 0
	for i := hdr + 1; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		rec, err := readCSVLineSep(t, sep)
		if err != nil {
			l.problemf(file, i+1, "bad CSV row: %v", err)
			continue
		}
		addr, err := netip.ParseAddr(field(rec, "localaddress"))
		if err != nil {
			l.problemf(file, i+1, "bad LocalAddress %q", field(rec, "localaddress"))
			continue
		}
		port, err := strconv.ParseUint(field(rec, "localport"), 10, 16)
		if err != nil {
			l.problemf(file, i+1, "bad LocalPort %q", field(rec, "localport"))
			continue
		}
		pid, err := strconv.Atoi(field(rec, "owningprocess"))
		if err != nil || pid < 0 {
			l.problemf(file, i+1, "bad OwningProcess %q", field(rec, "owningprocess"))
			continue
		}
		b := Binding{Protocol: proto, Addr: addr, Port: uint16(port), PID: pid}
		if proto == TCP {
			st := field(rec, "state")
			if s, ok := psStates[strings.ToLower(st)]; ok {
				b.State = s
			} else {
				b.State = strings.ToUpper(st)
			}
			ra, rp := field(rec, "remoteaddress"), field(rec, "remoteport")
			if rp != "" && rp != "0" {
				if a, err := netip.ParseAddr(ra); err == nil {
					b.Remote = netip.AddrPortFrom(a, parseUint16(rp)).String()
				} else {
					b.Remote = ra + ":" + rp
				}
			}
		}
		l.addBinding(b)
		n++
	}
	return n, kind
}

func parseUint16(s string) uint16 {
	n, _ := strconv.ParseUint(s, 10, 16)
	return uint16(n)
}
