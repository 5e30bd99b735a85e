package rules

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/evtx/evtxtest"
	"github.com/evtwatch/evtwatch/rules/ports"
)

// form is how an event reaches evtwatch: a legacy .evt (source name,
// unnamed insertion strings) or an .evtx (provider name with the legacy
// name as EventSourceName, named data where the provider names it).
type form struct {
	evt bool
}

func (f form) String() string {
	if f.evt {
		return "evt"
	}
	return "evtx"
}

// spec is one event in both forms.
type spec struct {
	legacy, provider string // source name in .evt; provider name in .evtx
	channel          string
	id               uint16
	level            evtx.Level
	at               time.Duration // after t0
	data             []string      // "Name=value" is named in .evtx, %N in .evt
	binary           []byte
}

func (s spec) event(f form) evtx.Event {
	ev := evtx.Event{EventID: s.id, Level: s.level, Computer: "SRV01", Time: t0.Add(s.at), Channel: s.channel, Binary: s.binary, Data: []evtx.Data{}}
	if s.level == evtx.LevelError {
		ev.Qualifiers = 0xC000
	}
	if f.evt {
		ev.Provider = s.legacy
	} else {
		ev.Provider = s.provider
		if s.provider != s.legacy {
			ev.Source = s.legacy
		}
	}
	for _, d := range s.data {
		name, val, named := strings.Cut(d, "=")
		if !named || f.evt {
			if named {
				d = val
			}
			ev.Data = append(ev.Data, evtx.Data{Value: d})
			continue
		}
		ev.Data = append(ev.Data, evtx.Data{Name: name, Value: val})
	}
	return ev
}

// repeatAt makes copies of s at the given offsets.
func repeatAt(s spec, offsets ...time.Duration) []spec {
	out := make([]spec, len(offsets))
	for i, o := range offsets {
		out[i] = s
		out[i].at = o
	}
	return out
}

func hours(hs ...float64) []time.Duration {
	out := make([]time.Duration, len(hs))
	for i, h := range hs {
		out[i] = time.Duration(h * float64(time.Hour))
	}
	return out
}

