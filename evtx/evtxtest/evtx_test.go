package evtxtest

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	goevtx "github.com/0xrawsec/golang-evtx/evtx"
	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx"
)

var t0 = time.Date(2024, 3, 1, 10, 0, 0, 123456700, time.UTC)

// sampleEvents covers the shapes later tests need: classic sources with
// unnamed insertion strings and qualifiers, manifest providers with named
// data and EventSourceName, binary data, empty event data, non-ASCII and
// XML-special text, long strings and every System field.
func sampleEvents() []evtx.Event {
	long := strings.Repeat("0123456789abcdef", 200) // 3200 characters
	return []evtx.Event{
		{ // SCM: a service failed to start because its port was taken.
			Provider: "Service Control Manager", ProviderGUID: "{555908d1-a6d7-4695-8e1e-26931d2012f4}",
			Source: "Service Control Manager", EventID: 7023, Qualifiers: 0xC000, Level: evtx.LevelError,
			Keywords: 0x8080000000000000, Channel: "System", Computer: "SBS01.contoso.local",
			Time: t0, ProcessID: 612, ThreadID: 700, UserSID: "S-1-5-18",
			Data:   []evtx.Data{{Name: "param1", Value: "Internet Authentication Service"}, {Name: "param2", Value: "%%10048"}},
			Binary: []byte{0x49, 0x00, 0x41, 0x00, 0x53, 0x00, 0x00, 0x00},
		},
		{ // Exchange ActiveSync, a classic source: unnamed insertion strings.
			Provider: "MSExchangeSync", EventID: 3015, Qualifiers: 0xC000, Level: evtx.LevelError,
			Keywords: evtx.KeywordClassic, Channel: "Application", Computer: "SBS01.contoso.local",
			Time: t0.Add(5 * time.Minute),
			Data: []evtx.Data{{Value: "2883"}, {Value: ""}, {Value: "UDP"}},
		},
		{ // HTTP.sys could not bind.
			Provider: "Microsoft-Windows-HttpEvent", ProviderGUID: "{7B6BC78C-898B-4170-BBF8-1A469EA43FC5}",
			Source: "HTTP", EventID: 15005, Qualifiers: 0xC000, Level: evtx.LevelError,
			Keywords: evtx.KeywordClassic, Channel: "System", Computer: "WEB01",
			Time: t0.Add(6 * time.Minute), ProcessID: 4, ThreadID: 88,
			Data:   []evtx.Data{{Name: "DeviceObject", Value: `\Device\Http\ReqQueue`}, {Name: "Address", Value: "0.0.0.0:443"}},
			Binary: []byte{0x00, 0x00, 0x04, 0x00, 0x02, 0x00, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x9D, 0x3A, 0x00, 0xC0},
		},
		{ // DNS: a socket could not be opened; the Winsock error is in the binary data.
			Provider: "Microsoft-Windows-DNS-Server-Service", ProviderGUID: "{71A551F5-C893-4849-886B-B5EC8502641E}",
			Source: "DNS", EventID: 407, Qualifiers: 0xC000, Level: evtx.LevelError, Keywords: 0x8000000000000000,
			Channel: "DNS Server", Computer: "DC01.contoso.local", Time: t0.Add(7 * time.Minute),
			ProcessID: 1740, ThreadID: 2044, UserSID: "S-1-5-18",
			Data:   []evtx.Data{{Name: "param1", Value: "192.168.1.10"}},
			Binary: []byte{0x40, 0x27, 0x00, 0x00}, // WSAEADDRINUSE (10048)
		},
		{ // Nothing in EventData, and no qualifiers.
			Provider: "Microsoft-Windows-Kernel-General", ProviderGUID: "{A68CA8B7-004F-D7B6-A698-07E2DE0F1F5D}",
			EventID: 12, Version: 1, Level: evtx.LevelInformation, Task: 1, Opcode: 2, Keywords: 0x8000000000000080,
			Channel: "System", Computer: "SBS01.contoso.local", Time: t0.Add(8 * time.Minute), ProcessID: 4, ThreadID: 8,
			UserSID: "S-1-5-21-3623811015-3361044348-30300820-1013",
		},
		{ // Unicode, XML-special characters, line breaks, correlation IDs.
			Provider: "Vendor-App", EventID: 1000, Level: evtx.LevelWarning, Channel: "Application", Computer: "PC-é",
			Time:       t0.Add(9 * time.Minute),
			ActivityID: "{11111111-2222-3333-4444-555555555555}", RelatedActivityID: "{AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}",
			Data: []evtx.Data{
				{Name: "User", Value: "José Müller 中文 😀"},
				{Name: "Query", Value: `a < b && c > "d" 'e'`},
				{Name: "Lines", Value: "first line\r\nsecond line\n\tindented"},
				{Name: "Spaces", Value: "  padded  "},
				{Name: "Empty", Value: ""},
			},
		},
		{ // A long insertion string.
			Provider: "Vendor-App", EventID: 1001, Level: evtx.LevelError, Channel: "Application", Computer: "PC-é",
			Time: t0.Add(10 * time.Minute), Data: []evtx.Data{{Name: "Trace", Value: long}, {Name: "After", Value: "tail"}},
		},
		{ // Classic event with binary data only.
			Provider: "Tcpip", EventID: 4227, Qualifiers: 0x8000, Level: evtx.LevelWarning, Keywords: evtx.KeywordClassic,
			Channel: "System", Computer: "SBS01.contoso.local", Time: t0.Add(11 * time.Minute),
			Binary: []byte{0xde, 0xad, 0xbe, 0xef},
		},
		{ // Audit event: level 0, audit keyword, explicit record ID gap.
			Provider: "Microsoft-Windows-Security-Auditing", ProviderGUID: "{54849625-5478-4994-A5BA-3E3B0328C30D}",
			EventID: 4625, Level: evtx.LevelLogAlways, Task: 12544, Keywords: evtx.KeywordAuditFailure,
			Channel: "Security", Computer: "DC01.contoso.local", Time: t0.Add(12 * time.Minute), RecordID: 5000,
			ProcessID: 640, ThreadID: 3300,
			Data: []evtx.Data{{Name: "TargetUserName", Value: "administrator"}, {Name: "IpAddress", Value: "203.0.113.9"}, {Name: "IpPort", Value: "49812"}},
		},
		{ // Same shape as the SCM event: reuses its templates.
			Provider: "Service Control Manager", ProviderGUID: "{555908d1-a6d7-4695-8e1e-26931d2012f4}",
			Source: "Service Control Manager", EventID: 7023, Qualifiers: 0xC000, Level: evtx.LevelError,
			Keywords: 0x8080000000000000, Channel: "System", Computer: "SBS01.contoso.local",
			Time: t0.Add(13 * time.Minute), ProcessID: 612, ThreadID: 704, UserSID: "S-1-5-18",
			Data:   []evtx.Data{{Name: "param1", Value: "Routing and Remote Access"}, {Name: "param2", Value: "%%10048"}},
			Binary: []byte{0x52, 0x00, 0x00, 0x00},
		},
	}
}

