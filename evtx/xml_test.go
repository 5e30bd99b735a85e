package evtx

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// update rewrites golden files instead of comparing with them; it is the
// one -update flag of this package's tests.
var update = flag.Bool("update", false, "rewrite testdata golden files")

// readAllEvents opens path and drains it.
func readAllEvents(t testing.TB, path string, opts Options) ([]*Event, []Problem, Format) {
	t.Helper()
	r, err := Open(path, opts)
	require.NoError(t, err)
	defer r.Close()
	var events []*Event
	for ev, err := range All(context.Background(), r) {
		require.NoError(t, err)
		events = append(events, ev)
	}
	return events, r.Problems(), r.Format()
}

// requireGolden compares events with testdata/<name>.golden.json.
func requireGolden(t *testing.T, golden string, events []*Event) {
	t.Helper()
	// Golden files name their inputs with forward slashes; on Windows the
	// test paths are joined with backslashes.
	for _, ev := range events {
		ev.Origin.Path = filepath.ToSlash(ev.Origin.Path)
	}
	got, err := json.MarshalIndent(events, "", "  ")
	require.NoError(t, err)
	got = append(got, '\n')
	if *update {
		require.NoError(t, os.WriteFile(golden, got, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test -update to create it")
	require.Equal(t, string(want), string(got))
}

const scm7023 = `<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Service Control Manager' Guid='{555908d1-a6d7-4695-8e1e-26931d2012f4}' EventSourceName='Service Control Manager'/><EventID Qualifiers='49152'>7023</EventID><Version>0</Version><Level>2</Level><Task>0</Task><Opcode>0</Opcode><Keywords>0x8080000000000000</Keywords><TimeCreated SystemTime='2019-03-14T10:31:07.512345600Z'/><EventRecordID>48212</EventRecordID><Correlation ActivityID='{A}' RelatedActivityID='{B}'/><Execution ProcessID='620' ThreadID='3184'/><Channel>System</Channel><Computer>SBSHQ01.contoso.local</Computer><Security UserID='S-1-5-18'/></System><EventData><Data Name='param1'>Network Policy Server</Data><Data Name='param2'>%%10048</Data><Binary>4900410053000000</Binary></EventData></Event>`

func TestParseEventXML(t *testing.T) {
	ev, err := ParseEventXML([]byte(scm7023))
	require.NoError(t, err)
	require.Equal(t, &Event{
		Provider:          "Service Control Manager",
		ProviderGUID:      "{555908d1-a6d7-4695-8e1e-26931d2012f4}",
		EventID:           7023,
		Qualifiers:        0xC000,
		Level:             LevelError,
		Keywords:          0x8080000000000000,
		Channel:           "System",
		Computer:          "SBSHQ01.contoso.local",
		RecordID:          48212,
		Time:              time.Date(2019, 3, 14, 10, 31, 7, 512345600, time.UTC),
		UserSID:           "S-1-5-18",
		ActivityID:        "{A}",
		RelatedActivityID: "{B}",
		ProcessID:         620,
		ThreadID:          3184,
		Data:              []Data{{Name: "param1", Value: "Network Policy Server"}, {Name: "param2", Value: "%%10048"}},
		Binary:            []byte{'I', 0, 'A', 0, 'S', 0, 0, 0},
		Origin:            Origin{Format: FormatXML, Offset: -1},
	}, ev)
	require.Equal(t, uint32(0xC0001B6F), ev.FullEventID())
	v, ok := ev.Field("PARAM2")
	require.True(t, ok)
	require.Equal(t, "%%10048", v)
}

func TestParseEventXMLShapes(t *testing.T) {
	const ns = `xmlns="http://schemas.microsoft.com/win/2004/08/events/event"`
	sys := func(inner string) string {
		return `<Event ` + ns + `><System><Provider Name="P"/><EventID>1</EventID>` + inner + `</System></Event>`
	}
	tests := []struct {
		name  string
		xml   string
		check func(t *testing.T, ev *Event)
		err   string // substring of the error; the event is still returned unless nilEvent
		nil   bool
	}{
		{name: "times with 0, 3, 7 and 9 fraction digits and no Z", xml: sys(`<TimeCreated SystemTime="2008-03-14T17:37:21Z"/>`), check: func(t *testing.T, ev *Event) {
			require.Equal(t, time.Date(2008, 3, 14, 17, 37, 21, 0, time.UTC), ev.Time)
		}},
		{name: "millis", xml: sys(`<TimeCreated SystemTime="2008-03-14T17:37:21.123Z"/>`), check: func(t *testing.T, ev *Event) {
			require.Equal(t, 123000000, ev.Time.Nanosecond())
		}},
		{name: "dotnet 7 digits", xml: sys(`<TimeCreated SystemTime="2008-03-14T17:37:21.1234567Z"/>`), check: func(t *testing.T, ev *Event) {
			require.Equal(t, 123456700, ev.Time.Nanosecond())
		}},
		{name: "offset", xml: sys(`<TimeCreated SystemTime="2008-03-14T18:37:21.5+01:00"/>`), check: func(t *testing.T, ev *Event) {
			require.Equal(t, time.Date(2008, 3, 14, 17, 37, 21, 500000000, time.UTC), ev.Time)
			require.Equal(t, time.UTC, ev.Time.Location())
		}},
		{name: "no zone is UTC", xml: sys(`<TimeCreated SystemTime="2008-03-14T17:37:21.25"/>`), check: func(t *testing.T, ev *Event) {
			require.Equal(t, time.Date(2008, 3, 14, 17, 37, 21, 250000000, time.UTC), ev.Time)
		}},
		{name: "empty elements are zero", xml: sys(`<Version/><Level/><Task/><Opcode></Opcode><Keywords/><Channel/><Computer/><Security/><Correlation/>`), check: func(t *testing.T, ev *Event) {
			require.Equal(t, "P", ev.Provider)
			require.Zero(t, ev.Level)
			require.Zero(t, ev.Keywords)
		}},
		{name: "event source name equal to provider is dropped", xml: `<Event><System><Provider EventSourceName="X" Name="X"/></System></Event>`, check: func(t *testing.T, ev *Event) {
			require.Equal(t, "X", ev.Provider)
			require.Empty(t, ev.Source)
		}},
		{name: "event source name kept when different", xml: `<Event><System><Provider Name="Microsoft-Windows-DNS-Server-Service" EventSourceName="DNS"/></System></Event>`, check: func(t *testing.T, ev *Event) {
			require.Equal(t, "DNS", ev.Source)
			require.True(t, ev.FromProvider("dns"))
		}},
		{name: "32-bit event id keeps its qualifiers", xml: `<Event><System><EventID>3221240477</EventID></System></Event>`, check: func(t *testing.T, ev *Event) {
			require.Equal(t, uint16(15005), ev.EventID)
			require.Equal(t, uint16(0xC000), ev.Qualifiers)
		}},
		{name: "unnamed data in order, entities decoded, whitespace kept", xml: `<Event><EventData><Data>a &amp; b</Data><Data> 2883 </Data><Data/><Data>&#x41;&lt;</Data></EventData></Event>`, check: func(t *testing.T, ev *Event) {
			require.Equal(t, []Data{{Value: "a & b"}, {Value: " 2883 "}, {Value: ""}, {Value: "A<"}}, ev.Data)
			s, ok := ev.Insertion(2)
			require.True(t, ok)
			require.Equal(t, " 2883 ", s)
		}},
		{name: "user data leaves flattened in document order", xml: `<Event><UserData><Wrap xmlns="urn:x"><A>1</A><Nested><B>2</B><C/></Nested><D>4</D></Wrap></UserData></Event>`, check: func(t *testing.T, ev *Event) {
			require.Equal(t, []Data{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}, {Name: "C", Value: ""}, {Name: "D", Value: "4"}}, ev.Data)
		}},
		{name: "processing error data flattened", xml: `<Event><ProcessingErrorData><ErrorCode>15005</ErrorCode><DataItemName>Address</DataItemName><EventPayload>0102</EventPayload></ProcessingErrorData></Event>`, check: func(t *testing.T, ev *Event) {
			require.Equal(t, []Data{{Name: "ErrorCode", Value: "15005"}, {Name: "DataItemName", Value: "Address"}, {Name: "EventPayload", Value: "0102"}}, ev.Data)
		}},
		{name: "binary event data", xml: `<Event><BinaryEventData>0A0b</BinaryEventData></Event>`, check: func(t *testing.T, ev *Event) {
			require.Equal(t, []byte{0x0A, 0x0B}, ev.Binary)
		}},
		{name: "rendering info message with CRLF", xml: `<Event><System><Level>2</Level></System><RenderingInfo Culture="de-DE"><Message>line 1&#13;
line 2</Message><Level>Fehler</Level><Keywords><Keyword>Klassisch</Keyword></Keywords></RenderingInfo></Event>`, check: func(t *testing.T, ev *Event) {
			require.Equal(t, "line 1\nline 2", ev.Message)
			require.Equal(t, LevelError, ev.Level)
		}},
		{name: "prefixed names and an xml declaration", xml: `<?xml version="1.0" encoding="UTF-16"?><e:Event xmlns:e="x"><e:System><e:EventID>7</e:EventID></e:System></e:Event>`, check: func(t *testing.T, ev *Event) {
			require.Equal(t, uint16(7), ev.EventID)
		}},
		{name: "bad time", xml: sys(`<TimeCreated SystemTime="yesterday"/><EventRecordID>5</EventRecordID>`), err: `time created: bad time "yesterday"`, check: func(t *testing.T, ev *Event) {
			require.Equal(t, uint64(5), ev.RecordID)
			require.Contains(t, ev.Err, "yesterday")
		}},
		{name: "number out of range", xml: sys(`<Level>300</Level>`), err: "level: 300 out of range"},
		{name: "bad hex", xml: `<Event><EventData><Binary>XYZ</Binary></EventData></Event>`, err: "binary: encoding/hex"},
		{name: "mismatched tag", xml: `<Event><System><Level>2</Lvl></System></Event>`, err: "element <Level> closed by </Lvl>", nil: true},
		{name: "not an event", xml: `<Events></Events>`, err: "root element is <Events>", nil: true},
		{name: "empty", xml: ``, err: "no <Event> element", nil: true},
		{name: "truncated", xml: `<Event><System>`, err: "unexpected EOF", nil: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := ParseEventXML([]byte(tc.xml))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
			} else {
				require.NoError(t, err)
			}
			if tc.nil {
				require.Nil(t, ev)
				return
			}
			require.NotNil(t, ev)
			if tc.check != nil {
				tc.check(t, ev)
			}
		})
	}
}

