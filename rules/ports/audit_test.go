package ports

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func intp(n int) *int { return &n }

// dnsSnapshot is a DNS server (PID 100) with count pool ports from start,
// plus the bindings given.
func dnsSnapshot(start, count int, extra ...Binding) *Snapshot {
	s := &Snapshot{Processes: map[int]*Process{
		100: {PID: 100, Image: "dns.exe", Services: []string{"DNS"}},
	}}
	s.Bindings = append(s.Bindings, Binding{Protocol: UDP, Addr: netip.IPv4Unspecified(), Port: 53, PID: 100})
	for p := start; count > 0; p += 3 {
		if knownPort(UDP, p) {
			continue // keep the pool off known ports: conflicts are added explicitly
		}
		s.Bindings = append(s.Bindings, Binding{Protocol: UDP, Addr: netip.IPv4Unspecified(), Port: uint16(p), PID: 100})
		count--
	}
	s.Bindings = append(s.Bindings, extra...)
	return s
}

func exposure(r *AuditReport, spec PortSpec) (Exposure, bool) {
	for _, e := range r.Exposures {
		if e.PortSpec == spec {
			return e, true
		}
	}
	return Exposure{}, false
}

func TestAuditLegacyRanges(t *testing.T) {
	legacy := OSInfo{Version: "5.2.3790", Major: 5, Minor: 2, Build: 3790}
	iasProc := &Process{PID: 200, Image: "svchost.exe", Services: []string{"IAS", "RemoteAccess"}}

	t.Run("MaxUserPort unset: pool 49152-65535, ephemeral 1025-5000", func(t *testing.T) {
		s := dnsSnapshot(49200, 300)
		s.Processes[200] = iasProc
		f := newFacts()
		f.OS = legacy
		f.Tcpip = &TcpipParams{}
		f.DNS = &DNSParams{}
		r := Audit(s, f, AuditOptions{})
		require.True(t, r.Legacy)
		require.Equal(t, PortRange{1025, 5000}, r.Ranges[0].Range)
		require.Equal(t, PortRange{49152, 65535}, r.DNS.Range)
		require.Equal(t, 16384, r.DNS.Candidates)
		// 1812 is in the ephemeral range but out of the pool's reach.
		e, ok := exposure(r, PortSpec{UDP, 1812})
		require.True(t, ok)
		require.True(t, e.InEphemeral)
		require.False(t, e.InPool)
		require.Zero(t, e.PoolChance)
		require.True(t, e.InFix)
		require.Empty(t, r.Notes)
	})

	t.Run("ReservedPorts protect and are merged into the fix", func(t *testing.T) {
		s := dnsSnapshot(1100, 2500)
		s.Processes[200] = iasProc
		f := newFacts()
		f.OS = legacy
		f.Tcpip = &TcpipParams{MaxUserPort: 60000, ReservedPorts: []PortRange{{1645, 1646}, {1812, 1813}, {3000, 3001}}}
		f.DNS = &DNSParams{SocketPoolSize: intp(2500)}
		r := Audit(s, f, AuditOptions{})
		require.Equal(t, PortRange{1024, 60000}, r.DNS.Range)
		require.Equal(t, 60000-1024+1-6, r.DNS.Candidates)
		require.InDelta(t, 2500.0/float64(r.DNS.Candidates), r.DNS.PerPort, 1e-12)
		e, _ := exposure(r, PortSpec{UDP, 1645})
		require.Equal(t, "ReservedPorts", e.Protected)
		require.False(t, e.InPool)
		require.False(t, e.InFix)
		e, _ = exposure(r, PortSpec{UDP, 1701})
		require.True(t, e.InPool)
		require.True(t, e.InFix)
		require.Contains(t, r.Fixes[0].Commands[0], `/d "1645-1646\01701-1701\01723-1723\01812-1813\03000-3001\04500-4500" /f`)
	})

	t.Run("MaxUserPort below 5000 is not called unset", func(t *testing.T) {
		f := newFacts()
		f.OS = legacy
		f.Tcpip = &TcpipParams{MaxUserPort: 4000}
		r := Audit(dnsSnapshot(49200, 10), f, AuditOptions{})
		require.Equal(t, PortRange{1025, 5000}, r.Ranges[0].Range)
		require.Equal(t, PortRange{49152, 65535}, r.DNS.Range)
		require.Contains(t, r.DNS.RangeBasis, "MaxUserPort is 4000, below the 5000 minimum")
	})

	t.Run("OS not captured, MaxUserPort set: assumed 2003", func(t *testing.T) {
		f := newFacts()
		f.Tcpip = &TcpipParams{MaxUserPort: 65534}
		r := Audit(dnsSnapshot(1100, 10), f, AuditOptions{})
		require.True(t, r.Legacy)
		require.Contains(t, r.Notes[0], "assumed Windows Server 2003")
		require.Contains(t, r.DNS.SizeBasis, `DNS\Parameters not captured`)
	})
}

