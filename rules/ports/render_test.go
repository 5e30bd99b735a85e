package ports

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRanges(t *testing.T) {
	require.Equal(t, []PortRange{{53, 53}, {1645, 1646}, {1812, 1813}}, CollapsePorts([]uint16{1813, 53, 1645, 1812, 1646, 53}))
	require.Nil(t, CollapsePorts(nil))
	require.Equal(t, []PortRange{{1645, 1650}, {2883, 2883}}, MergeRanges([]PortRange{{2883, 2883}, {1647, 1650}, {1645, 1646}, {1646, 1648}}))
	require.True(t, InRanges([]PortRange{{10, 20}}, 20))
	require.False(t, InRanges([]PortRange{{10, 20}}, 21))
	require.Equal(t, 7, CountInRanges([]PortRange{{1, 5}, {4, 12}, {100, 200}}, PortRange{6, 99}))

	for in, want := range map[string]PortRange{"1645-1646": {1645, 1646}, "2883": {2883, 2883}, " 4000 - 5000 ": {4000, 5000}} {
		got, err := ParsePortRange(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got)
	}
	for _, bad := range []string{"", "x", "5-4", "1-70000", "-3"} {
		_, err := ParsePortRange(bad)
		require.Error(t, err, bad)
	}
	require.Equal(t, "2883-2883", PortRange{2883, 2883}.String())
	require.Equal(t, "2883", PortRange{2883, 2883}.Display())
	require.Equal(t, "1025–65529", PortRange{1025, 65529}.Display())

	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 2500: "2,500", 64511: "64,511", 1234567: "1,234,567", -2500: "-2,500"} {
		require.Equal(t, want, FormatCount(n))
	}
	require.Equal(t, "3.875%", Percent(2500.0/64511))
	require.Equal(t, "100%", Percent(2))
	require.Equal(t, "0%", Percent(0))
}

func TestPortSummary(t *testing.T) {
	text, folded := PortSummary([]uint16{53, 135, 1025, 1026, 1027})
	require.Equal(t, "53, 135, 1025–1027", text)
	require.Nil(t, folded)

	pool := []uint16{53}
	for p := 1025; len(pool) < 2500; p += 25 {
		pool = append(pool, uint16(p))
	}
	pool = append(pool, 65529)
	text, folded = PortSummary(pool)
	require.Equal(t, "53, 2,500 ports in 1025–65529", text)
	require.Len(t, folded, 2500)
}

func TestSummarize(t *testing.T) {
	s := &Snapshot{Processes: map[int]*Process{
		4:   {PID: 4, Image: "System"},
		900: {PID: 900, Image: "svchost.exe", Services: []string{"IAS"}},
		950: {PID: 950, Image: "agent.exe"},
		960: {PID: 960, Image: "pool.exe"},
	}}
	add := func(proto Protocol, port uint16, state string, pid int) {
		s.Bindings = append(s.Bindings, Binding{Protocol: proto, Addr: netip.IPv4Unspecified(), Port: port, State: state, PID: pid})
	}
	add(TCP, 445, "LISTENING", 4)
	add(UDP, 1812, "", 900)
	add(UDP, 162, "", 950) // SNMP Trap's port in a monitoring agent
	add(TCP, 50000, "ESTABLISHED", 950)
	for p := uint16(20000); p < 20250; p++ {
		add(UDP, p, "", 960)
	}
	add(TCP, 445, "LISTENING", UnknownPID)
	sums := Summarize(s)
	var order []int
	for _, p := range sums {
		order = append(order, p.PID)
	}
	// Attention first (agent holding 162, the pool), then listeners, by PID.
	require.Equal(t, []int{950, 960, UnknownPID, 4, 900}, order)
	require.Equal(t, []TakenPort{{PortSpec{UDP, 162}, []string{"SNMP Trap"}}}, sums[0].Takes)
	require.Equal(t, 1, sums[0].Connections)
	require.True(t, sums[1].Pool)
	require.Equal(t, "other", sums[1].PoolKind)
	require.Equal(t, "udp 20000–20249", PortsText(sums[1])) // contiguous: one range
	require.Empty(t, sums[4].Takes)                         // svchost is an expected IAS owner

	var buf bytes.Buffer
	require.NoError(t, NewPortsReport(s, 0).WriteText(&buf))
	require.Contains(t, buf.String(), "      ?  ?")
	require.Contains(t, buf.String(), "!! holds udp/162 needed by SNMP Trap")

	buf.Reset()
	require.NoError(t, NewPortsReport(s, 445).WriteText(&buf))
	require.Contains(t, buf.String(), "tcp/445: System (PID 4) on 0.0.0.0, listening")
	require.Contains(t, buf.String(), "tcp/445: a process this user may not inspect")
	require.Contains(t, buf.String(), "udp/445: free")

	rep := NewPortsReport(s, 9)
	require.Empty(t, rep.Processes)
	js, err := json.Marshal(rep)
	require.NoError(t, err)
	require.Contains(t, string(js), `"processes":[]`)
	require.Contains(t, string(js), `"bindings":[]`)
}

