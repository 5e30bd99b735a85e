package notify

import (
	"time"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/rules"
	"github.com/evtwatch/evtwatch/rules/ports"
)

// SampleFinding is the classic case evtwatch exists for, as of now: on an
// SBS 2003 server, Exchange ActiveSync's AUTD listener cannot bind UDP 2883
// because dns.exe's socket pool took it, and events 3015/3024 repeat every
// few minutes. "evtwatch notify test" sends it, and the config validation
// renders subject templates with it.
func SampleFinding(now time.Time) rules.Finding {
	now = now.UTC().Truncate(time.Second)
	first := now.Add(-52 * time.Minute)
	msg3015 := "IP-based AUTD failed to initialize because the processing of notifications could not be setup. " +
		"Error code [0x80004005]. Verify that no other applications are currently bound to UDP port [2883], " +
		"or try specifying a different port number."
	ev := func(id uint16, rec uint64, at time.Time, msg string, data ...string) evtx.Event {
		e := evtx.Event{
			Provider: "Server ActiveSync", EventID: id, Level: evtx.LevelError,
			Channel: "Application", Computer: "SBSHQ01", RecordID: rec, Time: at, Message: msg,
			Origin: evtx.Origin{Offset: -1},
		}
		for _, d := range data {
			e.Data = append(e.Data, evtx.Data{Value: d})
		}
		return e
	}
	return rules.Finding{
		Rule:     "exchange-activesync-autd-port",
		Title:    "Exchange ActiveSync AUTD cannot bind its UDP port",
		Host:     "SBSHQ01",
		Service:  "ActiveSync",
		Key:      "exchange-activesync-autd-port|sbshq01|udp/2883|dns.exe",
		First:    first,
		Last:     now.Add(-2 * time.Minute),
		Count:    9,
		Cadence:  rules.Cadence{Median: 6 * time.Minute, Min: 5 * time.Minute, Max: 10 * time.Minute},
		Protocol: ports.UDP,
		Port:     2883,
		Verdict:  rules.VerdictHeld,
		Culprit: &rules.Culprit{
			PID: 2216, Image: "dns.exe", Path: `C:\WINDOWS\system32\dns.exe`,
			Started: now.Add(-26 * time.Hour), Services: []string{"DNS"},
			PortsHeld: 2503, Pool: true, PoolKind: "dns",
		},
		Advice: "dns.exe's socket pool took UDP 2883 when the DNS Server service started.\n" +
			"Now: restart the DNS Server service (net stop dns && net start dns), then check that ActiveSync binds 2883.\n" +
			"For good: reserve the port so the pool never takes it again — on Server 2003 add 2883-2883 to " +
			"HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\ReservedPorts (REG_MULTI_SZ) and reboot.",
		Evidence: []evtx.Event{
			ev(3015, 48211, now.Add(-2*time.Minute), msg3015, "0x80004005", "2883"),
			ev(3024, 48212, now.Add(-2*time.Minute+3*time.Second), "IP-based AUTD failed to initialize. Error code: [0x80004005].", "0x80004005"),
			ev(3015, 48190, now.Add(-8*time.Minute), msg3015, "0x80004005", "2883"),
		},
		Snapshot: &rules.SnapshotSummary{Taken: now.Add(-1 * time.Minute), Source: "live"},
	}
}

// TestAlert is SampleAlert marked as a test message.
func TestAlert(now time.Time) Alert {
	a := SampleAlert(now)
	a.Test = true
	return a
}

// SampleAlert is SampleFinding as a first firing alert.
func SampleAlert(now time.Time) Alert {
	f := SampleFinding(now)
	key := ThrottleKey(&f)
	return Alert{ID: alertID(key, now), Key: key, Status: StatusFiring, Finding: f, FirstNotified: now.UTC().Truncate(time.Second)}
}
