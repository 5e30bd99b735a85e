package evtxtest_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/evtx/evtxtest"
)

// mixedEvents covers what an EVENTLOGRECORD can carry: qualifiers, every
// event type, categories, SIDs, binary data, empty and non-ASCII strings,
// many strings and explicit and automatic record numbers.
func mixedEvents() []evtx.Event {
	t0 := time.Date(2008, 11, 5, 23, 59, 58, 0, time.UTC)
	return []evtx.Event{
		{Provider: "Server ActiveSync", EventID: 3015, Qualifiers: 0xC000, Level: evtx.LevelError, Computer: "SBS01", Time: t0,
			Data: []evtx.Data{{Value: "0x80004005"}, {Value: "2883"}}},
		{Provider: "Server ActiveSync", EventID: 3024, Qualifiers: 0xC000, Level: evtx.LevelError, Computer: "SBS01", Time: t0.Add(3 * time.Second),
			Data: []evtx.Data{{Value: "0x80004005"}}},
		{Provider: "Service Control Manager", EventID: 7023, Qualifiers: 0xC000, Level: evtx.LevelError, Computer: "SBS01", Time: t0.Add(time.Minute),
			Data: []evtx.Data{{Value: "Internet Authentication Service"}, {Value: "%%10048"}}},
		{Provider: "Security", EventID: 529, Keywords: evtx.KeywordClassic | evtx.KeywordAuditFailure, Task: 2, Computer: "SBS01",
			UserSID: "S-1-5-18", Time: t0.Add(2 * time.Minute),
			Data: []evtx.Data{{Value: "bob"}, {Value: "CONTOSO"}, {Value: ""}, {Value: "3"}}},
		{Provider: "Security", EventID: 528, Keywords: evtx.KeywordAuditSuccess, Task: 2, Computer: "SBS01",
			UserSID: "S-1-5-21-3623811015-3361044348-30300820-1013", Time: t0.Add(3 * time.Minute)},
		{Provider: "W32Time", EventID: 36, Qualifiers: 0x8000, Level: evtx.LevelWarning, Computer: "SBS01", Time: t0.Add(4 * time.Minute),
			Binary: []byte{0x40, 0x27, 0x00, 0x00}},
		{Provider: "Überwachung", EventID: 1, Level: evtx.LevelInformation, Computer: "ДОМЕН-ПК", Time: t0.Add(5 * time.Minute),
			Data: []evtx.Data{{Value: "naïve 日本語 😀"}, {Value: "line1\r\n\tline2"}}, Binary: []byte{1, 2, 3, 4, 5}},
		{Provider: "EventLog", EventID: 6009, Qualifiers: 0x8000, Level: evtx.LevelInformation, Computer: "SBS01", RecordID: 1000, Time: t0.Add(6 * time.Minute),
			Data: manyStrings(40)},
		{Provider: "Application Popup", EventID: 26, Qualifiers: 0x4000, Level: evtx.LevelInformation, Computer: "SBS01", Time: t0.Add(7 * time.Minute),
			UserSID: "S-1-0x123456789ABC-7"},
	}
}

func manyStrings(n int) []evtx.Data {
	d := make([]evtx.Data, n)
	for i := range d {
		d[i].Value = fmt.Sprintf("string %d", i+1)
	}
	return d
}

// expected is what reading e back from a file named like path gives:
// .evt keeps the source name, the event type and the second.
func expected(e evtx.Event, id uint64, path string, recovered bool) evtx.Event {
	typ := evtx.EventTypeInformation
	switch {
	case e.Keywords&evtx.KeywordAuditFailure != 0:
		typ = evtx.EventTypeAuditFailure
	case e.Keywords&evtx.KeywordAuditSuccess != 0:
		typ = evtx.EventTypeAuditSuccess
	case e.Level == evtx.LevelError || e.Level == evtx.LevelCritical:
		typ = evtx.EventTypeError
	case e.Level == evtx.LevelWarning:
		typ = evtx.EventTypeWarning
	}
	level, keywords := evtx.LevelFromEventType(typ)
	var data []evtx.Data
	for _, d := range e.Data {
		data = append(data, evtx.Data{Value: d.Value})
	}
	var bin []byte
	if len(e.Binary) > 0 {
		bin = e.Binary
	}
	return evtx.Event{
		Provider:   e.SourceName(),
		EventID:    e.EventID,
		Qualifiers: e.Qualifiers,
		Level:      level,
		Keywords:   keywords,
		Task:       e.Task,
		Channel:    map[string]string{"AppEvent.Evt": "Application", "SecEvent.Evt": "Security"}[filepath.Base(path)],
		Computer:   e.Computer,
		RecordID:   id,
		Time:       e.Time.Truncate(time.Second).UTC(),
		UserSID:    e.UserSID,
		Data:       data,
		Binary:     bin,
		Origin:     evtx.Origin{Path: path, Format: evtx.FormatEVT},
		Recovered:  recovered,
	}
}

