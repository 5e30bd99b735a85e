package ports

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

func addCaptureSeeds(f *testing.F) {
	for _, s := range []string{netstat2003, netstatGerman, netstatOwners2019, netstatOwnersGerman, netstatOwners2003, psUDPRaw, psTCPRaw, systeminfo2003, systeminfoGerman} {
		f.Add(crlf(s))
	}
	f.Add(utf16le(netstatGerman, true))
	f.Add(utf16le(psUDPRaw, false))
	for _, name := range []string{"tasklist-svc.csv", "tasklist.csv", "reg-tcpip.txt", "reg-dns.txt", "ver.txt", "info.txt", "processes.txt"} {
		if b, err := os.ReadFile(filepath.Join("testdata", "sbs2003", name)); err == nil {
			f.Add(b)
		}
	}
	for _, name := range []string{"netsh-dynamicport.txt", "netsh-excludedportrange.txt"} {
		if b, err := os.ReadFile(filepath.Join("testdata", "server2019", name)); err == nil {
			f.Add(b)
		}
	}
}

// FuzzParseCapture: any input is either no capture or a capture whose
// problems name the file; nothing panics, and Sniff agrees with the loader.
func FuzzParseCapture(f *testing.F) {
	addCaptureSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		kind := Sniff(data)
		snap, facts, probs, err := ParseCapture("fuzz.txt", bytes.NewReader(data))
		if kind == KindUnknown && len(data) <= SniffLen {
			if !errors.Is(err, ErrNoCaptures) {
				t.Fatalf("Sniff says unknown, loader says %v", err)
			}
		}
		if err == nil && len(facts.Captures) != 1 {
			t.Fatalf("one file, %d captures", len(facts.Captures))
		}
		if len(probs) > maxProblemsPerFile+2 {
			t.Fatalf("%d problems for one file", len(probs))
		}
		for _, p := range probs {
			var pe *ParseError
			if !errors.As(p, &pe) || pe.File != "fuzz.txt" {
				t.Fatalf("problem does not name the file: %v", p)
			}
		}
		for _, b := range snap.Bindings {
			if b.Protocol != TCP && b.Protocol != UDP {
				t.Fatalf("binding with protocol %q", b.Protocol)
			}
			if !b.Addr.IsValid() {
				t.Fatalf("binding without address: %+v", b)
			}
		}
		// Rendering and auditing whatever came out must not panic either.
		var out bytes.Buffer
		_ = NewPortsReport(snap, 0).WriteText(&out)
		_ = Audit(snap, facts, AuditOptions{}).WriteText(&out)
	})
}

func FuzzDecodeText(f *testing.F) {
	f.Add([]byte("plain"))
	f.Add(utf16le("Aktive Verbindungen", true))
	f.Add(utf16le("x", false))
	f.Add([]byte{0xEF, 0xBB, 0xBF, 'a'})
	f.Add([]byte{0xFE, 0xFF, 0, 'a'})
	f.Add([]byte("ABH\x99REN"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if s := decodeText(data); !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 from %q", data)
		}
	})
}

func FuzzProcNetAndOwnerTables(f *testing.F) {
	f.Add([]byte("  sl  local_address\n   0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 23456 1\n"))
	f.Add(table(cat(dword(2), []byte{0, 0, 0, 0}, portDWORD(135), []byte{0, 0, 0, 0}, portDWORD(0), dword(904))))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = parseProcNet(data, TCP, func(Binding, uint64) {})
		_ = parseProcNet(data, UDP, func(Binding, uint64) {})
		for _, dec := range []func([]byte) ([]Binding, error){decodeTCP4Table, decodeTCP6Table, decodeUDP4Table, decodeUDP6Table} {
			_, _ = dec(data)
		}
		_, _ = socketInode(data)
	})
}
