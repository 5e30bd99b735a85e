package rules

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/rules/ports"
)

// FuzzAnalyze feeds attacker-shaped event data (insertion strings, binary
// data, messages) to the built-in rules: nothing may panic, and the result
// must always encode.
func FuzzAnalyze(f *testing.F) {
	f.Add(uint8(0), "0x80004005|2883", []byte{}, "", int64(60))
	f.Add(uint8(1), "Internet Authentication Service|%%10048", []byte("I\x00A\x00S\x00"), "", int64(3600))
	f.Add(uint8(2), "0.0.0.0", []byte{0x40, 0x27, 0, 0}, "", int64(86400))
	f.Add(uint8(3), "Address=[::]:443", []byte{32, 0, 0, 0}, "", int64(1))
	f.Add(uint8(4), "'any'|ipv4|1433|0x2741", []byte{}, "Server failed to listen", int64(-5))
	f.Add(uint8(0), "%%%%%1%2%99999999999|[65536]|00000", []byte{1}, "UDP port [99999]", int64(0))
	providers := []struct {
		name string
		id   uint16
	}{
		{"Server ActiveSync", 3015}, {"Service Control Manager", 7023}, {"DNS", 407},
		{"Microsoft-Windows-HttpEvent", 15005}, {"MSSQL$X", 26024}, {"TermService", 1036},
		{"DHCPServer", 1008}, {"SMTPSVC", 115}, {"Service Control Manager", 7031}, {"Server ActiveSync", 3024},
	}
	engine := builtinEngineF(f)
	snap := newSnapshot().dnsPool(1692, 2883, 1812).proc(4, "System").bind(4, ports.TCP, 443).build()
	f.Fuzz(func(t *testing.T, which uint8, data string, bin []byte, msg string, step int64) {
		p := providers[int(which)%len(providers)]
		a := engine.NewAnalysis()
		for i := range 4 {
			ev := evtx.Event{Provider: p.name, EventID: p.id, Level: evtx.LevelError, Computer: "H", Channel: "System",
				Time: t0.Add(time.Duration(int64(i) * step * int64(time.Second))), Binary: bin, Message: msg}
			for _, d := range strings.Split(data, "|") {
				name, val, ok := strings.Cut(d, "=")
				if !ok {
					name, val = "", d
				}
				ev.Data = append(ev.Data, evtx.Data{Name: name, Value: val})
			}
			a.Add(&ev)
		}
		res := a.Result(Inputs{Snapshot: snap})
		if _, err := json.Marshal(res); err != nil {
			t.Fatal(err)
		}
		for _, r := range engine.Rules() {
			if _, err := a.Explain(r.ID, Inputs{Snapshot: snap}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func builtinEngineF(f *testing.F) *Engine {
	set, err := Builtin()
	if err != nil {
		f.Fatal(err)
	}
	e, err := NewEngine(set)
	if err != nil {
		f.Fatal(err)
	}
	return e
}

func BenchmarkAnalysisAdd(b *testing.B) {
	set, err := Builtin()
	if err != nil {
		b.Fatal(err)
	}
	e, err := NewEngine(set)
	if err != nil {
		b.Fatal(err)
	}
	// Mostly ordinary events, as in a real log, with the seed's failures.
	events := autdDay(t0, 50, "2883")
	for i := range 900 {
		events = append(events, evtx.Event{Provider: "Service Control Manager", EventID: 7036, Level: evtx.LevelInformation,
			Computer: "SBS01", Channel: "System", Time: t0.Add(time.Duration(i) * time.Second),
			Data: []evtx.Data{{Value: "Windows Installer"}, {Value: "running"}}})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		a := e.NewAnalysis()
		for i := range events {
			a.Add(&events[i])
		}
		a.Result(Inputs{})
	}
	b.ReportMetric(float64(len(events)), "events/op")
}