// recordIDs numbers events the way WriteEVT does.
func recordIDs(events []evtx.Event) []uint64 {
	ids := make([]uint64, len(events))
	next := uint64(1)
	for i, e := range events {
		id := e.RecordID
		if id == 0 {
			id = next
		}
		ids[i], next = id, id+1
	}
	return ids
}

func readBack(t *testing.T, path string) (live, recovered []evtx.Event, problems []evtx.Problem) {
	t.Helper()
	r, err := evtx.Open(path, evtx.Options{})
	require.NoError(t, err)
	defer r.Close()
	require.Equal(t, evtx.FormatEVT, r.Format())
	for ev, err := range evtx.All(context.Background(), r) {
		require.NoError(t, err)
		if ev.Recovered {
			recovered = append(recovered, *ev)
		} else {
			live = append(live, *ev)
		}
	}
	return live, recovered, r.Problems()
}

var layouts = map[string]evtxtest.EVTOptions{
	"plain":                {},
	"max size":             {MaxSize: 64 << 10, Retention: 7 * 24 * 3600},
	"wrapped":              {Wrap: true},
	"wrapped split at 4":   {Wrap: true, SplitAt: 4},
	"wrapped split in sig": {Wrap: true, SplitAt: 8},
	"wrapped small":        {Wrap: true, MaxSize: 4096},
	"dirty":                {Dirty: true},
	"dirty wrapped":        {Dirty: true, Wrap: true},
	"deleted":              {Deleted: mixedEvents()[:3]},
	"dirty wrapped deleted": {Dirty: true, Wrap: true, MaxSize: 8192,
		Deleted: []evtx.Event{mixedEvents()[2], mixedEvents()[0]}},
}

func TestWriteEVTRoundTrip(t *testing.T) {
	events := mixedEvents()
	ids := recordIDs(events)
	require.Equal(t, []uint64{1, 2, 3, 4, 5, 6, 7, 1000, 1001}, ids)
	for name, opts := range layouts {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "AppEvent.Evt")
			require.NoError(t, evtxtest.WriteEVTFile(path, events, opts))
			live, recovered, problems := readBack(t, path)
			require.Empty(t, problems)
			require.Len(t, live, len(events))
			for i, e := range events {
				want := expected(e, ids[i], path, false)
				want.Origin.Offset = live[i].Origin.Offset
				require.Equal(t, want, live[i], "event %d", i)
			}
			delIDs := recordIDs(opts.Deleted)
			require.Len(t, recovered, len(opts.Deleted))
			for i, e := range opts.Deleted {
				want := expected(e, delIDs[i], path, true)
				want.Origin.Offset = recovered[i].Origin.Offset
				require.Equal(t, want, recovered[i], "deleted event %d", i)
			}
			checkLayout(t, path, opts, live)
		})
	}
}

// checkLayout verifies the file is laid out as the options asked.
func checkLayout(t *testing.T, path string, opts evtxtest.EVTOptions, live []evtx.Event) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	le := binary.LittleEndian
	size := len(b)
	require.EqualValues(t, size, le.Uint32(b[32:]), "header MaxSize is the file size")
	switch {
	case opts.MaxSize != 0:
		require.EqualValues(t, opts.MaxSize, size)
	case opts.Wrap:
		require.Zero(t, size%(64<<10))
	}
	flags := le.Uint32(b[36:])
	require.Equal(t, opts.Dirty, flags&1 != 0, "dirty flag")
	require.Equal(t, opts.Wrap, flags&2 != 0, "wrap flag")
	require.Equal(t, opts.Retention, le.Uint32(b[40:]))

	// The cursor sits right after the newest record and is always current.
	last := live[len(live)-1]
	eof := int(last.Origin.Offset) + int(le.Uint32(b[last.Origin.Offset:]))
	if eof >= size {
		eof = eof - size + 0x30
	}
	require.Equal(t, bytes.Repeat([]byte{0x11}, 4), b[eof+4:eof+8])
	require.EqualValues(t, live[0].Origin.Offset, le.Uint32(b[eof+20:]), "cursor BeginRecord")
	require.EqualValues(t, eof, le.Uint32(b[eof+24:]), "cursor EndRecord")
	require.EqualValues(t, last.RecordID+1, le.Uint32(b[eof+28:]), "cursor CurrentRecordNumber")
	require.EqualValues(t, live[0].RecordID, le.Uint32(b[eof+32:]), "cursor OldestRecordNumber")
	require.EqualValues(t, live[0].Origin.Offset, le.Uint32(b[16:]), "header StartOffset")
	if opts.Dirty {
		require.NotEqualValues(t, eof, le.Uint32(b[20:]), "dirty header EndOffset is stale")
	} else {
		require.EqualValues(t, eof, le.Uint32(b[20:]), "header EndOffset")
		require.EqualValues(t, last.RecordID+1, le.Uint32(b[24:]))
	}

	if !opts.Wrap {
		require.EqualValues(t, 0x30, live[0].Origin.Offset)
		return
	}
	// The middle record straddles the end of the file, the given number of
	// bytes before it, and the oldest record lies after the cursor.
	mid := live[len(live)/2]
	recSize := int(le.Uint32(b[mid.Origin.Offset:]))
	before := size - int(mid.Origin.Offset)
	require.Less(t, before, recSize, "record %d is split across the end", mid.RecordID)
	if opts.SplitAt != 0 {
		require.Equal(t, opts.SplitAt, before)
	}
	require.Greater(t, live[0].Origin.Offset, int64(eof))
}

