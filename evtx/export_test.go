package evtx

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/unicode"
)

const (
	msg3015 = "IP-based AUTD failed to initialize because the processing of notifications could not be setup. Error code [0x80004005]. Verify that no other applications are currently bound to UDP port [2883], or try specifying a different port number."
	msg3024 = "IP-based AUTD failed to initialize. Error code: [0x80004005]."
)

func exportFixture(name string) string { return filepath.Join("testdata", "export", name) }

func eventIDs(events []*Event) []uint16 {
	ids := make([]uint16, len(events))
	for i, ev := range events {
		ids[i] = ev.EventID
	}
	return ids
}

// requireOffsetsAt checks that each event's offset is where its first
// line starts in the file as stored.
func requireOffsetsAt(t *testing.T, path string, events []*Event, prefix string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	utf16 := bytes.HasPrefix(raw, []byte{0xFF, 0xFE})
	for _, ev := range events {
		at := raw[ev.Origin.Offset:min(len(raw), int(ev.Origin.Offset)+2*len(prefix))]
		if utf16 {
			at = utf16ToUTF8(at, false)
		}
		require.True(t, strings.HasPrefix(string(at), prefix), "offset %d: %q", ev.Origin.Offset, at)
	}
}

func TestTextExport2003(t *testing.T) {
	path := exportFixture("sbs2003-activesync-copy.txt")
	events, problems, format := readAllEvents(t, path, Options{})
	require.Equal(t, FormatText, format)
	require.Empty(t, problems)
	require.Equal(t, []uint16{3015, 3024, 3015, 3024, 3015, 7036, 529}, eventIDs(events))
	requireOffsetsAt(t, path, events, "Event Type:")

	first := events[0]
	require.Equal(t, "Server ActiveSync", first.Provider)
	require.Equal(t, LevelError, first.Level)
	require.Equal(t, KeywordClassic, first.Keywords)
	require.Equal(t, time.Date(2008, 3, 14, 10, 37, 21, 0, time.UTC), first.Time)
	require.Equal(t, "SBSHQ01", first.Computer)
	require.Equal(t, msg3015, first.Message, "the Help and Support Center line is not part of the message")
	require.Equal(t, []byte{0x05, 0x40, 0x00, 0x80}, first.Binary)
	require.Empty(t, first.Data)
	require.Zero(t, first.RecordID)
	require.Empty(t, first.User, "N/A is no user")

	// Pasted without a "Description:" line, and back to back.
	require.Equal(t, msg3015, events[2].Message)
	require.Equal(t, msg3024, events[3].Message)
	require.Equal(t, time.Date(2008, 3, 14, 10, 44, 22, 0, time.UTC), events[3].Time)
	// Word layout: each DWORD printed most significant byte first.
	require.Equal(t, []byte{0x05, 0x40, 0x00, 0x80, 0x43, 0x0b, 0x00, 0x00}, events[4].Binary)

	audit := events[6]
	require.Equal(t, LevelLogAlways, audit.Level)
	require.Equal(t, KeywordClassic|KeywordAuditFailure, audit.Keywords)
	require.Equal(t, `NT AUTHORITY\SYSTEM`, audit.User)
	require.Equal(t, time.Date(2008, 3, 14, 22, 58, 40, 0, time.UTC), audit.Time)
	require.Equal(t, "Logon Failure:\n \tReason:\t\tUnknown user name or bad password\n \tUser Name:\tadministrator\n \tDomain:\t\tCONTOSO\n \tLogon Type:\t3", audit.Message)

	requireGolden(t, path+".golden.json", events)
}

