package evtx_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
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

// evtSamples returns the shared .evt corpus, skipping when it is absent.
// (evtx's sharedTestdata lives in the internal test package, which cannot
// import evtxtest.)
func evtSamples(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "testdata", "evt-public")
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Skipf("shared samples not found at %s (expected ../shared/testdata beside the checkout)", dir)
	}
	return dir
}

// evtSampleFiles lists the .evt files of the corpus (either case of .evt).
func evtSampleFiles(t testing.TB) []string {
	t.Helper()
	dir := evtSamples(t)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var files []string
	for _, e := range entries {
		if strings.EqualFold(filepath.Ext(e.Name()), ".evt") {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	require.NotEmpty(t, files)
	return files
}

// libevtCounts is what GROUND_TRUTH.tsv says libevt's evtexport found.
type libevtCounts struct{ items, recovered int }

func readGroundTruth(t *testing.T, dir string) map[string]libevtCounts {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "GROUND_TRUTH.tsv"))
	require.NoError(t, err)
	defer f.Close()
	got := map[string]libevtCounts{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 3 {
			continue
		}
		n, err := strconv.Atoi(cols[2])
		if err != nil {
			continue // the column header
		}
		c := got[cols[0]]
		switch cols[1] {
		case "libevt evtexport -m items":
			c.items = n
		case "libevt evtexport -m recovered":
			c.recovered = n
		default:
			continue
		}
		got[cols[0]] = c
	}
	require.NoError(t, sc.Err())
	return got
}

func readAllEVT(t testing.TB, path string, opts evtx.Options) ([]*evtx.Event, []evtx.Problem) {
	t.Helper()
	r, err := evtx.Open(path, opts)
	require.NoError(t, err)
	defer r.Close()
	require.Equal(t, evtx.FormatEVT, r.Format())
	var evs []*evtx.Event
	for ev, err := range evtx.All(context.Background(), r) {
		require.NoError(t, err)
		evs = append(evs, ev)
	}
	return evs, r.Problems()
}

func splitRecovered(evs []*evtx.Event) (live, recovered []*evtx.Event) {
	for _, ev := range evs {
		if ev.Recovered {
			recovered = append(recovered, ev)
		} else {
			live = append(live, ev)
		}
	}
	return live, recovered
}

// TestEVTSamplesMatchLibevtCounts reads every shared .evt and compares the
// live record count with libevt's (evtexport -m items) exactly.
//
// Recovered records: libevt scans the dead space between the end-of-file
// record and the oldest live record for "LfLe" and keeps whatever parses.
// We do the same and match its 438 on plaso__SysEvent.Evt; the one
// difference in kind is record 1572 at 0x1dff10, a deleted copy whose tail
// was overwritten (its trailing size is garbage). libevt prints it with 11
// "strings" made of the foreign bytes; we emit it with the 3 strings its
// header declares and Event.Err saying it is partly overwritten.
func TestEVTSamplesMatchLibevtCounts(t *testing.T) {
	dir := evtSamples(t)
	truth := readGroundTruth(t, dir)
	files := evtSampleFiles(t)
	require.Len(t, files, len(truth), "every sample has a ground-truth row")
	wantChannel := map[string]string{
		"Application.evt":     "Application",
		"Security.evt":        "Security",
		"System.evt":          "System",
		"plaso__SysEvent.Evt": "System",
		"TestLog.evt":         "",
		"TestLog-dirty.evt":   "",
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want, ok := truth[name]
			require.True(t, ok, "no GROUND_TRUTH row for %s", name)
			evs, problems := readAllEVT(t, path, evtx.Options{})
			live, recovered := splitRecovered(evs)
			require.Len(t, live, want.items, "live records vs libevt evtexport -m items")
			require.Len(t, recovered, want.recovered, "recovered records vs libevt evtexport -m recovered")
			require.Empty(t, problems)
			for _, ev := range live {
				require.Empty(t, ev.Err, "record %d", ev.RecordID)
				require.Equal(t, wantChannel[name], ev.Channel)
				require.Equal(t, path, ev.Origin.Path)
				require.Equal(t, evtx.FormatEVT, ev.Origin.Format)
			}
			// Live records come in record-number order, oldest first.
			for i := 1; i < len(live); i++ {
				require.Equal(t, live[i-1].RecordID+1, live[i].RecordID, "after offset %d", live[i-1].Origin.Offset)
			}
			damaged := 0
			for _, ev := range recovered {
				if ev.Err != "" {
					damaged++
					require.Contains(t, ev.Err, "partly overwritten")
				}
			}
			if name == "plaso__SysEvent.Evt" {
				require.Equal(t, 1, damaged)
				require.EqualValues(t, 1392, live[0].RecordID)
				require.EqualValues(t, 7454, live[len(live)-1].RecordID)
				// Record 1572 is split across the end of the buffer.
				split := live[1572-1392]
				require.EqualValues(t, 1572, split.RecordID)
				require.EqualValues(t, 0x1eff10, split.Origin.Offset)
				require.Len(t, split.Data, 3)
				require.Equal(t, "Kerberos", split.Data[1].Value)
			}
		})
	}
}

