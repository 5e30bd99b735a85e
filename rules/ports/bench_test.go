package ports

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"testing"
)

// bigSnapshot is a snapshot of 3,000+ sockets: a DNS pool of 2,500 UDP
// ports plus 120 processes with a few listeners and connections each.
func bigSnapshot() *Snapshot {
	s := &Snapshot{Source: "bench", Processes: map[int]*Process{}}
	s.Processes[1692] = &Process{PID: 1692, Image: "dns.exe", Services: []string{"DNS"}}
	for i := 0; i < 2500; i++ {
		s.Bindings = append(s.Bindings, Binding{Protocol: UDP, Addr: netip.IPv4Unspecified(), Port: uint16(1025 + i*25), PID: 1692})
	}
	for p := 0; p < 120; p++ {
		pid := 2000 + 4*p
		s.Processes[pid] = &Process{PID: pid, Image: fmt.Sprintf("svc%d.exe", p), Services: []string{"A", "B", "C", "D"}}
		for j := 0; j < 5; j++ {
			s.Bindings = append(s.Bindings,
				Binding{Protocol: TCP, Addr: netip.IPv4Unspecified(), Port: uint16(8000 + p*5 + j), State: "LISTENING", PID: pid},
				Binding{Protocol: TCP, Addr: netip.MustParseAddr("10.0.0.5"), Port: uint16(49152 + p*5 + j), State: "ESTABLISHED", Remote: "10.0.0.9:443", PID: pid})
		}
	}
	return s
}

// BenchmarkRenderPorts3000 is "evtwatch ports" output for 3,700 sockets:
// summary, text and JSON.
func BenchmarkRenderPorts3000(b *testing.B) {
	s := bigSnapshot()
	b.ReportMetric(float64(len(s.Bindings)), "sockets")
	b.Run("text", func(b *testing.B) {
		for b.Loop() {
			if err := NewPortsReport(s, 0).WriteText(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			if err := json.NewEncoder(io.Discard).Encode(NewPortsReport(s, 0)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("audit", func(b *testing.B) {
		for b.Loop() {
			if err := Audit(s, nil, AuditOptions{}).WriteText(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLoadCapturesSBS2003 reads the seed's capture folder (2,551
// sockets in netstat -ano and -anob, tasklist, wmic, reg, systeminfo).
func BenchmarkLoadCapturesSBS2003(b *testing.B) {
	files := captureFiles(b, "sbs2003")
	for b.Loop() {
		if _, _, _, err := LoadCaptures(files...); err != nil {
			b.Fatal(err)
		}
	}
}
