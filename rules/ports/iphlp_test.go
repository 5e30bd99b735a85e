package ports

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// table builds an owner table as iphlpapi lays it out.
func table(rows ...[]byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(rows)))
	for _, r := range rows {
		b = append(b, r...)
	}
	return b
}

func dword(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// portDWORD is a port in network order in the low 16 bits of a DWORD.
func portDWORD(p uint16) []byte { return []byte{byte(p >> 8), byte(p), 0, 0} }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func TestDecodeOwnerTables(t *testing.T) {
	v4 := func(s string) []byte { a := netip.MustParseAddr(s).As4(); return a[:] }
	v6 := func(s string) []byte { a := netip.MustParseAddr(s).As16(); return a[:] }

	tcp4 := table(
		cat(dword(2), v4("0.0.0.0"), portDWORD(135), v4("0.0.0.0"), portDWORD(0), dword(904)),
		cat(dword(5), v4("10.0.0.5"), portDWORD(49702), v4("52.113.194.132"), portDWORD(443), dword(7124)),
	)
	got, err := decodeTCP4Table(tcp4)
	require.NoError(t, err)
	require.Equal(t, []Binding{
		b(TCP, "0.0.0.0", 135, "LISTENING", "", 904),
		b(TCP, "10.0.0.5", 49702, "ESTABLISHED", "52.113.194.132:443", 7124),
	}, got)

	tcp6 := table(cat(v6("fe80::1"), dword(12), portDWORD(3389), v6("fe80::2"), dword(12), portDWORD(51034), dword(5), dword(1012)))
	got, err = decodeTCP6Table(tcp6)
	require.NoError(t, err)
	require.Equal(t, []Binding{b(TCP, "fe80::1%12", 3389, "ESTABLISHED", "[fe80::2%12]:51034", 1012)}, got)

	udp4 := table(cat(v4("0.0.0.0"), portDWORD(2883), dword(1692)), cat(v4("127.0.0.1"), portDWORD(53), dword(1692)))
	got, err = decodeUDP4Table(udp4)
	require.NoError(t, err)
	require.Equal(t, []Binding{b(UDP, "0.0.0.0", 2883, "", "", 1692), b(UDP, "127.0.0.1", 53, "", "", 1692)}, got)

	udp6 := table(cat(v6("::"), dword(0), portDWORD(500), dword(2996)))
	got, err = decodeUDP6Table(udp6)
	require.NoError(t, err)
	require.Equal(t, []Binding{b(UDP, "::", 500, "", "", 2996)}, got)

	// A header that claims more rows than the buffer holds is refused.
	_, err = decodeUDP4Table(append(dword(3), make([]byte, 12)...))
	require.ErrorContains(t, err, "claims 3 rows")
	_, err = decodeTCP4Table([]byte{1})
	require.Error(t, err)
	got, err = decodeTCP6Table(table())
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestParseProcNet(t *testing.T) {
	tcp := []byte(`  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 23456 1 0000000000000000 100 0 0 10 0
   1: 0500000A:C1F6 84C27134:01BB 01 00000000:00000000 02:00000A5B 00000000  1000        0 34567 2 0000000000000000 20 4 30 10 -1
   2: 0500000A:C1F7 84C27134:01BB 06 00000000:00000000 03:00001726 00000000     0        0 0 3 0000000000000000
bogus line
`)
	type hit struct {
		b     Binding
		inode uint64
	}
	var hits []hit
	err := parseProcNet(tcp, TCP, func(b Binding, inode uint64) { hits = append(hits, hit{b, inode}) })
	require.Error(t, err) // the bogus line, reported, others kept
	require.Equal(t, []hit{
		{b(TCP, "127.0.0.1", 631, "LISTENING", "", 0), 23456},
		{b(TCP, "10.0.0.5", 49654, "ESTABLISHED", "52.113.194.132:443", 0), 34567},
		{b(TCP, "10.0.0.5", 49655, "TIME_WAIT", "52.113.194.132:443", 0), 0},
	}, hits)

	udp6 := []byte(`  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  318: 00000000000000000000000000000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 19283 2 0000000000000000 0
  319: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 19284 2 0000000000000000 0
`)
	hits = nil
	require.NoError(t, parseProcNet(udp6, UDP, func(b Binding, inode uint64) { hits = append(hits, hit{b, inode}) }))
	require.Equal(t, []hit{{b(UDP, "::", 53, "", "", 0), 19283}, {b(UDP, "::1", 8080, "", "", 0), 19284}}, hits)

	ino, ok := socketInode([]byte("socket:[19283]"))
	require.True(t, ok)
	require.Equal(t, uint64(19283), ino)
	_, ok = socketInode([]byte("pipe:[19283]"))
	require.False(t, ok)
}