func TestTextExportVista(t *testing.T) {
	path := exportFixture("vista-copy-details.txt")
	events, problems, format := readAllEvents(t, path, Options{})
	require.Equal(t, FormatText, format)
	require.Empty(t, problems)
	require.Equal(t, []uint16{7023, 15005, 4625}, eventIDs(events))
	requireOffsetsAt(t, path, events, "Log Name:")

	// With "Event Xml:" the XML gives the fields (UTC time, record ID,
	// event data) and the text the message.
	scm := events[0]
	require.Equal(t, uint64(48212), scm.RecordID)
	require.Equal(t, time.Date(2019, 3, 14, 17, 31, 7, 512345600, time.UTC), scm.Time)
	require.Equal(t, []Data{{Name: "param1", Value: "Network Policy Server"}, {Name: "param2", Value: "%%10048"}}, scm.Data)
	require.Equal(t, "The Network Policy Server service terminated with the following error:\nOnly one usage of each socket address (protocol/network address/port) is normally permitted.", scm.Message)
	require.Equal(t, FormatText, scm.Origin.Format)
	require.Equal(t, int64(0), scm.Origin.Offset)

	http := events[1]
	require.Equal(t, "Microsoft-Windows-HttpEvent", http.Provider)
	require.Equal(t, "System", http.Channel)
	require.Equal(t, LevelError, http.Level)
	require.Equal(t, time.Date(2019, 3, 14, 10, 33, 52, 0, time.UTC), http.Time)
	require.Contains(t, http.Message, "0.0.0.0:443")

	logon := events[2]
	require.Equal(t, "Security", logon.Channel)
	require.Equal(t, LevelLogAlways, logon.Level)
	require.Equal(t, KeywordAuditFailure, logon.Keywords)
	require.Equal(t, time.Date(2019, 3, 14, 22, 35, 0, 0, time.UTC), logon.Time)
	require.Equal(t, "An account failed to log on.\n\nSubject:\n\tSecurity ID:\t\tNULL SID\n\tAccount Name:\t\t-", logon.Message)
}

func TestCSVExport2003(t *testing.T) {
	path := exportFixture("sbs2003-application.csv")
	events, problems, format := readAllEvents(t, path, Options{})
	require.Equal(t, FormatCSV, format)
	require.Empty(t, problems)
	require.Equal(t, []uint16{3015, 3024, 3015, 9523, 3024, 3015, 1517, 3024, 3015, 3024}, eventIDs(events))
	requireOffsetsAt(t, path, events, "3/14/2008,")

	require.Equal(t, msg3015, events[0].Message, "commas in an unquoted description stay in it")
	require.Equal(t, "Server ActiveSync", events[0].Provider)
	require.Equal(t, LevelError, events[0].Level)
	require.Equal(t, time.Date(2008, 3, 14, 10, 37, 21, 0, time.UTC), events[0].Time)
	// ANSI (Windows-1252) quotes decoded.
	require.Equal(t, "The Microsoft Exchange Database \u201cFirst Storage Group\\Mailbox Store (SBSHQ01)\u201d was started.", events[3].Message)
	require.Equal(t, LevelInformation, events[3].Level)
	require.Equal(t, `CONTOSO\jdoe`, events[6].User)
	require.Equal(t, LevelWarning, events[6].Level)
	require.True(t, strings.HasPrefix(events[6].Message, "Windows saved user CONTOSO\\jdoe\u2019s registry"))
	require.False(t, strings.HasSuffix(events[6].Message, " "))
}

func TestTabExport2003(t *testing.T) {
	path := exportFixture("sbs2003-system.txt")
	events, problems, format := readAllEvents(t, path, Options{})
	require.Equal(t, FormatCSV, format)
	require.Empty(t, problems)
	require.Equal(t, []uint16{7035, 7036, 7023, 4292, 7023, 2}, eventIDs(events))
	require.Equal(t, `NT AUTHORITY\SYSTEM`, events[0].User)
	// A description spread over lines, unquoted, continues until the next row.
	require.Equal(t, "The Internet Authentication Service service terminated with the following error:\nOnly one usage of each socket address (protocol/network address/port) is normally permitted.", events[2].Message)
	require.Equal(t, "IPSec", events[3].Provider)
	require.Equal(t, uint16(3), events[5].Task, "category (3) is numeric")
	require.Equal(t, "DNS", events[5].Provider)
	require.Equal(t, time.Date(2008, 3, 14, 21, 15, 0, 0, time.UTC), events[5].Time)
}

func TestCSVExport2008(t *testing.T) {
	path := exportFixture("server2008-system.csv")
	events, problems, format := readAllEvents(t, path, Options{})
	require.Equal(t, FormatCSV, format)
	require.Empty(t, problems)
	require.Equal(t, []uint16{7036, 7023, 15005, 104, 407, 36}, eventIDs(events))
	requireOffsetsAt(t, path, events[:1], "Information,3/14/2019")

	scm := events[1]
	require.Equal(t, "Service Control Manager", scm.Provider)
	require.Equal(t, LevelError, scm.Level)
	require.Zero(t, scm.Keywords, "modern exports carry no classic keyword")
	require.Equal(t, time.Date(2019, 3, 14, 10, 31, 7, 0, time.UTC), scm.Time)
	require.Equal(t, "The Network Policy Server service terminated with the following error:\nOnly one usage of each socket address (protocol/network address/port) is normally permitted.", scm.Message)
	require.Contains(t, events[2].Message, "transport for 0.0.0.0:443.")
	require.Contains(t, events[5].Message, "Run 'w32tm /resync' to force")
	require.Equal(t, LevelWarning, events[5].Level)

	requireGolden(t, path+".golden.json", events)
}

