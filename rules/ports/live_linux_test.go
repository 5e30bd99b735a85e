//go:build linux

package ports

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const helperEnv = "EVTWATCH_PORTS_HELPER"

// TestHelperProcess is not a test: run with EVTWATCH_PORTS_HELPER=1 it is
// the child process that holds the sockets TestLiveFindsChildSockets looks
// for. It prints "udp=N tcp=N" and keeps the sockets until stdin closes.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process for TestLiveFindsChildSockets")
	}
	u, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	fmt.Printf("udp=%d tcp=%d\n", u.LocalAddr().(*net.UDPAddr).Port, l.Addr().(*net.TCPAddr).Port)
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	os.Exit(0)
}

func TestLiveFindsChildSockets(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	var udpPort, tcpPort uint16
	_, err = fmt.Sscanf(line, "udp=%d tcp=%d", &udpPort, &tcpPort)
	require.NoError(t, err, "helper said %q", line)

	exe, err := os.Executable()
	require.NoError(t, err)
	exe, err = filepath.EvalSymlinks(exe)
	require.NoError(t, err)
	pid := cmd.Process.Pid
	// Both socket-table sources: sock_diag netlink (Live's default) and
	// the /proc/net fallback.
	for _, netlink := range []bool{true, false} {
		before := time.Now()
		snap, err := liveProc(context.Background(), "/proc", time.Now, netlink)
		require.NoError(t, err)
		require.Equal(t, "live", snap.Source)
		require.False(t, snap.Taken.Before(before))
		for _, c := range []struct {
			proto Protocol
			port  uint16
			state string
		}{{UDP, udpPort, ""}, {TCP, tcpPort, "LISTENING"}} {
			owners := snap.Lookup(c.proto, c.port)
			require.Len(t, owners, 1, "%s/%d netlink=%v", c.proto, c.port, netlink)
			o := owners[0]
			require.Equal(t, pid, o.Binding.PID)
			require.Equal(t, "127.0.0.1", o.Binding.Addr.String())
			require.Equal(t, c.state, o.Binding.State)
			require.Equal(t, pid, o.Process.PID)
			require.Equal(t, filepath.Base(exe), o.Process.Image)
			require.Equal(t, exe, o.Process.Path)
			require.Equal(t, 1, o.TCPPorts)
			require.Equal(t, 1, o.UDPPorts)
			require.False(t, o.Pool)
			// Start time: after the machine booted, not after we asked.
			require.False(t, o.Process.Started.IsZero())
			require.True(t, o.Process.Started.Before(time.Now().Add(time.Second)), o.Process.Started)
			require.WithinDuration(t, before, o.Process.Started, 2*time.Minute)
		}
		p, ok := snap.Process(pid)
		require.True(t, ok)
		require.Equal(t, filepath.Base(exe), p.Image)
	}

	snap, err := Live(context.Background())
	require.NoError(t, err)
	require.Len(t, snap.Lookup(UDP, udpPort), 1)
}

// TestLiveSourcesAgree compares the sock_diag and /proc socket tables.
func TestLiveSourcesAgree(t *testing.T) {
	conns := openSockets(t, 50)
	l, err := net.Listen("tcp6", "[::1]:0")
	if err == nil {
		defer l.Close()
	}
	a, err := liveProc(context.Background(), "/proc", time.Now, true)
	require.NoError(t, err)
	b, err := liveProc(context.Background(), "/proc", time.Now, false)
	require.NoError(t, err)
	mine := func(s *Snapshot) []Binding {
		var out []Binding
		for _, x := range s.Bindings {
			if x.PID == os.Getpid() {
				out = append(out, x)
			}
		}
		return out
	}
	require.Equal(t, mine(b), mine(a))
	require.GreaterOrEqual(t, len(mine(a)), len(conns))
}

func TestLiveCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A held socket makes the fd scan run; a cancelled context stops it.
	u, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer u.Close()
	_, err = Live(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

func TestSystemdService(t *testing.T) {
	require.Equal(t, "ssh.service", systemdService([]byte("0::/system.slice/ssh.service\n")))
	require.Equal(t, "", systemdService([]byte("0::/user.slice/user-0.slice/session-1.scope\n")))
	require.Equal(t, "", systemdService(nil))
}

// openSockets opens n UDP sockets on loopback in this process, raising the
// fd limit when needed.
func openSockets(tb testing.TB, n int) []net.PacketConn {
	var lim syscall.Rlimit
	require.NoError(tb, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	if want := uint64(n + 256); lim.Cur < want {
		lim.Cur = min(want, lim.Max)
		require.NoError(tb, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
	}
	conns := make([]net.PacketConn, 0, n)
	tb.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range n {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil && strings.Contains(err.Error(), "too many open files") {
			tb.Skipf("cannot open %d sockets: %v", n, err)
		}
		require.NoError(tb, err)
		conns = append(conns, c)
	}
	return conns
}

func TestLiveManySockets(t *testing.T) {
	conns := openSockets(t, 3000)
	snap, err := Live(context.Background())
	require.NoError(t, err)
	owners := snap.Lookup(UDP, uint16(conns[1234].LocalAddr().(*net.UDPAddr).Port))
	require.Len(t, owners, 1)
	require.Equal(t, os.Getpid(), owners[0].Process.PID)
	require.GreaterOrEqual(t, owners[0].UDPPorts, 3000)
}

// BenchmarkLive3000 measures a full live snapshot with 3,000 UDP sockets
// held by this process. benchcmp/ compares it with gopsutil.
func BenchmarkLive3000(b *testing.B) {
	openSockets(b, 3000)
	b.ResetTimer()
	for b.Loop() {
		snap, err := Live(context.Background())
		if err != nil || len(snap.Bindings) < 3000 {
			b.Fatal(err, len(snap.Bindings))
		}
	}
}
