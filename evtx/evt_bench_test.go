package evtx

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkEVTRead reads the largest shared .evt (2 MB, 6501 records, a
// wrapped dirty log with recovered records) end to end, decoding every
// record. MB/s is file bytes per second.
func BenchmarkEVTRead(b *testing.B) {
	benchmarkEVT(b, Options{})
}

// BenchmarkEVTReadFiltered is the bookmark fast path: every record is
// below MinRecordID, so none is decoded.
func BenchmarkEVTReadFiltered(b *testing.B) {
	benchmarkEVT(b, Options{Filter: Filter{MinRecordID: 1 << 40}})
}

// BenchmarkEVTReadKeep asks Keep about each record and keeps one source.
func BenchmarkEVTReadKeep(b *testing.B) {
	benchmarkEVT(b, Options{Filter: Filter{Keep: func(h Header) bool { return h.Provider == "Service Control Manager" }}})
}

func benchmarkEVT(b *testing.B, opts Options) {
	path := filepath.Join(sharedTestdata(b), "evt-public", "plaso__SysEvent.Evt")
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	ctx := context.Background()
	events := 0
	for b.Loop() {
		r, err := Open(path, opts)
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := r.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			events++
		}
		r.Close()
	}
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
}