func TestTabExport2008UTF16(t *testing.T) {
	path := exportFixture("server2008-system-utf16.txt")
	events, problems, format := readAllEvents(t, path, Options{})
	require.Equal(t, FormatCSV, format)
	require.Empty(t, problems)
	require.Equal(t, []uint16{7036, 7023, 15005}, eventIDs(events))
	requireOffsetsAt(t, path, events[:1], "Information\t14/03/2019")
	requireOffsetsAt(t, path, events[1:2], "Error\t14/03/2019")
	// 14/03/2019 10:31:07 is day-first, 24-hour.
	require.Equal(t, time.Date(2019, 3, 14, 10, 31, 7, 0, time.UTC), events[0].Time)
	require.Contains(t, events[1].Message, "\nOnly one usage of each socket address")
}

func TestExportLocation(t *testing.T) {
	// A server in US Central time, daylight saving time since 9 March 2008.
	cdt := time.FixedZone("CDT", -5*3600)
	events, _, _ := readAllEvents(t, exportFixture("sbs2003-activesync-copy.txt"), Options{Location: cdt})
	require.Equal(t, time.Date(2008, 3, 14, 15, 37, 21, 0, time.UTC), events[0].Time)
	require.Equal(t, time.UTC, events[0].Time.Location())

	// The Event Xml of a Vista copy is UTC already: Location does not move it.
	vista, _, _ := readAllEvents(t, exportFixture("vista-copy-details.txt"), Options{Location: cdt})
	require.Equal(t, time.Date(2019, 3, 14, 17, 31, 7, 512345600, time.UTC), vista[0].Time)
	require.Equal(t, time.Date(2019, 3, 14, 15, 33, 52, 0, time.UTC), vista[1].Time)
}

func TestLocalTimes(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	tests := []struct {
		date, clock string
		want        time.Time
		err         string
	}{
		{"3/14/2008", "10:37:21 AM", utc(2008, 3, 14, 10, 37, 21, 0), ""},
		{"3/14/2008", "12:05:00 AM", utc(2008, 3, 14, 0, 5, 0, 0), ""},
		{"3/14/2008", "12:05:00 PM", utc(2008, 3, 14, 12, 5, 0, 0), ""},
		{"3/4/2008", "1:02:03 pm", utc(2008, 3, 4, 13, 2, 3, 0), ""}, // slashes with AM/PM: en-US
		{"3/4/2008", "13:02:03", utc(2008, 4, 3, 13, 2, 3, 0), ""},   // slashes, 24-hour: en-GB, fr-FR
		{"14/03/2008", "22:37", utc(2008, 3, 14, 22, 37, 0, 0), ""},
		{"14.03.2008", "10:37:21", utc(2008, 3, 14, 10, 37, 21, 0), ""},
		{"14.03.2008.", "10:37:21", utc(2008, 3, 14, 10, 37, 21, 0), ""},
		{"14-3-2008", "10:37:21", utc(2008, 3, 14, 10, 37, 21, 0), ""},
		{"2008-03-14", "10:37:21", utc(2008, 3, 14, 10, 37, 21, 0), ""},
		{"3/14/08", "10:37:21 a.m.", utc(2008, 3, 14, 10, 37, 21, 0), ""},
		{"14.03.98", "10.37.21", utc(1998, 3, 14, 10, 37, 21, 0), ""},
		{"\u200e3/\u200e14/\u200e2008", "\u200e10:37:21 PM", utc(2008, 3, 14, 22, 37, 21, 0), ""},
		{"3/14/2008", "10:37:21.512 AM", utc(2008, 3, 14, 10, 37, 21, 512000000), ""},
		{"13/13/2008", "10:00", time.Time{}, "bad date"},
		{"2/30/2008", "10:00 AM", time.Time{}, "bad date"},
		{"3/14/2008", "25:00", time.Time{}, "bad time"},
		{"3/14/2008", "13:00 PM", time.Time{}, "bad time"},
		{"yesterday", "10:00", time.Time{}, "bad date"},
		{"", "", time.Time{}, "bad time"},
	}
	for _, tc := range tests {
		var lt localTimes
		got, err := lt.parse(tc.date, tc.clock)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, "%s %s", tc.date, tc.clock)
			continue
		}
		require.NoError(t, err, "%s %s", tc.date, tc.clock)
		require.Equal(t, tc.want, got, "%s %s", tc.date, tc.clock)
	}

	for _, tc := range []struct{ in, want string }{
		{"3/14/2019 10:31:07 AM", "2019-03-14T10:31:07Z"},
		{"2019-03-14T10:31:07.512", "2019-03-14T10:31:07.512Z"},
		{"2019-03-14T10:31:07.512Z", "2019-03-14T10:31:07.512Z"},
		{"14.03.2019 10:31:07", "2019-03-14T10:31:07Z"},
	} {
		var lt localTimes
		got, err := lt.parseDateTime(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got.Format(time.RFC3339Nano), tc.in)
	}

	// An unambiguous date anywhere in the head settles the ambiguous ones,
	// before and after it.
	var lt localTimes
	lt.learn([]byte("Error,03/04/2008 10:00:00,...\nError,25/04/2008 10:00:00,..."))
	require.Equal(t, orderDMY, lt.order)
	got, err := lt.parse("03/04/2008", "10:00:00 AM")
	require.NoError(t, err)
	require.Equal(t, time.April, got.Month())
	lt = localTimes{}
	lt.learn([]byte("4/25/2008 1:00:00 PM"))
	require.Equal(t, orderMDY, lt.order)
	lt = localTimes{}
	lt.learn([]byte("version 10.0.14393 build 1/2/3"))
	require.Equal(t, orderUnknown, lt.order)
}