// manyEvents returns n events cycling through a few shapes, enough for
// several chunks.
func manyEvents(n int) []evtx.Event {
	events := make([]evtx.Event, n)
	for i := range events {
		ev := evtx.Event{
			Provider: "MSExchangeSync", EventID: 3015, Qualifiers: 0xC000, Level: evtx.LevelError,
			Keywords: evtx.KeywordClassic, Channel: "Application", Computer: "SBS01.contoso.local",
			Time: t0.Add(time.Duration(i) * 7 * time.Minute), ProcessID: uint32(1000 + i%7),
			Data: []evtx.Data{{Value: strconv.Itoa(2500 + i%100)}, {Value: "UDP"}},
		}
		switch i % 4 {
		case 1:
			ev.Provider, ev.ProviderGUID, ev.Source = "Microsoft-Windows-IAS", "{5C5E9F6C-8A9B-4C9B-9F3F-2D4E1A0B6C7D}", "IAS"
			ev.EventID, ev.Qualifiers, ev.Channel = 4400, 0, "System"
			ev.Data = []evtx.Data{{Name: "Port", Value: strconv.Itoa(1812 + i%2)}, {Name: "Protocol", Value: "UDP"}}
		case 2:
			ev.Provider, ev.ProviderGUID, ev.Source = "Microsoft-Windows-DNS-Server-Service", "{71A551F5-C893-4849-886B-B5EC8502641E}", "DNS"
			ev.EventID, ev.Channel = 407, "DNS Server"
			ev.Data = []evtx.Data{{Name: "param1", Value: fmt.Sprintf("10.0.%d.%d", i/256%256, i%256)}}
			ev.Binary = binary.LittleEndian.AppendUint32(nil, 10048)
		case 3:
			ev.Provider, ev.Qualifiers, ev.Level, ev.Keywords = "EventLog", 0x8000, evtx.LevelInformation, evtx.KeywordClassic
			ev.EventID, ev.Channel = 6013, "System"
			ev.Data = []evtx.Data{{Value: strconv.Itoa(i * 60)}, {Value: "60"}, {Value: "480 Pacific Standard Time"}}
		}
		events[i] = ev
	}
	return events
}

// record is what a reader gave back for one event, in comparable form.
type record struct {
	Provider, ProviderGUID, Source string
	EventID, Qualifiers            uint16
	HasQualifiers                  bool
	Version                        uint8
	Level                          evtx.Level
	Task                           uint16
	Opcode                         uint8
	Keywords                       uint64
	Channel, Computer              string
	RecordID                       uint64
	Time                           time.Time
	UserSID                        string
	ActivityID, RelatedActivityID  string
	ProcessID, ThreadID            uint32
	Data                           []evtx.Data
	Binary                         []byte
	// headerID is the record header's ID, when the reader reports it; not
	// compared by requireSame.
	headerID uint64
}

// expected is what a correct reader returns for events written with
// WriteEVTX: record IDs assigned, times cut to 100 ns, GUIDs in the
// "{UPPER}" form readers render GUID values in.
func expected(events []evtx.Event) []record {
	out := make([]record, len(events))
	var last uint64
	for i, ev := range events {
		id := ev.RecordID
		if id == 0 {
			id = last + 1
		}
		last = id
		r := record{
			Provider: ev.Provider, ProviderGUID: ev.ProviderGUID, Source: ev.Source,
			EventID: ev.EventID, Qualifiers: ev.Qualifiers, HasQualifiers: ev.Qualifiers != 0,
			Version: ev.Version, Level: ev.Level, Task: ev.Task, Opcode: ev.Opcode, Keywords: ev.Keywords,
			Channel: ev.Channel, Computer: ev.Computer, RecordID: id, Time: ev.Time.Truncate(100).UTC(),
			UserSID: ev.UserSID, ActivityID: normGUID(ev.ActivityID), RelatedActivityID: normGUID(ev.RelatedActivityID),
			ProcessID: ev.ProcessID, ThreadID: ev.ThreadID, Data: ev.Data, Binary: ev.Binary,
		}
		out[i] = r
	}
	return out
}

func normGUID(s string) string {
	if s == "" {
		return ""
	}
	return "{" + strings.ToUpper(strings.Trim(s, "{}")) + "}"
}

func writeTemp(t *testing.T, events []evtx.Event, opts EVTXOptions) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.evtx")
	require.NoError(t, WriteEVTXFile(path, events, opts))
	return path
}

// requireSame compares field by field so a failure names the record and
// the field, without dumping whole records.
func requireSame(t *testing.T, reader string, want, got []record) {
	t.Helper()
	require.Len(t, got, len(want), "%s: record count", reader)
	for i := range want {
		if diff := recordDiff(want[i], got[i]); diff != "" {
			t.Fatalf("%s: record %d (ID %d): %s", reader, i, want[i].RecordID, diff)
		}
	}
}

func recordDiff(w, g record) string {
	short := func(v any) string {
		s := fmt.Sprintf("%q", fmt.Sprint(v))
		if len(s) > 120 {
			s = s[:60] + "..." + s[len(s)-40:]
		}
		return s
	}
	var diffs []string
	field := func(name string, a, b any) {
		if fmt.Sprintf("%#v", a) != fmt.Sprintf("%#v", b) {
			diffs = append(diffs, fmt.Sprintf("%s: want %s, got %s", name, short(a), short(b)))
		}
	}
	field("Provider", w.Provider, g.Provider)
	field("ProviderGUID", w.ProviderGUID, g.ProviderGUID)
	field("Source", w.Source, g.Source)
	field("EventID", w.EventID, g.EventID)
	field("Qualifiers", w.Qualifiers, g.Qualifiers)
	field("HasQualifiers", w.HasQualifiers, g.HasQualifiers)
	field("Version", w.Version, g.Version)
	field("Level", w.Level, g.Level)
	field("Task", w.Task, g.Task)
	field("Opcode", w.Opcode, g.Opcode)
	field("Keywords", w.Keywords, g.Keywords)
	field("Channel", w.Channel, g.Channel)
	field("Computer", w.Computer, g.Computer)
	field("RecordID", w.RecordID, g.RecordID)
	if !w.Time.Equal(g.Time) {
		diffs = append(diffs, fmt.Sprintf("Time: want %s, got %s", w.Time.Format(time.RFC3339Nano), g.Time.Format(time.RFC3339Nano)))
	}
	field("UserSID", w.UserSID, g.UserSID)
	field("ActivityID", w.ActivityID, g.ActivityID)
	field("RelatedActivityID", w.RelatedActivityID, g.RelatedActivityID)
	field("ProcessID", w.ProcessID, g.ProcessID)
	field("ThreadID", w.ThreadID, g.ThreadID)
	if len(w.Data) != len(g.Data) {
		diffs = append(diffs, fmt.Sprintf("Data: want %d items %s, got %d %s", len(w.Data), short(w.Data), len(g.Data), short(g.Data)))
	} else {
		for i := range w.Data {
			field(fmt.Sprintf("Data[%d].Name", i), w.Data[i].Name, g.Data[i].Name)
			field(fmt.Sprintf("Data[%d].Value", i), w.Data[i].Value, g.Data[i].Value)
		}
	}
	if !bytes.Equal(w.Binary, g.Binary) {
		diffs = append(diffs, fmt.Sprintf("Binary: want %x, got %x", w.Binary, g.Binary))
	}
	return strings.Join(diffs, "; ")
}

