package ports

import (
	"errors"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"
)

// netstat -ano / -anob. Header and title lines are localized ("Aktive
// Verbindungen", "Proto  Lokale Adresse  Remoteadresse  Status  PID"), so
// rows are recognised by shape: a TCP/UDP token, a local endpoint, a foreign
// endpoint, an optional (localized, possibly multi-word) state and the PID.

var errNotRow = errors.New("not a netstat row")

// parseNetstatRow parses one line. It returns errNotRow for lines that are
// not socket rows at all, and another error for rows that start like a
// socket row but cannot be read.
func parseNetstatRow(line string) (Binding, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return Binding{}, errNotRow
	}
	var proto Protocol
	switch strings.ToUpper(f[0]) {
	case "TCP", "TCPV6":
		proto = TCP
	case "UDP", "UDPV6":
		proto = UDP
	default:
		return Binding{}, errNotRow
	}
	if len(f) < 3 {
		return Binding{}, errors.New("row too short")
	}
	addr, port, err := parseEndpoint(f[1])
	if err != nil {
		return Binding{}, err
	}
	if _, _, err := parseEndpoint(f[2]); err != nil && f[2] != "*:*" {
		return Binding{}, errors.New("bad foreign address " + strconvQuote(f[2]))
	}
	rest := f[3:]
	if len(rest) == 0 {
		return Binding{}, errors.New("no PID column (capture netstat with -o)")
	}
	pid, err := strconv.Atoi(rest[len(rest)-1])
	if err != nil || pid < 0 {
		return Binding{}, errors.New("no PID column (capture netstat with -o)")
	}
	b := Binding{Protocol: proto, Addr: addr, Port: port, PID: pid}
	state := strings.Join(rest[:len(rest)-1], " ")
	if proto == TCP {
		if state == "" {
			return Binding{}, errors.New("TCP row without state")
		}
		remoteZero := isZeroEndpoint(f[2])
		b.State = normalizeState(state, remoteZero)
		if !remoteZero {
			b.Remote = f[2]
		}
	}
	return b, nil
}

func strconvQuote(s string) string { return strconv.Quote(s) }

// parseEndpoint reads "0.0.0.0:135", "[::]:53", "[fe80::1%12]:546" or
// "*:123".
func parseEndpoint(s string) (netip.Addr, uint16, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.Addr{}, 0, errors.New("bad address " + strconvQuote(s))
	}
	host, ps := s[:i], s[i+1:]
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return netip.Addr{}, 0, errors.New("bad port in " + strconvQuote(s))
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "*" {
		return netip.IPv4Unspecified(), uint16(port), nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, 0, errors.New("bad address " + strconvQuote(s))
	}
	return a, uint16(port), nil
}

func isZeroEndpoint(s string) bool {
	switch s {
	case "0.0.0.0:0", "[::]:0", "*:*", "[0:0:0:0:0:0:0:0]:0":
		return true
	}
	return false
}

// tcpStates maps netstat's state words, English and localized, to the
// English spelling Binding.State uses.
var tcpStates = map[string]string{
	"CLOSED": "CLOSED", "LISTENING": "LISTENING", "LISTEN": "LISTENING",
	"SYN_SENT": "SYN_SENT", "SYN_RECEIVED": "SYN_RECEIVED", "SYN_RCVD": "SYN_RECEIVED",
	"ESTABLISHED": "ESTABLISHED", "FIN_WAIT_1": "FIN_WAIT_1", "FIN_WAIT_2": "FIN_WAIT_2",
	"CLOSE_WAIT": "CLOSE_WAIT", "CLOSING": "CLOSING", "LAST_ACK": "LAST_ACK",
	"TIME_WAIT": "TIME_WAIT", "DELETE_TCB": "DELETE_TCB", "BOUND": "BOUND",
	// German
	"ABHÖREN": "LISTENING", "HERGESTELLT": "ESTABLISHED", "WARTEND": "TIME_WAIT",
	"SCHLIESSEN_WARTEN": "CLOSE_WAIT", "SYN_GESENDET": "SYN_SENT", "SYN_EMPFANGEN": "SYN_RECEIVED",
	"GEBUNDEN": "BOUND", "GESCHLOSSEN": "CLOSED", "SCHLIESSEND": "CLOSING",
	// Spanish
	"ESCUCHANDO": "LISTENING", "ESTABLECIDO": "ESTABLISHED", "TIEMPO_ESPERA": "TIME_WAIT",
	"CERRAR_ESPERA": "CLOSE_WAIT", "ENLAZADO": "BOUND",
	// Portuguese
	"OUVINDO": "LISTENING", "ESTABELECIDA": "ESTABLISHED", "ESTABELECIDO": "ESTABLISHED",
	"AGUARDANDO_FECHAMENTO": "CLOSE_WAIT",
	// French
	"ÉCOUTE": "LISTENING", "ETABLIE": "ESTABLISHED", "ÉTABLIE": "ESTABLISHED",
}

