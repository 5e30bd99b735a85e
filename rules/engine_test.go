package rules

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/rules/ports"
)

func TestActiveSyncHeldByDNSPool(t *testing.T) {
	e := builtinEngine(t)
	events := autdDay(t0, 40, "2883")
	snap := newSnapshot().dnsPool(1692, 2883).proc(2100, "w3wp.exe").build()
	res := analyze(t, e, events, snap)

	require.Len(t, res.Findings, 1)
	f := res.Findings[0]
	require.Equal(t, "activesync-autd-udp", f.Rule)
	require.Equal(t, VerdictHeld, f.Verdict)
	require.Equal(t, ports.UDP, f.Protocol)
	require.EqualValues(t, 2883, f.Port)
	require.Equal(t, 40, f.Count, "3024 is the same occurrence as its 3015")
	require.NotNil(t, f.Culprit)
	require.Equal(t, 1692, f.Culprit.PID)
	require.Equal(t, "dns.exe", f.Culprit.Image)
	require.Equal(t, []string{"DNS"}, f.Culprit.Services)
	require.True(t, f.Culprit.Pool)
	require.Equal(t, "dns", f.Culprit.PoolKind)
	require.Equal(t, 2501, f.Culprit.UDPPorts, "the pool plus port 53")
	require.GreaterOrEqual(t, f.Cadence.Min, 5*time.Minute)
	require.LessOrEqual(t, f.Cadence.Max, 10*time.Minute)
	require.Contains(t, f.Summary, "dns.exe (PID 1692, service DNS) holds UDP 2883 (the DNS socket pool): on SBS01, Exchange ActiveSync")
	require.Contains(t, f.Summary, "every 5–10 minutes")
	require.Contains(t, f.Advice, "ReservedPorts")
	require.Contains(t, f.Advice, "SocketPoolExcludedPortRanges 2883-2883")
	require.Contains(t, f.Advice, "iisreset")
	require.Contains(t, f.PortSource, "%2")
	ids := []uint16{}
	for _, ev := range f.Evidence {
		ids = append(ids, ev.EventID)
	}
	require.Equal(t, []uint16{3015, 3024, 3015, 3024, 3015}, ids[:5])
	require.Empty(t, res.Below)
}

func TestVerdicts(t *testing.T) {
	events := autdDay(t0, 5, "2883")
	tests := []struct {
		name string
		snap *ports.Snapshot
		want Verdict
	}{
		{"no snapshot", nil, VerdictUnknown},
		{"free now", newSnapshot().proc(1692, "dns.exe", "DNS").bind(1692, ports.UDP, 53).build(), VerdictFree},
		{"expected owner", newSnapshot().proc(2100, "w3wp.exe").bind(2100, ports.UDP, 2883).build(), VerdictExpected},
		{"other process", newSnapshot().proc(777, "agent.exe", "Agent").bind(777, ports.UDP, 2883).build(), VerdictHeld},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := analyze(t, builtinEngine(t), events, tc.snap)
			require.Len(t, res.Findings, 1)
			f := res.Findings[0]
			require.Equal(t, tc.want, f.Verdict)
			require.EqualValues(t, 2883, f.Port)
			if tc.want == VerdictHeld {
				require.Equal(t, "agent.exe", f.Culprit.Image)
				require.False(t, f.Culprit.Pool)
				require.Contains(t, f.Summary, "agent.exe (PID 777, service Agent) holds UDP 2883: ")
			} else {
				require.Nil(t, f.Culprit)
			}
			require.NotEmpty(t, f.Advice)
			// The rule's own advice (restart AUTD once the port is free)
			// is for ports that were taken; a recovered one needs none.
			if tc.want == VerdictExpected {
				require.NotContains(t, f.Advice, "iisreset")
				require.Contains(t, f.Advice, "recovered")
			} else {
				require.Contains(t, f.Advice, "iisreset")
			}
		})
	}
}