func TestWriteEVTXGolangEvtx(t *testing.T) {
	events := append(sampleEvents(), manyEvents(40)...)
	for name, opts := range map[string]EVTXOptions{
		"default":               {},
		"one record per chunk":  {RecordsPerChunk: 1},
		"classic data elements": {ClassicDataElements: true, RecordsPerChunk: 7},
	} {
		t.Run(name, func(t *testing.T) {
			path := writeTemp(t, events, opts)
			got, problems := readGolangEvtx(t, path)
			require.Empty(t, problems)
			want := expected(events)
			if !opts.ClassicDataElements {
				// golang-evtx v1.2.9 drops empty strings from string arrays
				// (ValueStringTable.Parse skips them), so classic insertion
				// strings that are empty vanish and the later ones move up.
				for i := range want {
					want[i].Data = dropEmptyUnnamed(want[i].Data)
				}
			}
			requireSame(t, "golang-evtx", want, got)
			for _, r := range got {
				require.Equal(t, r.RecordID, r.headerID, "record header ID")
			}
		})
	}
}

// TestWriteEVTXRenumbered: a filtered export numbers its record headers
// 1..N while EventRecordID keeps the original IDs.
func TestWriteEVTXRenumbered(t *testing.T) {
	events := manyEvents(30)
	for i := range events {
		events[i].RecordID = uint64(11645 + 14*i)
	}
	path := writeTemp(t, events, EVTXOptions{RenumberRecords: true})
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, raw, fileHeaderSize+chunkSize, "renumbered records share one chunk despite the ID gaps")
	require.Equal(t, uint64(31), binary.LittleEndian.Uint64(raw[24:]), "header next record ID counts record headers")

	got, problems := readGolangEvtx(t, path)
	require.Empty(t, problems)
	requireSame(t, "golang-evtx", expected(events), got)
	for i, r := range got {
		require.Equal(t, uint64(i+1), r.headerID)
	}
	if _, err := exec.LookPath("evtxexport"); err == nil {
		info := runEvtxinfo(t, path)
		require.False(t, info.corrupted, info.raw)
		requireSame(t, "evtxexport", expected(events), readEvtxexport(t, path, "items"))
		out, err := exec.Command("evtxexport", path).Output()
		require.NoError(t, err)
		numbers := regexp.MustCompile(`(?m)^Event number\s*:\s*(\d+)$`).FindAllStringSubmatch(string(out), -1)
		require.Len(t, numbers, 30)
		for i, m := range numbers {
			require.Equal(t, strconv.Itoa(i+1), m[1], "evtxexport event number is the record header ID")
		}
	}
}

// TestWriteEVTXRecordIDGap: a RecordID that does not follow the previous
// one starts a new chunk, so no chunk has a gap.
func TestWriteEVTXRecordIDGap(t *testing.T) {
	events := manyEvents(6)
	events[3].RecordID = 100 // 1 2 3 | 100 101 102
	path := writeTemp(t, events, EVTXOptions{})
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, raw, fileHeaderSize+2*chunkSize)
	c1 := raw[fileHeaderSize+chunkSize:]
	require.Equal(t, uint64(100), binary.LittleEndian.Uint64(c1[24:]), "second chunk's first record ID")
	require.Equal(t, uint64(103), binary.LittleEndian.Uint64(raw[24:]), "header next record ID")
	got, problems := readGolangEvtx(t, path)
	require.Empty(t, problems)
	requireSame(t, "golang-evtx", expected(events), got)
	if _, err := exec.LookPath("evtxinfo"); err == nil {
		info := runEvtxinfo(t, path)
		require.False(t, info.corrupted, info.raw)
		requireSame(t, "evtxexport", expected(events), readEvtxexport(t, path, "items"))
	}
}

func dropEmptyUnnamed(data []evtx.Data) []evtx.Data {
	var out []evtx.Data
	for _, d := range data {
		if d.Name == "" && d.Value == "" {
			continue
		}
		out = append(out, d)
	}
	return out
}

// readGolangEvtx reads a file the way evtwatch must use golang-evtx v1.2.9:
// chunk by chunk from the file size (not the header's chunk count), each
// chunk and record under recover, never through its channel APIs.
func readGolangEvtx(t *testing.T, path string) ([]record, []string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	var ef goevtx.File
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		ef, err = goevtx.New(f)
	}()
	require.NoError(t, err)

	var out []record
	var problems []string
	for off := int64(fileHeaderSize); off+chunkSize <= st.Size(); off += chunkSize {
		recs, probs := readGolangEvtxChunk(&ef, off)
		out = append(out, recs...)
		problems = append(problems, probs...)
	}
	return out, problems
}

func readGolangEvtxChunk(ef *goevtx.File, off int64) (out []record, problems []string) {
	defer func() {
		if r := recover(); r != nil {
			problems = append(problems, fmt.Sprintf("chunk at %d: panic: %v", off, r))
		}
	}()
	c, err := ef.FetchChunk(off)
	if bytes.Equal(c.Data[:8], make([]byte, 8)) {
		return nil, nil // zero-filled, never used
	}
	if err == nil {
		err = c.Header.Validate()
	}
	if err != nil {
		return nil, []string{fmt.Sprintf("chunk at %d: %v", off, err)}
	}
	for _, eo := range c.EventOffsets {
		if eo > c.Header.OffsetLastRec {
			continue // golang-evtx lists the free space offset as well
		}
		r, err := readGolangEvtxRecord(&c, int64(eo))
		if err != nil {
			problems = append(problems, fmt.Sprintf("chunk at %d: record at +%d: %v", off, eo, err))
			continue
		}
		out = append(out, r)
	}
	return out, problems
}

