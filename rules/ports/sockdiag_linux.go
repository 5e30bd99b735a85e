//go:build linux

package ports

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// The kernel's sock_diag netlink interface (what ss uses) lists sockets in
// one linear dump. /proc/net/udp is regenerated from the start of the hash
// walk for every read of a few KiB, which makes a 2,500-socket table
// quadratic; Live uses sock_diag and falls back to /proc per table when
// the kernel refuses (no inet_diag/udp_diag module, seccomp, old kernel).

const (
	sizeofInetDiagReqV2 = 56 // inet_diag_req_v2
	sizeofInetDiagMsg   = 72 // inet_diag_msg
)

// diagSocket is one socket from a sock_diag dump.
type diagSocket struct {
	b     Binding
	inode uint64
}

// sockDiag dumps every socket of one address family and protocol.
func sockDiag(family, proto uint8) ([]diagSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("sock_diag socket: %w", err)
	}
	defer unix.Close(fd)

	req := make([]byte, unix.NLMSG_HDRLEN+sizeofInetDiagReqV2)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], 1) // sequence
	body := req[unix.NLMSG_HDRLEN:]
	body[0], body[1] = family, proto
	ne.PutUint32(body[4:], 0xFFFFFFFF) // every state
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("sock_diag request: %w", err)
	}

	protocol := UDP
	if proto == unix.IPPROTO_TCP {
		protocol = TCP
	}
	var out []diagSocket
	buf := make([]byte, 256<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("sock_diag receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("sock_diag reply: %w", err)
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if errno := -int32(ne.Uint32(m.Data)); errno != 0 {
						return nil, fmt.Errorf("sock_diag: %w", unix.Errno(errno))
					}
				}
				return nil, errors.New("sock_diag: error reply")
			case unix.SOCK_DIAG_BY_FAMILY:
				if s, ok := parseInetDiagMsg(m.Data, protocol); ok {
					out = append(out, s)
				}
			}
		}
	}
}

// parseInetDiagMsg reads struct inet_diag_msg: family, state, timer,
// retrans; inet_diag_sockid (ports big-endian, addresses in network order,
// interface, cookie); expires, rqueue, wqueue, uid, inode.
func parseInetDiagMsg(d []byte, proto Protocol) (diagSocket, bool) {
	if len(d) < sizeofInetDiagMsg {
		return diagSocket{}, false
	}
	ne := binary.NativeEndian
	family, state := d[0], d[1]
	sport := binary.BigEndian.Uint16(d[4:])
	dport := binary.BigEndian.Uint16(d[6:])
	ifindex := ne.Uint32(d[40:])
	var src, dst netip.Addr
	switch family {
	case unix.AF_INET:
		src = netip.AddrFrom4([4]byte(d[8:12]))
		dst = netip.AddrFrom4([4]byte(d[24:28]))
	case unix.AF_INET6:
		src = netip.AddrFrom16([16]byte(d[8:24]))
		dst = netip.AddrFrom16([16]byte(d[24:40]))
		if ifindex != 0 && src.IsLinkLocalUnicast() {
			zone := strconv.FormatUint(uint64(ifindex), 10)
			src, dst = src.WithZone(zone), dst.WithZone(zone)
		}
	default:
		return diagSocket{}, false
	}
	b := Binding{Protocol: proto, Addr: src, Port: sport}
	if proto == TCP {
		if int(state) < len(linuxTCPStates) && linuxTCPStates[state] != "" {
			b.State = linuxTCPStates[state]
		} else {
			b.State = "UNKNOWN"
		}
	}
	if dport != 0 {
		b.Remote = netip.AddrPortFrom(dst, dport).String()
	}
	return diagSocket{b: b, inode: uint64(ne.Uint32(d[68:]))}, true
}