// TestEVTMatchesEvtexport compares every field libevt prints, record by
// record, with what we read: live records, then recovered ones.
func TestEVTMatchesEvtexport(t *testing.T) {
	for _, path := range evtSampleFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want, err := evtxtest.Evtexport(context.Background(), path, "all")
			if errors.Is(err, exec.ErrNotFound) {
				t.Skip(err)
			}
			require.NoError(t, err)
			got, _ := readAllEVT(t, path, evtx.Options{})
			require.Len(t, got, len(want))
			for i, w := range want {
				requireSameAsEvtexport(t, w, got[i])
			}
		})
	}
}

func requireSameAsEvtexport(t *testing.T, w evtxtest.EvtexportRecord, ev *evtx.Event) {
	t.Helper()
	where := "record " + strconv.Itoa(int(w.RecordNumber)) + " at offset " + strconv.FormatInt(ev.Origin.Offset, 16)
	require.EqualValues(t, w.RecordNumber, ev.RecordID, where)
	require.Equal(t, w.Created, ev.Time, where)
	require.Equal(t, w.EventIdentifier, ev.FullEventID(), where)
	require.Equal(t, uint16(w.EventIdentifier), ev.EventID, where)
	level, keywords := evtx.LevelFromEventType(w.EventType)
	require.Equal(t, level, ev.Level, where)
	require.Equal(t, keywords, ev.Keywords, where)
	require.Equal(t, w.Source, ev.Provider, where)
	require.Equal(t, w.Computer, ev.Computer, where)
	require.Equal(t, w.Category, ev.Task, where)
	require.Equal(t, w.UserSID, ev.UserSID, where)
	if ev.Err != "" {
		// A partly overwritten deleted record: libevt splits the foreign
		// bytes into extra strings; the ones the header declares agree
		// up to where the overwrite begins.
		require.True(t, ev.Recovered, where)
		require.LessOrEqual(t, len(ev.Data), len(w.Strings), where)
		for i := 0; i+1 < len(ev.Data); i++ {
			require.Equal(t, w.Strings[i], ev.Data[i].Value, where)
		}
		return
	}
	var values []string
	for _, d := range ev.Data {
		require.Empty(t, d.Name, where)
		values = append(values, d.Value)
	}
	// libevt splits everything up to the data offset into strings, so it
	// can print empty strings beyond the record's NumStrings (padding);
	// those are not insertion strings.
	libevt := w.Strings
	for len(libevt) > len(values) && libevt[len(libevt)-1] == "" {
		libevt = libevt[:len(libevt)-1]
	}
	require.Equal(t, libevt, values, where)
}

