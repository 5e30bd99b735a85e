package evtx

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	goevtx "github.com/0xrawsec/golang-evtx/evtx"
	"github.com/stretchr/testify/require"
)

// TestEVTXFastValueString holds the fmt-free renderings to golang-evtx's
// own, over random values of every type they cover.
func TestEVTXFastValueString(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	edge := [][]byte{
		make([]byte, 16),
		bytes.Repeat([]byte{0xff}, 16),
		{0x80, 0, 0, 0, 0, 0, 0, 0x80, 0x7f, 0, 0, 0, 0, 0, 0, 0},
	}
	for i := range 2000 {
		raw := make([]byte, 16)
		if i < len(edge) {
			copy(raw, edge[i])
		} else {
			binary.LittleEndian.PutUint64(raw, rng.Uint64())
			binary.LittleEndian.PutUint64(raw[8:], rng.Uint64())
		}
		for _, v := range []goevtx.Value{
			&goevtx.ValueUInt8{}, &goevtx.ValueUInt16{}, &goevtx.ValueUInt32{}, &goevtx.ValueUInt64{},
			&goevtx.ValueInt8{}, &goevtx.ValueInt16{}, &goevtx.ValueInt32{}, &goevtx.ValueInt64{},
		} {
			require.NoError(t, v.(goevtx.Element).Parse(bytes.NewReader(raw)))
			got, ok := evtxFastValueString(v)
			require.True(t, ok)
			require.Equal(t, v.Repr(), got, "%T % x", v, raw)
		}
		var g goevtx.ValueGUID
		require.NoError(t, g.Parse(bytes.NewReader(raw)))
		require.Equal(t, g.String(), evtxGUIDString(g.Value().(goevtx.GUID)))

		// SID: revision, count, 6-byte authority, count sub-authorities.
		n := 1 + i%15 // golang-evtx cannot parse a SID without sub-authorities
		sid := append([]byte{raw[0], byte(n)}, raw[2:8]...)
		for range n {
			sid = binary.LittleEndian.AppendUint32(sid, rng.Uint32())
		}
		var s goevtx.ValueSID
		require.NoError(t, s.Parse(bytes.NewReader(sid)))
		got, ok := evtxFastValueString(&s)
		require.True(t, ok)
		require.Equal(t, s.String(), got)
	}
	_, ok := evtxFastValueString(&goevtx.ValueString{})
	require.False(t, ok)
}

func TestEVTXUTF16ToString(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	alphabet := []uint16{0, 0, 'a', 'Z', ' ', 0x7f, 0x80, 0xe9, 0x20ac, 0xd83d, 0xde00, 0xdc00, 0xd800, 0xfffd}
	for i := range 5000 {
		u := make(goevtx.UTF16String, i%40)
		for j := range u {
			if rng.IntN(3) == 0 {
				u[j] = alphabet[rng.IntN(len(alphabet))]
			} else {
				u[j] = uint16('a' + rng.IntN(26))
			}
		}
		require.Equal(t, u.ToString(), evtxUTF16ToString(u), "%x", []uint16(u))
	}
}