func TestXMLReaderFixtures(t *testing.T) {
	tests := []struct {
		file      string
		ids       []uint16
		recordIDs []uint64
	}{
		{"wevtutil-system.xml", []uint16{7036, 7023, 15005, 104, 407}, []uint64{48211, 48212, 48213, 48214, 48215}},
		{"wevtutil-application-events.xml", []uint16{3015, 3024, 3015}, []uint64{91234, 91235, 91240}},
		{"wevtutil-rendered.xml", []uint16{7023, 15005}, []uint64{48212, 48213}},
		{"powershell-toxml-utf16le.xml", []uint16{7023, 15005, 407}, []uint64{48212, 48213, 48215}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "xml", tc.file)
			events, problems, format := readAllEvents(t, path, Options{})
			require.Equal(t, FormatXML, format)
			require.Empty(t, problems)
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			var ids []uint16
			var recs []uint64
			for _, ev := range events {
				ids = append(ids, ev.EventID)
				recs = append(recs, ev.RecordID)
				require.Equal(t, path, ev.Origin.Path)
				require.Equal(t, FormatXML, ev.Origin.Format)
				// The offset is where the element starts in the file as
				// stored, whatever its encoding.
				at := decodeTextHead(raw[ev.Origin.Offset:min(len(raw), int(ev.Origin.Offset)+40)])
				if bytes.HasPrefix(raw, []byte{0xFF, 0xFE}) {
					at = utf16ToUTF8(raw[ev.Origin.Offset:min(len(raw), int(ev.Origin.Offset)+40)], false)
				}
				require.True(t, bytes.HasPrefix(at, []byte("<Event ")), "offset %d: %q", ev.Origin.Offset, at)
				require.Empty(t, ev.Err)
			}
			require.Equal(t, tc.ids, ids)
			require.Equal(t, tc.recordIDs, recs)
		})
	}
}