// TestWriteEVTReadByLibevt is the independent check: libevt's evtexport
// must read the files back with the same values.
func TestWriteEVTReadByLibevt(t *testing.T) {
	events := mixedEvents()
	ids := recordIDs(events)
	for name, opts := range layouts {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "AppEvent.Evt")
			require.NoError(t, evtxtest.WriteEVTFile(path, events, opts))
			items, err := evtxtest.Evtexport(context.Background(), path, "items")
			if errors.Is(err, exec.ErrNotFound) {
				t.Skip(err)
			}
			require.NoError(t, err)
			require.Len(t, items, len(events))
			for i, e := range events {
				requireLibevtSees(t, e, ids[i], items[i])
			}
			recovered, err := evtxtest.Evtexport(context.Background(), path, "recovered")
			require.NoError(t, err)
			require.Len(t, recovered, len(opts.Deleted))
			delIDs := recordIDs(opts.Deleted)
			for i, e := range opts.Deleted {
				requireLibevtSees(t, e, delIDs[i], recovered[i])
			}
		})
	}
}

func requireLibevtSees(t *testing.T, e evtx.Event, id uint64, got evtxtest.EvtexportRecord) {
	t.Helper()
	want := expected(e, id, "", false)
	msg := fmt.Sprintf("record %d", id)
	require.EqualValues(t, id, got.RecordNumber, msg)
	require.Equal(t, want.Time, got.Created, msg)
	require.Equal(t, want.Time, got.Written, msg)
	require.Equal(t, e.FullEventID(), got.EventIdentifier, msg)
	level, keywords := evtx.LevelFromEventType(got.EventType)
	require.Equal(t, want.Level, level, msg)
	require.Equal(t, want.Keywords, keywords, msg)
	require.Equal(t, want.Provider, got.Source, msg)
	require.Equal(t, want.Computer, got.Computer, msg)
	require.Equal(t, want.Task, got.Category, msg)
	require.Equal(t, decimalAuthority(want.UserSID), got.UserSID, msg)
	require.Len(t, got.Strings, len(want.Data), msg)
	for i, d := range want.Data {
		if astral := strings.IndexFunc(d.Value, func(r rune) bool { return r > 0xFFFF }); astral >= 0 {
			// libevt 20200926 mangles surrogate pairs when it prints
			// (U+1F600 comes out as U+1F201); our reader decodes them
			// right (TestWriteEVTRoundTrip), so compare up to the first.
			require.True(t, strings.HasPrefix(got.Strings[i], d.Value[:astral]), "%s: string %d: %q vs %q", msg, i+1, got.Strings[i], d.Value)
			continue
		}
		require.Equal(t, d.Value, got.Strings[i], "%s: string %d", msg, i+1)
	}
}

// decimalAuthority writes a SID's identifier authority in decimal, as
// libevt prints it even from 2^32 up, where MS-DTYP (and our reader) use
// "0x" and 12 hex digits.
func decimalAuthority(sid string) string {
	parts := strings.Split(sid, "-")
	if len(parts) > 2 && strings.HasPrefix(parts[2], "0x") {
		if v, err := strconv.ParseUint(parts[2][2:], 16, 48); err == nil {
			parts[2] = strconv.FormatUint(v, 10)
		}
	}
	return strings.Join(parts, "-")
}

func TestWriteEVTQualifiedEventID(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, evtxtest.WriteEVT(&buf, mixedEvents()[:1], evtxtest.EVTOptions{}))
	b := buf.Bytes()
	require.EqualValues(t, 0xC0000BC7, binary.LittleEndian.Uint32(b[0x30+20:]), "3015 with qualifiers 0xC000")
	require.EqualValues(t, evtx.EventTypeError, binary.LittleEndian.Uint16(b[0x30+24:]))
	require.Equal(t, "LfLe", string(b[4:8]))
	require.Equal(t, evtx.FormatEVT, evtx.Sniff(b))
}