func TestSourceText(t *testing.T) {
	require.Equal(t, "live", sourceText("live"))
	require.Equal(t, "from a.txt", sourceText("a.txt"))
	require.Equal(t, "from d/x (a.txt, b.txt)", sourceText("d/x/a.txt, d/x/b.txt"))
	require.Equal(t, "from d/a.txt, e/b.txt", sourceText("d/a.txt, e/b.txt"))
}

func TestPortsFootnoteNamesTheCase(t *testing.T) {
	// A monitoring agent on SNMP Trap's port, no socket pool anywhere: the
	// footnote must not talk about pools.
	s := &Snapshot{
		Processes: map[int]*Process{950: {PID: 950, Image: "agent.exe"}},
		Bindings:  []Binding{{Protocol: UDP, Addr: netip.IPv4Unspecified(), Port: 162, PID: 950}},
	}
	var buf bytes.Buffer
	require.NoError(t, NewPortsReport(s, 0).WriteText(&buf))
	require.Contains(t, buf.String(), "!! holds udp/162 needed by SNMP Trap")
	require.Contains(t, buf.String(), "!! A process holds a fixed port another service needs")
	require.NotContains(t, buf.String(), "socket pool")
}

func TestLookupOrderAndCounts(t *testing.T) {
	s := &Snapshot{Processes: map[int]*Process{
		700: {PID: 700, Image: "outlook.exe"},
		800: {PID: 800, Image: "agent.exe"},
		900: {PID: 900, Image: "dns.exe", Services: []string{"DNS"}},
	}}
	add := func(proto Protocol, addr string, port uint16, state string, pid int) {
		s.Bindings = append(s.Bindings, Binding{Protocol: proto, Addr: netip.MustParseAddr(addr), Port: port, State: state, PID: pid})
	}
	// An outgoing connection that got 1723 as its local port, a listener
	// on one address, one on all addresses; the wildcard listener also
	// holds a pool of 250 UDP ports.
	add(TCP, "10.0.0.5", 1723, "ESTABLISHED", 700)
	add(TCP, "10.0.0.5", 1723, "LISTENING", 800)
	add(TCP, "0.0.0.0", 1723, "LISTENING", 900)
	for p := uint16(40000); p < 40250; p++ {
		add(UDP, "0.0.0.0", p, "", 900)
	}
	add(UDP, "0.0.0.0", 162, "", 800)

	owners := s.Lookup(TCP, 1723)
	require.Len(t, owners, 3)
	var pids []int
	for _, o := range owners {
		pids = append(pids, o.Process.PID)
	}
	require.Equal(t, []int{900, 800, 700}, pids, "wildcard listener, specific listener, then connections")
	require.Equal(t, "dns.exe", owners[0].Process.Image)
	require.Equal(t, []string{"DNS"}, owners[0].Process.Services)
	require.Equal(t, 1, owners[0].TCPPorts)
	require.Equal(t, 250, owners[0].UDPPorts)
	require.True(t, owners[0].Pool)
	require.Equal(t, 1, owners[1].UDPPorts)
	require.False(t, owners[1].Pool)

	require.Nil(t, s.Lookup(UDP, 1723), "the TCP bindings do not answer for UDP")
	require.Nil(t, s.Lookup(TCP, 1724))
	// An owner the snapshot knows only by PID.
	add(UDP, "::", 4500, "", 1234)
	o := s.Lookup(UDP, 4500)
	require.Len(t, o, 1)
	require.Equal(t, Process{PID: 1234}, o[0].Process)
}