func TestXMLReaderFields(t *testing.T) {
	events, _, _ := readAllEvents(t, filepath.Join("testdata", "xml", "wevtutil-system.xml"), Options{})
	require.Len(t, events, 5)

	http := events[2]
	require.Equal(t, "Microsoft-Windows-HttpEvent", http.Provider)
	require.Equal(t, "HTTP", http.Source)
	require.True(t, http.FromProvider("HTTP"))
	addr, ok := http.Field("Address")
	require.True(t, ok)
	require.Equal(t, "0.0.0.0:443", addr)
	require.Equal(t, uint32(0xC0003A9D), http.FullEventID())
	require.Len(t, http.Binary, 36)

	cleared := events[3]
	require.Equal(t, "S-1-5-21-3623811015-3361044348-30300820-500", cleared.UserSID)
	require.Equal(t, []Data{{Name: "SubjectUserName", Value: "Administrator"}, {Name: "SubjectDomainName", Value: "CONTOSO"}, {Name: "Channel", Value: "Application"}, {Name: "BackupPath", Value: ""}}, cleared.Data)

	dns := events[4]
	require.Equal(t, "DNS", dns.Source)
	require.Equal(t, []Data{{Value: "0.0.0.0"}}, dns.Data)
	require.Equal(t, []byte{0x40, 0x27, 0, 0}, dns.Binary) // 10048 little-endian
	require.Equal(t, "{8B6E1C0E-6B1A-4C1A-9E5E-2F0C7B9A3D11}", dns.ActivityID)
	require.Equal(t, time.Date(2019, 3, 14, 10, 41, 12, 777000000, time.UTC), dns.Time)

	rendered, _, _ := readAllEvents(t, filepath.Join("testdata", "xml", "wevtutil-rendered.xml"), Options{})
	require.Equal(t, "The Network Policy Server service terminated with the following error: \nOnly one usage of each socket address (protocol/network address/port) is normally permitted.", rendered[0].Message)
	require.Equal(t, events[1].Data, rendered[0].Data)
	require.Contains(t, rendered[1].Message, "0.0.0.0:443")

	app, _, _ := readAllEvents(t, filepath.Join("testdata", "xml", "wevtutil-application-events.xml"), Options{})
	require.Equal(t, []Data{{Value: "0x80004005"}, {Value: "2883"}}, app[0].Data)
	require.Equal(t, "Server ActiveSync", app[0].Provider)
	require.Empty(t, app[0].Source)
}

