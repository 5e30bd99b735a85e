//go:build windows

package ports

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc/mgr"
)

// These tests run on Windows and, in CI, under Wine (.ci/wine-tests), which
// implements the iphlpapi owner tables, Toolhelp, process information, the
// service manager and the registry well enough to check the bindings and
// struct layouts for real.

// underWine reports whether the test binary runs under Wine.
func underWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

// rawSocket opens a socket with plain winsock calls and binds it to the
// loopback address of its family on a free port. net.ListenUDP cannot be
// used: under Wine 8 it fails in WSAIoctl(SIO_UDP_NETRESET) with 10045.
// ok is false when the family has no stack (IPv6 disabled).
func rawSocket(t *testing.T, family, typ, proto int) (s windows.Handle, addr netip.AddrPort, ok bool) {
	t.Helper()
	var wsa windows.WSAData
	require.NoError(t, windows.WSAStartup(uint32(0x202), &wsa))
	t.Cleanup(func() { _ = windows.WSACleanup() })
	s, err := windows.Socket(family, typ, proto)
	if family == windows.AF_INET6 && errors.Is(err, windows.WSAEAFNOSUPPORT) {
		return 0, netip.AddrPort{}, false
	}
	require.NoError(t, err, "socket")
	t.Cleanup(func() { _ = windows.Closesocket(s) })
	var sa windows.Sockaddr = &windows.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if family == windows.AF_INET6 {
		sa = &windows.SockaddrInet6{Addr: netip.IPv6Loopback().As16()}
	}
	if err := windows.Bind(s, sa); err != nil {
		if family == windows.AF_INET6 {
			t.Logf("no IPv6 loopback: %v", err)
			return 0, netip.AddrPort{}, false
		}
		require.NoError(t, err, "bind")
	}
	name, err := windows.Getsockname(s)
	require.NoError(t, err, "getsockname")
	switch a := name.(type) {
	case *windows.SockaddrInet4:
		addr = netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *windows.SockaddrInet6:
		addr = netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
	default:
		t.Fatalf("getsockname: %T", name)
	}
	return s, addr, true
}

// ownSocket is a socket this process holds, as the tables should show it.
type ownSocket struct {
	proto Protocol
	addr  netip.AddrPort
	// wineNoPID: Wine 8 leaves the owner of this kind of socket at PID 0.
	wineNoPID bool
}

func (o ownSocket) String() string { return fmt.Sprintf("%s %s", o.proto, o.addr) }

// openOwnSockets binds a UDP socket and a listening TCP socket per address
// family and makes Wine see them as this process's. Wine creates sockets in
// wineserver and finds a socket's owner by scanning /proc/<pid>/fd, so the
// process must first pull the file descriptor in: a sendto for UDP, a
// TCP-level getsockopt for the listener. Both are harmless on Windows.
func openOwnSockets(t *testing.T) []ownSocket {
	t.Helper()
	var own []ownSocket
	for _, family := range []int{windows.AF_INET, windows.AF_INET6} {
		u, uaddr, ok := rawSocket(t, family, windows.SOCK_DGRAM, windows.IPPROTO_UDP)
		if !ok {
			t.Log("IPv6 unavailable: checking IPv4 only")
			continue
		}
		var to windows.Sockaddr = &windows.SockaddrInet6{Addr: uaddr.Addr().As16(), Port: int(uaddr.Port())}
		if family == windows.AF_INET {
			to = &windows.SockaddrInet4{Addr: uaddr.Addr().As4(), Port: int(uaddr.Port())}
		}
		require.NoError(t, windows.Sendto(u, []byte("evtwatch"), 0, to), "sendto")
		own = append(own, ownSocket{proto: UDP, addr: uaddr})

		l, laddr, ok := rawSocket(t, family, windows.SOCK_STREAM, windows.IPPROTO_TCP)
		require.True(t, ok)
		require.NoError(t, windows.Listen(l, 4), "listen")
		_, err := windows.GetsockoptInt(l, windows.IPPROTO_TCP, windows.TCP_NODELAY)
		require.NoError(t, err, "getsockopt")
		// Wine 8 resolves the owners of IPv4 TCP and of UDP sockets, not
		// of IPv6 TCP ones.
		own = append(own, ownSocket{proto: TCP, addr: laddr, wineNoPID: family == windows.AF_INET6})
	}
	return own
}