func TestAuditModern(t *testing.T) {
	modern := OSInfo{Version: "10.0.17763", Major: 10, Build: 17763}
	bes := Binding{Protocol: UDP, Addr: netip.IPv4Unspecified(), Port: 52311, PID: 300}

	t.Run("SocketPoolExcludedPortRanges keeps the pool off, netsh exclusion off both", func(t *testing.T) {
		s := dnsSnapshot(49160, 2500, bes)
		s.Processes[300] = &Process{PID: 300, Image: "BESClient.exe", Services: []string{"BESClient"}}
		f := newFacts()
		f.OS = modern
		f.Dynamic[UDP] = PortRange{49152, 65535}
		f.Dynamic[TCP] = PortRange{49152, 65535}
		f.Excluded[UDP] = []ExcludedRange{{PortRange{50000, 50059}, true}}
		f.Excluded[TCP] = []ExcludedRange{}
		f.DNS = &DNSParams{SocketPoolSize: intp(5000), SocketPoolExcludedPortRanges: []PortRange{{52311, 52311}}}
		r := Audit(s, f, AuditOptions{})
		require.False(t, r.Legacy)
		require.Equal(t, 16384-60-1, r.DNS.Candidates)
		e, ok := exposure(r, PortSpec{UDP, 52311})
		require.True(t, ok)
		require.Equal(t, "SocketPoolExcludedPortRanges", e.Protected)
		require.True(t, e.InEphemeral) // other random binds can still take it
		require.False(t, e.InPool)
		require.True(t, e.InFix)
		require.Equal(t, []string{
			"netsh int ipv4 add excludedportrange protocol=udp startport=52311 numberofports=1 store=persistent",
			"netsh int ipv6 add excludedportrange protocol=udp startport=52311 numberofports=1 store=persistent",
		}, r.Fixes[0].Commands)
		// Nothing new for dnscmd: the port is already off the pool.
		for _, fx := range r.Fixes {
			for _, c := range fx.Commands {
				require.NotContains(t, c, "SocketPoolExcludedPortRanges")
			}
		}
		require.Equal(t, Fix{
			Title: "Leave SocketPoolSize as it is (5,000)",
			Why:   "a smaller pool lowers the odds in proportion but weakens the protection against DNS spoofing; 0 (one socket) only to confirm the diagnosis",
		}, r.Fixes[len(r.Fixes)-1])
	})

	t.Run("a conflict is in the fix even for a service not seen", func(t *testing.T) {
		s := dnsSnapshot(49160, 300)
		s.Bindings = append(s.Bindings, Binding{Protocol: UDP, Addr: netip.IPv4Unspecified(), Port: 50636, PID: 100})
		f := newFacts()
		f.OS = modern
		f.DNS = &DNSParams{SocketPoolExcludedPortRanges: []PortRange{{4000, 5000}}}
		r := Audit(s, f, AuditOptions{})
		e, ok := exposure(r, PortSpec{UDP, 50636})
		require.True(t, ok)
		require.Equal(t, "dns.exe (PID 100)", e.HeldBy)
		require.False(t, e.Present)
		require.True(t, e.InFix)
		require.Equal(t, r.Exposures[0].PortSpec, PortSpec{UDP, 50636}) // conflicts first
		require.Contains(t, r.Fixes[1].Commands[0], "dnscmd /Config /SocketPoolExcludedPortRanges 4000-5000 50636-50636")
		// Missing netsh captures are assumed and said so.
		require.Contains(t, strings.Join(r.Notes, "\n"), "dynamicport udp not captured")
		// --all adds every known service's exposed ports.
		all := Audit(s, f, AuditOptions{All: true})
		e, _ = exposure(all, PortSpec{UDP, 52311})
		require.True(t, e.InFix)
		e, _ = exposure(r, PortSpec{UDP, 52311})
		require.False(t, e.InFix)
	})

	t.Run("no DNS server, pool off", func(t *testing.T) {
		f := newFacts()
		f.OS = modern
		r := Audit(&Snapshot{Processes: map[int]*Process{}}, f, AuditOptions{})
		require.False(t, r.DNS.Present)
		require.Zero(t, r.DNS.AnyAtRisk)
		var buf bytes.Buffer
		require.NoError(t, r.WriteText(&buf))
		require.Contains(t, buf.String(), "no DNS server")

		f.DNS = &DNSParams{SocketPoolSize: intp(0)}
		r = Audit(&Snapshot{Processes: map[int]*Process{}}, f, AuditOptions{})
		require.True(t, r.DNS.Present)
		require.Zero(t, r.DNS.PerPort)
		buf.Reset()
		require.NoError(t, r.WriteText(&buf))
		require.Contains(t, buf.String(), "the pool is off")
	})
}