func TestXMLReaderGolden(t *testing.T) {
	for _, name := range []string{"wevtutil-system.xml", "wevtutil-rendered.xml"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", "xml", name)
			events, problems, _ := readAllEvents(t, path, Options{})
			require.Empty(t, problems)
			requireGolden(t, path+".golden.json", events)
		})
	}
}

func TestXMLReaderDamaged(t *testing.T) {
	path := filepath.Join("testdata", "xml", "damaged.xml")
	events, problems, _ := readAllEvents(t, path, Options{})

	var offsets []int64
	for _, ev := range events {
		offsets = append(offsets, ev.Origin.Offset)
	}
	// The mismatched tag and the truncated tail are skipped; the bad time
	// is kept, flagged, with everything else it carries.
	require.Equal(t, []int64{0, 1490, 2169}, offsets)
	require.Equal(t, uint64(48213), events[1].RecordID)
	require.Contains(t, events[1].Err, "time created")
	require.True(t, events[1].Time.IsZero())
	require.Equal(t, "0.0.0.0:443", events[1].Data[0].Value)

	require.Len(t, problems, 3)
	require.Equal(t, int64(750), problems[0].Offset)
	require.Equal(t, 1, problems[0].Skipped)
	require.ErrorContains(t, problems[0], "malformed event xml")
	require.Equal(t, int64(1490), problems[1].Offset)
	require.Equal(t, 0, problems[1].Skipped)
	require.Equal(t, int64(3041), problems[2].Offset)
	require.Equal(t, 1, problems[2].Skipped)
	require.ErrorContains(t, problems[2], "truncated")
	require.Contains(t, problems[0].Error(), path+": offset 750 (0x2ee)")
}