func TestRepeatWindowIsInclusiveAndSlides(t *testing.T) {
	rs, err := Load(strings.NewReader(`
rules:
  - id: t
    match: {provider: P, event_id: 1}
    repeat: {threshold: 3, window: 10m}
    needs: {ports: [udp/9999]}
`), "t.yaml")
	require.NoError(t, err)
	e, err := NewEngine(rs)
	require.NoError(t, err)
	at := func(mins ...float64) []evtx.Event {
		var out []evtx.Event
		for _, m := range mins {
			out = append(out, ev("P", 1, t0.Add(time.Duration(m*float64(time.Minute)))))
		}
		return out
	}
	// Exactly three within exactly the window: fires (>=, inclusive).
	res := analyze(t, e, at(0, 5, 10), nil)
	require.Len(t, res.Findings, 1)
	require.Equal(t, 3, res.Findings[0].Count)
	// Three, but never three within 10 minutes: one group below threshold.
	res = analyze(t, e, at(0, 6, 12.5, 19), nil)
	require.Empty(t, res.Findings)
	require.Len(t, res.Below, 1)
	require.Equal(t, 2, res.Below[0].Best)
	require.Equal(t, 4, res.Below[0].Count)
	// A pattern late in a long quiet log still fires, and the finding
	// covers every occurrence, not just the window.
	res = analyze(t, e, at(0, 600, 1200, 1201, 1202), nil)
	require.Len(t, res.Findings, 1)
	require.Equal(t, 5, res.Findings[0].Count)
	require.Equal(t, t0, res.Findings[0].First)
	// Order of input does not matter.
	res = analyze(t, e, at(10, 0, 5), nil)
	require.Len(t, res.Findings, 1)
}

func TestOneOffsAreListedNotFound(t *testing.T) {
	e := builtinEngine(t)
	events := autdDay(t0, 2, "2883")
	res := analyze(t, e, events, nil)
	require.Empty(t, res.Findings)
	require.Len(t, res.Below, 1)
	b := res.Below[0]
	require.Equal(t, "activesync-autd-udp", b.Rule)
	require.Equal(t, 2, b.Count)
	require.Equal(t, 3, b.Threshold)
	require.EqualValues(t, 2883, b.Port)
}

func TestSCMServiceTable(t *testing.T) {
	var events []evtx.Event
	for day := range 4 {
		at := t0.Add(time.Duration(day) * 72 * time.Hour)
		events = append(events,
			withChannel(ev("Service Control Manager", 7023, at, "Internet Authentication Service", "%%10048"), "System"),
			withChannel(ev("Service Control Manager", 7023, at.Add(time.Second), "IPSEC Services", "%%10048"), "System"),
			// Not a bind error: must not count.
			withChannel(ev("Service Control Manager", 7000, at.Add(2*time.Second), "Fax", "%%1053"), "System"),
		)
	}
	snap := newSnapshot().dnsPool(1692, 1812, 4500).
		proc(900, "svchost.exe", "IAS").bind(900, ports.UDP, 1645).
		proc(640, "lsass.exe", "PolicyAgent", "SamSs").bind(640, ports.UDP, 500).build()
	res := analyze(t, builtinEngine(t), events, snap)
	require.Len(t, res.Findings, 2)
	byService := map[string]Finding{}
	for _, f := range res.Findings {
		byService[f.Service] = f
	}
	ias := byService["IAS"]
	require.Equal(t, VerdictHeld, ias.Verdict)
	require.EqualValues(t, 1812, ias.Port)
	require.Equal(t, "dns.exe", ias.Culprit.Image)
	require.Equal(t, 4, ias.Count)
	require.Equal(t, "10048 (WSAEADDRINUSE)", ias.Error)
	require.Len(t, ias.Ports, 4)
	require.Equal(t, VerdictExpected, ias.Ports[0].Verdict, "svchost.exe hosting IAS on 1645 is its own")
	require.Contains(t, ias.Advice, `1645-1646\01812-1813`)
	require.Contains(t, ias.Advice, `net start "IAS"`)
	ipsec := byService["PolicyAgent"]
	require.Equal(t, VerdictHeld, ipsec.Verdict)
	require.EqualValues(t, 4500, ipsec.Port)
	require.Empty(t, res.Below)
}

