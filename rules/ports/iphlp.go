package ports

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
)

// Decoding of the owner-PID tables GetExtendedTcpTable and
// GetExtendedUdpTable fill (TCP_TABLE_OWNER_PID_ALL, UDP_TABLE_OWNER_PID).
// It is pure and untagged so Linux CI tests it on synthesized buffers; the
// calls themselves live in live_windows.go.
//
// Every table is a DWORD dwNumEntries followed by fixed-size rows of
// DWORD-aligned fields (little-endian, as Windows runs). Ports are in
// network byte order in the low 16 bits of a DWORD, IPv4 addresses in
// in_addr (network) order.

// Row sizes of the *_OWNER_PID row structs.
const (
	tcp4RowSize = 24 // MIB_TCPROW_OWNER_PID
	tcp6RowSize = 56 // MIB_TCP6ROW_OWNER_PID
	udp4RowSize = 12 // MIB_UDPROW_OWNER_PID
	udp6RowSize = 28 // MIB_UDP6ROW_OWNER_PID
)

// windowsTCPStates maps MIB_TCP_STATE to netstat's spelling.
var windowsTCPStates = [...]string{
	1: "CLOSED", 2: "LISTENING", 3: "SYN_SENT", 4: "SYN_RECEIVED", 5: "ESTABLISHED",
	6: "FIN_WAIT_1", 7: "FIN_WAIT_2", 8: "CLOSE_WAIT", 9: "CLOSING", 10: "LAST_ACK",
	11: "TIME_WAIT", 12: "DELETE_TCB",
}

func tcpStateName(s uint32) string {
	if int(s) < len(windowsTCPStates) && windowsTCPStates[s] != "" {
		return windowsTCPStates[s]
	}
	return "STATE_" + strconv.Itoa(int(s))
}

func netPort(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func addr6(b []byte, scope uint32) netip.Addr {
	a := netip.AddrFrom16([16]byte(b[:16]))
	if scope != 0 && (a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast()) {
		a = a.WithZone(strconv.FormatUint(uint64(scope), 10))
	}
	return a
}

// rows checks a table's header against its length and calls fn per row.
func rows(b []byte, size int, fn func(row []byte)) error {
	if len(b) < 4 {
		return fmt.Errorf("owner table of %d bytes has no header", len(b))
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n < 0 || n > (len(b)-4)/size {
		return fmt.Errorf("owner table claims %d rows of %d bytes in %d bytes", n, size, len(b))
	}
	for i := 0; i < n; i++ {
		fn(b[4+i*size : 4+(i+1)*size])
	}
	return nil
}

func remoteText(a netip.Addr, port uint16, state string) string {
	if port == 0 || state == "LISTENING" {
		return ""
	}
	return netip.AddrPortFrom(a, port).String()
}

func decodeTCP4Table(b []byte) ([]Binding, error) {
	var out []Binding
	err := rows(b, tcp4RowSize, func(r []byte) {
		le := binary.LittleEndian
		state := tcpStateName(le.Uint32(r[0:]))
		remote := netip.AddrFrom4([4]byte(r[12:16]))
		out = append(out, Binding{
			Protocol: TCP,
			Addr:     netip.AddrFrom4([4]byte(r[4:8])),
			Port:     netPort(r[8:]),
			State:    state,
			Remote:   remoteText(remote, netPort(r[16:]), state),
			PID:      int(le.Uint32(r[20:])),
		})
	})
	return out, err
}

func decodeTCP6Table(b []byte) ([]Binding, error) {
	var out []Binding
	err := rows(b, tcp6RowSize, func(r []byte) {
		le := binary.LittleEndian
		state := tcpStateName(le.Uint32(r[48:]))
		remote := addr6(r[24:40], le.Uint32(r[40:]))
		out = append(out, Binding{
			Protocol: TCP,
			Addr:     addr6(r[0:16], le.Uint32(r[16:])),
			Port:     netPort(r[20:]),
			State:    state,
			Remote:   remoteText(remote, netPort(r[44:]), state),
			PID:      int(le.Uint32(r[52:])),
		})
	})
	return out, err
}

func decodeUDP4Table(b []byte) ([]Binding, error) {
	var out []Binding
	err := rows(b, udp4RowSize, func(r []byte) {
		out = append(out, Binding{
			Protocol: UDP,
			Addr:     netip.AddrFrom4([4]byte(r[0:4])),
			Port:     netPort(r[4:]),
			PID:      int(binary.LittleEndian.Uint32(r[8:])),
		})
	})
	return out, err
}

func decodeUDP6Table(b []byte) ([]Binding, error) {
	var out []Binding
	err := rows(b, udp6RowSize, func(r []byte) {
		le := binary.LittleEndian
		out = append(out, Binding{
			Protocol: UDP,
			Addr:     addr6(r[0:16], le.Uint32(r[16:])),
			Port:     netPort(r[20:]),
			PID:      int(le.Uint32(r[24:])),
		})
	})
	return out, err
}