func readGolangEvtxRecord(c *goevtx.Chunk, off int64) (r record, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	ev := c.ParseEvent(off)
	m, err := ev.GoEvtxMap(c)
	if err != nil {
		return r, err
	}
	if m == nil {
		return r, errors.New("no event")
	}
	get := func(p string) any {
		path := goevtx.Path(p)
		v, err := m.Get(&path)
		if err != nil {
			return nil
		}
		return *v
	}
	str := func(p string) string {
		s, _ := get(p).(string)
		return s
	}
	num := func(p string, bits int) uint64 {
		s := str(p)
		if s == "" {
			return 0
		}
		n, perr := strconv.ParseUint(s, 0, bits)
		if perr != nil && err == nil {
			err = fmt.Errorf("%s: %w", p, perr)
		}
		return n
	}
	r.Provider = str("/Event/System/Provider/Name")
	if r.Provider == "" {
		r.Provider = golangEvtxBareProvider(get("/Event/System"))
	}
	r.ProviderGUID = str("/Event/System/Provider/Guid")
	r.Source = str("/Event/System/Provider/EventSourceName")
	if _, isMap := get("/Event/System/EventID").(goevtx.GoEvtxMap); isMap {
		r.EventID = uint16(num("/Event/System/EventID/Value", 16))
		r.Qualifiers = uint16(num("/Event/System/EventID/Qualifiers", 16))
		r.HasQualifiers = true
	} else {
		r.EventID = uint16(num("/Event/System/EventID", 16))
	}
	r.Version = uint8(num("/Event/System/Version", 8))
	r.Level = evtx.Level(num("/Event/System/Level", 8))
	r.Task = uint16(num("/Event/System/Task", 16))
	r.Opcode = uint8(num("/Event/System/Opcode", 8))
	r.Keywords = num("/Event/System/Keywords", 64)
	r.RecordID = num("/Event/System/EventRecordID", 64)
	r.ProcessID = uint32(num("/Event/System/Execution/ProcessID", 32))
	r.ThreadID = uint32(num("/Event/System/Execution/ThreadID", 32))
	r.Channel = str("/Event/System/Channel")
	r.Computer = str("/Event/System/Computer")
	r.UserSID = str("/Event/System/Security/UserID")
	r.ActivityID = normGUID(str("/Event/System/Correlation/ActivityID"))
	r.RelatedActivityID = normGUID(str("/Event/System/Correlation/RelatedActivityID"))
	tm, terr := m.GetTime(&goevtx.SystemTimePath)
	if terr != nil {
		return r, terr
	}
	r.Time = tm.UTC()
	r.headerID = uint64(ev.Header.ID)

	// GoEvtxMap keys named data by name, so it cannot tell their order:
	// walk the BinXML tree for that, and check the map agrees.
	r.Data, r.Binary, err = golangEvtxOrderedData(c, off)
	if err != nil {
		return r, err
	}
	if err := checkGoEvtxMapData(get("/Event/EventData"), r.Data, r.Binary); err != nil {
		return r, err
	}
	return r, err
}

// golangEvtxBareProvider undoes a golang-evtx v1.2.9 quirk: an element
// whose only content is a Name attribute becomes a key, so
// <Provider Name="MSExchangeSync"/> (how Windows writes classic sources)
// shows up as System["MSExchangeSync"] = "" and Provider is missing.
func golangEvtxBareProvider(v any) string {
	system, _ := v.(goevtx.GoEvtxMap)
	known := map[string]bool{"Provider": true, "EventID": true, "Version": true, "Level": true, "Task": true,
		"Opcode": true, "Keywords": true, "TimeCreated": true, "EventRecordID": true, "Correlation": true,
		"Execution": true, "Channel": true, "Computer": true, "Security": true}
	for k, val := range system {
		if s, ok := val.(string); ok && s == "" && !known[k] {
			return k
		}
	}
	return ""
}

// golangEvtxOrderedData walks the parsed BinXML of a record, following
// substitutions into nested fragments, and returns EventData in document
// order.
func golangEvtxOrderedData(c *goevtx.Chunk, off int64) ([]evtx.Data, []byte, error) {
	rd := bytes.NewReader(c.Data)
	if _, err := rd.Seek(off+goevtx.EventHeaderSize, io.SeekStart); err != nil {
		return nil, nil, err
	}
	el, err := goevtx.Parse(rd, c, false)
	if err != nil {
		return nil, nil, err
	}
	frag, ok := el.(*goevtx.Fragment)
	if !ok {
		return nil, nil, fmt.Errorf("record is %T, not a fragment", el)
	}
	ti, ok := frag.BinXMLElement.(*goevtx.TemplateInstance)
	if !ok {
		return nil, nil, fmt.Errorf("fragment holds %T, not a template instance", frag.BinXMLElement)
	}
	var data []evtx.Data
	var bin []byte
	var walk func(ti *goevtx.TemplateInstance, n *goevtx.Node, inEventData bool) error
	walk = func(ti *goevtx.TemplateInstance, n *goevtx.Node, inEventData bool) error {
		for _, child := range n.Child {
			name := child.Start.Name.String()
			switch {
			case inEventData && name == "Data":
				var dname string
				for _, a := range child.Start.AttributeList.Attributes {
					if a.Name.String() == "Name" {
						dname = fmt.Sprint(ti.ElementToGoEvtx(a.AttributeData))
					}
				}
				for _, e := range child.Element {
					switch v := ti.ElementToGoEvtx(e).(type) {
					case string:
						data = append(data, evtx.Data{Name: dname, Value: v})
					case []string:
						for _, s := range v {
							data = append(data, evtx.Data{Name: dname, Value: s})
						}
					default:
						return fmt.Errorf("data value of type %T", v)
					}
				}
			case inEventData && name == "Binary":
				for _, e := range child.Element {
					b, err := hex.DecodeString(strings.TrimSpace(fmt.Sprint(ti.ElementToGoEvtx(e))))
					if err != nil {
						return fmt.Errorf("binary: %w", err)
					}
					bin = append(bin, b...)
				}
			default:
				if err := walk(ti, child, name == "EventData"); err != nil {
					return err
				}
			}
		}
		for _, e := range n.Element {
			var id int16
			switch s := e.(type) {
			case *goevtx.NormalSubstitution:
				id = s.SubID
			case *goevtx.OptionalSubstitution:
				id = s.SubID
			default:
				continue
			}
			if nested, ok := ti.Data.Values[id].(*goevtx.Fragment); ok {
				nti, ok := nested.BinXMLElement.(*goevtx.TemplateInstance)
				if !ok {
					return fmt.Errorf("nested fragment holds %T", nested.BinXMLElement)
				}
				root := nti.Root()
				if err := walk(nti, &root, inEventData); err != nil {
					return err
				}
			}
		}
		return nil
	}
	root := ti.Root()
	return data, bin, walk(ti, &root, false)
}

