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
	"unicode/utf16"

	"github.com/stretchr/testify/require"
)

// FuzzEVT feeds arbitrary bytes to the .evt reader. It must never panic or
// loop, every event must point inside the file, and the only outcome is
// io.EOF. Seeds: the small shared samples plus the synthetic layouts in
// testdata/fuzz/FuzzEVT (wrapped, split record, dirty header, deleted
// records), written with evtxtest.
func FuzzEVT(f *testing.F) {
	if dir := filepath.Join("..", "..", "shared", "testdata", "evt-public"); dirExists(dir) {
		for _, name := range []string{"TestLog.evt", "TestLog-dirty.evt", "System.evt", "Security.evt", "Application.evt"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newEVTReader(bytes.NewReader(data), nil, int64(len(data)), "fuzz.evt", Options{})
		ctx := context.Background()
		// Every event consumes at least 4 bytes of the buffer.
		limit := len(data)/4 + 1
		n := 0
		for {
			ev, err := r.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			n++
			if n > limit {
				t.Fatalf("more than %d events from %d bytes", limit, len(data))
			}
			if ev.Origin.Offset < evtHeaderSize || ev.Origin.Offset >= int64(len(data)) {
				t.Fatalf("event at offset %d outside the buffer of %d bytes", ev.Origin.Offset, len(data))
			}
			if ev.Origin.Format != FormatEVT {
				t.Fatalf("format %q", ev.Origin.Format)
			}
		}
		for _, p := range r.Problems() {
			if p.Offset < -1 || p.Err == nil || p.Error() == "" {
				t.Fatalf("bad problem %#v", p)
			}
			// A person must find the place with a hex editor.
			if p.Offset > int64(len(data)) {
				t.Fatalf("problem at offset %d beyond the %d-byte file: %v", p.Offset, len(data), p)
			}
		}
		if _, err := r.Next(ctx); !errors.Is(err, io.EOF) {
			t.Fatalf("Next after EOF: %v", err)
		}
	})
}

func dirExists(dir string) bool {
	st, err := os.Stat(dir)
	return err == nil && st.IsDir()
}

// countingReaderAt counts what the reader asks of the file.
type countingReaderAt struct {
	r     io.ReaderAt
	bytes int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.bytes += int64(len(p))
	return c.r.ReadAt(p, off)
}

// hostileEVT is a 1 MiB log whose header and cursor say "empty" and whose
// dead space is packed with record headers 0x38 bytes apart that claim
// 16 KiB each: every one is a recovery candidate with an overwritten tail.
func hostileEVT() []byte {
	const size = 1 << 20
	b := make([]byte, size)
	le := binary.LittleEndian
	le.PutUint32(b[0:], evtHeaderSize)
	copy(b[4:], "LfLe")
	le.PutUint32(b[8:], 1)
	le.PutUint32(b[12:], 1)
	le.PutUint32(b[16:], evtHeaderSize)
	le.PutUint32(b[20:], evtHeaderSize)
	le.PutUint32(b[32:], size)
	le.PutUint32(b[44:], evtHeaderSize)
	eof := b[evtHeaderSize:]
	le.PutUint32(eof[0:], evtEOFSize)
	copy(eof[4:], evtEOFSignature)
	le.PutUint32(eof[20:], evtHeaderSize)
	le.PutUint32(eof[24:], evtHeaderSize)
	le.PutUint32(eof[28:], 1)
	le.PutUint32(eof[36:], evtEOFSize)
	for off := evtHeaderSize + evtEOFSize; off+evtRecordHeaderSize <= size; off += evtRecordHeaderSize {
		rec := b[off:]
		le.PutUint32(rec[0:], 16<<10)
		copy(rec[4:], "LfLe")
		le.PutUint32(rec[8:], uint32(off))
		le.PutUint32(rec[36:], evtRecordHeaderSize) // StringOffset
		le.PutUint32(rec[44:], evtRecordHeaderSize) // UserSidOffset
		le.PutUint32(rec[52:], evtRecordHeaderSize) // DataOffset
	}
	return b
}

// TestEVTHostileDeadSpaceIsBounded: candidates that do not advance the
// scan by their size must not make reading quadratic.
func TestEVTHostileDeadSpaceIsBounded(t *testing.T) {
	data := hostileEVT()
	src := &countingReaderAt{r: bytes.NewReader(data)}
	r := newEVTReader(src, nil, int64(len(data)), "hostile.evt", Options{})
	n := 0
	for {
		ev, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.True(t, ev.Recovered)
		n++
	}
	// The budget is 4 buffer sizes plus 1 MiB of 16 KiB candidates.
	t.Logf("%d recovered, %d bytes read, %d problems", n, src.bytes, len(r.Problems()))
	require.LessOrEqual(t, n, (4*len(data)+1<<20)/(16<<10)+1)
	require.LessOrEqual(t, src.bytes, int64(4*len(data)), "file bytes read")
	problems := r.Problems()
	require.NotEmpty(t, problems)
	require.ErrorContains(t, problems[len(problems)-1], "too many partly overwritten")
}

// TestEVTHostileCursorsAreBounded: a dirty log full of fake end-of-file
// records, each pointing its oldest-record offset far away.
func TestEVTHostileCursorsAreBounded(t *testing.T) {
	const size = 1 << 20
	data := make([]byte, size)
	le := binary.LittleEndian
	le.PutUint32(data[0:], evtHeaderSize)
	copy(data[4:], "LfLe")
	le.PutUint32(data[36:], evtFlagDirty)
	le.PutUint32(data[44:], evtHeaderSize)
	for off := evtHeaderSize; off+evtEOFSize <= size; off += evtEOFSize {
		c := data[off:]
		le.PutUint32(c[0:], evtEOFSize)
		copy(c[4:], evtEOFSignature)
		le.PutUint32(c[20:], uint32(size-off)&^3) // BeginRecord: far away
		le.PutUint32(c[24:], uint32(off))
		le.PutUint32(c[36:], evtEOFSize)
	}
	src := &countingReaderAt{r: bytes.NewReader(data)}
	r := newEVTReader(src, nil, size, "cursors.evt", Options{})
	for {
		_, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
	}
	require.LessOrEqual(t, src.bytes, int64(4*size), "file bytes read")
}

// FuzzEVTUTF16 checks the string decoder against unicode/utf16: same text
// (unpaired surrogates as U+FFFD), same end, for any bytes.
func FuzzEVTUTF16(f *testing.F) {
	for _, s := range []string{"Server ActiveSync\x00", "ü\x00", "😀x\x00", "\xd8\x3d", "\x3d\xd8\x41\x00", "\x00\xdc\x00\x00", "abc"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var units []uint16
		want := len(b)
		found := false
		for i := 0; i+1 < len(b); i += 2 {
			u := binary.LittleEndian.Uint16(b[i:])
			if u == 0 {
				want, found = i+2, true
				break
			}
			units = append(units, u)
		}
		got, next, ok := appendUTF16z(nil, b, 0)
		require.Equal(t, string(utf16.Decode(units)), string(got))
		require.Equal(t, found, ok)
		require.Equal(t, want, next)
		raw, next2, ok2 := utf16z(b, 0, len(b))
		require.Equal(t, string(got), string(appendUTF16(nil, raw)))
		require.Equal(t, next, next2)
		require.Equal(t, ok, ok2)
	})
}
