package evtxtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/evtwatch/evtwatch/evtx"
)

// Layout constants of the legacy .evt format (EVENTLOGHEADER,
// EVENTLOGRECORD, ELF_EOF_RECORD).
const (
	evtHeaderSize       = 0x30
	evtEOFSize          = 0x28
	evtRecordHeaderSize = 0x38
	evtFlagDirty        = 0x1
	evtFlagWrapped      = 0x2
	// evtDefaultAlloc is the granularity Windows sizes event logs in.
	evtDefaultAlloc = 64 << 10
)

// EVTOptions shape the .evt file WriteEVT produces. The zero value writes a
// clean, unwrapped log just big enough for its records, as Event Viewer's
// "Save Log File As" does.
type EVTOptions struct {
	// MaxSize is the file size, which is also the end of the circular
	// buffer and the header's MaxSize. Zero makes the file as small as the
	// content allows; with Wrap it is then rounded up to 64 KiB, the
	// granularity Windows sizes logs in. Too small a MaxSize is an error.
	MaxSize uint32
	// Wrap lays the records out as a log whose circular buffer has wrapped:
	// the oldest record starts near the end of the file, the middle record
	// (events[len(events)/2]) is split across the end of the file, and the
	// rest continue at offset 0x30, followed by the end-of-file record. The
	// header gets ELF_LOGFILE_HEADER_WRAP.
	Wrap bool
	// SplitAt is, with Wrap, how many bytes of the split record lie before
	// the end of the file: a multiple of 4, at least 4 and less than the
	// record's size. Zero splits it about in the middle.
	SplitAt int
	// Dirty leaves the header as Windows leaves it while the log is open:
	// ELF_LOGFILE_HEADER_DIRTY set, and the end-of-file offset and current
	// record number stale (they still describe the log as it was before
	// its newer half was written). Only the end-of-file record is current.
	Dirty bool
	// Deleted are records left in the dead space after the end-of-file
	// record, as clearing or overwriting a log leaves them; readers report
	// them as recovered. Those with a zero RecordID are numbered from 1.
	Deleted []evtx.Event
	// Retention is the header's retention period in seconds; 0 means
	// "overwrite events as needed".
	Retention uint32
}

