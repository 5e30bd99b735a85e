package rules

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/rules/ports"
)

func TestJudgeTCPConnectionsOnTheNeededPort(t *testing.T) {
	pptp := []ports.PortSpec{{Protocol: ports.TCP, Port: 1723}}
	any4 := netip.MustParseAddr("0.0.0.0")
	local := netip.MustParseAddr("10.0.0.5")
	exp := expectation{rule: &Rule{}, known: &ports.ServicePorts{Key: "RemoteAccess", Expected: []string{"System"}}, service: "RemoteAccess"}
	procs := map[int]*ports.Process{
		4:    {PID: 4, Image: "System"},
		2216: {PID: 2216, Image: "backup.exe"},
	}
	tests := map[string]struct {
		bindings []ports.Binding
		verdict  Verdict
		pid      int
	}{
		// KB 885959: an outgoing connection took 1723 as its local port, so
		// RRAS cannot listen on it.
		"outgoing connection holds the port": {
			bindings: []ports.Binding{{Protocol: ports.TCP, Addr: local, Port: 1723, State: "ESTABLISHED", Remote: "10.0.0.9:445", PID: 2216}},
			verdict:  VerdictHeld, pid: 2216,
		},
		"accepted connections of the expected listener": {
			bindings: []ports.Binding{
				{Protocol: ports.TCP, Addr: any4, Port: 1723, State: "LISTENING", PID: 4},
				{Protocol: ports.TCP, Addr: local, Port: 1723, State: "ESTABLISHED", Remote: "10.0.0.9:50000", PID: 4},
			},
			verdict: VerdictExpected,
		},
		"time_wait leftover does not block": {
			bindings: []ports.Binding{{Protocol: ports.TCP, Addr: local, Port: 1723, State: "TIME_WAIT", Remote: "10.0.0.9:445", PID: 2216}},
			verdict:  VerdictFree,
		},
		"socket owned by nobody does not block": {
			bindings: []ports.Binding{{Protocol: ports.TCP, Addr: local, Port: 1723, State: "CLOSE_WAIT", PID: 0}},
			verdict:  VerdictFree,
		},
		"unexpected listener": {
			bindings: []ports.Binding{{Protocol: ports.TCP, Addr: any4, Port: 1723, State: "LISTENING", PID: 2216}},
			verdict:  VerdictHeld, pid: 2216,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			snap := &ports.Snapshot{Bindings: tc.bindings, Processes: procs}
			verdict, checks, culprit := judge(pptp, snap, exp)
			require.Equal(t, tc.verdict, verdict)
			require.Len(t, checks, 1)
			require.Equal(t, tc.verdict, checks[0].Verdict)
			if tc.pid == 0 {
				require.Nil(t, culprit)
				return
			}
			require.NotNil(t, culprit)
			require.Equal(t, tc.pid, culprit.PID)
		})
	}
}
