package evtx

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// readFileAfter reads path after pos through FileRead and returns the
// events, the new position and the reader.
func readFileAfter(t *testing.T, path string, pos FilePosition, opts Options) ([]*Event, FilePosition, *FileRead) {
	t.Helper()
	fr, err := OpenFileAfter(path, pos, time.Time{}, opts)
	require.NoError(t, err)
	t.Cleanup(func() { fr.Close() })
	var evs []*Event
	for {
		ev, err := fr.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		evs = append(evs, ev)
	}
	return evs, fr.Position(), fr
}

// TestFileReadKeepMovesPosition: records Filter.Keep rejects inside the
// reader are not returned, but the position moves past them exactly as if
// they had been read and dropped, so a scan with a header filter resumes
// where an unfiltered one would, and a caught-up read decodes nothing.
func TestFileReadKeepMovesPosition(t *testing.T) {
	quietEVTXLibrary(t)
	path := filepath.Join(evtxPublicDir(t), "plaso__System.evtx")
	all, end, _ := readFileAfter(t, path, FilePosition{}, Options{})
	require.Len(t, all, 5009)

	pick := all[10].EventID
	keep := func(h Header) bool { return h.EventID == 0 || h.EventID == pick }
	var want []uint64
	for _, ev := range all {
		if ev.EventID == pick {
			want = append(want, ev.RecordID)
		}
	}
	got, pos, fr := readFileAfter(t, path, FilePosition{}, Options{Filter: Filter{Keep: keep}})
	require.Equal(t, want, recordIDs(got))
	require.Equal(t, len(all), len(got)+fr.Filtered())
	require.Equal(t, end.Last.RecordID, pos.Last.RecordID)
	require.True(t, end.Last.Time.Equal(pos.Last.Time))
	require.Equal(t, end.Count, pos.Count)

	// From the middle: the same as reading everything after it.
	mid := FilePosition{File: end.File, Last: Position{RecordID: all[2500].RecordID, Time: all[2500].Time}, Count: 2501}
	rest, restPos, _ := readFileAfter(t, path, mid, Options{})
	got, pos, fr = readFileAfter(t, path, mid, Options{Filter: Filter{Keep: keep}})
	require.Equal(t, len(rest), len(got)+fr.Filtered())
	require.Equal(t, restPos.Last.RecordID, pos.Last.RecordID)
	require.Equal(t, restPos.Count, pos.Count)

	// Caught up: nothing returned, nothing decoded.
	got, pos, fr = readFileAfter(t, path, end, Options{Filter: Filter{Keep: keep}})
	require.Empty(t, got)
	require.Zero(t, fr.Filtered())
	require.Equal(t, end.Last.RecordID, pos.Last.RecordID)
	require.Zero(t, fr.r.(*evtxReader).decoded)
}

// renumberEVTX rewrites the record header IDs of an .evtx file to start at
// first, as "Save Filtered Log File As" and mkbig-evtx.py do, leaving the
// EventRecordIDs inside the records as they are, and fixes the chunk
// headers and CRCs.
func renumberEVTX(t *testing.T, data []byte, first uint64) []byte {
	t.Helper()
	out := append([]byte(nil), data...)
	le := binary.LittleEndian
	next := first
	for off := evtxFileHeaderSize; off+evtxChunkSize <= len(out); off += evtxChunkSize {
		c := out[off : off+evtxChunkSize]
		if string(c[:8]) != string(evtxChunkMagic) {
			continue
		}
		last, free := int(le.Uint32(c[44:])), int(le.Uint32(c[48:]))
		begin := next
		for p := evtxChunkHeaderSize; p <= last; {
			require.Equal(t, evtxRecordMagic, c[p:p+4])
			le.PutUint64(c[p+8:], next)
			next++
			p += int(le.Uint32(c[p+4:]))
		}
		for i, v := range []uint64{begin, next - 1, begin, next - 1} {
			le.PutUint64(c[8+8*i:], v)
		}
		le.PutUint32(c[52:], crc32.ChecksumIEEE(c[evtxChunkHeaderSize:free]))
		le.PutUint32(c[124:], evtxChunkHeaderCRC(c))
	}
	return out
}

// TestEVTXMinRecordIDUsesEventRecordIDs: MinRecordID means the records'
// EventRecordIDs, also when whole chunks are skipped by their header and
// last record, in a file whose record headers are numbered otherwise.
func TestEVTXMinRecordIDUsesEventRecordIDs(t *testing.T) {
	quietEVTXLibrary(t)
	src := filepath.Join(evtxPublicDir(t), "plaso__System.evtx")
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	orig, _ := readAllEVTX(t, src, Options{})
	for _, first := range []uint64{1, 1_000_000} {
		path := filepath.Join(t.TempDir(), "renumbered.evtx")
		require.NoError(t, os.WriteFile(path, renumberEVTX(t, data, first), 0o644))
		all, problems := readAllEVTX(t, path, Options{})
		require.Empty(t, problems)
		require.Equal(t, recordIDs(orig), recordIDs(all), "EventRecordIDs are the record IDs")
		for _, min := range []uint64{2, 4900, all[len(all)-1].RecordID, all[len(all)-1].RecordID + 1, 1_000_500} {
			var want []uint64
			for _, ev := range all {
				if ev.RecordID >= min {
					want = append(want, ev.RecordID)
				}
			}
			r, err := Open(path, Options{Filter: Filter{MinRecordID: min}})
			require.NoError(t, err)
			var got []*Event
			for ev, err := range All(context.Background(), r) {
				require.NoError(t, err)
				got = append(got, ev)
			}
			require.Equal(t, want, recordIDs(got), "renumbered from %d, MinRecordID %d", first, min)
			// Whole chunks before MinRecordID are skipped: only records of
			// the chunk holding it are decoded.
			require.LessOrEqual(t, r.(*evtxReader).decoded, len(want)+200)
			r.Close()
		}
	}
}