// WriteEVT writes events as a Windows NT/2000/XP/2003 event log (.evt) to w.
//
// Each event becomes an EVENTLOGRECORD: SourceName() is the source name,
// Computer the computer name, FullEventID() (EventID with its Qualifiers,
// so 3015 with Qualifiers 0xC000 is stored as 0xC0000BC7) the event
// identifier, Level and the audit Keywords the event type, Task the
// category, Data values the insertion strings in order, Binary the data,
// UserSID ("S-1-5-18") the binary SID and Time, to the second, both time
// stamps. A zero RecordID continues the numbering from the previous event
// (from 1 for the first).
//
// .evt cannot hold everything an Event can: data names, Provider when
// Source is set, process and thread IDs, messages and levels other than
// error, warning and information are not written, and reading the file
// back yields LevelFromEventType's level and keywords. Such events are
// still written; values .evt cannot store at all (a time before 1970 or
// after 2106, a record number above 2^32-1, a NUL inside a string, a
// malformed SID) are errors.
func WriteEVT(w io.Writer, events []evtx.Event, opts EVTOptions) error {
	b, err := buildEVT(events, opts)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// WriteEVTFile writes events as a .evt file at path; see WriteEVT. Name the
// file after its log (SysEvent.Evt, Application.evt ...) when the test
// cares about Event.Channel, which readers derive from the file name.
func WriteEVTFile(path string, events []evtx.Event, opts EVTOptions) error {
	b, err := buildEVT(events, opts)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func buildEVT(events []evtx.Event, opts EVTOptions) ([]byte, error) {
	recs, ids, err := encodeEVTRecords(events)
	if err != nil {
		return nil, err
	}
	dels, _, err := encodeEVTRecords(opts.Deleted)
	if err != nil {
		return nil, fmt.Errorf("deleted %w", err)
	}
	live := evtEOFSize
	for _, r := range recs {
		live += len(r)
	}
	dead := 0
	for _, r := range dels {
		dead += len(r)
	}

	need := evtHeaderSize + live + dead
	if opts.Wrap {
		if len(recs) == 0 {
			return nil, errors.New("a wrapped log needs at least one event")
		}
		// Leave dead space between the end-of-file record and the oldest
		// record: with none, libevt takes the log for unreadable and reads
		// it twice.
		need += 4
	}
	size := int(opts.MaxSize)
	switch {
	case size == 0 && opts.Wrap:
		size = (need + evtDefaultAlloc - 1) / evtDefaultAlloc * evtDefaultAlloc
	case size == 0:
		size = need
	case size < need:
		return nil, fmt.Errorf("max size %d is too small: the events need %d bytes", size, need)
	case size%4 != 0:
		return nil, fmt.Errorf("max size %d is not a multiple of 4", size)
	}
	if size > math.MaxUint32 {
		return nil, fmt.Errorf("events need %d bytes, more than a .evt can hold", size)
	}

	buf := make([]byte, size)
	ring := evtRing{buf: buf}
	var start, split int
	if opts.Wrap {
		k := len(recs) / 2
		split = opts.SplitAt
		if split == 0 {
			split = len(recs[k]) / 2 &^ 3
		}
		if split < 4 || split%4 != 0 || split >= len(recs[k]) {
			return nil, fmt.Errorf("split at %d: want a multiple of 4 from 4 to %d (record size %d)", split, len(recs[k])-4, len(recs[k]))
		}
		before := split
		for _, r := range recs[:k] {
			before += len(r)
		}
		start = size - before
	} else {
		start = evtHeaderSize
	}

	offsets := make([]int, len(recs))
	off := start
	for i, r := range recs {
		offsets[i] = off
		off = ring.put(off, r)
	}
	eofOff := off
	firstID, current := uint32(0), uint32(1)
	if len(ids) > 0 {
		firstID, current = ids[0], ids[len(ids)-1]+1
	}
	eof := make([]byte, evtEOFSize)
	le := binary.LittleEndian
	le.PutUint32(eof[0:], evtEOFSize)
	le.PutUint32(eof[4:], 0x11111111)
	le.PutUint32(eof[8:], 0x22222222)
	le.PutUint32(eof[12:], 0x33333333)
	le.PutUint32(eof[16:], 0x44444444)
	le.PutUint32(eof[20:], uint32(start))
	le.PutUint32(eof[24:], uint32(eofOff))
	le.PutUint32(eof[28:], current)
	le.PutUint32(eof[32:], firstID)
	le.PutUint32(eof[36:], evtEOFSize)
	off = ring.put(eofOff, eof)
	for _, r := range dels {
		off = ring.put(off, r)
	}

	hdr := buf[:evtHeaderSize]
	flags := uint32(0)
	if opts.Wrap {
		flags |= evtFlagWrapped
	}
	hdrEnd, hdrCurrent := uint32(eofOff), current
	if opts.Dirty {
		flags |= evtFlagDirty
		// The header was last flushed when the log ended at the middle
		// record; Windows rewrites only the end-of-file record per event.
		if j := len(recs) / 2; j < len(recs) {
			hdrEnd, hdrCurrent = uint32(offsets[j]), ids[j]
		} else {
			hdrEnd, hdrCurrent = uint32(start), 1
		}
	}
	le.PutUint32(hdr[0:], evtHeaderSize)
	copy(hdr[4:], "LfLe")
	le.PutUint32(hdr[8:], 1)
	le.PutUint32(hdr[12:], 1)
	le.PutUint32(hdr[16:], uint32(start))
	le.PutUint32(hdr[20:], hdrEnd)
	le.PutUint32(hdr[24:], hdrCurrent)
	le.PutUint32(hdr[28:], firstID)
	le.PutUint32(hdr[32:], uint32(size))
	le.PutUint32(hdr[36:], flags)
	le.PutUint32(hdr[40:], opts.Retention)
	le.PutUint32(hdr[44:], evtHeaderSize)
	return buf, nil
}

// evtRing writes into the circular buffer [0x30, len(buf)).
type evtRing struct{ buf []byte }

// put writes b at off, continuing at 0x30 past the end of the file, and
// returns the offset after it.
func (r evtRing) put(off int, b []byte) int {
	for len(b) > 0 {
		if off == len(r.buf) {
			off = evtHeaderSize
		}
		n := copy(r.buf[off:], b)
		b, off = b[n:], off+n
	}
	if off == len(r.buf) {
		off = evtHeaderSize
	}
	return off
}

func encodeEVTRecords(events []evtx.Event) ([][]byte, []uint32, error) {
	recs := make([][]byte, len(events))
	ids := make([]uint32, len(events))
	next := uint64(1)
	for i := range events {
		e := &events[i]
		id := e.RecordID
		if id == 0 {
			id = next
		}
		if id > math.MaxUint32 {
			return nil, nil, fmt.Errorf("event %d: record ID %d does not fit .evt's 32 bits", i, id)
		}
		rec, err := encodeEVTRecord(e, uint32(id))
		if err != nil {
			return nil, nil, fmt.Errorf("event %d (record %d): %w", i, id, err)
		}
		recs[i], ids[i], next = rec, uint32(id), id+1
	}
	return recs, ids, nil
}

// encodeEVTRecord lays out one EVENTLOGRECORD the way the Windows event log
// service does: the fixed part, source and computer names, the SID right
// after them (unaligned), the insertion strings, the data, 1 to 4 bytes of
// padding to a 4-byte boundary, and the size again.
func encodeEVTRecord(e *evtx.Event, id uint32) ([]byte, error) {
	sec := e.Time.Unix()
	if e.Time.IsZero() || sec < 0 || sec > math.MaxUint32 {
		return nil, fmt.Errorf("time %v is outside what .evt stores (1970 to 2106)", e.Time)
	}
	if len(e.Data) > math.MaxUint16 {
		return nil, fmt.Errorf("%d insertion strings, .evt holds at most %d", len(e.Data), math.MaxUint16)
	}
	source, err := utf16z(e.SourceName())
	if err != nil {
		return nil, fmt.Errorf("source name: %w", err)
	}
	computer, err := utf16z(e.Computer)
	if err != nil {
		return nil, fmt.Errorf("computer name: %w", err)
	}
	var sid []byte
	if e.UserSID != "" {
		if sid, err = parseSID(e.UserSID); err != nil {
			return nil, err
		}
	}
	var strs []byte
	for i, d := range e.Data {
		s, err := utf16z(d.Value)
		if err != nil {
			return nil, fmt.Errorf("insertion string %d: %w", i+1, err)
		}
		strs = append(strs, s...)
	}

	sidOff := evtRecordHeaderSize + len(source) + len(computer)
	strOff := sidOff + len(sid)
	dataOff := strOff + len(strs)
	end := dataOff + len(e.Binary)
	end += 4 - end%4 // Windows always pads, by a full DWORD when aligned
	size := end + 4

	b := make([]byte, size)
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(size))
	copy(b[4:], "LfLe")
	le.PutUint32(b[8:], id)
	le.PutUint32(b[12:], uint32(sec)) // TimeGenerated
	le.PutUint32(b[16:], uint32(sec)) // TimeWritten
	le.PutUint32(b[20:], e.FullEventID())
	le.PutUint16(b[24:], evtEventType(e))
	le.PutUint16(b[26:], uint16(len(e.Data)))
	le.PutUint16(b[28:], e.Task)
	le.PutUint32(b[36:], uint32(strOff))
	le.PutUint32(b[40:], uint32(len(sid)))
	le.PutUint32(b[44:], uint32(sidOff))
	le.PutUint32(b[48:], uint32(len(e.Binary)))
	le.PutUint32(b[52:], uint32(dataOff))
	p := evtRecordHeaderSize
	p += copy(b[p:], source)
	p += copy(b[p:], computer)
	p += copy(b[p:], sid)
	p += copy(b[p:], strs)
	copy(b[p:], e.Binary)
	le.PutUint32(b[size-4:], uint32(size))
	return b, nil
}

// evtEventType is the reverse of evtx.LevelFromEventType: audit keywords
// win, then the level; levels .evt has no type for are information.
func evtEventType(e *evtx.Event) uint16 {
	switch {
	case e.Keywords&evtx.KeywordAuditFailure != 0:
		return evtx.EventTypeAuditFailure
	case e.Keywords&evtx.KeywordAuditSuccess != 0:
		return evtx.EventTypeAuditSuccess
	}
	switch e.Level {
	case evtx.LevelCritical, evtx.LevelError:
		return evtx.EventTypeError
	case evtx.LevelWarning:
		return evtx.EventTypeWarning
	}
	return evtx.EventTypeInformation
}

// utf16z encodes s as NUL-terminated UTF-16LE.
func utf16z(s string) ([]byte, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, fmt.Errorf("%q contains a NUL character, which ends a .evt string", s)
	}
	units := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(units)+2)
	for i, u := range units {
		binary.LittleEndian.PutUint16(b[2*i:], u)
	}
	return b, nil
}