// checkGoEvtxMapData checks that the GoEvtxMap view of EventData (what
// GoEvtxMap users see) holds the same items as the ordered walk.
func checkGoEvtxMapData(v any, data []evtx.Data, bin []byte) error {
	m, _ := v.(goevtx.GoEvtxMap)
	if len(data) == 0 && len(bin) == 0 {
		if len(m) != 0 {
			return fmt.Errorf("EventData map %v, want empty", m)
		}
		return nil
	}
	want := map[string]any{}
	var unnamed []string
	for _, d := range data {
		if d.Name != "" {
			want[d.Name] = d.Value
		} else {
			unnamed = append(unnamed, d.Value)
		}
	}
	if len(bin) > 0 {
		want["Binary"] = strings.ToUpper(hex.EncodeToString(bin))
	}
	got := map[string]any{}
	var gotUnnamed []string
	for k, val := range m {
		switch {
		case k == "Data" || (strings.HasPrefix(k, "Data") && isDigits(k[4:])):
			switch x := val.(type) {
			case []string:
				gotUnnamed = append(gotUnnamed, x...)
			case string:
				gotUnnamed = append(gotUnnamed, x) // one <Data> per string: keys Data, Data1, ...
			}
		default:
			got[k] = val
		}
	}
	if fmt.Sprint(want) != fmt.Sprint(got) {
		return fmt.Errorf("EventData map %v, want %v", got, want)
	}
	if len(gotUnnamed) != len(unnamed) {
		return fmt.Errorf("EventData map has %d unnamed values, want %d", len(gotUnnamed), len(unnamed))
	}
	return nil
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// --- libevtx ---

func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (apt-get install libevtx-utils); skipping the libevtx cross-check", name)
	}
	return path
}

// xmlEvent is one <Event> as evtxexport -f xml prints it.
type xmlEvent struct {
	System struct {
		Provider struct {
			Name            string `xml:"Name,attr"`
			GUID            string `xml:"Guid,attr"`
			EventSourceName string `xml:"EventSourceName,attr"`
		} `xml:"Provider"`
		EventID struct {
			Attrs []xml.Attr `xml:",any,attr"`
			Value string     `xml:",chardata"`
		} `xml:"EventID"`
		Version     string `xml:"Version"`
		Level       string `xml:"Level"`
		Task        string `xml:"Task"`
		Opcode      string `xml:"Opcode"`
		Keywords    string `xml:"Keywords"`
		TimeCreated struct {
			SystemTime string `xml:"SystemTime,attr"`
		} `xml:"TimeCreated"`
		EventRecordID string `xml:"EventRecordID"`
		Correlation   struct {
			ActivityID        string `xml:"ActivityID,attr"`
			RelatedActivityID string `xml:"RelatedActivityID,attr"`
		} `xml:"Correlation"`
		Execution struct {
			ProcessID string `xml:"ProcessID,attr"`
			ThreadID  string `xml:"ThreadID,attr"`
		} `xml:"Execution"`
		Channel  string `xml:"Channel"`
		Computer string `xml:"Computer"`
		Security struct {
			UserID string `xml:"UserID,attr"`
		} `xml:"Security"`
	} `xml:"System"`
	EventData struct {
		Items []struct {
			XMLName xml.Name
			Name    string `xml:"Name,attr"`
			Value   string `xml:",chardata"`
		} `xml:",any"`
	} `xml:"EventData"`
}

func readEvtxexport(t *testing.T, path string, mode string) []record {
	t.Helper()
	tool := requireTool(t, "evtxexport")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(tool, "-f", "xml", "-m", mode, path)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "evtxexport: %s", stderr.String())

	out := stdout.Bytes()
	if i := bytes.IndexByte(out, '<'); i >= 0 {
		out = out[i:] // after the "evtxexport <version>" banner
	} else {
		return nil
	}
	dec := xml.NewDecoder(bytes.NewReader(out))
	var recs []record
	for {
		var x xmlEvent
		err := dec.Decode(&x)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "parse evtxexport output")
		recs = append(recs, x.record(t))
	}
	return recs
}

func (x *xmlEvent) record(t *testing.T) record {
	t.Helper()
	num := func(s string, bits int) uint64 {
		if s == "" {
			return 0
		}
		n, err := strconv.ParseUint(strings.TrimSpace(s), 0, bits)
		require.NoError(t, err)
		return n
	}
	s := &x.System
	r := record{
		Provider: s.Provider.Name, ProviderGUID: s.Provider.GUID, Source: s.Provider.EventSourceName,
		EventID: uint16(num(s.EventID.Value, 16)), Version: uint8(num(s.Version, 8)),
		Level: evtx.Level(num(s.Level, 8)), Task: uint16(num(s.Task, 16)), Opcode: uint8(num(s.Opcode, 8)),
		Keywords: num(s.Keywords, 64), RecordID: num(s.EventRecordID, 64),
		ProcessID: uint32(num(s.Execution.ProcessID, 32)), ThreadID: uint32(num(s.Execution.ThreadID, 32)),
		Channel: s.Channel, Computer: s.Computer, UserSID: s.Security.UserID,
		ActivityID: normGUID(s.Correlation.ActivityID), RelatedActivityID: normGUID(s.Correlation.RelatedActivityID),
	}
	for _, a := range s.EventID.Attrs {
		if a.Name.Local == "Qualifiers" {
			r.Qualifiers, r.HasQualifiers = uint16(num(a.Value, 16)), true
		}
	}
	tm, err := time.Parse(time.RFC3339Nano, s.TimeCreated.SystemTime)
	require.NoError(t, err)
	r.Time = tm.UTC()
	for _, it := range x.EventData.Items {
		switch it.XMLName.Local {
		case "Data":
			r.Data = append(r.Data, evtx.Data{Name: it.Name, Value: it.Value})
		case "Binary":
			b, err := hex.DecodeString(it.Value)
			require.NoError(t, err)
			r.Binary = b
		default:
			t.Fatalf("unexpected EventData element %s", it.XMLName.Local)
		}
	}
	return r
}

// forLibevtx adjusts what libevtx 20181227 is expected to print: XML output
// turns "\r\n" into "\n" once parsed, and its UTF-16 decoder gets
// characters outside the BMP wrong (U+1F600 comes out as U+1F201), so those
// are masked on both sides.
func forLibevtx(recs []record) []record {
	out := make([]record, len(recs))
	for i, r := range recs {
		r.Computer = maskAstral(r.Computer)
		data := make([]evtx.Data, len(r.Data))
		for j, d := range r.Data {
			data[j] = evtx.Data{Name: d.Name, Value: maskAstral(strings.ReplaceAll(d.Value, "\r\n", "\n"))}
		}
		r.Data = data
		out[i] = r
	}
	return out
}

func maskAstral(s string) string {
	return strings.Map(func(r rune) rune {
		if r > 0xFFFF {
			return '?'
		}
		return r
	}, s)
}

type evtxInfo struct {
	records, recovered int
	corrupted, dirty   bool
	raw                string
}

