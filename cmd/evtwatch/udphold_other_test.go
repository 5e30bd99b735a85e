//go:build !windows

package main

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// holdUDPPort binds a UDP socket on 127.0.0.1 for the rest of the test and
// returns its port.
func holdUDPPort(t *testing.T) int {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn.LocalAddr().(*net.UDPAddr).Port
}
