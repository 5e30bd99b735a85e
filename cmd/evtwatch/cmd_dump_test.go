package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/evtx/evtxtest"
)

// dumpEvents are three events as the seed's logs hold them.
func dumpEvents() []evtx.Event {
	at := time.Date(2009, 1, 13, 8, 2, 40, 0, time.UTC)
	return []evtx.Event{
		{Provider: "Server ActiveSync", EventID: 3015, Qualifiers: 0xC000, Level: evtx.LevelError, Channel: "Application", Computer: "SBS01",
			RecordID: 48215, Time: at, Data: []evtx.Data{{Value: "0x80004005"}, {Value: "2883"}}},
		{Provider: "Service Control Manager", EventID: 7023, Qualifiers: 0xC000, Level: evtx.LevelError, Channel: "System", Computer: "SBS01",
			RecordID: 48216, Time: at.Add(time.Minute), Data: []evtx.Data{{Name: "param1", Value: "IPSEC Services"}, {Name: "param2", Value: "%%10048"}}},
		{Provider: "Service Control Manager", EventID: 7036, Level: evtx.LevelInformation, Channel: "System", Computer: "SBS01",
			RecordID: 48217, Time: at.Add(2 * time.Minute), Data: []evtx.Data{{Name: "param1", Value: "DNS Server"}, {Name: "param2", Value: "running"}}},
	}
}

// dumpLine is the part of a JSONL line the issue specifies.
type dumpLine struct {
	Provider string `json:"provider"`
	EventID  int    `json:"event_id"`
	Level    int    `json:"level"`
	RecordID uint64 `json:"record_id"`
	Time     string `json:"time"`
	Computer string `json:"computer"`
	Channel  string `json:"channel"`
	Data     []struct {
		Name  *string `json:"name"`
		Value string  `json:"value"`
	} `json:"data"`
	Message *string `json:"message"`
	Error   string  `json:"error"`
}

func parseDump(t *testing.T, out string) []dumpLine {
	t.Helper()
	var lines []dumpLine
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		var d dumpLine
		require.NoError(t, json.Unmarshal([]byte(l), &d), l)
		lines = append(lines, d)
	}
	return lines
}

// TestDumpJSONL: one line per event with the keys the issue names, data in
// stored order (named in .evtx, unnamed insertion strings in .evt), times
// in RFC 3339 UTC; the same events through both binary writers.
func TestDumpJSONL(t *testing.T) {
	dir := t.TempDir()
	evs := dumpEvents()
	require.NoError(t, evtxtest.WriteEVTXFile(filepath.Join(dir, "System.evtx"), evs, evtxtest.EVTXOptions{}))
	legacy := dumpEvents()
	for i := range legacy {
		for j := range legacy[i].Data {
			legacy[i].Data[j].Name = ""
		}
	}
	require.NoError(t, evtxtest.WriteEVTFile(filepath.Join(dir, "SysEvent.Evt"), legacy, evtxtest.EVTOptions{}))

	for _, name := range []string{"System.evtx", "SysEvent.Evt"} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runForTest(t, "dump", filepath.Join(dir, name))
			require.Equal(t, exitOK, code, errOut)
			require.Empty(t, errOut)
			lines := parseDump(t, out)
			require.Len(t, lines, 3)
			for i, l := range lines {
				want := evs[i]
				require.Equal(t, want.Provider, l.Provider)
				require.EqualValues(t, want.EventID, l.EventID)
				require.EqualValues(t, want.Level, l.Level)
				require.Equal(t, want.RecordID, l.RecordID)
				require.Equal(t, want.Time.Format(time.RFC3339), l.Time)
				require.Equal(t, "SBS01", l.Computer)
				require.Nil(t, l.Message, "binary logs carry no rendered message")
				require.Empty(t, l.Error)
				require.Len(t, l.Data, len(want.Data))
				for j, d := range l.Data {
					require.Equal(t, want.Data[j].Value, d.Value)
					if name == "System.evtx" && want.Data[j].Name != "" {
						require.NotNil(t, d.Name)
						require.Equal(t, want.Data[j].Name, *d.Name)
					} else if name == "SysEvent.Evt" {
						require.Nil(t, d.Name, "insertion strings have no name: position N is %%N")
					}
				}
			}
			require.Equal(t, "System", lines[1].Channel)
		})
	}

	// An Event Viewer text export carries the rendered message.
	code, out, errOut := runForTest(t, "dump", filepath.Join(repoRoot, "evtx", "testdata", "export", "sbs2003-system.txt"))
	require.Equal(t, exitOK, code, errOut)
	lines := parseDump(t, out)
	require.NotEmpty(t, lines)
	require.NotNil(t, lines[0].Message)
	require.Contains(t, *lines[0].Message, "DNS Server")
	require.NotNil(t, lines[0].Data, `"data" is an array even when empty`)
}