func TestSCMSvchostHostingOtherServicesIsBlamed(t *testing.T) {
	var events []evtx.Event
	for i := range 3 {
		events = append(events, ev("Service Control Manager", 7023, t0.Add(time.Duration(i)*time.Hour), "Internet Authentication Service", "%%10048"))
	}
	snap := newSnapshot().proc(1000, "svchost.exe", "SharedAccess").bind(1000, ports.UDP, 1812).build()
	res := analyze(t, builtinEngine(t), events, snap)
	require.Len(t, res.Findings, 1)
	require.Equal(t, VerdictHeld, res.Findings[0].Verdict)
	require.Equal(t, []string{"SharedAccess"}, res.Findings[0].Culprit.Services)
}

func TestCorroborationJoinsOnlyExistingGroups(t *testing.T) {
	e := builtinEngine(t)
	// Two bind failures plus one crash of the same service: a pattern.
	events := []evtx.Event{
		ev("Service Control Manager", 7023, t0, "Internet Authentication Service", "%%10048"),
		ev("Service Control Manager", 7031, t0.Add(time.Hour), "Internet Authentication Service", "1", "60000", "1", "Restart the service"),
		ev("Service Control Manager", 7023, t0.Add(2*time.Hour), "Internet Authentication Service", "%%10048"),
	}
	res := analyze(t, e, events, nil)
	require.Len(t, res.Findings, 1)
	require.Equal(t, 3, res.Findings[0].Count)
	// Crashes alone are not a port conflict.
	var crashes []evtx.Event
	for i := range 5 {
		crashes = append(crashes, ev("Service Control Manager", 7031, t0.Add(time.Duration(i)*time.Hour), "Internet Authentication Service", "1", "0", "0", "No action"))
	}
	res = analyze(t, e, crashes, nil)
	require.Empty(t, res.Findings)
	require.Empty(t, res.Below)
}

func TestDNSAddressNotAvailableIsNotAConflict(t *testing.T) {
	var events []evtx.Event
	for i := range 3 {
		ne := withChannel(ev("DNS", 407, t0.Add(time.Duration(i)*24*time.Hour), "192.168.16.2"), "DNS Server")
		ne.Binary = []byte{0x41, 0x27, 0, 0} // 10049
		events = append(events, ne)
	}
	snap := newSnapshot().proc(1692, "dns.exe", "DNS").bind(1692, ports.UDP, 53).build()
	res := analyze(t, builtinEngine(t), events, snap)
	require.Len(t, res.Findings, 1)
	f := res.Findings[0]
	require.Equal(t, "dns-server-udp-53", f.Rule)
	require.Equal(t, VerdictNotConflict, f.Verdict)
	require.Nil(t, f.Culprit)
	require.Equal(t, "10049 (WSAEADDRNOTAVAIL)", f.Error)
	require.Contains(t, f.Summary, "Not a port conflict (error 10049 (WSAEADDRNOTAVAIL)): on SBS01, DNS Server cannot bind UDP port 53, 3 times every day")
	require.Contains(t, f.Advice, "192.168.16.2")

	// The same events with 10048 and someone else on 53: a conflict.
	for i := range events {
		events[i].Binary = []byte{0x40, 0x27, 0, 0}
	}
	snap = newSnapshot().proc(1200, "svchost.exe", "SharedAccess").bind(1200, ports.UDP, 53).build()
	res = analyze(t, builtinEngine(t), events, snap)
	require.Len(t, res.Findings, 1)
	require.Equal(t, VerdictHeld, res.Findings[0].Verdict)
	require.Equal(t, "svchost.exe", res.Findings[0].Culprit.Image)
}