func TestAuditAnyAtRisk(t *testing.T) {
	// k exposed pool ports among M candidates, N drawn: 1 − C(M−k,N)/C(M,N).
	s := dnsSnapshot(1100, 2500)
	s.Processes[200] = &Process{PID: 200, Image: "svchost.exe", Services: []string{"IKEEXT", "IAS"}}
	f := newFacts()
	f.OS = OSInfo{Version: "5.2.3790", Major: 5, Minor: 2, Build: 3790}
	f.Tcpip = &TcpipParams{MaxUserPort: 65534}
	f.DNS = &DNSParams{}
	r := Audit(s, f, AuditOptions{})
	m, n := float64(r.DNS.Candidates), 2500.0
	require.Equal(t, 64511, r.DNS.Candidates)
	require.Equal(t, "3.875%", Percent(r.DNS.PerPort))
	// IAS 1645, 1646, 1812, 1813 and IKEEXT 4500 (500 is below 1024).
	var inPool []uint16
	for _, e := range r.Exposures {
		if e.InFix && e.InPool {
			inPool = append(inPool, e.Port)
		}
	}
	require.ElementsMatch(t, []uint16{1645, 1646, 1812, 1813, 4500}, inPool)
	keep := 1.0
	for i := 0.0; i < 5; i++ {
		keep *= (m - n - i) / (m - i)
	}
	require.InDelta(t, 1-keep, r.DNS.AnyAtRisk, 1e-12)
	require.InDelta(t, 0.179, r.DNS.AnyAtRisk, 0.001)
}

func TestAuditJSONRoundTrip(t *testing.T) {
	f := newFacts()
	f.Tcpip = &TcpipParams{MaxUserPort: 65534, ReservedPorts: []PortRange{{1645, 1646}}}
	r := Audit(dnsSnapshot(1100, 300), f, AuditOptions{})
	js, err := json.Marshal(r)
	require.NoError(t, err)
	require.Contains(t, string(js), `"range":"1024-65534"`)
	var back AuditReport
	require.NoError(t, json.Unmarshal(js, &back))
	require.Equal(t, r.DNS.Range, back.DNS.Range)
	require.Equal(t, r.Ranges, back.Ranges)
}

