package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/rules/ports"
)

// TestScanLiveTableJudgesOnlyThisHost: a path source may hold logs
// exported from other servers. The live port table is this machine's, so
// it names a culprit for this machine's failures only; another server's
// failure is alerted with the owner unknown, never blamed on a local
// process. Real parts: a UDP socket held by this test process, the live
// socket table, a real SMTP server.
func TestScanLiveTableJudgesOnlyThisHost(t *testing.T) {
	if _, err := ports.Live(t.Context()); err != nil {
		t.Skipf("no live port table here: %v", err)
	}
	self, err := os.Hostname()
	require.NoError(t, err)
	port := holdUDPPort(t)

	sink := startSMTP(t, "127.0.0.1:0")
	env := newScanEnv(t, sink.addr)
	// A rule like the ActiveSync one, for the port this test holds.
	rule := fmt.Sprintf(`rules:
  - id: test-udp-bind
    title: Test Service cannot bind its UDP port
    match:
      channel: Application
      provider: Test Service
      event_id: [3015]
      level: error
    repeat:
      threshold: 3
      window: 1h
      group_by: [host, port]
    needs:
      protocol: udp
      shape: true
      ports: [udp/%d]
`, port)
	require.NoError(t, os.WriteFile(filepath.Join(env.dir, "rule.yaml"), []byte(rule), 0o644))
	host, smtpPort, err := net.SplitHostPort(sink.addr)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(env.config, fmt.Appendf(nil, `sources:
  - path: logs
rules: [rule.yaml]
state: state/state.json
notify:
  email:
    host: %s
    port: %s
    tls: none
    from: evtwatch@example.com
    to: [admins@example.com]
`, host, smtpPort), 0o644))

	for _, h := range []string{"OTHERSRV", self} {
		for i := range 3 {
			env.add(t, evtx.Event{
				Provider: "Test Service", EventID: 3015, Level: evtx.LevelError, Channel: "Application", Computer: h,
				Time: scanT0.Add(-30*time.Minute + time.Duration(i)*7*time.Minute),
				Data: []evtx.Data{{Value: "0x80004005"}, {Value: strconv.Itoa(port)}},
			})
		}
	}
	code, _, errOut := env.scan(t)
	require.Equal(t, exitFindings, code, errOut)
	msgs := sink.messages()
	require.Len(t, msgs, 2, errOut)
	culprit := fmt.Sprintf("(PID %d", os.Getpid())
	for _, m := range msgs {
		switch {
		case strings.HasPrefix(m.Subject, "OTHERSRV:"):
			require.NotContains(t, m.Subject, "held by", "another server's failure is not blamed on a local process")
			require.NotContains(t, m.Body, culprit)
			require.Contains(t, m.Subject, "owner unknown")
		case strings.HasPrefix(m.Subject, self+":"):
			require.Contains(t, m.Subject, "held by")
			require.Contains(t, m.Subject, culprit)
		default:
			t.Fatalf("unexpected message %q", m.Subject)
		}
	}
}

func TestWithLocalHost(t *testing.T) {
	self, err := os.Hostname()
	require.NoError(t, err)
	require.Equal(t, self, withLocalHost(nil).Host)
	in := &ports.Facts{OS: ports.OSInfo{Major: 10}}
	out := withLocalHost(in)
	require.Equal(t, self, out.Host)
	require.Equal(t, 10, out.OS.Major)
	require.Empty(t, in.Host, "the caller's facts are not changed")
	named := &ports.Facts{Host: "SBSHQ01"}
	require.Same(t, named, withLocalHost(named))
}
