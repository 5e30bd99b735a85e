package evtx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzEVTXFastHeader checks the fast path against full decoding on
// arbitrary input: it must never panic (readHeader runs here without the
// recover that guards it in the reader), and wherever it reads a record's
// header and golang-evtx decodes the record, every field it claims must
// equal the decoded event's, or a filter could drop a record full decoding
// would keep. Seeds are the starts of small public samples.
//
//	go test ./evtx -run '^$' -fuzz '^FuzzEVTXFastHeader$' -fuzztime 60s
func FuzzEVTXFastHeader(f *testing.F) {
	quietEVTXLibrary(f)
	dir := filepath.Join("..", "..", "shared", "testdata", "evtx-public")
	for _, name := range []string{
		"ID150-Failed DLL loaded by DNS server.evtx",
		"security_sample.evtx",
		"MSSQL_multiple_failed_logon_EventID_18456.evtx", // classic events: EventData as BinXML
		"disablestop-eventlog.evtx",                      // UserData
		"HTTP_Server.evtx",
	} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		f.Add(bytes.Clone(data[:min(len(data), evtxFileHeaderSize+6000)]))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Every record slot, straight through readHeader.
		for off := evtxFileHeaderSize; off < len(data); off += evtxChunkSize {
			chunk := data[off:min(off+evtxChunkSize, len(data))]
			v := &evtxView{b: make([]byte, evtxChunkSize), avail: len(chunk), loaded: evtxAllLoaded}
			copy(v.b, chunk)
			s := newFastState()
			for pos := evtxChunkHeaderSize; pos+evtxRecordHeaderSize <= len(chunk); {
				h, ok := evtxRecordHeader(chunk[pos:])
				if !ok {
					break
				}
				s.readHeader(v, pos, h)
				pos += int(h.size)
			}
		}

		// Through the reader: fast header against the decoded event.
		var calls []Header
		r, err := newEVTXReader(bytes.NewReader(data), int64(len(data)), nil, "fuzz.evtx", Options{Filter: Filter{Keep: func(h Header) bool {
			calls = append(calls, h)
			return true
		}}})
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < 100000; n++ {
			calls = calls[:0]
			before := r.fastRead
			ev, err := r.Next(context.Background())
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.fastRead == before || ev.Err != "" || len(calls) != 2 {
				continue
			}
			fh := calls[0]
			switch {
			case fh.RecordID != ev.RecordID:
				t.Fatalf("record at %d: fast record ID %d, decoded %d", ev.Origin.Offset, fh.RecordID, ev.RecordID)
			case !fh.Time.Equal(ev.Time):
				t.Fatalf("record at %d: fast time %v, decoded %v", ev.Origin.Offset, fh.Time, ev.Time)
			case fh.Provider != "" && (fh.Provider != ev.Provider || fh.Source != ev.Source):
				t.Fatalf("record at %d: fast provider %q/%q, decoded %q/%q", ev.Origin.Offset, fh.Provider, fh.Source, ev.Provider, ev.Source)
			case fh.EventID != 0 && fh.EventID != ev.EventID:
				t.Fatalf("record at %d: fast EventID %d, decoded %d", ev.Origin.Offset, fh.EventID, ev.EventID)
			case fh.Channel != "" && fh.Channel != ev.Channel:
				t.Fatalf("record at %d: fast channel %q, decoded %q", ev.Origin.Offset, fh.Channel, ev.Channel)
			}
		}
		t.Fatal("no end of input after 100000 records")
	})
}