// TestEVTKnownRecords pins a few records of the samples to the values
// evtexport prints for them, so the test means something where evtexport is
// not installed.
func TestEVTKnownRecords(t *testing.T) {
	dir := evtSamples(t)
	evs, _ := readAllEVT(t, filepath.Join(dir, "System.evt"), evtx.Options{})
	ev := evs[0]
	require.EqualValues(t, 1, ev.RecordID)
	require.Equal(t, "EventLog", ev.Provider)
	require.Equal(t, "MACHINENAME", ev.Computer)
	require.EqualValues(t, 6009, ev.EventID)
	require.EqualValues(t, 0x8000, ev.Qualifiers)
	require.EqualValues(t, 0x80001779, ev.FullEventID())
	require.Equal(t, evtx.LevelInformation, ev.Level)
	require.Equal(t, time.Date(2026, 1, 11, 13, 35, 50, 0, time.UTC), ev.Time)
	require.Equal(t, []evtx.Data{{Value: "5.02."}, {Value: "3790"}, {Value: "Service Pack 2"}, {Value: "Multiprocessor Free"}}, ev.Data)
	require.Equal(t, "System", ev.Channel)

	evs, _ = readAllEVT(t, filepath.Join(dir, "Security.evt"), evtx.Options{})
	ev = evs[0]
	require.EqualValues(t, 612, ev.EventID)
	require.Equal(t, "Security", ev.Provider)
	require.Equal(t, "S-1-5-18", ev.UserSID)
	require.EqualValues(t, 6, ev.Task)
	require.Equal(t, evtx.LevelLogAlways, ev.Level)
	require.Equal(t, evtx.KeywordClassic|evtx.KeywordAuditSuccess, ev.Keywords)
	require.Len(t, ev.Data, 21)
	require.Equal(t, "(0x0,0x3E7)", ev.Data[20].Value)

	evs, _ = readAllEVT(t, filepath.Join(dir, "TestLog.evt"), evtx.Options{})
	require.Len(t, evs, 5)
	require.EqualValues(t, 65534, evs[3].EventID)
	require.EqualValues(t, 99, evs[3].Task)
	require.Equal(t, evtx.KeywordClassic|evtx.KeywordAuditFailure, evs[3].Keywords)
	require.Equal(t, []evtx.Data{{Value: "Test log entry, failure audit"}}, evs[3].Data)
	require.Equal(t, "POPSICKL-79ADD4", evs[3].Computer)
	require.Equal(t, "TestApp", evs[3].Provider)
}

// TestEVTDirtySampleUsesCursor: TestLog-dirty.evt's header still says the
// log is empty (end offset 0x30, next record 1); only the end-of-file
// record knows about the five records, and they must all be read.
func TestEVTDirtySampleUsesCursor(t *testing.T) {
	dir := evtSamples(t)
	path := filepath.Join(dir, "TestLog-dirty.evt")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.EqualValues(t, 1, binary.LittleEndian.Uint32(b[36:])&1, "sample is flagged dirty")
	require.EqualValues(t, 0x30, binary.LittleEndian.Uint32(b[20:]), "sample header end offset is stale")
	dirty, problems := readAllEVT(t, path, evtx.Options{})
	require.Empty(t, problems)
	clean, _ := readAllEVT(t, filepath.Join(dir, "TestLog.evt"), evtx.Options{})
	require.Len(t, dirty, len(clean))
	for i := range clean {
		require.Equal(t, clean[i].RecordID, dirty[i].RecordID)
		require.Equal(t, clean[i].Data, dirty[i].Data)
	}
}

// --- synthetic files ---------------------------------------------------------

func sbsEvents(n int) []evtx.Event {
	evs := make([]evtx.Event, n)
	t0 := time.Date(2009, 3, 2, 8, 0, 0, 0, time.UTC)
	for i := range evs {
		evs[i] = evtx.Event{
			Provider:   "Server ActiveSync",
			EventID:    3015,
			Qualifiers: 0xC000,
			Level:      evtx.LevelError,
			Computer:   "SBS01",
			Time:       t0.Add(time.Duration(i) * 7 * time.Minute),
			Data: []evtx.Data{
				{Value: "0x80004005"},
				{Value: "2883"},
			},
		}
		if i%2 == 1 {
			evs[i].EventID, evs[i].Data = 3024, evs[i].Data[:1]
		}
	}
	return evs
}

func writeEVT(t *testing.T, name string, evs []evtx.Event, opts evtxtest.EVTOptions) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, evtxtest.WriteEVTFile(path, evs, opts))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return path, b
}