func TestAuditSocketPoolSizeAdvice(t *testing.T) {
	legacy := OSInfo{Version: "5.2.3790", Major: 5, Minor: 2, Build: 3790}
	modern := OSInfo{Version: "10.0.17763", Major: 10, Build: 17763}
	sizeFix := func(r *AuditReport) Fix {
		t.Helper()
		for _, fx := range r.Fixes {
			if strings.Contains(fx.Title, "SocketPoolSize") {
				return fx
			}
		}
		t.Fatalf("no SocketPoolSize step in %+v", r.Fixes)
		return Fix{}
	}
	for _, tt := range []struct {
		name string
		os   OSInfo
		size *int
		want []string // commands; none when the value is already safe
	}{
		{"2003, unset", legacy, nil, nil},
		{"2003, lowered: the registry, as dnscmd there does not know the value", legacy, intp(500),
			[]string{`reg add "HKLM\SYSTEM\CurrentControlSet\Services\DNS\Parameters" /v SocketPoolSize /t REG_DWORD /d 2500 /f`, "net stop dns && net start dns"}},
		{"2019, unset", modern, nil, nil},
		{"2019, raised", modern, intp(5000), nil},
		{"2019, lowered", modern, intp(100), []string{"dnscmd /Config /SocketPoolSize 2500", "net stop dns && net start dns"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFacts()
			f.OS = tt.os
			f.Tcpip = &TcpipParams{MaxUserPort: 65534}
			f.DNS = &DNSParams{SocketPoolSize: tt.size}
			s := dnsSnapshot(49160, 300)
			s.Processes[200] = &Process{PID: 200, Image: "svchost.exe", Services: []string{"IAS", "BESClient"}}
			fx := sizeFix(Audit(s, f, AuditOptions{All: true}))
			require.Equal(t, tt.want, fx.Commands)
		})
	}
}

func TestAuditHeldOutsideRandomReach(t *testing.T) {
	// Server 2019: the dynamic range starts at 49152, yet udp/2883 is held
	// by the DNS server. Nothing random took it, so no exclusion helps; the
	// audit must still say what to do rather than "nothing to do".
	s := dnsSnapshot(49160, 300, Binding{Protocol: UDP, Addr: netip.IPv4Unspecified(), Port: 2883, PID: 100})
	f := newFacts()
	f.OS = OSInfo{Version: "10.0.17763", Major: 10, Build: 17763}
	r := Audit(s, f, AuditOptions{})
	e, ok := exposure(r, PortSpec{UDP, 2883})
	require.True(t, ok)
	require.Equal(t, "dns.exe (PID 100)", e.HeldBy)
	require.False(t, e.InEphemeral)
	require.False(t, e.InPool)
	require.NotEmpty(t, r.Fixes)
	require.Contains(t, r.Fixes[0].Title, "udp/2883")
	require.Contains(t, r.Fixes[0].Title, "dns.exe (PID 100)")
	var buf bytes.Buffer
	require.NoError(t, r.WriteText(&buf))
	require.NotContains(t, buf.String(), "nothing to do")
	require.Contains(t, buf.String(), "held now: 301 UDP ports in ")

	one := dnsSnapshot(49160, 0, Binding{Protocol: UDP, Addr: netip.IPv4Unspecified(), Port: 50001, PID: 100})
	buf.Reset()
	require.NoError(t, Audit(one, f, AuditOptions{}).WriteText(&buf))
	require.Contains(t, buf.String(), "held now: 1 UDP port in 50001\n")
}

func TestAuditPoolOfUnknownImage(t *testing.T) {
	// netstat without tasklist: 300 UDP ports held by a PID nobody named.
	s := dnsSnapshot(49160, 300)
	delete(s.Processes, 100)
	f := newFacts()
	f.OS = OSInfo{Version: "5.2.3790", Major: 5, Minor: 2, Build: 3790}
	r := Audit(s, f, AuditOptions{})
	require.False(t, r.DNS.Present)
	require.Contains(t, strings.Join(r.Notes, "\n"), "PID 100 holds 301 UDP and 0 TCP sockets, a socket pool, but its image is unknown")
}