func TestXMLReaderResync(t *testing.T) {
	const good = `<Event><System><EventRecordID>%d</EventRecordID></System></Event>`
	ev := func(n int) string { return strings.Replace(good, "%d", strconv.Itoa(n), 1) }
	tests := []struct {
		name     string
		in       string
		want     []uint64
		problems int
	}{
		{"junk around, no separators", "garbage " + ev(1) + ev(2) + " trailing <Events", []uint64{1, 2}, 0},
		{"a start without an end is cut off by the next start", ev(1) + "<Event><System>" + ev(3), []uint64{1, 3}, 1},
		{"events wrapper with declaration and comments", `<?xml version="1.0"?><!-- wevtutil --><Events>` + ev(1) + "\r\n" + ev(2) + `</Events>`, []uint64{1, 2}, 0},
		{"look-alike tags are not starts", "<EventLog><EventsX>" + ev(4), []uint64{4}, 0},
		{"self-closing event", "<Event/>" + ev(5), []uint64{0, 5}, 0},
		{"end tag with space", "<Event><System><EventRecordID>6</EventRecordID></System></Event >", []uint64{6}, 0},
		{"empty input", "", nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newXMLReader(strings.NewReader(tc.in), nil, "mem", Options{})
			var got []uint64
			for ev, err := range All(context.Background(), r) {
				require.NoError(t, err)
				got = append(got, ev.RecordID)
				require.True(t, strings.HasPrefix(tc.in[ev.Origin.Offset:], "<Event"))
			}
			require.Equal(t, tc.want, got)
			require.Len(t, r.Problems(), tc.problems)
		})
	}
}

// TestXMLReaderSmallReads feeds the reader a byte at a time so every
// framing decision meets a split buffer.
func TestXMLReaderSmallReads(t *testing.T) {
	for _, name := range []string{"wevtutil-system.xml", "powershell-toxml-utf16le.xml", "damaged.xml"} {
		raw, err := os.ReadFile(filepath.Join("testdata", "xml", name))
		require.NoError(t, err)
		whole := drainXML(t, bytes.NewReader(raw))
		split := drainXML(t, &oneByteReader{raw})
		require.Equal(t, whole, split, name)
		require.NotEmpty(t, whole)
	}
}

type oneByteReader struct{ b []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}

func drainXML(t *testing.T, in io.Reader) []string {
	t.Helper()
	r := newXMLReader(in, nil, "mem", Options{})
	var out []string
	for ev, err := range All(context.Background(), r) {
		require.NoError(t, err)
		out = append(out, strconv.FormatInt(ev.Origin.Offset, 10)+" "+strconv.FormatUint(ev.RecordID, 10)+" "+ev.Err)
	}
	for _, p := range r.Problems() {
		out = append(out, p.Error())
	}
	return out
}

func TestXMLReaderFilter(t *testing.T) {
	path := filepath.Join("testdata", "xml", "wevtutil-system.xml")
	var asked []Header
	events, _, _ := readAllEvents(t, path, Options{Filter: Filter{
		MinRecordID: 48212,
		Keep: func(h Header) bool {
			asked = append(asked, h)
			return h.Provider == "Service Control Manager" || h.Source == "DNS"
		},
	}})
	var ids []uint16
	for _, ev := range events {
		ids = append(ids, ev.EventID)
	}
	require.Equal(t, []uint16{7023, 407}, ids)
	require.Len(t, asked, 4) // 48211 never reached Keep
	require.Equal(t, "System", asked[0].Channel)
	require.Equal(t, uint64(48212), asked[0].RecordID)
	require.False(t, asked[0].Time.IsZero())
}

func TestXMLReaderCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r, err := Open(filepath.Join("testdata", "xml", "wevtutil-system.xml"), Options{})
	require.NoError(t, err)
	defer r.Close()
	_, err = r.Next(ctx)
	require.NoError(t, err)
	cancel()
	_, err = r.Next(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

func TestXMLReaderReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	r := newXMLReader(io.MultiReader(strings.NewReader(scm7023), &failingReader{boom}), nil, "mem", Options{})
	ev, err := r.Next(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint16(7023), ev.EventID)
	_, err = r.Next(context.Background())
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "read mem")
}

type failingReader struct{ err error }

func (r *failingReader) Read([]byte) (int, error) { return 0, r.err }