func rewrite(t *testing.T, path string, b []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

func recordIDs(evs []*evtx.Event) []uint64 {
	ids := make([]uint64, len(evs))
	for i, ev := range evs {
		ids[i] = ev.RecordID
	}
	return ids
}

func TestEVTDamage(t *testing.T) {
	le := binary.LittleEndian
	// offsets learns where the writer put each record.
	offsets := func(t *testing.T, path string) []int64 {
		evs, problems := readAllEVT(t, path, evtx.Options{})
		require.Empty(t, problems)
		offs := make([]int64, len(evs))
		for i, ev := range evs {
			offs[i] = ev.Origin.Offset
		}
		return offs
	}

	t.Run("trailing size of one record", func(t *testing.T) {
		path, b := writeEVT(t, "AppEvent.Evt", sbsEvents(6), evtxtest.EVTOptions{})
		offs := offsets(t, path)
		size := le.Uint32(b[offs[2]:])
		le.PutUint32(b[offs[2]+int64(size)-4:], 0xdead)
		rewrite(t, path, b)
		evs, problems := readAllEVT(t, path, evtx.Options{})
		require.Equal(t, []uint64{1, 2, 4, 5, 6}, recordIDs(evs))
		require.Len(t, problems, 1)
		p := problems[0]
		require.Equal(t, path, p.Path)
		require.Equal(t, offs[2], p.Offset)
		require.EqualValues(t, 3, p.RecordID)
		require.Equal(t, 1, p.Skipped)
		require.ErrorContains(t, p, "trailing size")
		require.Contains(t, p.Error(), path)
	})

	t.Run("signature of one record", func(t *testing.T) {
		path, b := writeEVT(t, "AppEvent.Evt", sbsEvents(6), evtxtest.EVTOptions{})
		offs := offsets(t, path)
		copy(b[offs[3]+4:], "XXXX")
		rewrite(t, path, b)
		evs, problems := readAllEVT(t, path, evtx.Options{})
		require.Equal(t, []uint64{1, 2, 3, 5, 6}, recordIDs(evs))
		require.Len(t, problems, 1)
		require.Equal(t, offs[3], problems[0].Offset)
		require.EqualValues(t, 4, problems[0].RecordID, "inferred from the neighbours")
		require.Equal(t, 1, problems[0].Skipped)
	})

	t.Run("size field of the oldest record", func(t *testing.T) {
		path, b := writeEVT(t, "AppEvent.Evt", sbsEvents(4), evtxtest.EVTOptions{})
		offs := offsets(t, path)
		le.PutUint32(b[offs[0]:], 3)
		rewrite(t, path, b)
		evs, problems := readAllEVT(t, path, evtx.Options{})
		require.Equal(t, []uint64{2, 3, 4}, recordIDs(evs))
		require.Len(t, problems, 1)
		require.Equal(t, offs[0], problems[0].Offset)
		require.Equal(t, 1, problems[0].Skipped)
	})

	t.Run("offsets inside a record", func(t *testing.T) {
		evs := sbsEvents(3)
		evs[1].Binary = []byte{0xde, 0xad}
		path, b := writeEVT(t, "AppEvent.Evt", evs, evtxtest.EVTOptions{})
		offs := offsets(t, path)
		le.PutUint32(b[offs[1]+48:], 0x7fff) // DataLength beyond the record
		rewrite(t, path, b)
		got, problems := readAllEVT(t, path, evtx.Options{})
		require.Equal(t, []uint64{1, 2, 3}, recordIDs(got))
		require.Contains(t, got[1].Err, "binary data")
		require.Nil(t, got[1].Binary)
		require.Equal(t, "Server ActiveSync", got[1].Provider, "what is in bounds is kept")
		require.Equal(t, []evtx.Data{{Value: "0x80004005"}}, got[1].Data)
		require.Len(t, problems, 1)
		require.EqualValues(t, 2, problems[0].RecordID)
		require.Equal(t, 0, problems[0].Skipped)
	})

	t.Run("truncated copy", func(t *testing.T) {
		path, b := writeEVT(t, "AppEvent.Evt", sbsEvents(6), evtxtest.EVTOptions{})
		offs := offsets(t, path)
		size := offs[4] + 20
		rewrite(t, path, b[:size])
		evs, problems := readAllEVT(t, path, evtx.Options{})
		require.Equal(t, []uint64{1, 2, 3, 4}, recordIDs(evs))
		require.Len(t, problems, 2)
		// Offsets are in the file, and the messages say what happened.
		require.ErrorContains(t, problems[0], "no end-of-file record")
		require.ErrorContains(t, problems[0], "truncated")
		require.Equal(t, size, problems[0].Offset)
		require.Equal(t, offs[4], problems[1].Offset)
		require.EqualValues(t, 5, problems[1].RecordID)
		require.Equal(t, 1, problems[1].Skipped, "the cut record is counted as lost")
		require.ErrorContains(t, problems[1], "more than the 20 bytes left in the file")
	})

	t.Run("truncated inside the first record", func(t *testing.T) {
		path, b := writeEVT(t, "AppEvent.Evt", sbsEvents(2), evtxtest.EVTOptions{})
		rewrite(t, path, b[:100])
		evs, problems := readAllEVT(t, path, evtx.Options{})
		require.Empty(t, evs)
		require.Len(t, problems, 2, "%v", problems)
		require.Equal(t, int64(100), problems[0].Offset)
		require.Equal(t, int64(48), problems[1].Offset)
		require.ErrorContains(t, problems[1], "no complete record in the 52 bytes after the header")
	})

	t.Run("header shorter than 48 bytes", func(t *testing.T) {
		path, b := writeEVT(t, "AppEvent.Evt", sbsEvents(1), evtxtest.EVTOptions{})
		rewrite(t, path, b[:20])
		evs, problems := readAllEVT(t, path, evtx.Options{})
		require.Empty(t, evs)
		require.Len(t, problems, 1)
		require.Equal(t, int64(0), problems[0].Offset)
	})

	t.Run("header offsets garbage but not flagged dirty", func(t *testing.T) {
		path, b := writeEVT(t, "AppEvent.Evt", sbsEvents(5), evtxtest.EVTOptions{MaxSize: 64 << 10})
		le.PutUint32(b[16:], 0xfffffff0) // StartOffset
		le.PutUint32(b[20:], 0x12345)    // EndOffset
		rewrite(t, path, b)
		evs, problems := readAllEVT(t, path, evtx.Options{})
		require.Equal(t, []uint64{1, 2, 3, 4, 5}, recordIDs(evs))
		require.Empty(t, problems, "the end-of-file record has the right offsets")
	})

	t.Run("oldest-record offsets wrong everywhere", func(t *testing.T) {
		path, b := writeEVT(t, "AppEvent.Evt", sbsEvents(5), evtxtest.EVTOptions{Wrap: true})
		offs := offsets(t, path)
		eof := le.Uint32(b[20:])
		le.PutUint32(b[16:], 0x40)     // header StartOffset
		le.PutUint32(b[eof+20:], 0x40) // cursor BeginRecord
		rewrite(t, path, b)
		evs, problems := readAllEVT(t, path, evtx.Options{})
		require.Equal(t, []uint64{1, 2, 3, 4, 5}, recordIDs(evs), "first record after the cursor, as libevt does")
		require.Equal(t, offs[0], evs[0].Origin.Offset)
		require.Len(t, problems, 1)
		require.ErrorContains(t, problems[0], "oldest-record offset")
	})

	t.Run("oldest-record offset outside the file", func(t *testing.T) {
		path, b := writeEVT(t, "AppEvent.Evt", sbsEvents(5), evtxtest.EVTOptions{Wrap: true})
		eof := le.Uint32(b[20:])
		le.PutUint32(b[16:], 0xfffff000)     // header StartOffset
		le.PutUint32(b[eof+20:], 0xfffff000) // cursor BeginRecord
		rewrite(t, path, b)
		evs, problems := readAllEVT(t, path, evtx.Options{})
		require.Equal(t, []uint64{1, 2, 3, 4, 5}, recordIDs(evs))
		require.Len(t, problems, 1)
		require.ErrorContains(t, problems[0], "oldest-record offset 0xfffff000")
		require.Equal(t, int64(eof), problems[0].Offset, "reported at the cursor that holds the bad offset")
	})

	t.Run("deleted record partly overwritten", func(t *testing.T) {
		deleted := sbsEvents(2)
		path, b := writeEVT(t, "AppEvent.Evt", sbsEvents(3), evtxtest.EVTOptions{Deleted: deleted})
		evs, _ := readAllEVT(t, path, evtx.Options{})
		require.Len(t, evs, 5)
		last := evs[4]
		require.True(t, last.Recovered)
		size := le.Uint32(b[last.Origin.Offset:])
		le.PutUint32(b[last.Origin.Offset+int64(size)-4:], 0x00740065) // "e\0t\0"
		rewrite(t, path, b)
		evs, problems := readAllEVT(t, path, evtx.Options{})
		require.Empty(t, problems, "damage in dead space is not a reading problem")
		require.Len(t, evs, 5)
		require.True(t, evs[4].Recovered)
		require.Contains(t, evs[4].Err, "partly overwritten")
		require.Equal(t, "Server ActiveSync", evs[4].Provider)
	})

	t.Run("garbage between records", func(t *testing.T) {
		path, b := writeEVT(t, "AppEvent.Evt", sbsEvents(8), evtxtest.EVTOptions{Wrap: true, MaxSize: 64 << 10})
		offs := offsets(t, path)
		// Zero records 2 and 3 (neither is the split one).
		end := offs[4]
		for i := offs[2]; i < end; i++ {
			b[i] = 0
		}
		rewrite(t, path, b)
		evs, problems := readAllEVT(t, path, evtx.Options{})
		require.Equal(t, []uint64{1, 2, 5, 6, 7, 8}, recordIDs(evs))
		require.Len(t, problems, 1)
		require.Equal(t, 2, problems[0].Skipped)
		require.Equal(t, offs[2], problems[0].Offset)
	})
}

func TestEVTEmptyLog(t *testing.T) {
	path, _ := writeEVT(t, "SysEvent.Evt", nil, evtxtest.EVTOptions{MaxSize: 64 << 10})
	evs, problems := readAllEVT(t, path, evtx.Options{})
	require.Empty(t, evs)
	require.Empty(t, problems)
}

func TestEVTFilter(t *testing.T) {
	evs := sbsEvents(10)
	evs[7].Provider = "MSExchangeIS"
	path, _ := writeEVT(t, "AppEvent.Evt", evs, evtxtest.EVTOptions{Wrap: true, Deleted: sbsEvents(2)})

	var asked []evtx.Header
	got, _ := readAllEVT(t, path, evtx.Options{Filter: evtx.Filter{
		MinRecordID: 4,
		Keep: func(h evtx.Header) bool {
			asked = append(asked, h)
			return h.EventID == 3015 && h.Provider == "Server ActiveSync"
		},
	}})
	// 3015 are the odd record numbers; 8 is from another provider.
	require.Equal(t, []uint64{5, 7, 9}, recordIDs(got))
	// Keep is asked only about records from 4 up (the deleted records are 1
	// and 2), with what the record header gives.
	require.Len(t, asked, 7)
	require.Equal(t, evtx.Header{
		Provider: "Server ActiveSync",
		EventID:  3024,
		RecordID: 4,
		Time:     evs[3].Time,
		Channel:  "Application",
	}, asked[0])
}

func TestEVTCancel(t *testing.T) {
	path, _ := writeEVT(t, "AppEvent.Evt", sbsEvents(3), evtxtest.EVTOptions{})
	r, err := evtx.Open(path, evtx.Options{})
	require.NoError(t, err)
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ev, err := r.Next(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, ev.RecordID)
	cancel()
	_, err = r.Next(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

func TestEVTChannelFromFileName(t *testing.T) {
	for name, want := range map[string]string{
		"SysEvent.Evt":            "System",
		"AppEvent.Evt":            "Application",
		"SecEvent.Evt":            "Security",
		"DnsEvent.Evt":            "DNS Server",
		"NtFrs.Evt":               "File Replication Service",
		"System.evt":              "System",
		"server1-Application.evt": "Application",
		"plaso__SysEvent.Evt":     "System",
		"MyApplication.evt":       "",
		"TestLog.evt":             "",
		"filesystem.evt":          "",
	} {
		path, _ := writeEVT(t, name, sbsEvents(1), evtxtest.EVTOptions{})
		evs, _ := readAllEVT(t, path, evtx.Options{})
		require.Len(t, evs, 1)
		require.Equal(t, want, evs[0].Channel, name)
	}
}

// rotateEVT turns a log into the same log with its circular buffer rotated
// by k bytes, the way it would lie after the service had wrapped: every
// record, the cursor and the dead space move k bytes back around the
// buffer, and the header and cursor offsets follow.
func rotateEVT(b []byte, k int, dirty bool) []byte {
	le := binary.LittleEndian
	const lo = 0x30
	ring := len(b) - lo
	out := make([]byte, len(b))
	copy(out, b[:lo])
	for i := 0; i < ring; i++ {
		out[lo+(i-k+ring)%ring] = b[lo+i]
	}
	move := func(off uint32) uint32 { return uint32(lo + (int(off)-lo-k+2*ring)%ring) }
	eof := move(le.Uint32(b[20:]))
	put := func(off uint32, v uint32) { // a cursor field may itself wrap
		var f [4]byte
		le.PutUint32(f[:], v)
		for i := range f {
			out[lo+(int(off)-lo+i)%ring] = f[i]
		}
	}
	start := move(le.Uint32(b[16:]))
	put(eof+20, start)
	put(eof+24, eof)
	le.PutUint32(out[16:], start)
	le.PutUint32(out[20:], eof)
	le.PutUint32(out[36:], le.Uint32(b[36:])|2)
	if dirty {
		le.PutUint32(out[20:], 0x30) // stale
		le.PutUint32(out[36:], le.Uint32(out[36:])|1)
	}
	return out
}

// TestEVTEveryWrapPosition rotates a small log through every 4-byte
// position of its buffer, so that each record, each field of the record
// header and the end-of-file record are in turn split across the end of
// the file, and checks the same records come back.
func TestEVTEveryWrapPosition(t *testing.T) {
	evs := sbsEvents(5)
	evs[2].UserSID = "S-1-5-20"
	evs[3].Binary = []byte("binary data")
	dir := t.TempDir()
	base := filepath.Join(dir, "AppEvent.Evt")
	// 64 bytes of dead space stay somewhere in the buffer.
	var probe bytes.Buffer
	require.NoError(t, evtxtest.WriteEVT(&probe, evs, evtxtest.EVTOptions{}))
	require.NoError(t, evtxtest.WriteEVTFile(base, evs, evtxtest.EVTOptions{MaxSize: uint32(probe.Len() + 64)}))
	want, problems := readAllEVT(t, base, evtx.Options{})
	require.Empty(t, problems)
	require.Len(t, want, len(evs))
	b, err := os.ReadFile(base)
	require.NoError(t, err)

	_, err = exec.LookPath("evtexport")
	haveLibevt := err == nil
	ring := len(b) - 0x30
	for k := 4; k < ring; k += 4 {
		for _, dirty := range []bool{false, true} {
			path := filepath.Join(dir, "AppEvent.Evt")
			require.NoError(t, os.WriteFile(path, rotateEVT(b, k, dirty), 0o644))
			got, problems := readAllEVT(t, path, evtx.Options{})
			require.Empty(t, problems, "rotation %d dirty %v", k, dirty)
			require.Len(t, got, len(want), "rotation %d dirty %v", k, dirty)
			for i := range want {
				w := *want[i]
				w.Origin.Offset = got[i].Origin.Offset
				require.Equal(t, w, *got[i], "rotation %d dirty %v record %d", k, dirty, i)
			}
			// libevt agrees that these are valid wrapped logs.
			if haveLibevt && !dirty && k%52 == 0 {
				items, err := evtxtest.Evtexport(context.Background(), path, "items")
				require.NoError(t, err)
				require.Len(t, items, len(evs), "libevt, rotation %d", k)
			}
		}
	}
}
