package main

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"
)

// holdUDPPort binds a UDP socket on 127.0.0.1 for the rest of the test and
// returns its port. It uses plain winsock calls: net.ListenPacket fails
// under Wine 8 (WSAIoctl SIO_UDP_NETRESET, error 10045), and the sendto to
// itself is what makes Wine list this process as the port's owner.
func holdUDPPort(t *testing.T) int {
	t.Helper()
	var wsa windows.WSAData
	require.NoError(t, windows.WSAStartup(uint32(0x202), &wsa))
	t.Cleanup(func() { _ = windows.WSACleanup() })
	s, err := windows.Socket(windows.AF_INET, windows.SOCK_DGRAM, windows.IPPROTO_UDP)
	require.NoError(t, err)
	t.Cleanup(func() { _ = windows.Closesocket(s) })
	require.NoError(t, windows.Bind(s, &windows.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	sa, err := windows.Getsockname(s)
	require.NoError(t, err)
	require.NoError(t, windows.Sendto(s, []byte("evtwatch"), 0, sa))
	return sa.(*windows.SockaddrInet4).Port
}