// TestXMLMatchesEvtxexport renders shared .evtx samples to XML with libevtx's
// evtxexport and checks that our XML reader finds the same records, with
// the same event IDs in the same order, as evtxexport's own text mode.
func TestXMLMatchesEvtxexport(t *testing.T) {
	dir := filepath.Join(sharedTestdata(t), "evtx-public")
	if _, err := exec.LookPath("evtxexport"); err != nil {
		t.Skip("evtxexport not installed (apt-get install libevtx-utils)")
	}
	// dns_log_malformed.evtx has raw control characters in its event data,
	// which libevtx (like EvtRender) copies into the XML unescaped.
	for _, name := range []string{"HTTP_Server.evtx", "ID6004-DNS-server-failed zone transfer.evtx", "Security_short_selected.evtx", "System2.evtx", "dns_log_malformed.evtx"} {
		t.Run(name, func(t *testing.T) {
			sample := filepath.Join(dir, name)
			if _, err := os.Stat(sample); err != nil {
				t.Skipf("sample missing: %v", err)
			}
			xmlOut, err := exec.Command("evtxexport", "-f", "xml", sample).Output()
			require.NoError(t, err)
			textOut, err := exec.Command("evtxexport", sample).Output()
			require.NoError(t, err)
			want := evtxexportTextIDs(textOut)
			require.NotEmpty(t, want)

			// evtxexport prints a version banner before the XML; it is still
			// recognised as XML, and the reader skips what is not an <Event>.
			path := filepath.Join(t.TempDir(), "export.xml")
			require.NoError(t, os.WriteFile(path, xmlOut, 0o644))
			events, problems, format := readAllEvents(t, path, Options{})
			require.Equal(t, FormatXML, format)
			require.Empty(t, problems)
			got := make([]uint16, len(events))
			for i, ev := range events {
				got[i] = ev.EventID
				require.False(t, ev.Time.IsZero())
			}
			require.Equal(t, len(want), len(got))
			require.Equal(t, want, got)
			requireScannerMatchesEncodingXML(t, xmlOut)
		})
	}
}

var evtxexportIDLine = regexp.MustCompile(`(?m)^Event identifier\s*: 0x[0-9a-f]+ \((\d+)\)`)

func evtxexportTextIDs(out []byte) []uint16 {
	var ids []uint16
	for _, m := range evtxexportIDLine.FindAllSubmatch(out, -1) {
		n, _ := strconv.ParseUint(string(m[1]), 10, 32)
		ids = append(ids, uint16(n))
	}
	return ids
}

// decodeWithEncodingXML feeds the builder from encoding/xml instead of our
// scanner: the reference the scanner is checked against.
func decodeWithEncodingXML(data []byte) (*Event, error) {
	ev := &Event{Origin: Origin{Format: FormatXML, Offset: -1}}
	var b eventBuilder
	b.reset(ev)
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var attrs []xmlAttr
	for !b.done {
		tok, err := d.Token()
		if err == io.EOF {
			return nil, errors.New("no <Event> element")
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			attrs = attrs[:0]
			for _, a := range t.Attr {
				attrs = append(attrs, xmlAttr{name: []byte(a.Name.Local), value: []byte(a.Value)})
			}
			if err := b.start([]byte(t.Name.Local), attrs); err != nil {
				return nil, err
			}
		case xml.EndElement:
			b.end()
		case xml.CharData:
			b.chars(t)
		}
	}
	if len(b.errs) > 0 {
		ev.Err = strings.Join(b.errs, "; ")
	}
	return ev, nil
}

// requireSameAsEncodingXML checks one element: wherever encoding/xml
// accepts it, our scanner must accept it too and build the same Event.
// It reports whether encoding/xml accepted it.
func requireSameAsEncodingXML(t testing.TB, elem []byte) bool {
	t.Helper()
	want, werr := decodeWithEncodingXML(elem)
	if werr != nil {
		return false // we may be more lenient (control characters), never stricter
	}
	got := &Event{Origin: Origin{Format: FormatXML, Offset: -1}}
	var b eventBuilder
	require.NoError(t, b.decode(elem, got), "encoding/xml accepts %q", elem)
	require.Equal(t, want, got, "%q", elem)
	return true
}