func runEvtxinfo(t *testing.T, path string) evtxInfo {
	t.Helper()
	tool := requireTool(t, "evtxinfo")
	out, err := exec.Command(tool, path).CombinedOutput()
	require.NoError(t, err, "evtxinfo: %s", out)
	info := evtxInfo{raw: string(out)}
	n := func(label string) int {
		m := regexp.MustCompile(label + `\s*:\s*(\d+)`).FindStringSubmatch(info.raw)
		require.NotNil(t, m, "evtxinfo output lacks %q:\n%s", label, info.raw)
		v, _ := strconv.Atoi(m[1])
		return v
	}
	info.records = n("Number of records")
	info.recovered = n("Number of recovered records")
	info.corrupted = strings.Contains(info.raw, "Is corrupted")
	info.dirty = strings.Contains(info.raw, "Is dirty")
	return info
}

func TestWriteEVTXLibevtx(t *testing.T) {
	events := append(sampleEvents(), manyEvents(40)...)
	for name, opts := range map[string]EVTXOptions{
		"default":               {},
		"one record per chunk":  {RecordsPerChunk: 1},
		"classic data elements": {ClassicDataElements: true, RecordsPerChunk: 7},
	} {
		t.Run(name, func(t *testing.T) {
			path := writeTemp(t, events, opts)
			info := runEvtxinfo(t, path)
			require.False(t, info.corrupted, "evtxinfo: %s", info.raw)
			require.Equal(t, len(events), info.records)
			require.Zero(t, info.recovered)
			requireSame(t, "evtxexport", forLibevtx(expected(events)), forLibevtx(readEvtxexport(t, path, "items")))
			requireSameText(t, expected(events), readEvtxexportText(t, path))
		})
	}
}

// textRecord is one record of evtxexport's default text output.
type textRecord struct {
	fields  map[string]string
	strings []string
}