// parseSID converts "S-1-5-21-..." to its binary form.
func parseSID(s string) ([]byte, error) {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || !strings.EqualFold(parts[0], "S") || parts[1] != "1" {
		return nil, fmt.Errorf("user SID %q: want S-1-<authority>-<subauthority>...", s)
	}
	var auth uint64
	var err error
	if h, ok := strings.CutPrefix(strings.ToLower(parts[2]), "0x"); ok {
		auth, err = strconv.ParseUint(h, 16, 48)
	} else {
		auth, err = strconv.ParseUint(parts[2], 10, 48)
	}
	if err != nil {
		return nil, fmt.Errorf("user SID %q: authority: %w", s, err)
	}
	subs := parts[3:]
	if len(subs) > 15 {
		return nil, fmt.Errorf("user SID %q: %d subauthorities, at most 15", s, len(subs))
	}
	b := make([]byte, 8+4*len(subs))
	b[0], b[1] = 1, byte(len(subs))
	for i := 0; i < 6; i++ {
		b[2+i] = byte(auth >> (8 * (5 - i)))
	}
	for i, p := range subs {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("user SID %q: subauthority %d: %w", s, i+1, err)
		}
		binary.LittleEndian.PutUint32(b[8+4*i:], uint32(v))
	}
	return b, nil
}