// normalizeState maps a (possibly localized) state word; an unknown word on
// a socket whose foreign address is 0.0.0.0:0 is a listener, since that
// is the only state netstat prints with no remote end apart from BOUND and
// CLOSED, which every language we know spells recognisably.
func normalizeState(s string, remoteZero bool) string {
	u := strings.ToUpper(s)
	if st, ok := tcpStates[u]; ok {
		return st
	}
	if remoteZero {
		return "LISTENING"
	}
	return u
}

func sniffNetstat(lines []string) CaptureKind {
	preamble := 0
	for i, line := range lines {
		if strings.TrimSpace(line) == "" {
			continue
		}
		_, err := parseNetstatRow(line)
		if err == nil {
			if hasOwnerLines(lines[i:]) {
				return KindNetstatOwner
			}
			return KindNetstat
		}
		if preamble++; preamble > 8 {
			return KindUnknown
		}
	}
	return KindUnknown
}

func hasOwnerLines(lines []string) bool {
	for _, line := range lines {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			return true
		}
	}
	return false
}

func parseNetstat(l *loader, file string, lines []string) (int, CaptureKind) {
	rows, binaryLines := 0, 0
	owners := false
	lastPID := -1 // PID of the row the owner lines below belong to
	var exePath string
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if t == "" {
			continue
		}
		b, err := parseNetstatRow(line)
		switch {
		case err == nil:
			l.addBinding(b)
			rows++
			lastPID = b.PID
			exePath = ""
			continue
		case !errors.Is(err, errNotRow):
			l.problemf(file, i+1, "%v: %q", err, t)
			lastPID = -1
			continue
		}
		if binaryLine(t) {
			// Not command output: a damaged or wrong file. Owner lines
			// below it would belong to no row.
			if binaryLines++; binaryLines == 1 {
				l.problemf(file, i+1, "binary data, not netstat output (the rest of the file is still read)")
			}
			lastPID = -1
			continue
		}
		if lastPID < 0 {
			continue // title and header lines, in any language
		}
		// Owner lines under a row (netstat -b): "[dns.exe]", a service key
		// name ("RpcSs"), component paths (-v on XP/2003), or a sentence
		// such as "Can not obtain ownership information".
		switch {
		case strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]"):
			owners = true
			image := strings.TrimSpace(t[1 : len(t)-1])
			l.setImage(lastPID, image)
			if exePath != "" && strings.EqualFold(windowsBase(exePath), image) {
				if p := l.proc(lastPID); p.Path == "" {
					p.Path = exePath
				}
			}
		case strings.Contains(t, `\`):
			if strings.HasSuffix(strings.ToLower(t), ".exe") {
				exePath = t
			}
		case plausibleServiceName(t):
			owners = true
			l.addServices(lastPID, t)
		}
	}
	if binaryLines > 1 {
		l.problemf(file, 0, "%s lines of binary data in all", FormatCount(binaryLines))
	}
	if rows == 0 {
		l.problems = append(l.problems, &ParseError{File: file, Msg: "netstat capture holds no socket rows"})
	}
	if owners {
		return rows, KindNetstatOwner
	}
	return rows, KindNetstat
}

// windowsBase is the last element of a Windows path.
func windowsBase(p string) string {
	return path.Base(strings.ReplaceAll(p, `\`, "/"))
}

// binaryLine reports a line holding control characters other than tab, or
// undecodable bytes: command output never does.
func binaryLine(s string) bool {
	for _, r := range s {
		if (r < 0x20 && r != '\t') || r == 0x7f || r == utf8.RuneError {
			return true
		}
	}
	return false
}
