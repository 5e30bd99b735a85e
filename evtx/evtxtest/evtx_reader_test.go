package evtxtest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx"
)

// --- evtwatch's own reader ---

func readEvtwatch(t *testing.T, path string) ([]record, []evtx.Problem) {
	t.Helper()
	r, err := evtx.Open(path, evtx.Options{})
	require.NoError(t, err)
	defer r.Close()
	require.Equal(t, evtx.FormatEVTX, r.Format())
	var out []record
	for ev, err := range evtx.All(t.Context(), r) {
		require.NoError(t, err)
		require.Equal(t, path, ev.Origin.Path)
		require.Equal(t, evtx.FormatEVTX, ev.Origin.Format)
		require.Positive(t, ev.Origin.Offset)
		out = append(out, eventRecord(ev))
	}
	return out, r.Problems()
}

func eventRecord(ev *evtx.Event) record {
	return record{
		Provider: ev.Provider, ProviderGUID: ev.ProviderGUID, Source: ev.Source,
		EventID: ev.EventID, Qualifiers: ev.Qualifiers, HasQualifiers: ev.Qualifiers != 0,
		Version: ev.Version, Level: ev.Level, Task: ev.Task, Opcode: ev.Opcode, Keywords: ev.Keywords,
		Channel: ev.Channel, Computer: ev.Computer, RecordID: ev.RecordID, Time: ev.Time,
		UserSID: ev.UserSID, ActivityID: normGUID(ev.ActivityID), RelatedActivityID: normGUID(ev.RelatedActivityID),
		ProcessID: ev.ProcessID, ThreadID: ev.ThreadID, Data: ev.Data, Binary: ev.Binary,
	}
}

// forEvtwatch adjusts expectations to the event model: Source is empty when
// EventSourceName repeats the provider name.
func forEvtwatch(recs []record) []record {
	out := make([]record, len(recs))
	for i, r := range recs {
		if strings.EqualFold(r.Source, r.Provider) {
			r.Source = ""
		}
		out[i] = r
	}
	return out
}

// TestWriteEVTXThroughReader round-trips events through evtx.Open, the
// reader the rest of evtwatch uses.
func TestWriteEVTXThroughReader(t *testing.T) {
	events := append(sampleEvents(), manyEvents(300)...)
	for name, opts := range map[string]EVTXOptions{
		"default":               {},
		"classic data elements": {ClassicDataElements: true, RecordsPerChunk: 7},
		"stale dirty header":    {RecordsPerChunk: 40, HeaderChunks: 2, Dirty: true, EmptyChunks: 2},
	} {
		t.Run(name, func(t *testing.T) {
			path := writeTemp(t, events, opts)
			got, problems := readEvtwatch(t, path)
			require.Empty(t, problems)
			requireSame(t, "evtx.Open", forEvtwatch(expected(events)), got)
		})
	}
	t.Run("renumbered", func(t *testing.T) {
		events := manyEvents(20)
		for i := range events {
			events[i].RecordID = uint64(7000 + 3*i)
		}
		path := writeTemp(t, events, EVTXOptions{RenumberRecords: true})
		got, problems := readEvtwatch(t, path)
		require.Empty(t, problems)
		requireSame(t, "evtx.Open", forEvtwatch(expected(events)), got)
	})
}

// TestWriteEVTXDamageThroughReader: evtx.Open keeps going past each kind of
// damage the writer can make, reports it in the damaged chunk, and never
// drops an undecodable record silently.
func TestWriteEVTXDamageThroughReader(t *testing.T) {
	events := manyEvents(30) // 10 per chunk: records 1-10, 11-20, 21-30
	for _, kind := range []CorruptionKind{BadChunkMagic, BadChunkChecksum, BadRecordsChecksum, BadRecordBinXML, BadRecordSignature} {
		t.Run(kind.String(), func(t *testing.T) {
			path := writeTemp(t, events, EVTXOptions{RecordsPerChunk: 10, Corrupt: []Corruption{{Chunk: 1, Record: 3, Kind: kind}}})
			r, err := evtx.Open(path, evtx.Options{})
			require.NoError(t, err)
			defer r.Close()
			ids := map[uint64]*evtx.Event{}
			for ev, err := range evtx.All(t.Context(), r) {
				require.NoError(t, err)
				ids[ev.RecordID] = ev
			}
			for id := uint64(1); id <= 30; id++ {
				if id <= 10 || id > 20 {
					require.Contains(t, ids, id, "records of the intact chunks are all read")
					require.Empty(t, ids[id].Err)
				}
			}
			for _, p := range r.Problems() {
				require.Equal(t, ChunkOffset(1), p.ChunkOffset, "problem %v", p)
				require.Equal(t, path, p.Path)
			}
			switch kind {
			case BadChunkMagic:
				require.NotEmpty(t, r.Problems())
			case BadRecordBinXML:
				require.Len(t, ids, 30)
				require.NotEmpty(t, ids[14].Err, "the undecodable record is emitted with an error")
				require.True(t, ids[14].Time.Equal(events[13].Time.Truncate(100)), "with the time from its header")
				require.NotEmpty(t, r.Problems())
			case BadRecordSignature:
				require.NotEmpty(t, r.Problems())
				require.NotContains(t, ids, uint64(14))
			}
		})
	}
}