// EvtexportRecord is one record as libevt's evtexport prints it.
type EvtexportRecord struct {
	RecordNumber uint32
	Created      time.Time
	Written      time.Time
	EventType    uint16
	UserSID      string
	Computer     string
	Source       string
	Category     uint16
	// EventIdentifier is the full 32-bit identifier (qualifiers included).
	EventIdentifier uint32
	// Strings are the insertion strings as libevt splits them: every
	// NUL-terminated string between the strings offset and the data offset,
	// which for a damaged record can be more than the record's NumStrings.
	Strings []string
}

// Evtexport runs libevt's evtexport on a .evt file and parses what it
// prints, for cross-checks against an independent parser. mode is "items"
// (the live records), "recovered" or "all" (live, then recovered). When
// evtexport is not installed the error wraps exec.ErrNotFound, so tests can
// skip.
func Evtexport(ctx context.Context, path, mode string) ([]EvtexportRecord, error) {
	bin, err := exec.LookPath("evtexport")
	if err != nil {
		return nil, fmt.Errorf("evtexport (apt-get install libevt-utils): %w", err)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-m", mode, path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("evtexport -m %s %s: %w: %s", mode, path, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return parseEvtexport(out)
}

// evtexportField matches the first line of a field: "Name<tabs>: value".
// Values (insertion strings) can span lines.
var evtexportField = regexp.MustCompile(`^(Event number|Creation time|Written time|Event type|User security identifier|Computer name|Source name|Event category|Event identifier|Number of strings|String: [0-9]+)\t+:(?: (.*))?$`)

func parseEvtexport(out []byte) ([]EvtexportRecord, error) {
	var (
		recs  []EvtexportRecord
		cur   *EvtexportRecord
		name  string
		value strings.Builder
		nstr  int
	)
	flush := func(last bool) error {
		if cur == nil || name == "" {
			return nil
		}
		v := value.String()
		if last {
			// The blank line that ends a record is not part of the value.
			v = strings.TrimSuffix(v, "\n")
		}
		if err := setEvtexportField(cur, name, v, &nstr); err != nil {
			return fmt.Errorf("evtexport record %d: %s: %w", cur.RecordNumber, name, err)
		}
		name = ""
		value.Reset()
		return nil
	}
	endRecord := func() error {
		if err := flush(true); err != nil {
			return err
		}
		if cur != nil && nstr != len(cur.Strings) {
			return fmt.Errorf("evtexport record %d: says %d strings, printed %d", cur.RecordNumber, nstr, len(cur.Strings))
		}
		return nil
	}
	// Split on \n only: insertion strings keep their \r\n line breaks.
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		m := evtexportField.FindStringSubmatch(line)
		if m == nil {
			if name != "" {
				value.WriteString("\n")
				value.WriteString(line)
			}
			continue
		}
		if m[1] == "Event number" {
			if err := endRecord(); err != nil {
				return nil, err
			}
			recs = append(recs, EvtexportRecord{})
			cur, nstr = &recs[len(recs)-1], 0
		} else if err := flush(false); err != nil {
			return nil, err
		}
		if cur == nil {
			return nil, fmt.Errorf("evtexport: field %q before the first record", m[1])
		}
		name = m[1]
		value.WriteString(m[2])
	}
	if err := endRecord(); err != nil {
		return nil, err
	}
	return recs, nil
}