// requireScannerMatchesEncodingXML frames every element of a file and
// compares the two decoders on it.
func requireScannerMatchesEncodingXML(t testing.TB, file []byte) {
	t.Helper()
	r := newXMLReader(bytes.NewReader(file), nil, "mem", Options{})
	for {
		elem, _, ok := r.nextElement()
		if !ok {
			return
		}
		requireSameAsEncodingXML(t, elem)
	}
}

func TestXMLScannerMatchesEncodingXML(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "xml", "*.xml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		requireScannerMatchesEncodingXML(t, raw)
	}
	require.True(t, requireSameAsEncodingXML(t, []byte(scm7023)))
	require.True(t, requireSameAsEncodingXML(t, []byte("<Event a = \"x&#13;&#10;y\" b='&lt;&quot;&apos;\r\n'><!-- c --><?pi x?><EventData><Data Name=\"a&#x9;b\">x&#13;&#10;y<![CDATA[<&>\r\n]]>z\r\nw\rv</Data></EventData></Event>")))
}

// TestXMLReaderUTF16Offsets: offsets stay exact in UTF-16 input holding a
// surrogate pair and unpaired surrogates before an event.
func TestXMLReaderUTF16Offsets(t *testing.T) {
	var in []byte
	in = append(in, 0xFF, 0xFE)             // BOM
	in = append(in, 0x3D, 0xD8, 0x00, 0xDE) // U+1F600, a surrogate pair
	in = append(in, 0x30, 0xDC, 0x30, 0xDC) // two unpaired trailing surrogates
	in = append(in, 0x00, 0xD8, 'x', 0)     // an unpaired leading surrogate
	want := int64(len(in))
	for _, c := range "<Event><System><EventRecordID>7</EventRecordID></System></Event>" {
		in = append(in, byte(c), 0)
	}
	for _, r := range []io.Reader{bytes.NewReader(in), &oneByteReader{in}} {
		events := drainXML(t, r)
		require.Equal(t, []string{strconv.FormatInt(want, 10) + " 7 "}, events)
	}
}

// repeatReader yields unit over and over, n bytes in all.
type repeatReader struct {
	unit []byte
	pos  int
	left int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.left > 0 {
		c := copy(p[n:min(len(p), n+int(min(r.left, int64(len(p)))))], r.unit[r.pos:])
		n += c
		r.left -= int64(c)
		r.pos = (r.pos + c) % len(r.unit)
	}
	return n, nil
}

// TestStreamingMemoryIsFlat reads 32 MiB of generated input through each
// streaming reader and checks the live heap stays well below the input
// size (the events read would take twice that if anything kept them):
// memory must not grow with the file.
func TestStreamingMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 3 x 32 MiB")
	}
	const size = 32 << 20
	const limit = 8 << 20
	unit := func(path string) []byte {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		return append(bytes.TrimRight(b, "\r\n"), '\r', '\n')
	}
	tests := []struct {
		name string
		open func(io.Reader) Reader
		unit []byte
	}{
		{"xml", func(r io.Reader) Reader { return newXMLReader(r, nil, "big.xml", Options{}) }, unit(filepath.Join("testdata", "xml", "wevtutil-system.xml"))},
		{"text", func(r io.Reader) Reader { return newTextReader(r, nil, "big.txt", Options{}) }, unit(filepath.Join("testdata", "export", "sbs2003-activesync-copy.txt"))},
		{"csv", func(r io.Reader) Reader { return newCSVReader(r, nil, "big.csv", Options{}) }, unit(filepath.Join("testdata", "export", "sbs2003-application.csv"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Whole units, so the last event is not cut short.
			r := tc.open(&repeatReader{unit: tc.unit, left: size - size%int64(len(tc.unit))})
			var ms runtime.MemStats
			var peak uint64
			n := 0
			for ev, err := range All(context.Background(), r) {
				require.NoError(t, err)
				require.NotNil(t, ev)
				n++
				if n%20000 == 0 {
					runtime.GC()
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapInuse)
				}
			}
			require.Greater(t, n, 20000)
			t.Logf("%d events, peak heap in use %.1f MiB", n, float64(peak)/(1<<20))
			require.Empty(t, r.Problems())
			require.Less(t, peak, uint64(limit), "heap in use while streaming %d MiB", size>>20)
		})
	}
}