// TestLiveFindsOwnSockets binds UDP and listening TCP sockets (IPv4 and,
// where there is a stack, IPv6) and expects Live to list each with its
// address, port and state, owned by this process, whose image, path and
// start time come from Toolhelp, QueryFullProcessImageName and
// GetProcessTimes.
func TestLiveFindsOwnSockets(t *testing.T) {
	own := openOwnSockets(t)
	before := time.Now()
	snap, err := Live(context.Background())
	require.NoError(t, err)
	require.Equal(t, "live", snap.Source)
	require.False(t, snap.Taken.Before(before))

	pid := os.Getpid()
	for _, o := range own {
		var found *Binding
		for i, b := range snap.Bindings {
			if b.Protocol == o.proto && b.Port == o.addr.Port() && b.Addr == o.addr.Addr() {
				found = &snap.Bindings[i]
			}
		}
		require.NotNil(t, found, "%s is not in the owner table", o)
		if o.proto == TCP {
			require.Equal(t, "LISTENING", found.State, "%s", o)
			require.Empty(t, found.Remote, "%s", o)
		} else {
			require.Empty(t, found.State, "%s", o)
		}
		if found.PID == 0 && o.wineNoPID && underWine() {
			t.Logf("%s: owner PID 0 (Wine 8 does not resolve it)", o)
			continue
		}
		require.Equal(t, pid, found.PID, "%s", o)

		owners := snap.Lookup(o.proto, o.addr.Port())
		require.NotEmpty(t, owners, "%s", o)
		require.Equal(t, pid, owners[0].Process.PID, "%s", o)
	}

	exe, err := os.Executable()
	require.NoError(t, err)
	p, ok := snap.Process(pid)
	require.True(t, ok, "this process is in the snapshot")
	require.True(t, strings.EqualFold(filepath.Base(exe), p.Image), "image %q, executable %q", p.Image, exe)
	require.True(t, strings.EqualFold(filepath.Clean(exe), filepath.Clean(p.Path)), "path %q, executable %q", p.Path, exe)
	require.False(t, p.Started.IsZero(), "start time")
	require.True(t, p.Started.Before(time.Now().Add(time.Minute)), "start time %v is in the future", p.Started)
	require.True(t, p.Started.After(before.Add(-time.Hour)), "start time %v is long before the test", p.Started)

	var udp, tcp int
	for _, b := range snap.Bindings {
		if b.PID == pid {
			if b.Protocol == UDP {
				udp++
			} else {
				tcp++
			}
		}
	}
	owners := snap.Lookup(UDP, own[0].addr.Port())
	require.Equal(t, udp, owners[0].UDPPorts)
	require.Equal(t, tcp, owners[0].TCPPorts)
	require.False(t, owners[0].Pool)
}

// TestLiveSeesAClosedPortFree checks that the tables are read afresh: a
// port whose socket was closed is no longer listed.
func TestLiveSeesAClosedPortFree(t *testing.T) {
	s, addr, _ := rawSocket(t, windows.AF_INET, windows.SOCK_DGRAM, windows.IPPROTO_UDP)
	require.NoError(t, windows.Closesocket(s))
	snap, err := Live(context.Background())
	require.NoError(t, err)
	for _, b := range snap.Bindings {
		if b.Protocol == UDP && b.Port == addr.Port() && b.Addr == addr.Addr() {
			t.Fatalf("closed socket %s still listed: %+v", addr, b)
		}
	}
}

func TestLiveHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Live(ctx)
	require.ErrorIs(t, err, context.Canceled)
	_, err = LiveFacts(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

// TestOwnerTableGrows drives the buffer loop with a table that is larger
// than the first buffer and grows once more between the calls.
func TestOwnerTableGrows(t *testing.T) {
	need := []uint32{200 << 10, 300 << 10}
	calls := 0
	buf, err := ownerTable(func(b *byte, size *uint32) error {
		calls++
		if len(need) > 0 && *size < need[0] {
			*size = need[0]
			need = need[1:]
			return windows.ERROR_INSUFFICIENT_BUFFER
		}
		*b = 1
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 3, calls)
	require.GreaterOrEqual(t, len(buf), 300<<10)
	require.Equal(t, byte(1), buf[0])

	_, err = ownerTable(func(*byte, *uint32) error { return windows.ERROR_ACCESS_DENIED })
	require.ErrorIs(t, err, windows.ERROR_ACCESS_DENIED)

	_, err = ownerTable(func(_ *byte, size *uint32) error {
		*size += 1 << 20
		return windows.ERROR_INSUFFICIENT_BUFFER
	})
	require.ErrorContains(t, err, "kept growing")
}

// TestProcessNamesHasThisProcess checks the Toolhelp walk
// (PROCESSENTRY32W layout).
func TestProcessNamesHasThisProcess(t *testing.T) {
	names := processNames()
	exe, err := os.Executable()
	require.NoError(t, err)
	require.True(t, strings.EqualFold(filepath.Base(exe), names[os.Getpid()]), "got %q for PID %d", names[os.Getpid()], os.Getpid())
	require.Greater(t, len(names), 3, "more processes than this one and the fixed entries")
}

// TestServicesByPID enumerates the running services with
// EnumServicesStatusEx(SC_ENUM_PROCESS_INFO) and cross-checks each PID
// against the service's own status from the service manager.
func TestServicesByPID(t *testing.T) {
	byPID, err := servicesByPID()
	require.NoError(t, err)
	require.NotEmpty(t, byPID, "a running system has services with processes")
	m, err := mgr.Connect()
	require.NoError(t, err)
	defer m.Disconnect()
	checked := 0
	for pid, names := range byPID {
		require.Positive(t, pid)
		require.NotEmpty(t, names)
		for _, name := range names {
			require.NotEmpty(t, name)
			s, err := m.OpenService(name)
			if err != nil {
				t.Logf("open %s: %v", name, err)
				continue
			}
			st, err := s.Query()
			s.Close()
			require.NoError(t, err, name)
			if st.ProcessId == 0 {
				continue // stopped since the enumeration
			}
			require.Equal(t, uint32(pid), st.ProcessId, "service %s", name)
			checked++
		}
	}
	require.Positive(t, checked, "no service could be cross-checked")
	t.Logf("%d processes host %d checked services", len(byPID), checked)
}

// testServicesKey creates HKCU\Software\evtwatch-test-<pid> with Tcpip and
// DNS parameters like a Server 2003 with a DNS socket pool, and deletes it
// when the test ends.
func testServicesKey(t *testing.T) string {
	t.Helper()
	base := fmt.Sprintf(`Software\evtwatch-test-%d`, os.Getpid())
	t.Cleanup(func() { deleteKeyTree(registry.CURRENT_USER, base) })
	tcpip, _, err := registry.CreateKey(registry.CURRENT_USER, base+`\Tcpip\Parameters`, registry.ALL_ACCESS)
	require.NoError(t, err)
	defer tcpip.Close()
	require.NoError(t, tcpip.SetDWordValue("MaxUserPort", 65534))
	require.NoError(t, tcpip.SetDWordValue("TcpTimedWaitDelay", 30))
	require.NoError(t, tcpip.SetStringsValue("ReservedPorts", []string{"1645-1646", "2883-2883"}))
	dns, _, err := registry.CreateKey(registry.CURRENT_USER, base+`\DNS\Parameters`, registry.ALL_ACCESS)
	require.NoError(t, err)
	defer dns.Close()
	require.NoError(t, dns.SetDWordValue("SocketPoolSize", 2500))
	require.NoError(t, dns.SetStringValue("SocketPoolExcludedPortRanges", "1812-1813, 2883"))
	return base
}

func deleteKeyTree(root registry.Key, path string) {
	if k, err := registry.OpenKey(root, path, registry.ENUMERATE_SUB_KEYS); err == nil {
		subs, _ := k.ReadSubKeyNames(-1)
		k.Close()
		for _, s := range subs {
			deleteKeyTree(root, path+`\`+s)
		}
	}
	_ = registry.DeleteKey(root, path)
}

// TestServiceParamsFromRegistry reads the Tcpip and DNS parameters through
// the same code as LiveFacts, from a test key under HKCU.
func TestServiceParamsFromRegistry(t *testing.T) {
	base := testServicesKey(t)
	l := newLoader()
	l.serviceParams(registry.CURRENT_USER, base)
	f := l.facts
	require.NotNil(t, f.Tcpip)
	require.Equal(t, 65534, f.Tcpip.MaxUserPort)
	require.Equal(t, 30, f.Tcpip.TcpTimedWaitDelay)
	require.Equal(t, []PortRange{{First: 1645, Last: 1646}, {First: 2883, Last: 2883}}, f.Tcpip.ReservedPorts)
	require.NotNil(t, f.DNS)
	require.NotNil(t, f.DNS.SocketPoolSize)
	require.Equal(t, 2500, *f.DNS.SocketPoolSize)
	require.Equal(t, []PortRange{{First: 1812, Last: 1813}, {First: 2883, Last: 2883}}, f.DNS.SocketPoolExcludedPortRanges)

	// Without a DNS key the DNS Server is not installed.
	deleteKeyTree(registry.CURRENT_USER, base+`\DNS`)
	l = newLoader()
	l.serviceParams(registry.CURRENT_USER, base)
	require.NotNil(t, l.facts.Tcpip)
	require.Nil(t, l.facts.DNS)
}

// TestLiveFacts reads this machine's settings. Under Wine, whose prefix is
// a throwaway, it first writes the Tcpip and DNS values into HKLM and
// expects LiveFacts to return them; on Windows it only reads.
func TestLiveFacts(t *testing.T) {
	if underWine() {
		setWineHKLM(t)
	}
	f, err := LiveFacts(context.Background())
	require.NoError(t, err)
	require.True(t, f.OS.Known(), "OS version %+v", f.OS)
	require.Equal(t, fmt.Sprintf("%d.%d.%d", f.OS.Major, f.OS.Minor, f.OS.Build), f.OS.Version)
	require.GreaterOrEqual(t, f.OS.Major, 6, "Go 1.26 runs on Windows 10 / Server 2016 and later")
	require.NotEmpty(t, f.Host)
	require.False(t, f.Collected.IsZero())
	require.NotNil(t, f.Tcpip)
	require.Empty(t, f.Captures)
	if underWine() {
		require.Equal(t, 5000, f.Tcpip.MaxUserPort)
		require.Equal(t, []PortRange{{First: 2883, Last: 2883}, {First: 3389, Last: 3390}}, f.Tcpip.ReservedPorts)
		require.NotNil(t, f.DNS)
		require.NotNil(t, f.DNS.SocketPoolSize)
		require.Equal(t, 100, *f.DNS.SocketPoolSize)
	}
}

// setWineHKLM sets MaxUserPort and ReservedPorts in Tcpip\Parameters and
// creates DNS\Parameters with SocketPoolSize in the Wine prefix's HKLM,
// restoring the previous state when the test ends.
func setWineHKLM(t *testing.T) {
	t.Helper()
	tcpip, _, err := registry.CreateKey(registry.LOCAL_MACHINE, servicesKey+`\Tcpip\Parameters`, registry.ALL_ACCESS)
	require.NoError(t, err)
	defer tcpip.Close()
	for _, name := range []string{"MaxUserPort", "ReservedPorts"} {
		if _, _, err := tcpip.GetValue(name, nil); err == nil {
			t.Fatalf("Tcpip\\Parameters already has %s: this prefix is not the throwaway one .ci/wine-tests makes", name)
		}
	}
	require.NoError(t, tcpip.SetDWordValue("MaxUserPort", 5000))
	require.NoError(t, tcpip.SetStringsValue("ReservedPorts", []string{"2883-2883", "3389-3390"}))
	t.Cleanup(func() {
		if k, err := registry.OpenKey(registry.LOCAL_MACHINE, servicesKey+`\Tcpip\Parameters`, registry.SET_VALUE); err == nil {
			_ = k.DeleteValue("MaxUserPort")
			_ = k.DeleteValue("ReservedPorts")
			k.Close()
		}
	})
	_, err = registry.OpenKey(registry.LOCAL_MACHINE, servicesKey+`\DNS`, registry.QUERY_VALUE)
	require.Error(t, err, "the Wine prefix has no DNS Server")
	dns, _, err := registry.CreateKey(registry.LOCAL_MACHINE, servicesKey+`\DNS\Parameters`, registry.ALL_ACCESS)
	require.NoError(t, err)
	defer dns.Close()
	t.Cleanup(func() { deleteKeyTree(registry.LOCAL_MACHINE, servicesKey+`\DNS`) })
	require.NoError(t, dns.SetDWordValue("SocketPoolSize", 100))
}
