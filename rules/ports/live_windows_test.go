//go:build windows

package ports

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLiveFindsOwnSockets binds a UDP and a TCP port and expects the live
// tables to name this process as their owner.
func TestLiveFindsOwnSockets(t *testing.T) {
	u, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Skipf("UDP listen: %v (Wine 8 lacks SIO_UDP_NETRESET)", err)
	}
	defer u.Close()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	// Wine attributes a socket to its process only after it has sent.
	_, _ = u.WriteTo([]byte("x"), u.LocalAddr())

	snap, err := Live(context.Background())
	require.NoError(t, err)
	exe, err := os.Executable()
	require.NoError(t, err)
	for _, c := range []struct {
		proto Protocol
		port  int
	}{{UDP, u.LocalAddr().(*net.UDPAddr).Port}, {TCP, l.Addr().(*net.TCPAddr).Port}} {
		owners := snap.Lookup(c.proto, uint16(c.port))
		require.NotEmpty(t, owners, "%s/%d", c.proto, c.port)
		require.Equal(t, os.Getpid(), owners[0].Process.PID)
		require.True(t, strings.EqualFold(filepath.Base(exe), owners[0].Process.Image), owners[0].Process.Image)
	}
}

func TestLiveFacts(t *testing.T) {
	f, err := LiveFacts(context.Background())
	require.NoError(t, err)
	require.True(t, f.OS.Known())
	require.NotNil(t, f.Tcpip)
}