func TestSplitRow(t *testing.T) {
	tests := []struct {
		line   string
		sep    byte
		n      int
		more   []string
		want   []string
		quoted bool // the last cell was quoted
		open   bool // a quoted cell never closed
		taken  int  // continuation lines read
	}{
		{"a,b,c", ',', 3, nil, []string{"a", "b", "c"}, false, false, 0},
		{"a,b,c,d,e", ',', 3, nil, []string{"a", "b", "c,d,e"}, false, false, 0},
		{`"a,1",b,"say ""hi"", ok"`, ',', 3, nil, []string{"a,1", "b", `say "hi", ok`}, true, false, 0},
		{`a,"multi`, ',', 2, []string{"line", `end" tail`, "next"}, []string{"a", "multi\nline\nend tail"}, true, false, 2},
		{`a,"never closed`, ',', 2, []string{"x"}, []string{"a", "never closed\nx"}, true, true, 1},
		{"a\tb", '\t', 5, nil, []string{"a", "b"}, false, false, 0},
		{"a,,", ',', 3, nil, []string{"a", "", ""}, false, false, 0},
		{"", ',', 3, nil, []string{""}, false, false, 0},
	}
	for _, tc := range tests {
		lines := tc.more
		taken := 0
		more := func() (string, bool) {
			if len(lines) == 0 {
				return "", false
			}
			l := lines[0]
			lines = lines[1:]
			taken++
			return l, true
		}
		got, quoted, ok := splitRow(tc.line, tc.sep, tc.n, more)
		require.Equal(t, tc.want, got, tc.line)
		require.Equal(t, tc.quoted, quoted, tc.line)
		require.Equal(t, !tc.open, ok, tc.line)
		require.Equal(t, tc.taken, taken, tc.line)
	}
}