func dw(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func utf16le(s string) []byte {
	var b []byte
	for _, c := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return append(b, 0, 0)
}

// throughReaders writes the events to a real .evt or .evtx file with the
// evtx/evtxtest writers, reads it back with evtx.Open and analyses it.
func throughReaders(t *testing.T, f form, specs []spec, snap *ports.Snapshot) *Result {
	t.Helper()
	events := make([]evtx.Event, len(specs))
	for i, s := range specs {
		events[i] = s.event(f)
		events[i].RecordID = uint64(100 + i)
	}
	dir := t.TempDir()
	var path string
	if f.evt {
		// Readers take a .evt file's log from its name.
		name := map[string]string{"System": "SysEvent.Evt", "Application": "AppEvent.Evt", "DNS Server": "DnsEvent.Evt"}[specs[0].channel]
		path = filepath.Join(dir, name)
		require.NoError(t, evtxtest.WriteEVTFile(path, events, evtxtest.EVTOptions{}))
	} else {
		path = filepath.Join(dir, "log.evtx")
		require.NoError(t, evtxtest.WriteEVTXFile(path, events, evtxtest.EVTXOptions{}))
	}
	eng := builtinEngine(t)
	analyse := func(opts evtx.Options) *Result {
		r, err := evtx.Open(path, opts)
		require.NoError(t, err)
		defer r.Close()
		a := eng.NewAnalysis()
		n := 0
		for ev, err := range evtx.All(context.Background(), r) {
			require.NoError(t, err)
			a.Add(ev)
			n++
		}
		require.Empty(t, r.Problems())
		if opts.Filter.Keep == nil {
			require.Equal(t, len(specs), n)
		}
		return a.Result(Inputs{Snapshot: snap})
	}
	res := analyse(evtx.Options{})
	// Skipping what no rule names before decoding (the .evtx fast path)
	// finds the same.
	require.Equal(t, res, analyse(evtx.Options{Filter: evtx.Filter{Keep: eng.KeepHeader}}))
	return res
}

// TestBuiltinRules gives every built-in rule a positive case and a
// near-miss negative, in .evt and .evtx form, through the real readers.
func TestBuiltinRules(t *testing.T) {
	scm := spec{legacy: "Service Control Manager", provider: "Service Control Manager", channel: "System", level: evtx.LevelError}
	autd := spec{legacy: "Server ActiveSync", provider: "Server ActiveSync", channel: "Application", level: evtx.LevelError}
	dns := spec{legacy: "DNS", provider: "Microsoft-Windows-DNS-Server-Service", channel: "DNS Server", level: evtx.LevelError}
	http := spec{legacy: "HTTP", provider: "Microsoft-Windows-HttpEvent", channel: "System", level: evtx.LevelError, id: 15005}
	sql := spec{legacy: "MSSQL$SBSMONITORING", provider: "MSSQL$SBSMONITORING", channel: "Application", level: evtx.LevelError}
	rdp := spec{legacy: "TermService", provider: "Microsoft-Windows-TerminalServices-RemoteConnectionManager", channel: "System", level: evtx.LevelError, id: 1036}
	dhcp := spec{legacy: "DHCPServer", provider: "Microsoft-Windows-DHCP-Server", channel: "System", level: evtx.LevelError, id: 1008}
	smtp := spec{legacy: "SMTPSVC", provider: "SMTPSVC", channel: "System", level: evtx.LevelError, id: 115}

	with := func(s spec, id uint16, bin []byte, data ...string) spec {
		s.id, s.binary, s.data = id, bin, data
		return s
	}
	pairs := func(gap time.Duration, n int) []spec {
		var out []spec
		for i := range n {
			at := time.Duration(i) * gap
			a := with(autd, 3015, nil, "0x80004005", "2883")
			a.at = at
			b := with(autd, 3024, nil, "0x80004005")
			b.at = at + 2*time.Second
			out = append(out, a, b)
		}
		return out
	}
	sqlStart := func(port string, code string, starts ...float64) []spec {
		var out []spec
		for _, h := range hours(starts...) {
			a := with(sql, 26023, nil, "'any'", "ipv4", port)
			a.at = h
			b := with(sql, 17182, nil, code, "0x0", "")
			b.at = h + time.Second
			out = append(out, a, b)
		}
		return out
	}
	svcBinary := utf16le("IAS")

	tests := []struct {
		rule     string
		pos, neg []spec
		snap     *ports.Snapshot
		proto    ports.Protocol
		port     uint16
		culprit  string
		count    int
		// negBelow is how many below-threshold groups the near miss leaves.
		negBelow int
	}{
		{
			rule: "activesync-autd-udp",
			pos:  pairs(6*time.Minute, 4),
			// Same failures, 40 minutes apart: never three in an hour.
			neg:   pairs(40*time.Minute, 4),
			snap:  newSnapshot().dnsPool(1692, 2883).build(),
			proto: ports.UDP, port: 2883, culprit: "dns.exe", count: 4, negBelow: 1,
		},
		{
			rule: "scm-service-port-conflict",
			pos:  repeatAt(with(scm, 7023, svcBinary, "param1=Internet Authentication Service", "param2=%%10048"), hours(0, 50, 240)...),
			// The same service failing with a timeout: not a bind error.
			neg:   repeatAt(with(scm, 7023, svcBinary, "param1=Internet Authentication Service", "param2=%%1053"), hours(0, 50, 240)...),
			snap:  newSnapshot().dnsPool(1580, 1812).build(),
			proto: ports.UDP, port: 1812, culprit: "dns.exe", count: 3,
		},
		{
			rule: "dns-server-udp-53",
			pos:  repeatAt(with(dns, 407, dw(10048), "192.168.16.2"), hours(0, 24, 48)...),
			// 406 is "could not create a UDP socket": not a bind.
			neg:   repeatAt(with(dns, 406, dw(10048)), hours(0, 24, 48)...),
			snap:  newSnapshot().proc(1200, "svchost.exe", "SharedAccess").bind(1200, ports.UDP, 53).build(),
			proto: ports.UDP, port: 53, culprit: "svchost.exe", count: 3,
		},
		{
			rule: "dns-server-tcp-53",
			pos:  repeatAt(with(dns, 404, dw(0x2740), "0.0.0.0"), hours(0, 30, 60)...),
			// WSAEINVAL is not a conflict code: skipped.
			neg:   repeatAt(with(dns, 404, dw(10022), "0.0.0.0"), hours(0, 30, 60)...),
			snap:  newSnapshot().proc(2900, "named.exe", "named").bind(2900, ports.TCP, 53).build(),
			proto: ports.TCP, port: 53, culprit: "named.exe", count: 3,
		},
		{
			rule: "dns-server-port-53",
			pos:  repeatAt(with(dns, 408, nil, "192.168.16.2"), hours(0, 2, 4)...),
			// Twice is a coincidence.
			neg:   repeatAt(with(dns, 408, nil, "192.168.16.2"), hours(0, 2)...),
			snap:  newSnapshot().proc(1200, "svchost.exe", "SharedAccess").bind(1200, ports.UDP, 53).build(),
			proto: ports.UDP, port: 53, culprit: "svchost.exe", count: 3, negBelow: 1,
		},
		{
			rule: "httpsys-endpoint-bind",
			pos:  repeatAt(with(http, 15005, append(dw(32), dw(0)...), "Address=0.0.0.0:443"), hours(0, 0.2, 0.5)...),
			// 15007: a URL reservation was added, not a bind failure.
			neg:   repeatAt(with(http, 15007, nil, "Url=https://+:443/"), hours(0, 0.2, 0.5)...),
			snap:  newSnapshot().proc(4, "System").proc(3120, "httpd.exe", "Apache2.4").bind(3120, ports.TCP, 443).bind(4, ports.TCP, 80).build(),
			proto: ports.TCP, port: 443, culprit: "httpd.exe", count: 3,
		},
		{
			rule: "sql-tcp-port-in-use",
			pos:  sqlStart("1433", "0x2740", 0, 1, 2),
			// Two failed starts in a week: a coincidence.
			neg:   sqlStart("1433", "0x2740", 0, 30),
			snap:  newSnapshot().proc(1532, "sqlservr.exe", "MSSQLSERVER").bind(1532, ports.TCP, 1433).build(),
			proto: ports.TCP, port: 1433, culprit: "sqlservr.exe", count: 3, negBelow: 1,
		},
		{
			rule: "sql-endpoint-port-in-use",
			pos:  repeatAt(with(sql, 9692, nil, "Service Broker", "4022"), hours(0, 1, 2)...),
			neg:  repeatAt(with(sql, 9692, nil, "Service Broker", "4022"), hours(0, 200)...),
			snap: newSnapshot().proc(5120, "java.exe").bind(5120, ports.TCP, 4022).build(),
			// A second 9692 group does not exist: the two are a week apart.
			proto: ports.TCP, port: 4022, culprit: "java.exe", count: 3, negBelow: 1,
		},
		{
			rule: "rdp-listener-1036",
			pos:  repeatAt(with(rdp, 1036, nil, "0xC000020A"), hours(0, 0.5, 1)...),
			// The status of a real XP log: out of paging file, not a port.
			neg:   repeatAt(with(rdp, 1036, nil, "0xC000012D"), hours(0, 0.5, 1)...),
			snap:  newSnapshot().proc(848, "svchost.exe", "DcomLaunch").proc(3300, "tv_w32.exe", "TeamViewer").bind(3300, ports.TCP, 3389).build(),
			proto: ports.TCP, port: 3389, culprit: "tv_w32.exe", count: 3,
		},
		{
			rule:  "dhcp-server-udp-67",
			pos:   repeatAt(with(dhcp, 1008, nil, "10048"), hours(0, 24, 48)...),
			neg:   repeatAt(with(dhcp, 1008, nil, "5"), hours(0, 24, 48)...),
			snap:  newSnapshot().proc(4400, "tftpd32.exe").bind(4400, ports.UDP, 67).build(),
			proto: ports.UDP, port: 67, culprit: "tftpd32.exe", count: 3,
		},
		{
			rule:  "smtpsvc-instance-bind",
			pos:   repeatAt(with(smtp, 115, dw(10048), "1"), hours(0, 24, 48)...),
			neg:   repeatAt(with(smtp, 115, dw(5), "1"), hours(0, 24, 48)...),
			snap:  newSnapshot().proc(1736, "inetinfo.exe", "IISADMIN", "SMTPSVC").proc(2600, "MEMTA.exe", "MEMTAS").bind(2600, ports.TCP, 25).build(),
			proto: ports.TCP, port: 25, culprit: "MEMTA.exe", count: 3,
		},
	}
	set, err := Builtin()
	require.NoError(t, err)
	covered := map[string]bool{}
	for _, tc := range tests {
		covered[tc.rule] = true
		for _, f := range []form{{evt: true}, {evt: false}} {
			t.Run(tc.rule+"/"+f.String(), func(t *testing.T) {
				res := throughReaders(t, f, tc.pos, tc.snap)
				require.Len(t, res.Findings, 1, "%+v", res)
				got := res.Findings[0]
				require.Equal(t, tc.rule, got.Rule)
				require.Equal(t, VerdictHeld, got.Verdict, got.Summary)
				require.Equal(t, tc.proto, got.Protocol)
				require.Equal(t, tc.port, got.Port)
				require.Equal(t, tc.culprit, got.Culprit.Image)
				require.Equal(t, tc.count, got.Count)
				require.Equal(t, "SRV01", got.Host)
				require.NotEmpty(t, got.Advice)
				require.NotEmpty(t, got.Evidence)
				require.NotEmpty(t, got.Evidence[0].Origin.Path, "evidence says where it was read")

				res = throughReaders(t, f, tc.neg, tc.snap)
				require.Empty(t, res.Findings, "near miss must not fire: %+v", res.Findings)
				require.Len(t, res.Below, tc.negBelow)
			})
		}
	}
	for _, r := range set.Rules() {
		require.True(t, covered[r.ID], "built-in rule %s has no positive/negative test", r.ID)
	}
}

// TestNotAConflictThroughReaders: DNS 407 with WSAEADDRNOTAVAIL in the
// binary data, and SQL 17182/26024 with 0x2741, are findings of their own
// kind, never a culprit.
func TestNotAConflictThroughReaders(t *testing.T) {
	dns := spec{legacy: "DNS", provider: "Microsoft-Windows-DNS-Server-Service", channel: "DNS Server", level: evtx.LevelError, id: 407, binary: dw(10049), data: []string{"10.9.9.9"}}
	sql := spec{legacy: "MSSQLSERVER", provider: "MSSQLSERVER", channel: "Application", level: evtx.LevelError, id: 26024, data: []string{"10.9.9.9", "ipv4", "1433", "0x2741"}}
	snap := newSnapshot().proc(1692, "dns.exe", "DNS").bind(1692, ports.UDP, 53).build()
	for _, f := range []form{{evt: true}, {evt: false}} {
		for _, s := range []spec{dns, sql} {
			res := throughReaders(t, f, repeatAt(s, hours(0, 1, 2)...), snap)
			require.Len(t, res.Findings, 1)
			got := res.Findings[0]
			require.Equal(t, VerdictNotConflict, got.Verdict, "%s %s", f, s.legacy)
			require.Nil(t, got.Culprit)
			require.Equal(t, "10049 (WSAEADDRNOTAVAIL)", got.Error)
			require.Contains(t, got.Advice, "10.9.9.9")
		}
	}
}
