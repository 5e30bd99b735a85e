package evtx

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEVTXCopyCutAtChunkBoundary: a copy cut at a chunk boundary (or right
// after the file header) leaves no partial chunk to stumble on, yet most of
// the log is missing; the readers say so at the end of the file, from the
// file header's chunk count. A header that counts fewer chunks than the
// file holds is a stale one (a dirty log copied while in use): silent.
func TestEVTXCopyCutAtChunkBoundary(t *testing.T) {
	quietEVTXLibrary(t)
	fx := loadEVTXFixture(t, "HTTP_Server.evtx")
	require.EqualValues(t, 10, binary.LittleEndian.Uint16(fx.data[42:]), "the sample's header counts 10 chunks")
	chunks := func(n int) int64 { return evtxFileHeaderSize + int64(n)*evtxChunkSize }
	setCount := func(b []byte, n uint16, fixCRC bool) {
		binary.LittleEndian.PutUint16(b[42:], n)
		if fixCRC {
			binary.LittleEndian.PutUint32(b[124:], crc32.ChecksumIEEE(b[:120]))
		} else {
			binary.LittleEndian.PutUint32(b[124:], 0)
		}
	}
	tests := []struct {
		name   string
		size   int64
		header func(b []byte) // changes to the file header, if any
		msg    string         // "" for no problem
	}{
		{name: "only the file header", size: evtxFileHeaderSize,
			msg: "the copy looks truncated: the file header says 10 chunks, the file holds 0; the records of the other 10 are missing"},
		{name: "after two chunks", size: chunks(2),
			msg: "the copy looks truncated: the file header says 10 chunks, the file holds 2; the records of the other 8 are missing"},
		{name: "after nine chunks", size: chunks(9),
			msg: "the file header says 10 chunks, the file holds 9; the records of the other 1 are missing"},
		{name: "after the ten chunks the header counts", size: chunks(10)},
		{name: "stale header counts fewer chunks than the copy holds", size: chunks(4),
			header: func(b []byte) { setCount(b, 3, true) }},
		{name: "header with a bad CRC", size: chunks(2),
			header: func(b []byte) { setCount(b, 10, false) },
			msg:    "the file header (whose CRC does not match) says 10 chunks, the file holds 2;"},
		{name: "header counting no chunks", size: evtxFileHeaderSize,
			header: func(b []byte) { setCount(b, 0, true) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := bytes.Clone(fx.data[:tt.size])
			if tt.header != nil {
				tt.header(data)
			}
			path := writeTemp(t, data)
			want := without(fx.all, func(ev *Event) bool { return ev.Origin.Offset >= tt.size })
			for _, workers := range []int{0, 2} {
				var r Reader
				var err error
				if workers == 0 {
					r, err = Open(path, Options{})
				} else {
					r, err = OpenParallel(path, Options{}, workers)
				}
				require.NoError(t, err)
				evs := readAllReader(t, r)
				problems := r.Problems()
				require.NoError(t, r.Close())
				requireSameIDs(t, want, recordIDs(evs))
				if tt.msg == "" {
					require.Empty(t, problems, "workers %d", workers)
					continue
				}
				require.Len(t, problems, 1, "workers %d: %v", workers, problems)
				p := problems[0]
				require.Equal(t, Problem{Path: path, Offset: tt.size, ChunkOffset: -1}, Problem{Path: p.Path, Offset: p.Offset, ChunkOffset: p.ChunkOffset, RecordID: p.RecordID, Skipped: p.Skipped})
				require.ErrorContains(t, p, tt.msg)
			}
		})
	}
}