func TestHTTPAddressField(t *testing.T) {
	var events []evtx.Event
	for i := range 3 {
		events = append(events, withChannel(ev("Microsoft-Windows-HttpEvent", 15005, t0.Add(time.Duration(i)*time.Minute), "Address=0.0.0.0:443"), "System"))
	}
	snap := newSnapshot().proc(4, "System").proc(3120, "httpd.exe", "Apache2.4").bind(3120, ports.TCP, 443).build()
	res := analyze(t, builtinEngine(t), events, snap)
	require.Len(t, res.Findings, 1)
	f := res.Findings[0]
	require.Equal(t, VerdictHeld, f.Verdict)
	require.Equal(t, ports.TCP, f.Protocol)
	require.EqualValues(t, 443, f.Port)
	require.Equal(t, "httpd.exe", f.Culprit.Image)
	require.Equal(t, `field Address = "0.0.0.0:443"`, f.PortSource)

	// HTTP.sys itself on the port: recovered.
	snap = newSnapshot().proc(4, "System").bind(4, ports.TCP, 443).build()
	res = analyze(t, builtinEngine(t), events, snap)
	require.Equal(t, VerdictExpected, res.Findings[0].Verdict)
}

func TestShapeDoesNotGuess(t *testing.T) {
	e := builtinEngine(t)
	var events []evtx.Event
	for i := range 3 {
		events = append(events, ev("Server ActiveSync", 3015, t0.Add(time.Duration(i)*time.Minute*6), "2883", "4000"))
	}
	a := e.NewAnalysis()
	for i := range events {
		a.Add(&events[i])
	}
	res := a.Result(Inputs{})
	require.Len(t, res.Findings, 1)
	// Ambiguous strings: the rule's own port, and it says why.
	require.EqualValues(t, 2883, res.Findings[0].Port)
	require.Contains(t, res.Findings[0].PortSource, "not guessing")
}

func TestDuplicateEventsCountOnce(t *testing.T) {
	events := autdDay(t0, 3, "2883")
	for i := range events {
		events[i].RecordID = uint64(i + 1)
	}
	res := analyze(t, builtinEngine(t), append(events, events...), nil)
	require.Len(t, res.Findings, 1)
	require.Equal(t, 3, res.Findings[0].Count)
}

func TestResultIsRepeatable(t *testing.T) {
	e := builtinEngine(t)
	a := e.NewAnalysis()
	events := autdDay(t0, 4, "2883")
	for i := range events {
		a.Add(&events[i])
	}
	r1 := a.Result(Inputs{})
	r2 := a.Result(Inputs{})
	j1, err := json.Marshal(r1)
	require.NoError(t, err)
	j2, err := json.Marshal(r2)
	require.NoError(t, err)
	require.JSONEq(t, string(j1), string(j2))
	x, err := a.Explain("activesync-autd-udp", Inputs{})
	require.NoError(t, err)
	require.Equal(t, 4, x.Groups[0].Count)
	require.Equal(t, 4, x.Groups[0].Companions)
}

func TestExplain(t *testing.T) {
	e := builtinEngine(t)
	a := e.NewAnalysis()
	events := []evtx.Event{
		ev("Service Control Manager", 7023, t0, "Fax", "%%1053"),
		ev("Service Control Manager", 7023, t0.Add(time.Hour), "Internet Authentication Service", "%%10048"),
		ev("Service Control Manager", 7023, t0.Add(2*time.Hour), "Internet Authentication Service", "%%10048"),
		ev("Application Error", 1000, t0),
	}
	for i := range events {
		a.Add(&events[i])
	}
	x, err := a.Explain("scm-service-port-conflict", Inputs{})
	require.NoError(t, err)
	require.Equal(t, 4, x.Events)
	require.Equal(t, 3, x.Identified)
	require.Equal(t, 2, x.Matched)
	require.Equal(t, []Reason{{"error 1053 (ERROR_SERVICE_REQUEST_TIMEOUT) is not a bind error", 1}}, x.Rejected)
	require.Len(t, x.Groups, 1)
	require.Equal(t, 2, x.Groups[0].Best)
	require.False(t, x.Groups[0].Fired)
	require.Equal(t, []string{"udp/1645", "udp/1646", "udp/1812", "udp/1813"}, x.Groups[0].Ports)
	require.Contains(t, x.Conclusion, "was 2, below the threshold of 3")

	_, err = a.Explain("nope", Inputs{})
	require.Error(t, err)
}

