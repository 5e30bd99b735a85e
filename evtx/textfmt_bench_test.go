package evtx

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/text/encoding/unicode"
)

// synthesize repeats a fixture until the input is at least size bytes, so
// benchmarks measure steady-state throughput rather than start-up. With
// header, the fixture's first line is written once.
func synthesize(b *testing.B, fixture string, size int, header bool) []byte {
	b.Helper()
	raw, err := os.ReadFile(fixture)
	if err != nil {
		b.Fatal(err)
	}
	raw = bytes.TrimPrefix(raw, []byte{0xEF, 0xBB, 0xBF})
	if !bytes.HasSuffix(raw, []byte("\n")) {
		raw = append(raw, '\n')
	}
	out := make([]byte, 0, size+len(raw))
	if header {
		i := bytes.IndexByte(raw, '\n') + 1
		out, raw = append(out, raw[:i]...), raw[i:]
	}
	for len(out) < size {
		out = append(out, raw...)
	}
	return out
}

func toUTF16LE(b *testing.B, in []byte) []byte {
	b.Helper()
	out, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes(in)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// drain reads every event of a reader built over input and reports
// events/s next to the MB/s that SetBytes gives.
func drain(b *testing.B, input []byte, open func(io.Reader) Reader) {
	b.Helper()
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	b.ResetTimer()
	var n int
	for b.Loop() {
		r := open(bytes.NewReader(input))
		for {
			_, err := r.Next(context.Background())
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if len(r.Problems()) > 0 {
			b.Fatal(r.Problems()[0])
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkXMLReader(b *testing.B) {
	input := synthesize(b, filepath.Join("testdata", "xml", "wevtutil-system.xml"), 8<<20, false)
	open := func(r io.Reader) Reader { return newXMLReader(r, nil, "bench", Options{}) }
	b.Run("utf8", func(b *testing.B) { drain(b, input, open) })
	b.Run("utf16le", func(b *testing.B) { drain(b, toUTF16LE(b, input), open) })
}

func BenchmarkParseEventXML(b *testing.B) {
	elem := []byte(scm7023)
	b.SetBytes(int64(len(elem)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseEventXML(elem); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTextReader(b *testing.B) {
	input := synthesize(b, filepath.Join("testdata", "export", "sbs2003-activesync-copy.txt"), 8<<20, false)
	open := func(r io.Reader) Reader { return newTextReader(r, nil, "bench", Options{}) }
	b.Run("utf8", func(b *testing.B) { drain(b, input, open) })
	b.Run("utf16le", func(b *testing.B) { drain(b, toUTF16LE(b, input), open) })
}

func BenchmarkCSVReader(b *testing.B) {
	open := func(r io.Reader) Reader { return newCSVReader(r, nil, "bench", Options{}) }
	b.Run("2003-csv", func(b *testing.B) {
		drain(b, synthesize(b, filepath.Join("testdata", "export", "sbs2003-application.csv"), 8<<20, false), open)
	})
	b.Run("2003-tab", func(b *testing.B) {
		drain(b, synthesize(b, filepath.Join("testdata", "export", "sbs2003-system.txt"), 8<<20, false), open)
	})
	input := synthesize(b, filepath.Join("testdata", "export", "server2008-system.csv"), 8<<20, true)
	b.Run("2008-csv", func(b *testing.B) { drain(b, input, open) })
	b.Run("2008-csv-utf16le", func(b *testing.B) { drain(b, toUTF16LE(b, input), open) })
}
