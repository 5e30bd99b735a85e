//go:build linux

// Package benchcmp compares evtwatch's live port table with gopsutil's on
// the same machine. It is a separate module so gopsutil never enters
// evtwatch's go.mod; run it with
//
//	cd rules/ports/benchcmp && go test -bench . -benchtime 20x
package benchcmp

import (
	"context"
	"net"
	"syscall"
	"testing"

	"github.com/evtwatch/evtwatch/rules/ports"
	gnet "github.com/shirou/gopsutil/v4/net"
	"github.com/shirou/gopsutil/v4/process"
)

const sockets = 3000

func openSockets(b *testing.B) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if lim.Cur < sockets+256 {
		lim.Cur = min(sockets+256, lim.Max)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			b.Fatal(err)
		}
	}
	for range sockets {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
	}
}

// BenchmarkEvtwatchLive: sockets, owners, and each owner's image, path,
// start time and service.
func BenchmarkEvtwatchLive(b *testing.B) {
	openSockets(b)
	for b.Loop() {
		s, err := ports.Live(context.Background())
		if err != nil || len(s.Bindings) < sockets {
			b.Fatal(err)
		}
	}
}

// BenchmarkGopsutilAll is the brief's yardstick: net.Connections("all")
// (inet and unix sockets, owner PIDs, no process details).
func BenchmarkGopsutilAll(b *testing.B) {
	openSockets(b)
	for b.Loop() {
		c, err := gnet.Connections("all")
		if err != nil || len(c) < sockets {
			b.Fatal(err)
		}
	}
}

// BenchmarkGopsutilInet is the like-for-like table: inet sockets only.
func BenchmarkGopsutilInet(b *testing.B) {
	openSockets(b)
	for b.Loop() {
		c, err := gnet.Connections("inet")
		if err != nil || len(c) < sockets {
			b.Fatal(err)
		}
	}
}

// BenchmarkGopsutilInetWithProcesses adds what evtwatch also reports: the
// name, path and start time of every owner.
func BenchmarkGopsutilInetWithProcesses(b *testing.B) {
	openSockets(b)
	for b.Loop() {
		c, err := gnet.Connections("inet")
		if err != nil || len(c) < sockets {
			b.Fatal(err)
		}
		seen := map[int32]bool{}
		for _, s := range c {
			if s.Pid == 0 || seen[s.Pid] {
				continue
			}
			seen[s.Pid] = true
			p, err := process.NewProcess(s.Pid)
			if err != nil {
				continue
			}
			_, _ = p.Name()
			_, _ = p.Exe()
			_, _ = p.CreateTime()
		}
	}
}