// TestExplainCountsCorroborationApart: a crash (7031) that joins a group
// is not one of the events "with the rule's provider and ID", so identified
// = matched + rejected and nothing looks turned away that was not.
func TestExplainCountsCorroborationApart(t *testing.T) {
	a := builtinEngine(t).NewAnalysis()
	events := []evtx.Event{
		ev("Service Control Manager", 7023, t0, "Internet Authentication Service", "%%10048"),
		ev("Service Control Manager", 7031, t0.Add(time.Hour), "Internet Authentication Service", "1", "60000", "1", "Restart the service"),
		ev("Service Control Manager", 7023, t0.Add(2*time.Hour), "Internet Authentication Service", "%%10048"),
		ev("Service Control Manager", 7023, t0.Add(3*time.Hour), "Fax", "%%1053"),
	}
	for i := range events {
		a.Add(&events[i])
	}
	x, err := a.Explain("scm-service-port-conflict", Inputs{})
	require.NoError(t, err)
	require.Equal(t, 3, x.Identified)
	require.Equal(t, 2, x.Matched)
	require.Equal(t, 1, x.Corroborating)
	rejected := 0
	for _, r := range x.Rejected {
		rejected += r.Count
	}
	require.Equal(t, x.Identified, x.Matched+rejected)
	require.Len(t, x.Groups, 1)
	require.Equal(t, 3, x.Groups[0].Count)
	require.True(t, x.Groups[0].Fired)

	// A single rejected event is "1 event had", not "1 events had".
	b := builtinEngine(t).NewAnalysis()
	b.Add(&events[3])
	x, err = b.Explain("scm-service-port-conflict", Inputs{})
	require.NoError(t, err)
	require.Contains(t, x.Conclusion, "did not fire: 1 event had the right provider and ID")
}

func TestCadenceJSONRoundTrip(t *testing.T) {
	c := Cadence{Median: 7*time.Minute + 30*time.Second, Min: 5 * time.Minute, Max: 10 * time.Minute}
	b, err := json.Marshal(c)
	require.NoError(t, err)
	require.Contains(t, string(b), `"median":"7m30s"`)
	require.Contains(t, string(b), `"text":"every 5–10 minutes (median 7m30s)"`)
	var back Cadence
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, c, back)
	require.NoError(t, json.Unmarshal([]byte(`{"median":450000000000,"min":1,"max":2}`), &back))
	require.Equal(t, 7*time.Minute+30*time.Second, back.Median)
}

func TestCadencePhrase(t *testing.T) {
	tests := []struct {
		c    Cadence
		want string
	}{
		{Cadence{}, "once"},
		{Cadence{Median: time.Hour, Min: time.Hour, Max: time.Hour}, "every hour"},
		{Cadence{Median: 7 * time.Minute, Min: 5*time.Minute + 12*time.Second, Max: 9*time.Minute + 58*time.Second}, "every 5–10 minutes (median 7m)"},
		{Cadence{Median: 3 * 24 * time.Hour, Min: 2 * 24 * time.Hour, Max: 4 * 24 * time.Hour}, "every 2–4 days (median 3d)"},
		{Cadence{Median: time.Minute, Min: 30 * time.Second, Max: 3 * time.Minute}, "every 30s–3 minutes (median 1m)"},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, tc.c.String())
	}
}

func TestPortTableFromAnotherHostIsNotUsed(t *testing.T) {
	a := builtinEngine(t).NewAnalysis()
	events := autdDay(t0, 4, "2883")
	for i := range events {
		a.Add(&events[i])
	}
	snap := newSnapshot().dnsPool(1692, 2883).build()
	res := a.Result(Inputs{Snapshot: snap, Facts: &ports.Facts{Host: "OTHERSRV"}})
	require.Len(t, res.Findings, 1)
	f := res.Findings[0]
	require.Equal(t, VerdictUnknown, f.Verdict)
	require.Nil(t, f.Culprit)
	require.Equal(t, "the port table is from OTHERSRV, not SBS01", f.Note)
	require.Contains(t, f.Summary, "Who holds UDP 2883 is unknown (the port table is from OTHERSRV, not SBS01)")
	// The same host under its DNS name is the same machine.
	res = a.Result(Inputs{Snapshot: snap, Facts: &ports.Facts{Host: "sbs01.contoso.local"}})
	require.Equal(t, VerdictHeld, res.Findings[0].Verdict)
}