var textField = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9 :]*?)\t+: ?(.*)$`)

func readEvtxexportText(t *testing.T, path string) []textRecord {
	t.Helper()
	tool := requireTool(t, "evtxexport")
	out, err := exec.Command(tool, path).Output()
	require.NoError(t, err)
	var recs []textRecord
	var last *string
	for _, line := range strings.Split(string(out), "\n") {
		m := textField.FindStringSubmatch(line)
		switch {
		case m != nil && m[1] == "Event number":
			recs = append(recs, textRecord{fields: map[string]string{}})
			fallthrough
		case m != nil && len(recs) > 0:
			r := &recs[len(recs)-1]
			if strings.HasPrefix(m[1], "String: ") {
				r.strings = append(r.strings, m[2])
				last = &r.strings[len(r.strings)-1]
			} else {
				r.fields[m[1]] = m[2]
				last = nil
			}
		case line != "" && last != nil:
			*last += "\n" + line // a string with line breaks
		}
	}
	return recs
}

// requireSameText checks the text output: it names the classic source
// (EventSourceName when present), the low 16 bits of the event ID, and lists
// the data values and then the binary data in hex as "strings". Characters
// outside the BMP are masked (see forLibevtx).
func requireSameText(t *testing.T, want []record, got []textRecord) {
	t.Helper()
	require.Len(t, got, len(want))
	for i, w := range want {
		g := got[i]
		msg := fmt.Sprintf("evtxexport text: record %d (ID %d)", i, w.RecordID)
		require.Equal(t, strconv.FormatUint(w.RecordID, 10), g.fields["Event number"], msg)
		require.Equal(t, w.Time.Format("Jan 02, 2006 15:04:05.000000000 UTC"), g.fields["Written time"], msg)
		require.Equal(t, fmt.Sprintf("0x%08x (%d)", w.EventID, w.EventID), g.fields["Event identifier"], msg)
		require.True(t, strings.HasSuffix(g.fields["Event level"], fmt.Sprintf("(%d)", w.Level)), msg)
		require.Equal(t, maskAstral(w.Computer), maskAstral(g.fields["Computer name"]), msg)
		source := w.Source
		if source == "" {
			source = w.Provider
		}
		require.Equal(t, source, g.fields["Source name"], msg)
		require.Equal(t, w.UserSID, g.fields["User security identifier"], msg)
		var values []string
		for _, d := range w.Data {
			values = append(values, d.Value)
		}
		if len(w.Binary) > 0 {
			values = append(values, strings.ToUpper(hex.EncodeToString(w.Binary)))
		}
		require.Equal(t, strconv.Itoa(len(values)), g.fields["Number of strings"], msg)
		require.Equal(t, len(values), len(g.strings), msg)
		for j := range values {
			require.Equal(t, maskAstral(values[j]), maskAstral(g.strings[j]), "%s: string %d", msg, j+1)
		}
	}
}

func TestWriteEVTXManyChunks(t *testing.T) {
	events := manyEvents(2000)
	path := writeTemp(t, events, EVTXOptions{})
	st, err := os.Stat(path)
	require.NoError(t, err)
	chunks := int((st.Size() - fileHeaderSize) / chunkSize)
	require.Greater(t, chunks, 5, "2000 events should need several chunks")

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, uint16(chunks), binary.LittleEndian.Uint16(raw[42:]), "header chunk count")
	require.Equal(t, uint64(2001), binary.LittleEndian.Uint64(raw[24:]), "header next record ID")
	verifyChecksums(t, raw)

	got, problems := readGolangEvtx(t, path)
	require.Empty(t, problems)
	requireSame(t, "golang-evtx", expected(events), got)

	if _, err := exec.LookPath("evtxexport"); err == nil {
		info := runEvtxinfo(t, path)
		require.False(t, info.corrupted, info.raw)
		require.Equal(t, 2000, info.records)
		requireSame(t, "evtxexport", expected(events), readEvtxexport(t, path, "items"))
	}
}

// verifyChecksums recomputes every CRC32 the format defines.
func verifyChecksums(t *testing.T, raw []byte) {
	t.Helper()
	require.Equal(t, crc32.ChecksumIEEE(raw[:120]), binary.LittleEndian.Uint32(raw[124:]), "file header CRC")
	for off := fileHeaderSize; off+chunkSize <= len(raw); off += chunkSize {
		c := raw[off : off+chunkSize]
		if string(c[:8]) != chunkMagic {
			continue
		}
		free := binary.LittleEndian.Uint32(c[48:])
		require.Equal(t, crc32.ChecksumIEEE(c[chunkHeaderSize:free]), binary.LittleEndian.Uint32(c[52:]), "records CRC of chunk at %d", off)
		h := crc32.NewIEEE()
		h.Write(c[:120])
		h.Write(c[128:chunkHeaderSize])
		require.Equal(t, h.Sum32(), binary.LittleEndian.Uint32(c[124:]), "header CRC of chunk at %d", off)
		require.Equal(t, make([]byte, chunkSize-int(free)), c[free:], "free space of chunk at %d is zeroed", off)
	}
}

// TestWriteEVTXChunkTables checks the per-chunk string and template tables
// the way Windows fills them: every name stored once per chunk and reachable
// through its hash bucket, and one template definition per shape per chunk,
// reachable through the template table.
func TestWriteEVTXChunkTables(t *testing.T) {
	events := append(sampleEvents(), manyEvents(600)...)
	raw := writeBytes(t, events, EVTXOptions{})
	verifyChecksums(t, raw)
	nchunks, busy := 0, 0
	for off := fileHeaderSize; off+chunkSize <= len(raw); off += chunkSize {
		c := raw[off : off+chunkSize]
		nchunks++

		names := map[string]int{}
		for b := range 64 {
			for so := binary.LittleEndian.Uint32(c[128+4*b:]); so != 0; so = binary.LittleEndian.Uint32(c[so:]) {
				hash := binary.LittleEndian.Uint16(c[so+4:])
				n := int(binary.LittleEndian.Uint16(c[so+6:]))
				u := make([]uint16, n)
				for i := range u {
					u[i] = binary.LittleEndian.Uint16(c[int(so)+8+2*i:])
				}
				name := string(utf16.Decode(u))
				require.Equal(t, nameHash(name), hash, "hash of %q", name)
				require.Equal(t, b, int(hash%64), "bucket of %q", name)
				names[name]++
			}
		}
		for _, n := range []string{"Event", "xmlns", "System", "Provider", "Name", "EventID", "Qualifiers",
			"TimeCreated", "SystemTime", "EventRecordID", "Execution", "Channel", "Computer", "Security",
			"UserID", "EventData", "Data"} {
			require.Equal(t, 1, names[n], "chunk at %d: name %q in the string table", off, n)
			require.Equal(t, 1, bytes.Count(c, storedName(n)), "chunk at %d: name %q stored once", off, n)
		}

		var defs int
		seen := map[string]bool{}
		for b := range 32 {
			for to := binary.LittleEndian.Uint32(c[384+4*b:]); to != 0; to = binary.LittleEndian.Uint32(c[to:]) {
				guid := c[to+4 : to+20]
				require.False(t, seen[string(guid)], "template defined twice in chunk at %d", off)
				seen[string(guid)] = true
				require.Equal(t, b, int(binary.LittleEndian.Uint32(guid)%32), "template bucket")
				require.Equal(t, 1, bytes.Count(c, guid), "chunk at %d: template GUID appears once", off)
				defs++
			}
		}
		records := 0
		free := binary.LittleEndian.Uint32(c[48:])
		for ro := uint32(chunkHeaderSize); ro < free; ro += binary.LittleEndian.Uint32(c[ro+4:]) {
			require.Equal(t, recordMagic, string(c[ro:ro+4]))
			records++
		}
		require.Positive(t, defs)
		if records >= 100 {
			busy++
			require.Less(t, 4*defs, records, "chunk at %d: %d templates for %d records: they are shared", off, defs, records)
		}
	}
	require.Greater(t, nchunks, 1)
	require.Positive(t, busy, "no chunk with 100 records or more")
}

// storedName is a name as a chunk stores it, after its link field: hash,
// length, UTF-16 text, NUL.
func storedName(s string) []byte {
	b := binary.LittleEndian.AppendUint16(nil, nameHash(s))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(utf16.Encode([]rune(s)))))
	b = appendUTF16(b, s)
	return append(b, 0, 0)
}

func writeBytes(t *testing.T, events []evtx.Event, opts EVTXOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, WriteEVTX(&buf, events, opts))
	return buf.Bytes()
}

func TestWriteEVTXDeterministic(t *testing.T) {
	events := sampleEvents()
	require.Equal(t, writeBytes(t, events, EVTXOptions{}), writeBytes(t, events, EVTXOptions{}))
}

func TestWriteEVTXEmpty(t *testing.T) {
	raw := writeBytes(t, nil, EVTXOptions{})
	require.Len(t, raw, fileHeaderSize+chunkSize, "an empty log still has one chunk")
	verifyChecksums(t, raw)
	path := filepath.Join(t.TempDir(), "empty.evtx")
	require.NoError(t, os.WriteFile(path, raw, 0o644))
	got, problems := readGolangEvtx(t, path)
	require.Empty(t, problems)
	require.Empty(t, got)
	if _, err := exec.LookPath("evtxinfo"); err == nil {
		info := runEvtxinfo(t, path)
		require.False(t, info.corrupted, info.raw)
		require.Zero(t, info.records)
	}
}

// TestWriteEVTXStaleHeader reproduces 2-vss_7-System.evtx: a dirty file
// whose header counts fewer chunks than it holds. golang-evtx's own
// iteration trusts the header; walking by file size finds every record, and
// so does libevtx for a dirty file.
func TestWriteEVTXStaleHeader(t *testing.T) {
	events := manyEvents(50)
	opts := EVTXOptions{RecordsPerChunk: 10, HeaderChunks: 2, Dirty: true, EmptyChunks: 3}
	path := writeTemp(t, events, opts)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, raw, fileHeaderSize+(5+3)*chunkSize)
	require.Equal(t, uint16(2), binary.LittleEndian.Uint16(raw[42:]), "header chunk count")
	require.Equal(t, uint64(1), binary.LittleEndian.Uint64(raw[16:]), "header last chunk number")
	require.Equal(t, uint64(21), binary.LittleEndian.Uint64(raw[24:]), "header next record ID")
	require.Equal(t, uint32(1), binary.LittleEndian.Uint32(raw[120:]), "header flags: dirty")
	verifyChecksums(t, raw)

	f, err := os.Open(path)
	require.NoError(t, err)
	ef, err := goevtx.New(f)
	require.NoError(t, err)
	require.ErrorIs(t, ef.Header.Verify(), goevtx.ErrDirtyFile)
	require.Equal(t, uint16(2), ef.Header.ChunkCount, "golang-evtx would read only 2 of 5 chunks")
	f.Close()

	got, problems := readGolangEvtx(t, path)
	require.Empty(t, problems)
	requireSame(t, "golang-evtx by file size", expected(events), got)

	if _, err := exec.LookPath("evtxinfo"); err == nil {
		info := runEvtxinfo(t, path)
		require.True(t, info.dirty, info.raw)
		require.True(t, info.corrupted, "libevtx flags the chunk count mismatch, as for 2-vss_7-System.evtx")
		require.Equal(t, 50, info.records, info.raw)
		requireSame(t, "evtxexport", expected(events), readEvtxexport(t, path, "items"))
	}
}

// TestWriteEVTXStaleHeaderClean: without the dirty flag libevtx treats
// chunks past the header's count as recovered (deleted) records.
func TestWriteEVTXStaleHeaderClean(t *testing.T) {
	requireTool(t, "evtxinfo")
	events := manyEvents(30)
	path := writeTemp(t, events, EVTXOptions{RecordsPerChunk: 10, HeaderChunks: 1})
	info := runEvtxinfo(t, path)
	require.Equal(t, 10, info.records, info.raw)
	require.Equal(t, 20, info.recovered, info.raw)
	requireSame(t, "evtxexport recovered", expected(events)[10:], readEvtxexport(t, path, "recovered"))
}

func TestWriteEVTXFlags(t *testing.T) {
	raw := writeBytes(t, manyEvents(3), EVTXOptions{Dirty: true, Full: true})
	require.Equal(t, uint32(3), binary.LittleEndian.Uint32(raw[120:]))
	verifyChecksums(t, raw)
	raw = writeBytes(t, manyEvents(3), EVTXOptions{})
	require.Zero(t, binary.LittleEndian.Uint32(raw[120:]))
	require.Equal(t, uint16(1), binary.LittleEndian.Uint16(raw[36:]), "minor version")
	require.Equal(t, uint16(3), binary.LittleEndian.Uint16(raw[38:]), "major version")
}

func TestWriteEVTXCorruption(t *testing.T) {
	events := manyEvents(30) // 10 per chunk: records 1-10, 11-20, 21-30
	ids := func(recs []record) []uint64 {
		var out []uint64
		for _, r := range recs {
			out = append(out, r.RecordID)
		}
		return out
	}
	span := func(from, to uint64) []uint64 {
		var out []uint64
		for i := from; i <= to; i++ {
			out = append(out, i)
		}
		return out
	}
	tests := map[string]struct {
		corrupt []Corruption
		// golang-evtx, read chunk by chunk under recover
		wantIDs      []uint64
		wantProblems int
		// libevtx
		corrupted bool
	}{
		"bad chunk magic": {
			corrupt: []Corruption{{Chunk: 1, Kind: BadChunkMagic}},
			wantIDs: append(span(1, 10), span(21, 30)...), wantProblems: 1, corrupted: true,
		},
		"bad chunk header checksum": {
			corrupt: []Corruption{{Chunk: 1, Kind: BadChunkChecksum}},
			wantIDs: span(1, 30), corrupted: true, // golang-evtx never checks CRCs
		},
		"bad records checksum": {
			corrupt: []Corruption{{Chunk: 1, Kind: BadRecordsChecksum}},
			wantIDs: span(1, 30), corrupted: true,
		},
		"undecodable record": {
			corrupt: []Corruption{{Chunk: 1, Record: 3, Kind: BadRecordBinXML}},
			wantIDs: append(span(1, 13), span(15, 30)...), wantProblems: 1,
		},
		"broken record signature": {
			corrupt: []Corruption{{Chunk: 1, Record: 5, Kind: BadRecordSignature}},
			wantIDs: append(span(1, 10), span(21, 30)...), wantProblems: 1,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			path := writeTemp(t, events, EVTXOptions{RecordsPerChunk: 10, Corrupt: tt.corrupt})
			got, problems := readGolangEvtx(t, path)
			require.Equal(t, tt.wantIDs, ids(got))
			require.Len(t, problems, tt.wantProblems, "%q", problems)
			for _, p := range problems {
				require.Contains(t, p, fmt.Sprintf("chunk at %d", ChunkOffset(1)), "the damage is in chunk 1")
			}
			if _, err := exec.LookPath("evtxinfo"); err == nil {
				info := runEvtxinfo(t, path)
				require.Equal(t, tt.corrupted, info.corrupted, info.raw)
			}
		})
	}
}

func TestWriteEVTXErrors(t *testing.T) {
	ev := func(mod func(*evtx.Event)) []evtx.Event {
		e := evtx.Event{Provider: "P", EventID: 1, Time: t0}
		mod(&e)
		return []evtx.Event{e}
	}
	tests := map[string]struct {
		events []evtx.Event
		opts   EVTXOptions
		want   string
	}{
		"bad SID":         {events: ev(func(e *evtx.Event) { e.UserSID = "S-1-x" }), want: "invalid SID"},
		"bad activity ID": {events: ev(func(e *evtx.Event) { e.ActivityID = "{not-a-guid}" }), want: "invalid GUID"},
		"value too long":  {events: ev(func(e *evtx.Event) { e.Data = []evtx.Data{{Name: "x", Value: strings.Repeat("a", 40000)}} }), want: "longer than a BinXML value"},
		"record too big": {events: ev(func(e *evtx.Event) {
			e.Data = []evtx.Data{{Name: "a", Value: strings.Repeat("a", 30000)}, {Name: "b", Value: strings.Repeat("b", 30000)}}
		}), want: "larger than a BinXML value"},
		"record too big for a chunk": {events: ev(func(e *evtx.Event) { e.Data = []evtx.Data{{Name: "a", Value: strings.Repeat("a", 32300)}} }), want: "does not fit"},
		"no such chunk":              {events: ev(func(*evtx.Event) {}), opts: EVTXOptions{Corrupt: []Corruption{{Chunk: 3, Kind: BadChunkMagic}}}, want: "no chunk 3"},
		"no such record":             {events: ev(func(*evtx.Event) {}), opts: EVTXOptions{Corrupt: []Corruption{{Chunk: 0, Record: 1, Kind: BadRecordBinXML}}}, want: "no record 1"},
		"unknown corruption":         {events: ev(func(*evtx.Event) {}), opts: EVTXOptions{Corrupt: []Corruption{{Kind: 99}}}, want: "unknown corruption"},
		"negative option":            {opts: EVTXOptions{RecordsPerChunk: -1}, want: "negative"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := WriteEVTX(io.Discard, tt.events, tt.opts)
			require.ErrorContains(t, err, tt.want)
		})
	}
	err := WriteEVTXFile(filepath.Join(t.TempDir(), "missing", "x.evtx"), nil, EVTXOptions{})
	require.ErrorContains(t, err, "missing")
}

// TestWriteEVTXBigRecords: records near the 64 KiB limit still fit, each in
// a chunk of its own.
func TestWriteEVTXBigRecords(t *testing.T) {
	var events []evtx.Event
	for i := range 3 {
		events = append(events, evtx.Event{Provider: "Big", EventID: uint16(i), Time: t0, Channel: "Application", Computer: "X",
			Data: []evtx.Data{{Name: "a", Value: strings.Repeat("x", 28000)}, {Name: "b", Value: strings.Repeat("y", 2000)}}})
	}
	path := writeTemp(t, events, EVTXOptions{})
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, raw, fileHeaderSize+3*chunkSize)
	got, problems := readGolangEvtx(t, path)
	require.Empty(t, problems)
	requireSame(t, "golang-evtx", expected(events), got)
	if _, err := exec.LookPath("evtxexport"); err == nil {
		requireSame(t, "evtxexport", expected(events), readEvtxexport(t, path, "items"))
	}
}
