package rules

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/rules/ports"
)

var t0 = time.Date(2009, 3, 2, 8, 0, 0, 0, time.UTC)

// ev builds an event; data values are unnamed insertion strings unless
// written "Name=value".
func ev(provider string, id uint16, at time.Time, data ...string) evtx.Event {
	e := evtx.Event{
		Provider: provider,
		EventID:  id,
		Level:    evtx.LevelError,
		Computer: "SBS01",
		Time:     at,
		Data:     []evtx.Data{},
	}
	for _, d := range data {
		if name, val, ok := strings.Cut(d, "="); ok && !strings.ContainsAny(name, " %") && name != "" {
			e.Data = append(e.Data, evtx.Data{Name: name, Value: val})
			continue
		}
		e.Data = append(e.Data, evtx.Data{Value: d})
	}
	return e
}

func withChannel(e evtx.Event, ch string) evtx.Event { e.Channel = ch; return e }

// snapshotBuilder makes port tables for tests.
type snapshotBuilder struct{ s *ports.Snapshot }

func newSnapshot() *snapshotBuilder {
	return &snapshotBuilder{s: &ports.Snapshot{
		Taken:     t0.Add(30 * 24 * time.Hour),
		Source:    "test",
		Processes: map[int]*ports.Process{},
	}}
}

func (b *snapshotBuilder) proc(pid int, image string, services ...string) *snapshotBuilder {
	b.s.Processes[pid] = &ports.Process{PID: pid, Image: image, Services: services}
	return b
}

func (b *snapshotBuilder) bind(pid int, proto ports.Protocol, port uint16) *snapshotBuilder {
	bd := ports.Binding{Protocol: proto, Addr: netip.IPv4Unspecified(), Port: port, PID: pid}
	if proto == ports.TCP {
		bd.State = "LISTENING"
	}
	b.s.Bindings = append(b.s.Bindings, bd)
	return b
}

// dnsPool gives pid 2,500 random UDP ports in 1025..65534, including want.
func (b *snapshotBuilder) dnsPool(pid int, want ...uint16) *snapshotBuilder {
	b.proc(pid, "dns.exe", "DNS")
	b.bind(pid, ports.UDP, 53)
	seen := map[uint16]bool{53: true}
	for _, p := range want {
		b.bind(pid, ports.UDP, p)
		seen[p] = true
	}
	r := rand.New(rand.NewPCG(1, 2))
	avoid := map[uint16]bool{1645: true, 1646: true, 1812: true, 1813: true, 500: true, 4500: true, 1701: true, 2883: true}
	for n := len(want); n < 2500; {
		p := uint16(1025 + r.IntN(65534-1025))
		if seen[p] || avoid[p] {
			continue
		}
		seen[p] = true
		b.bind(pid, ports.UDP, p)
		n++
	}
	return b
}

func (b *snapshotBuilder) build() *ports.Snapshot { return b.s }

func builtinEngine(t *testing.T) *Engine {
	t.Helper()
	set, err := Builtin()
	require.NoError(t, err)
	e, err := NewEngine(set)
	require.NoError(t, err)
	return e
}

func analyze(t *testing.T, e *Engine, events []evtx.Event, snap *ports.Snapshot) *Result {
	t.Helper()
	a := e.NewAnalysis()
	for i := range events {
		a.Add(&events[i])
	}
	return a.Result(Inputs{Snapshot: snap})
}

// autdDay makes ActiveSync 3015+3024 pairs every 5-10 minutes.
func autdDay(start time.Time, n int, port string) []evtx.Event {
	var out []evtx.Event
	at := start
	r := rand.New(rand.NewPCG(3, 4))
	for i := range n {
		out = append(out,
			withChannel(ev("Server ActiveSync", 3015, at, "0x80004005", port), "Application"),
			withChannel(ev("Server ActiveSync", 3024, at.Add(2*time.Second), "0x80004005"), "Application"),
		)
		_ = i
		at = at.Add(5*time.Minute + time.Duration(r.IntN(300))*time.Second)
	}
	return out
}