func TestParseHexDumpLine(t *testing.T) {
	tests := []struct {
		in   string
		want []byte
		ok   bool
	}{
		{"0000: 05 40 00 80               .@.?    ", []byte{0x05, 0x40, 0x00, 0x80}, true},
		{"0008: 41 42                     AB", []byte{0x41, 0x42}, true},
		{"0000: 00 00 00 00 01 00 6e 00   ......n.", []byte{0, 0, 0, 0, 1, 0, 0x6e, 0}, true},
		{"0000: 80004005 00000bc7", []byte{0x05, 0x40, 0x00, 0x80, 0xc7, 0x0b, 0, 0}, true},
		{"0010: c0001b58", []byte{0x58, 0x1b, 0x00, 0xc0}, true},
		{"Data: 00", nil, false},
		{"12: 00", nil, false},
		{"The service failed: 0000", nil, false},
	}
	for _, tc := range tests {
		got, ok := parseHexDumpLine(tc.in)
		require.Equal(t, tc.ok, ok, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func utf16LE(t *testing.T, s string) []byte {
	t.Helper()
	b, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(s))
	require.NoError(t, err)
	return b
}

// TestSniffText covers the text formats: each is recognised from its
// content in every encoding Windows writes it in, and the other text files
// an admin collects next to logs are not taken for event logs.
func TestSniffText(t *testing.T) {
	fixture := func(dir, name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", dir, name))
		require.NoError(t, err)
		return string(b)
	}
	head := func(s string) string { return s[:min(len(s), sniffLen)] }
	positive := []struct {
		name string
		text string
		want Format
	}{
		{"wevtutil xml", fixture("xml", "wevtutil-system.xml"), FormatXML},
		{"events root with declaration", `<?xml version="1.0" encoding="utf-8"?>` + "\r\n<Events>\r\n<Event xmlns='x'>", FormatXML},
		{"toxml", fixture("xml", "wevtutil-rendered.xml"), FormatXML},
		{"2003 copy", fixture("export", "sbs2003-activesync-copy.txt"), FormatText},
		{"vista copy", fixture("export", "vista-copy-details.txt"), FormatText},
		{"2003 csv", fixture("export", "sbs2003-application.csv"), FormatCSV},
		{"2003 tab", fixture("export", "sbs2003-system.txt"), FormatCSV},
		{"2008 csv with header", fixture("export", "server2008-system.csv"), FormatCSV},
		{"list-view order row", "Error,3/14/2008,10:37:21 AM,Server ActiveSync,None,3015,N/A,SBSHQ01,IP-based AUTD failed ...\r\n", FormatCSV},
		{"2008 rows without header", "Error,3/14/2019 10:31:07 AM,Service Control Manager,7023,None,\"The service ...\"\r\n", FormatCSV},
		{"security keywords header", "Keywords,Date and Time,Source,Event ID,Task Category\r\nAudit Success,3/14/2019 10:31:07 AM,Microsoft-Windows-Security-Auditing,4624,Logon,\"An account was successfully logged on.\"\r\n", FormatCSV},
		{"german header", "Ebene;Datum und Uhrzeit;Quelle;Ereignis-ID;Aufgabenkategorie\r\n", FormatUnknown}, // semicolons: not an Event Viewer separator
		{"german tab header", "Ebene\tDatum und Uhrzeit\tQuelle\tEreignis-ID\tAufgabenkategorie\r\n", FormatCSV},
		{"german 2003 row", "14.03.2008\t10:37:21\tServer ActiveSync\tFehler\tKeine\t3015\tNicht zutreffend\tSBSHQ01\tIP-based AUTD ...\r\n", FormatCSV},
		{"blank lines first", "\r\n\r\nEvent Type:\tError\r\n", FormatText},
		{"evtxexport -f xml banner", "evtxexport 20181227\n\n<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">\n  <System>\n", FormatXML},
	}
	for _, tc := range positive {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Sniff([]byte(head(tc.text))))
			if tc.want == FormatUnknown {
				return
			}
			// Windows PowerShell ">" and Event Viewer "Unicode" save:
			// UTF-16 LE with a BOM; a UTF-8 BOM from newer tools.
			require.Equal(t, tc.want, Sniff([]byte(head(string(utf16LE(t, tc.text))))), "utf-16")
			require.Equal(t, tc.want, Sniff([]byte(head("\xEF\xBB\xBF"+tc.text))), "utf-8 bom")
		})
	}
	// The UTF-16 fixtures as stored.
	for _, f := range []string{filepath.Join("xml", "powershell-toxml-utf16le.xml"), filepath.Join("export", "server2008-system-utf16.txt")} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		require.NoError(t, err)
		require.NotEqual(t, FormatUnknown, Sniff(b[:min(len(b), sniffLen)]), f)
	}

	negative := []struct{ name, text string }{
		{"netstat -ano", "\r\nActive Connections\r\n\r\n  Proto  Local Address          Foreign Address        State           PID\r\n  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       884\r\n  UDP    0.0.0.0:2883           *:*                                    1844\r\n"},
		{"tasklist /svc /fo csv", "\"Image Name\",\"PID\",\"Services\"\r\n\"System Idle Process\",\"0\",\"N/A\"\r\n\"dns.exe\",\"1844\",\"DNS\"\r\n"},
		{"tasklist /v /fo csv", "\"Image Name\",\"PID\",\"Session Name\",\"Session#\",\"Mem Usage\",\"Status\",\"User Name\",\"CPU Time\",\"Window Title\"\r\n\"dns.exe\",\"1844\",\"Services\",\"0\",\"12,345 K\",\"Unknown\",\"NT AUTHORITY\\SYSTEM\",\"0:00:12\",\"N/A\"\r\n"},
		{"manifest tsv", "file\tsource_repo\tpath\tcommit\tlicense\tsize\tsha256\r\nSystem.evt\tx/y\tSystem.evt\tabc\tMIT\t65536\tdeadbeef\r\n"},
		{"ground truth tsv", "file\tparser\trecords\tnotes\r\nSystem.evt\tlibevt evtinfo 20200926\t123\trc=0\r\n"},
		{"evtwatch dump csv", "time,record_id,provider,source,event_id,level,channel,computer,user_sid,data,message,path,error\r\n2019-03-14T10:31:07Z,48211,Service Control Manager,,7036,Information,System,SBSHQ01,,,,x.evtx,\r\n"},
		{"iis log", "#Software: Microsoft Internet Information Services 6.0\r\n#Fields: date time s-ip cs-method\r\n2008-03-14 10:37:21 10.0.0.1 GET\r\n"},
		{"plain log", "2008-03-14 10:37:21 Error 3015 Server ActiveSync failed\r\n"},
		{"html", "<html><body><EventLog>Error</EventLog></body></html>"},
		{"other xml", "<?xml version=\"1.0\"?><EventLogConfig><Eventing/></EventLogConfig>"},
		{"prose mentioning events", "Event Types: Error, Warning\r\nSee <Event> docs\r\n"},
		{"json", `{"provider":"x","event_id":1}`},
		{"csv with dates but no event id", "Error,3/14/2008,10:37:21 AM,Server ActiveSync,None,n/a,N/A,SBSHQ01,desc\r\n"},
		{"empty", ""},
	}
	for _, tc := range negative {
		t.Run("not "+tc.name, func(t *testing.T) {
			require.Equal(t, FormatUnknown, Sniff([]byte(tc.text)))
			require.Equal(t, FormatUnknown, Sniff(utf16LE(t, tc.text)), "utf-16")
		})
	}
	// The shared corpus's own TSVs, when present.
	dir := filepath.Join("..", "..", "shared", "testdata", "evtx-public")
	for _, name := range []string{"MANIFEST.tsv", "GROUND_TRUTH.tsv"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			require.Equal(t, FormatUnknown, Sniff(b[:min(len(b), sniffLen)]), name)
		}
	}
}