func setEvtexportField(r *EvtexportRecord, name, v string, nstr *int) error {
	var err error
	num := func(s string) uint64 {
		var n uint64
		if err == nil {
			n, err = strconv.ParseUint(s, 0, 32)
		}
		return n
	}
	// "Information event (4)", "0x00000bc7 (3015)": the number in brackets
	// or the hex before it.
	inParens := func(s string) string {
		if i, j := strings.LastIndexByte(s, '('), strings.LastIndexByte(s, ')'); i >= 0 && j > i {
			return s[i+1 : j]
		}
		return s
	}
	switch {
	case name == "Event number":
		r.RecordNumber = uint32(num(v))
	case name == "Creation time":
		r.Created, err = time.Parse("Jan 02, 2006 15:04:05 UTC", v)
	case name == "Written time":
		r.Written, err = time.Parse("Jan 02, 2006 15:04:05 UTC", v)
	case name == "Event type":
		r.EventType = uint16(num(inParens(v)))
	case name == "User security identifier":
		r.UserSID = v
	case name == "Computer name":
		r.Computer = v
	case name == "Source name":
		r.Source = v
	case name == "Event category":
		r.Category = uint16(num(v))
	case name == "Event identifier":
		r.EventIdentifier = uint32(num(strings.TrimSpace(strings.TrimSuffix(v, "("+inParens(v)+")"))))
	case name == "Number of strings":
		*nstr = int(num(v))
	case strings.HasPrefix(name, "String: "):
		if n := num(strings.TrimPrefix(name, "String: ")); err == nil && int(n) != len(r.Strings)+1 {
			err = fmt.Errorf("string %d out of order", n)
		}
		r.Strings = append(r.Strings, v)
	}
	return err
}