func TestWriteEVTErrors(t *testing.T) {
	ok := mixedEvents()[0]
	with := func(f func(*evtx.Event)) []evtx.Event {
		e := ok
		f(&e)
		return []evtx.Event{e}
	}
	for name, tc := range map[string]struct {
		events []evtx.Event
		opts   evtxtest.EVTOptions
		want   string
	}{
		"zero time":       {with(func(e *evtx.Event) { e.Time = time.Time{} }), evtxtest.EVTOptions{}, "outside what .evt stores"},
		"time after 2106": {with(func(e *evtx.Event) { e.Time = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC) }), evtxtest.EVTOptions{}, "outside what .evt stores"},
		"NUL in string":   {with(func(e *evtx.Event) { e.Data = []evtx.Data{{Value: "a\x00b"}} }), evtxtest.EVTOptions{}, "NUL"},
		"bad SID":         {with(func(e *evtx.Event) { e.UserSID = "S-1-5-x" }), evtxtest.EVTOptions{}, "subauthority"},
		"not a SID":       {with(func(e *evtx.Event) { e.UserSID = "NT AUTHORITY\\SYSTEM" }), evtxtest.EVTOptions{}, "want S-1-"},
		"record ID":       {with(func(e *evtx.Event) { e.RecordID = 1 << 32 }), evtxtest.EVTOptions{}, "32 bits"},
		"too small":       {mixedEvents(), evtxtest.EVTOptions{MaxSize: 512}, "too small"},
		"wrap nothing":    {nil, evtxtest.EVTOptions{Wrap: true}, "at least one event"},
		"split too far":   {[]evtx.Event{ok}, evtxtest.EVTOptions{Wrap: true, SplitAt: 4096}, "split at"},
		"split unaligned": {[]evtx.Event{ok}, evtxtest.EVTOptions{Wrap: true, SplitAt: 6}, "split at"},
		"bad deleted":     {[]evtx.Event{ok}, evtxtest.EVTOptions{Deleted: with(func(e *evtx.Event) { e.Time = time.Time{} })}, "deleted event 0"},
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			err := evtxtest.WriteEVT(&buf, tc.events, tc.opts)
			require.ErrorContains(t, err, tc.want)
			require.Zero(t, buf.Len(), "nothing written on error")
		})
	}
}

// ExampleWriteEVTFile builds the Exchange 2003 ActiveSync log of the classic
// Small Business Server case: 3015 and 3024 every few minutes.
func ExampleWriteEVTFile() {
	dir, err := os.MkdirTemp("", "evtxtest")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "AppEvent.Evt")

	t0 := time.Date(2009, 3, 2, 8, 0, 0, 0, time.UTC)
	var events []evtx.Event
	for i := range 3 {
		at := t0.Add(time.Duration(i) * 7 * time.Minute)
		events = append(events,
			evtx.Event{Provider: "Server ActiveSync", EventID: 3015, Qualifiers: 0xC000, Level: evtx.LevelError,
				Computer: "SBS01", Time: at, Data: []evtx.Data{{Value: "0x80004005"}, {Value: "2883"}}},
			evtx.Event{Provider: "Server ActiveSync", EventID: 3024, Qualifiers: 0xC000, Level: evtx.LevelError,
				Computer: "SBS01", Time: at.Add(2 * time.Second), Data: []evtx.Data{{Value: "0x80004005"}}})
	}
	if err := evtxtest.WriteEVTFile(path, events, evtxtest.EVTOptions{Wrap: true, Dirty: true}); err != nil {
		panic(err)
	}

	r, err := evtx.Open(path, evtx.Options{})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	for ev, err := range evtx.All(context.Background(), r) {
		if err != nil {
			panic(err)
		}
		fmt.Println(ev.RecordID, ev.Time.Format(time.TimeOnly), ev.Channel, ev.Provider, ev.EventID, ev.Level, ev.Data)
	}
	// Output:
	// 1 08:00:00 Application Server ActiveSync 3015 Error [{ 0x80004005} { 2883}]
	// 2 08:00:02 Application Server ActiveSync 3024 Error [{ 0x80004005}]
	// 3 08:07:00 Application Server ActiveSync 3015 Error [{ 0x80004005} { 2883}]
	// 4 08:07:02 Application Server ActiveSync 3024 Error [{ 0x80004005}]
	// 5 08:14:00 Application Server ActiveSync 3015 Error [{ 0x80004005} { 2883}]
	// 6 08:14:02 Application Server ActiveSync 3024 Error [{ 0x80004005}]
}