func TestExportDamaged(t *testing.T) {
	read := func(t *testing.T, r Reader) ([]*Event, []Problem) {
		t.Helper()
		var events []*Event
		for ev, err := range All(context.Background(), r) {
			require.NoError(t, err)
			events = append(events, ev)
		}
		return events, r.Problems()
	}

	t.Run("csv rows", func(t *testing.T) {
		in := "Level,Date and Time,Source,Event ID,Task Category\r\n" +
			"Error,3/14/2019 10:31:07 AM,Service Control Manager,7023,None,\"first\"\r\n" +
			"Error,3/14/2019 10:31:08 AM,Service Control Manager,x7023,None,\"bad id\"\r\n" +
			"Error,3/14/2019 10:31:09 AM,Service Control Manager,7024,None,\"third\"\r\n" +
			"Fatal,3/14/2019 10:31:10 AM,Service Control Manager,7031,None,\"unknown level\"\r\n" +
			"Fatal,3/14/2019 10:31:11 AM,Service Control Manager,7031,None,\"same word, reported once\"\r\n" +
			"Error,3/14/2019 10:31:12 AM,Service Control Manager,7034,None,\"never closed\r\nmore text\r\n"
		events, problems := read(t, newCSVReader(strings.NewReader(in), nil, "mem.csv", Options{}))
		require.Equal(t, []uint16{7023, 7024, 7031, 7031, 7034}, eventIDs(events))
		require.Zero(t, events[2].Level)
		require.Equal(t, "never closed\nmore text", events[4].Message)
		require.Len(t, problems, 3)
		require.Equal(t, int64(strings.Index(in, "Error,3/14/2019 10:31:08")), problems[0].Offset)
		require.Equal(t, 1, problems[0].Skipped)
		require.ErrorContains(t, problems[0], `bad event id "x7023"`)
		require.ErrorContains(t, problems[1], `unknown event type "Fatal"`)
		require.ErrorContains(t, problems[2], "quoted field never closes")
	})

	t.Run("csv bad date", func(t *testing.T) {
		in := "Error,13/13/2008,10:37:21 AM,Server ActiveSync,None,3015,N/A,SBSHQ01,x\r\n"
		// Not a row start, so not an export at all.
		require.Equal(t, FormatUnknown, Sniff([]byte(in)))
		in = "3/14/2008,10:37:21 AM,Server ActiveSync,Error,None,3015,N/A,SBSHQ01,x\r\n" +
			"3/14/2008,10:99:21 AM,Server ActiveSync,Error,None,3015,N/A,SBSHQ01,y\r\n"
		events, problems := read(t, newCSVReader(strings.NewReader(in), nil, "mem.csv", Options{}))
		// A row with an impossible time does not start an event: it is
		// kept as text of the one before, which is what unquoted 2003
		// descriptions force.
		require.Len(t, events, 1)
		require.Empty(t, problems)
		require.Equal(t, "x\n3/14/2008,10:99:21 AM,Server ActiveSync,Error,None,3015,N/A,SBSHQ01,y", events[0].Message)
	})

	t.Run("text blocks", func(t *testing.T) {
		in := "garbage before\r\nmore garbage\r\n" +
			"Event Type:\tError\r\nEvent Source:\tServer ActiveSync\r\nEvent Category:\tNone\r\nEvent ID:\tabc\r\nDate:\t\t3/14/2008\r\nTime:\t\t10:37:21 AM\r\nUser:\t\tN/A\r\nComputer:\tSBSHQ01\r\nDescription:\r\nbad id\r\n\r\n" +
			"Event Type:\tError\r\nEvent Source:\tServer ActiveSync\r\nEvent ID:\t3024\r\nDate:\t\tsoon\r\nTime:\t\t10:37:22 AM\r\nComputer:\tSBSHQ01\r\nDescription:\r\nbad date\r\n" +
			"Event Type:\tPanic\r\nEvent Source:\tServer ActiveSync\r\nEvent ID:\t3015\r\nDate:\t\t3/14/2008\r\nTime:\t\t10:37:23 AM\r\nDescription:\r\nData:\r\n"
		events, problems := read(t, newTextReader(strings.NewReader(in), nil, "mem.txt", Options{}))
		require.Equal(t, []uint16{3024, 3015}, eventIDs(events))
		require.Contains(t, events[0].Err, `bad date "soon"`)
		require.Equal(t, "bad date", events[0].Message)
		require.Empty(t, events[1].Message)
		require.Len(t, problems, 4)
		require.Equal(t, int64(0), problems[0].Offset)
		require.ErrorContains(t, problems[0], "text outside any event")
		require.Equal(t, 1, problems[1].Skipped)
		require.ErrorContains(t, problems[1], `bad event id "abc"`)
		require.Equal(t, int64(strings.Index(in, "Event Type:\tError\r\nEvent Source:\tServer ActiveSync\r\nEvent ID:\t3024")), problems[2].Offset)
		require.ErrorContains(t, problems[3], `unknown event type "Panic"`)
	})

	t.Run("blank line before Description and text on its line", func(t *testing.T) {
		in := "Event Type:\tError\r\nEvent Source:\tServer ActiveSync\r\nEvent ID:\t3024\r\nDate:\t\t3/14/2008\r\nTime:\t\t10:37:22 AM\r\nComputer:\tSBSHQ01\r\n\r\nDescription: " + msg3024 + "\r\nsecond line\r\n"
		events, problems := read(t, newTextReader(strings.NewReader(in), nil, "mem.txt", Options{}))
		require.Empty(t, problems)
		require.Len(t, events, 1)
		require.Equal(t, msg3024+"\nsecond line", events[0].Message)
	})

	t.Run("vista with broken xml falls back to the text", func(t *testing.T) {
		in := "Log Name:      System\r\nSource:        Service Control Manager\r\nDate:          3/14/2019 10:31:07 AM\r\nEvent ID:      7023\r\nLevel:         Error\r\nDescription:\r\nmsg\r\nEvent Xml:\r\n<Event><System><Level>2</Lvl></System></Event>\r\n"
		events, problems := read(t, newTextReader(strings.NewReader(in), nil, "mem.txt", Options{}))
		require.Len(t, events, 1)
		require.Equal(t, uint16(7023), events[0].EventID)
		require.Equal(t, "msg", events[0].Message)
		require.Len(t, problems, 1)
		require.ErrorContains(t, problems[0], "event xml not readable")
	})

	t.Run("forced csv on something else", func(t *testing.T) {
		r := newCSVReader(strings.NewReader("Active Connections\r\n"), nil, "netstat.txt", Options{})
		_, err := r.Next(context.Background())
		require.ErrorIs(t, err, errNoExportLayout)
		require.ErrorContains(t, err, "netstat.txt")
	})
}

