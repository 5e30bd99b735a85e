package evtx

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzEVTX feeds arbitrary bytes to the .evtx reader: whatever the input,
// it must not panic, crash (stack overflow, runaway allocation) or loop,
// and what it returns must be consistent. Seeds are the starts of small
// public samples (from ../shared, when present) and copies with damaged
// headers; testdata/fuzz/FuzzEVTX keeps inputs that once broke the reader.
//
//	go test ./evtx -run '^$' -fuzz '^FuzzEVTX$' -fuzztime 60s -fuzzminimizetime 5s
func FuzzEVTX(f *testing.F) {
	quietEVTXLibrary(f)
	dir := filepath.Join("..", "..", "shared", "testdata", "evtx-public")
	for _, name := range []string{
		"ID150-Failed DLL loaded by DNS server.evtx",
		"ID6004-DNS-server-failed zone transfer.evtx",
		"security_sample.evtx",
		"dns_log_malformed.evtx",
		"MSExchange_Management_wec.evtx",
		"MSSQL_multiple_failed_logon_EventID_18456.evtx", // classic events: string arrays
		"disablestop-eventlog.evtx",                      // UserData
	} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue // the shared corpus is optional; committed seeds remain
		}
		// Whole files make slow inputs, and the fuzzer spends its time
		// minimising them: seed with the header and the first records of
		// the first chunk, the part that matters for the parser.
		small := bytes.Clone(data[:min(len(data), evtxFileHeaderSize+5000)])
		f.Add(small)
		dirty := bytes.Clone(small)
		dirty[120] |= 1                               // dirty flag
		binary.LittleEndian.PutUint32(dirty[124:], 0) // header CRC
		f.Add(dirty)
		noFree := bytes.Clone(small)
		binary.LittleEndian.PutUint32(noFree[evtxFileHeaderSize+48:], 0xffffffff)
		f.Add(noFree)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := newEVTXReader(bytes.NewReader(data), int64(len(data)), nil, "fuzz.evtx", Options{})
		if err != nil {
			t.Fatalf("open: %v", err) // only I/O errors are errors, and there are none
		}
		// A chunk holds at most 64 KiB / 28 bytes records.
		limit := (len(data)/evtxChunkSize + 1) * (evtxChunkSize / evtxMinRecordSize)
		n := 0
		for {
			ev, err := r.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("next: %v", err)
			}
			if n++; n > limit {
				t.Fatalf("more than %d events from %d bytes", limit, len(data))
			}
			if ev.Origin.Offset < evtxFileHeaderSize || ev.Origin.Offset >= int64(len(data)) || ev.Origin.Format != FormatEVTX {
				t.Fatalf("bad origin %+v", ev.Origin)
			}
			if ev.Err != "" && (ev.Provider != "" || len(ev.Data) > 0) {
				t.Fatalf("event with error %q carries decoded fields", ev.Err)
			}
		}
		for _, p := range r.Problems() {
			if p.Path != "fuzz.evtx" || p.Err == nil || p.Offset < 0 || p.Offset > int64(len(data)) {
				t.Fatalf("bad problem %+v", p)
			}
			_ = p.Error()
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	})
}