// TestDumpCSV: a header, then one record per event, in file order.
func TestDumpCSV(t *testing.T) {
	path := filepath.Join(t.TempDir(), "System.evtx")
	require.NoError(t, evtxtest.WriteEVTXFile(path, dumpEvents(), evtxtest.EVTXOptions{}))
	code, out, errOut := runForTest(t, "dump", "--format", "csv", path)
	require.Equal(t, exitOK, code, errOut)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 4)
	require.Equal(t, []string{"time", "record_id", "provider", "source", "event_id", "level", "channel", "computer", "user_sid", "data", "message", "path", "error"}, rows[0])
	require.Equal(t, "2009-01-13T08:03:40Z", rows[2][0])
	require.Equal(t, "48216", rows[2][1])
	require.Equal(t, "7023", rows[2][4])
	require.Equal(t, "param1=IPSEC Services | param2=%%10048", rows[2][9])
}

// TestDumpDamage: damage is reported on stderr with file and offset, the
// rest is still printed, a record golang-evtx cannot decode is printed with
// its header fields and an "error" key, and the exit status is 3.
func TestDumpDamage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "System.evtx")
	var evs []evtx.Event
	for i := range 6 {
		ev := dumpEvents()[2]
		ev.RecordID = uint64(100 + i)
		ev.Time = ev.Time.Add(time.Duration(i) * time.Minute)
		evs = append(evs, ev)
	}
	require.NoError(t, evtxtest.WriteEVTXFile(path, evs, evtxtest.EVTXOptions{
		RecordsPerChunk: 3,
		Corrupt: []evtxtest.Corruption{
			{Chunk: 0, Record: 1, Kind: evtxtest.BadRecordBinXML},
			{Chunk: 1, Kind: evtxtest.BadChunkMagic},
		},
	}))
	code, out, errOut := runForTest(t, "dump", path)
	require.Equal(t, exitPartial, code, errOut)
	lines := parseDump(t, out)
	require.Len(t, lines, 3, "the first chunk's three records, one of them partly decoded")
	require.Equal(t, uint64(101), lines[1].RecordID)
	require.NotEmpty(t, lines[1].Error)
	require.Equal(t, "2009-01-13T08:05:40Z", lines[1].Time, "the record header's time")
	require.Empty(t, lines[0].Error)
	require.Empty(t, lines[2].Error)
	require.Regexp(t, `(?m)^`+regexp.QuoteMeta(path)+`: chunk at offset 4096 \(0x1000\): offset \d+ \(0x[0-9a-f]+\): record 101: `, errOut)
	chunk1 := strconv.FormatInt(evtxtest.ChunkOffset(1), 10)
	require.Regexp(t, `(?m)^`+regexp.QuoteMeta(path)+`: offset `+chunk1+` \(0x[0-9a-f]+\): bad chunk signature`, errOut)

	// A folder: its files that are not logs are noted and skipped; that
	// alone does not make the run partial.
	good := filepath.Join(t.TempDir(), "logs")
	require.NoError(t, os.MkdirAll(good, 0o755))
	require.NoError(t, evtxtest.WriteEVTXFile(filepath.Join(good, "System.evtx"), dumpEvents(), evtxtest.EVTXOptions{}))
	require.NoError(t, os.WriteFile(filepath.Join(good, "notes.txt"), []byte("not a log\n"), 0o644))
	code, out, errOut = runForTest(t, "dump", good)
	require.Equal(t, exitOK, code, errOut)
	require.Len(t, parseDump(t, out), 3)
	require.Equal(t, filepath.Join(good, "notes.txt")+": skipped: not an event log\n", errOut)

	// Named on the command line, the same file is unreadable input: 3.
	code, _, errOut = runForTest(t, "dump", filepath.Join(good, "notes.txt"))
	require.Equal(t, exitPartial, code)
	require.Contains(t, errOut, "notes.txt: not an event log in a known format")
}