func TestExportFilter(t *testing.T) {
	var asked []Header
	events, _, _ := readAllEvents(t, exportFixture("sbs2003-application.csv"), Options{Filter: Filter{
		// Exports have no record IDs: a bookmark cannot apply to them.
		MinRecordID: 1000,
		Keep: func(h Header) bool {
			asked = append(asked, h)
			return h.Provider == "Server ActiveSync" && h.EventID == 3015
		},
	}})
	require.Equal(t, []uint16{3015, 3015, 3015, 3015}, eventIDs(events))
	require.Len(t, asked, 10)
	require.False(t, asked[0].Time.IsZero())
}

func TestExportCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	for _, name := range []string{"sbs2003-activesync-copy.txt", "sbs2003-application.csv"} {
		r, err := Open(exportFixture(name), Options{})
		require.NoError(t, err)
		_, err = r.Next(ctx)
		require.NoError(t, err)
		cancel()
		_, err = r.Next(ctx)
		require.ErrorIs(t, err, context.Canceled)
		require.NoError(t, r.Close())
		ctx, cancel = context.WithCancel(context.Background())
	}
	cancel()
}

func TestInsertionStrings(t *testing.T) {
	const desc2003 = "The description for Event ID ( 3015 ) in Source ( Server ActiveSync ) cannot be found. The local computer may not have the necessary registry information or message DLL files to display messages from a remote computer. You may be able to use the /AUXSOURCE= flag to retrieve this description; see Help and Support for details. The following information is part of the event: 0x80004005, 2883."
	const descVista = "The description for Event ID 3015 from source Server ActiveSync cannot be found. Either the component that raises this event is not installed on your local computer or the installation is corrupted. You can install or repair the component on the local computer.\n\nIf the event originated on another computer, the display information had to be saved with the event.\n\nThe following information was included with the event: \n\n0x80004005\n2883\n\nThe message resource is present but the message is not found in the string/message table"
	want := []Data{{Value: "0x80004005"}, {Value: "2883"}}
	require.Equal(t, want, insertionStrings(desc2003))
	require.Equal(t, want, insertionStrings(descVista))
	require.Nil(t, insertionStrings(msg3015))
	require.Nil(t, insertionStrings("The following information is part of the event: a, b."), "only with the no-description preamble")

	// End to end, in a 2003 CSV row and a Vista text copy.
	row := "3/14/2008,10:37:21 AM,Server ActiveSync,Error,None,3015,N/A,SBSHQ01," + desc2003 + "\r\n"
	events, problems := drainReader(t, newCSVReader(strings.NewReader(row), nil, "mem.csv", Options{}))
	require.Empty(t, problems)
	require.Equal(t, want, events[0].Data)
	v, ok := events[0].Insertion(2)
	require.True(t, ok)
	require.Equal(t, "2883", v)

	copyText := "Log Name:      Application\r\nSource:        Server ActiveSync\r\nDate:          3/14/2008 10:37:21 AM\r\nEvent ID:      3015\r\nLevel:         Error\r\nDescription:\r\n" + strings.ReplaceAll(descVista, "\n", "\r\n") + "\r\n"
	events, problems = drainReader(t, newTextReader(strings.NewReader(copyText), nil, "mem.txt", Options{}))
	require.Empty(t, problems)
	require.Equal(t, want, events[0].Data)
	require.Equal(t, "Application", events[0].Channel)
}

func drainReader(t *testing.T, r Reader) ([]*Event, []Problem) {
	t.Helper()
	var events []*Event
	for ev, err := range All(context.Background(), r) {
		require.NoError(t, err)
		events = append(events, ev)
	}
	return events, r.Problems()
}
