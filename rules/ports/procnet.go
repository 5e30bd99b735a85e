package ports

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
)

// Parsing of Linux /proc/net/{tcp,tcp6,udp,udp6}. It is pure and untagged
// so every platform tests it; only live_linux.go reads the files.

// linuxTCPStates maps the kernel's TCP state numbers to netstat's (and
// Windows') spelling, so Binding.Listening and the renderers treat live
// Linux and captured Windows tables alike.
var linuxTCPStates = [...]string{
	1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECEIVED", 4: "FIN_WAIT_1",
	5: "FIN_WAIT_2", 6: "TIME_WAIT", 7: "CLOSED", 8: "CLOSE_WAIT",
	9: "LAST_ACK", 10: "LISTENING", 11: "CLOSING",
}

var errProcNetLine = errors.New("malformed /proc/net line")

// parseProcNet calls fn for each socket in the content of a /proc/net/tcp,
// tcp6, udp or udp6 file, with the socket's inode (0 for sockets no
// process holds, such as TIME_WAIT).
func parseProcNet(data []byte, proto Protocol, fn func(b Binding, inode uint64)) error {
	first := true
	var bad error
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		if first { // header: "  sl  local_address rem_address   st ..."
			first = false
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		b, inode, err := parseProcNetLine(line, proto)
		if err != nil {
			bad = err
			continue
		}
		fn(b, inode)
	}
	return bad
}

// parseProcNetLine reads "  0: 0100007F:0035 00000000:0000 0A 00000000:00000000
// 00:00000000 00000000 0 0 12345 1 ...": fields 1 and 2 are the local and
// remote endpoints, 3 the state, 9 the inode.
func parseProcNetLine(line []byte, proto Protocol) (Binding, uint64, error) {
	var f [10][]byte
	n := 0
	for i := 0; i < len(line) && n < len(f); {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		j := i
		for j < len(line) && line[j] != ' ' {
			j++
		}
		if j > i {
			f[n] = line[i:j]
			n++
		}
		i = j
	}
	if n < 10 {
		return Binding{}, 0, errProcNetLine
	}
	addr, port, ok := procEndpoint(f[1])
	if !ok {
		return Binding{}, 0, errProcNetLine
	}
	raddr, rport, ok := procEndpoint(f[2])
	if !ok {
		return Binding{}, 0, errProcNetLine
	}
	st, ok := hexUint(f[3])
	if !ok {
		return Binding{}, 0, errProcNetLine
	}
	inode, ok := decUint(f[9])
	if !ok {
		return Binding{}, 0, errProcNetLine
	}
	b := Binding{Protocol: proto, Addr: addr, Port: port}
	if proto == TCP {
		if st < uint64(len(linuxTCPStates)) && linuxTCPStates[st] != "" {
			b.State = linuxTCPStates[st]
		} else {
			b.State = "UNKNOWN"
		}
	}
	if rport != 0 {
		b.Remote = netip.AddrPortFrom(raddr, rport).String()
	}
	return b, inode, nil
}

// procEndpoint reads "0100007F:0035" (IPv4, the address as a host-order
// word printed in hex, i.e. byte-reversed on little-endian machines) or the
// 32-digit IPv6 form (four such words).
func procEndpoint(s []byte) (netip.Addr, uint16, bool) {
	i := bytes.IndexByte(s, ':')
	if i < 0 {
		return netip.Addr{}, 0, false
	}
	hexAddr, hexPort := s[:i], s[i+1:]
	port, ok := hexUint(hexPort)
	if !ok || port > 0xFFFF {
		return netip.Addr{}, 0, false
	}
	switch len(hexAddr) {
	case 8:
		w, ok := hexUint(hexAddr)
		if !ok {
			return netip.Addr{}, 0, false
		}
		var a [4]byte
		putWord(a[:], uint32(w))
		return netip.AddrFrom4(a), uint16(port), true
	case 32:
		var a [16]byte
		for k := 0; k < 4; k++ {
			w, ok := hexUint(hexAddr[8*k : 8*k+8])
			if !ok {
				return netip.Addr{}, 0, false
			}
			putWord(a[4*k:], uint32(w))
		}
		addr := netip.AddrFrom16(a)
		return addr, uint16(port), true
	}
	return netip.Addr{}, 0, false
}

// putWord stores a word the kernel printed from memory in host order. Every
// architecture Go's Linux port ships on little-endian except s390x, ppc64
// and mips(64); hostLittleEndian tells which.
func putWord(dst []byte, w uint32) {
	if hostLittleEndian {
		dst[0], dst[1], dst[2], dst[3] = byte(w), byte(w>>8), byte(w>>16), byte(w>>24)
		return
	}
	dst[0], dst[1], dst[2], dst[3] = byte(w>>24), byte(w>>16), byte(w>>8), byte(w)
}

func hexUint(s []byte) (uint64, bool) {
	if len(s) == 0 || len(s) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | uint64(c-'0')
		case c >= 'A' && c <= 'F':
			n = n<<4 | uint64(c-'A'+10)
		case c >= 'a' && c <= 'f':
			n = n<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

func decUint(s []byte) (uint64, bool) {
	if len(s) == 0 || len(s) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// socketInode reads the inode out of an fd link target "socket:[12345]".
func socketInode(link []byte) (uint64, bool) {
	const prefix = "socket:["
	if len(link) < len(prefix)+2 || string(link[:len(prefix)]) != prefix || link[len(link)-1] != ']' {
		return 0, false
	}
	return decUint(link[len(prefix) : len(link)-1])
}

// hostLittleEndian is fixed per build; /proc/net prints addresses in host
// byte order.
var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
