package evtx

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ParseEventXML decodes one rendered event: an <Event> element as wevtutil,
// Get-WinEvent's ToXml() and EvtRender(EvtRenderEventXml) produce it, with
// RenderingInfo/Message (wevtutil /f:RenderedXml, forwarded events) becoming
// Event.Message. Namespaces are ignored: elements are matched by local name.
//
// Malformed XML, or a root element other than <Event>, gives a nil event
// and an error. When the XML is well formed but a field cannot be read (a
// time or number out of range, bad hex in <Binary>), the event is returned
// with the rest of its fields and Err describing the bad ones, together
// with a non-nil error: callers that must lose nothing keep the event,
// callers that want clean events check the error.
func ParseEventXML(b []byte) (*Event, error) {
	ev := &Event{Origin: Origin{Format: FormatXML, Offset: -1}}
	var bld eventBuilder
	if err := bld.decode(b, ev); err != nil {
		return nil, err
	}
	if ev.Err != "" {
		return ev, errors.New(ev.Err)
	}
	return ev, nil
}

// xmlSection is the child of <Event> being decoded.
type xmlSection uint8

const (
	secNone xmlSection = iota
	secSystem
	secEventData
	secFlatten // UserData, ProcessingErrorData: leaf elements become named Data
	secRendering
	secBinaryEventData
	secIgnore
)

// xmlAttr is one attribute with its value unescaped; name is the local name.
type xmlAttr struct{ name, value []byte }

// xmlFrame is an element open inside a flattened section.
type xmlFrame struct {
	name     string
	hasChild bool
}

// eventBuilder maps the token stream of one <Event> element onto an Event.
// It is fed by a tokenizer (encoding/xml here) through start, chars and end,
// so the mapping lives in one place whatever parses the XML.
type eventBuilder struct {
	ev      *Event
	depth   int
	done    bool
	section xmlSection
	// collect says whether character data belongs to the current field.
	collect bool
	text    []byte
	// field is the System child or EventData/RenderingInfo child being read.
	field    string
	dataName string
	frames   []xmlFrame
	errs     []string
	// strs, when set, interns the strings that repeat from event to event
	// (provider, computer, channel, data names) so a reader allocates them
	// once per file rather than once per event.
	strs map[string]string
	scan xmlScanner
}

func (b *eventBuilder) reset(ev *Event) {
	*b = eventBuilder{ev: ev, text: b.text[:0], frames: b.frames[:0], strs: b.strs, scan: b.scan}
}

func (b *eventBuilder) str(v []byte) string {
	if b.strs == nil {
		return string(v)
	}
	if s, ok := b.strs[string(v)]; ok {
		return s
	}
	if len(b.strs) >= 4096 || len(v) > 256 {
		return string(v)
	}
	s := string(v)
	b.strs[s] = s
	return s
}

func (b *eventBuilder) fail(format string, args ...any) {
	b.errs = append(b.errs, fmt.Sprintf(format, args...))
}

// decode parses the first element of data, which must be <Event>, into ev.
func (b *eventBuilder) decode(data []byte, ev *Event) error {
	b.reset(ev)
	if err := b.scan.run(data, b); err != nil {
		return err
	}
	if len(b.errs) > 0 {
		ev.Err = strings.Join(b.errs, "; ")
	}
	return nil
}

func (b *eventBuilder) start(name []byte, attrs []xmlAttr) error {
	b.depth++
	switch b.depth {
	case 1:
		if string(name) != "Event" {
			return fmt.Errorf("root element is <%s>, not <Event>", name)
		}
		return nil
	case 2:
		b.collect = false
		switch string(name) {
		case "System":
			b.section = secSystem
		case "EventData":
			b.section = secEventData
		case "UserData", "ProcessingErrorData":
			b.section = secFlatten
			b.frames = b.frames[:0]
		case "RenderingInfo":
			b.section = secRendering
		case "BinaryEventData":
			b.section = secBinaryEventData
			b.collect = true
			b.text = b.text[:0]
		default:
			b.section = secIgnore
		}
		return nil
	}
	switch b.section {
	case secSystem:
		if b.depth == 3 {
			b.systemStart(name, attrs)
		}
	case secEventData:
		if b.depth == 3 {
			b.field = ""
			b.collect = false
			switch string(name) {
			case "Data":
				b.field = "Data"
				b.dataName = ""
				for _, a := range attrs {
					if string(a.name) == "Name" {
						b.dataName = b.str(a.value)
					}
				}
				b.collect = true
				b.text = b.text[:0]
			case "Binary":
				b.field = "Binary"
				b.collect = true
				b.text = b.text[:0]
			}
		}
	case secFlatten:
		if n := len(b.frames); n > 0 {
			b.frames[n-1].hasChild = true
		}
		b.frames = append(b.frames, xmlFrame{name: b.str(name)})
		b.collect = true
		b.text = b.text[:0]
	case secRendering:
		if b.depth == 3 {
			b.collect = string(name) == "Message"
			b.field = ""
			if b.collect {
				b.field = "Message"
				b.text = b.text[:0]
			}
		}
	}
	return nil
}

func (b *eventBuilder) chars(c []byte) {
	if b.collect {
		b.text = append(b.text, c...)
	}
}

func (b *eventBuilder) end() {
	depth := b.depth
	b.depth--
	switch depth {
	case 1:
		b.done = true
		return
	case 2:
		if b.section == secBinaryEventData {
			b.binary(b.text)
		}
		b.section = secNone
		b.collect = false
		return
	}
	switch b.section {
	case secSystem:
		if depth == 3 && b.collect {
			b.systemText(b.field, b.text)
			b.collect = false
		}
	case secEventData:
		if depth == 3 {
			switch b.field {
			case "Data":
				b.ev.Data = append(b.ev.Data, Data{Name: b.dataName, Value: string(b.text)})
			case "Binary":
				b.binary(b.text)
			}
			b.field = ""
			b.collect = false
		}
	case secFlatten:
		n := len(b.frames) - 1
		if n < 0 {
			return
		}
		f := b.frames[n]
		b.frames = b.frames[:n]
		if !f.hasChild {
			b.ev.Data = append(b.ev.Data, Data{Name: f.name, Value: string(b.text)})
		}
		b.text = b.text[:0]
	case secRendering:
		if depth == 3 && b.field == "Message" {
			b.ev.Message = normalizeNewlines(b.text)
			b.field = ""
			b.collect = false
		}
	}
}

func (b *eventBuilder) binary(text []byte) {
	t := bytes.TrimSpace(text)
	if len(t) == 0 {
		return
	}
	bin := slices.Grow(b.ev.Binary, hex.DecodedLen(len(t)))
	n, err := hex.Decode(bin[len(bin):len(bin)+hex.DecodedLen(len(t))], t)
	if err != nil {
		b.fail("binary: %v", err)
	}
	b.ev.Binary = bin[:len(bin)+n]
}

// systemStart handles a child of <System>: attribute-only fields are read
// here, text fields are collected until systemText.
func (b *eventBuilder) systemStart(name []byte, attrs []xmlAttr) {
	ev := b.ev
	b.collect = false
	switch string(name) {
	case "Provider":
		for _, a := range attrs {
			switch string(a.name) {
			case "Name":
				ev.Provider = b.str(a.value)
			case "Guid":
				ev.ProviderGUID = b.str(a.value)
			case "EventSourceName":
				ev.Source = b.str(a.value)
			}
		}
		// The classic source name is only worth keeping when it differs.
		if ev.Source == ev.Provider {
			ev.Source = ""
		}
	case "EventID":
		for _, a := range attrs {
			if string(a.name) == "Qualifiers" {
				q, err := parseUintField(a.value, 16)
				if err != nil {
					b.fail("event id qualifiers: %v", err)
				}
				ev.Qualifiers = uint16(q)
			}
		}
		b.collect = true
	case "TimeCreated":
		for _, a := range attrs {
			if string(a.name) == "SystemTime" {
				t, err := parseSystemTime(a.value)
				if err != nil {
					b.fail("time created: %v", err)
				}
				ev.Time = t
			}
		}
	case "Correlation":
		for _, a := range attrs {
			switch string(a.name) {
			case "ActivityID":
				ev.ActivityID = string(a.value)
			case "RelatedActivityID":
				ev.RelatedActivityID = string(a.value)
			}
		}
	case "Execution":
		for _, a := range attrs {
			switch string(a.name) {
			case "ProcessID":
				v, err := parseUintField(a.value, 32)
				if err != nil {
					b.fail("process id: %v", err)
				}
				ev.ProcessID = uint32(v)
			case "ThreadID":
				v, err := parseUintField(a.value, 32)
				if err != nil {
					b.fail("thread id: %v", err)
				}
				ev.ThreadID = uint32(v)
			}
		}
	case "Security":
		for _, a := range attrs {
			if string(a.name) == "UserID" {
				ev.UserSID = b.str(a.value)
			}
		}
	case "Version", "Level", "Task", "Opcode", "Keywords", "EventRecordID", "Channel", "Computer":
		b.collect = true
	}
	if b.collect {
		b.field = b.str(name)
		b.text = b.text[:0]
	}
}

func (b *eventBuilder) systemText(field string, text []byte) {
	ev := b.ev
	switch field {
	case "EventID":
		v, err := parseUintField(text, 32)
		if err != nil {
			b.fail("event id: %v", err)
		}
		ev.EventID = uint16(v)
		if v > 0xFFFF && ev.Qualifiers == 0 {
			ev.Qualifiers = uint16(v >> 16)
		}
	case "Version":
		v, err := parseUintField(text, 8)
		if err != nil {
			b.fail("version: %v", err)
		}
		ev.Version = uint8(v)
	case "Level":
		v, err := parseUintField(text, 8)
		if err != nil {
			b.fail("level: %v", err)
		}
		ev.Level = Level(v)
	case "Task":
		v, err := parseUintField(text, 16)
		if err != nil {
			b.fail("task: %v", err)
		}
		ev.Task = uint16(v)
	case "Opcode":
		v, err := parseUintField(text, 8)
		if err != nil {
			b.fail("opcode: %v", err)
		}
		ev.Opcode = uint8(v)
	case "Keywords":
		v, err := parseUintField(text, 64)
		if err != nil {
			b.fail("keywords: %v", err)
		}
		ev.Keywords = v
	case "EventRecordID":
		v, err := parseUintField(text, 64)
		if err != nil {
			b.fail("event record id: %v", err)
		}
		ev.RecordID = v
	case "Channel":
		ev.Channel = b.str(bytes.TrimSpace(text))
	case "Computer":
		ev.Computer = b.str(bytes.TrimSpace(text))
	}
}

// parseUintField reads a decimal or 0x-prefixed hexadecimal number. An empty
// value (<Task/>) is zero, not an error.
func parseUintField(v []byte, bits int) (uint64, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return 0, nil
	}
	// A fast path for the common short decimal; strconv for the rest.
	if len(v) <= 9 {
		var n uint64
		ok := true
		for _, c := range v {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			n = n*10 + uint64(c-'0')
		}
		if ok {
			if bits < 64 && n >= 1<<bits {
				return 0, fmt.Errorf("%s out of range", v)
			}
			return n, nil
		}
	}
	s := string(v)
	base := 10
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s, base = s[2:], 16
	}
	n, err := strconv.ParseUint(s, base, bits)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", v)
	}
	return n, nil
}

// parseSystemTime reads TimeCreated/@SystemTime. wevtutil writes 3 or 9
// fractional digits, .NET's ToXml 7, libevtx 9; some tools drop the "Z".
// The result is UTC.
func parseSystemTime(v []byte) (time.Time, error) {
	s := string(bytes.TrimSpace(v))
	if s == "" {
		return time.Time{}, nil
	}
	if t, ok := parseRFC3339Fast(s); ok {
		return t, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q", s)
}

// parseRFC3339Fast handles the one shape almost every event has,
// "2006-01-02T15:04:05[.fraction]Z", without time.Parse's generality.
func parseRFC3339Fast(s string) (time.Time, bool) {
	if len(s) < 20 || s[len(s)-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(s string) (int, bool) {
		n := 0
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(s[0:4])
	month, ok2 := num(s[5:7])
	day, ok3 := num(s[8:10])
	hour, ok4 := num(s[11:13])
	minute, ok5 := num(s[14:16])
	sec, ok6 := num(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := s[19 : len(s)-1]; frac != "" {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		n, ok := num(frac[1:])
		if !ok {
			return time.Time{}, false
		}
		for i := len(frac) - 1; i < 9; i++ {
			n *= 10
		}
		nsec = n
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // 31 February and friends: let time.Parse reject it
		return time.Time{}, false
	}
	return t, true
}

// maxEventXML bounds one <Event> element. Windows limits a record to 64 KiB
// of binary XML; rendered text is larger but nowhere near this, so anything
// bigger is damage, and the bound keeps memory flat on hostile input.
const maxEventXML = 16 << 20

// xmlReader streams <Event> elements out of a file holding any number of
// them: wevtutil's concatenation without a root, ToXml lines, an <Events>
// wrapper, or junk around them. It frames one element at a time in a
// buffer that only grows to the largest event, so memory does not depend
// on the file size, and a damaged element costs only itself: the reader
// resumes at the next "<Event" start.
type xmlReader struct {
	src    *textSource
	closer io.Closer
	path   string
	opts   Options

	buf    []byte
	pos    int   // start of the unconsumed part of buf
	srcPos int64 // input offset of buf[pos]
	eof    bool
	err    error // read error, reported once buf is drained

	bld      eventBuilder
	problems problemLog
}

func openXML(f *os.File, path string, opts Options) (Reader, error) {
	return newXMLReader(f, f, path, opts), nil
}

func newXMLReader(r io.Reader, c io.Closer, path string, opts Options) *xmlReader {
	x := &xmlReader{src: newTextSource(r), closer: c, path: path, opts: opts, buf: make([]byte, 0, 256<<10)}
	x.srcPos = x.src.bom
	x.bld.strs = make(map[string]string)
	return x
}

func (x *xmlReader) Format() Format      { return FormatXML }
func (x *xmlReader) Problems() []Problem { return x.problems.all() }
func (x *xmlReader) problem(off int64, skipped int, err error) {
	x.problems.add(Problem{Path: x.path, Offset: off, ChunkOffset: -1, Skipped: skipped, Err: err})
}

func (x *xmlReader) Close() error {
	if x.closer == nil {
		return nil
	}
	c := x.closer
	x.closer = nil
	return c.Close()
}

// fill reads more input, moving the unconsumed bytes to the front and
// growing the buffer when an element does not fit.
func (x *xmlReader) fill() {
	if x.eof {
		return
	}
	if x.pos > 0 {
		n := copy(x.buf[:cap(x.buf)], x.buf[x.pos:])
		x.buf = x.buf[:n]
		x.pos = 0
	}
	if len(x.buf) == cap(x.buf) {
		nb := make([]byte, len(x.buf), 2*cap(x.buf))
		copy(nb, x.buf)
		x.buf = nb
	}
	n, err := x.src.Read(x.buf[len(x.buf):cap(x.buf)])
	x.buf = x.buf[:len(x.buf)+n]
	if err != nil {
		x.eof = true
		if !errors.Is(err, io.EOF) {
			x.err = err
		}
	}
}

// advance consumes buf[x.pos:to], keeping the input offset in step.
func (x *xmlReader) advance(to int) {
	x.srcPos += x.src.srcLen(x.buf[x.pos:to])
	x.pos = to
}

var (
	eventOpen  = []byte("<Event")
	eventClose = []byte("</Event")
)

// findEventStart returns the index of the next "<Event" that opens an
// <Event> element (not <Events>, <EventData>, <EventID>), or -1. partial is
// how many trailing bytes might begin one that has not fully arrived.
func findEventStart(b []byte) (idx, partial int) {
	for off := 0; ; {
		i := bytes.Index(b[off:], eventOpen)
		if i < 0 {
			// Keep a possible prefix of "<Event" for the next read.
			for k := min(len(eventOpen), len(b)-off); k > 0; k-- {
				if bytes.HasPrefix(eventOpen, b[len(b)-k:]) {
					return -1, k
				}
			}
			return -1, 0
		}
		i += off
		if i+len(eventOpen) >= len(b) {
			return -1, len(b) - i
		}
		switch b[i+len(eventOpen)] {
		case ' ', '\t', '\r', '\n', '>', '/':
			return i, 0
		}
		off = i + len(eventOpen)
	}
}

// findEventEnd returns the index just past the element starting at b[0]
// ("<Event..."), -1 if its end has not arrived, and the index of another
// element start found before the end (a truncated element), else -1.
//
// The close tag is looked for only up to the next element start, so input
// full of unclosed "<Event>" costs time in proportion to its size, not to
// its size times the buffer's.
func findEventEnd(b []byte) (end, next int) {
	// A self-closing <Event/> ends with its start tag.
	gt := bytes.IndexByte(b, '>')
	if gt < 0 {
		return -1, -1
	}
	if gt > 0 && b[gt-1] == '/' {
		return gt + 1, -1
	}
	limit := len(b)
	n, _ := findEventStart(b[len(eventOpen):])
	if n >= 0 {
		next = n + len(eventOpen)
		limit = next
	} else {
		next = -1
	}
	for off := len(eventOpen); ; {
		i := bytes.Index(b[off:limit], eventClose)
		if i < 0 {
			return -1, next
		}
		i += off
		j := i + len(eventClose)
		for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\r' || b[j] == '\n') {
			j++
		}
		if j >= len(b) {
			return -1, -1
		}
		if b[j] != '>' { // "</EventData>", "</EventID>"
			off = i + len(eventClose)
			continue
		}
		return j + 1, -1
	}
}

// Next returns the next event that passes the filter.
func (x *xmlReader) Next(ctx context.Context) (*Event, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		elem, off, ok := x.nextElement()
		if !ok {
			if x.err != nil {
				err := x.err
				x.err = nil
				return nil, fmt.Errorf("read %s: %w", x.path, err)
			}
			return nil, io.EOF
		}
		if x.opts.Filter.MinRecordID > 0 {
			// Bookmarked re-reads skip most events: peek at the record ID
			// before paying for a full decode.
			if id, ok := peekRecordID(elem); ok && id != 0 && !x.opts.Filter.passRecordID(id) {
				continue
			}
		}
		ev := &Event{}
		if err := x.bld.decode(elem, ev); err != nil {
			x.problem(off, 1, fmt.Errorf("malformed event xml: %w", err))
			continue
		}
		ev.Origin = Origin{Path: x.path, Format: FormatXML, Offset: off}
		if ev.Err != "" {
			x.problem(off, 0, fmt.Errorf("event record %d: %s", ev.RecordID, ev.Err))
		}
		if ev.RecordID != 0 && !x.opts.Filter.passRecordID(ev.RecordID) {
			continue
		}
		if !x.opts.Filter.keep(headerFromEvent(ev)) {
			continue
		}
		return ev, nil
	}
}

// nextElement frames the next <Event> element. The slice is valid until
// the next call.
func (x *xmlReader) nextElement() (elem []byte, off int64, ok bool) {
	for {
		start, partial := findEventStart(x.buf[x.pos:])
		if start < 0 {
			if x.eof {
				x.advance(len(x.buf))
				return nil, 0, false
			}
			x.advance(len(x.buf) - partial)
			x.fill()
			continue
		}
		x.advance(x.pos + start)
		end, next := findEventEnd(x.buf[x.pos:])
		switch {
		case next >= 0:
			x.problem(x.srcPos, 1, errors.New("malformed event xml: element ends before its </Event>"))
			x.advance(x.pos + next)
			continue
		case end < 0 && x.eof:
			x.problem(x.srcPos, 1, errors.New("malformed event xml: truncated, no </Event>"))
			x.advance(len(x.buf))
			return nil, 0, false
		case end < 0 && len(x.buf)-x.pos >= maxEventXML:
			x.problem(x.srcPos, 1, fmt.Errorf("malformed event xml: no </Event> within %d bytes", maxEventXML))
			x.advance(x.pos + len(eventOpen))
			continue
		case end < 0:
			x.fill()
			continue
		}
		elem = x.buf[x.pos : x.pos+end]
		off = x.srcPos
		x.advance(x.pos + end)
		return elem, off, true
	}
}

// peekRecordID finds <EventRecordID>n</EventRecordID> without parsing.
func peekRecordID(elem []byte) (uint64, bool) {
	const tag = "<EventRecordID>"
	i := bytes.Index(elem, []byte(tag))
	if i < 0 {
		return 0, false
	}
	rest := elem[i+len(tag):]
	j := bytes.IndexByte(rest, '<')
	if j < 0 {
		return 0, false
	}
	v, err := parseUintField(rest[:j], 64)
	return v, err == nil
}

func headerFromEvent(ev *Event) Header {
	return Header{Provider: ev.Provider, Source: ev.Source, EventID: ev.EventID, RecordID: ev.RecordID, Time: ev.Time, Channel: ev.Channel}
}

// normalizeNewlines turns the CRLF line ends Windows renders messages with
// into LF, so a message reads the same from every format.
func normalizeNewlines(b []byte) string {
	if bytes.IndexByte(b, '\r') < 0 {
		return string(b)
	}
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// xmlScanner tokenizes one rendered event for an eventBuilder. It is a
// small XML parser rather than encoding/xml for two reasons. Windows is
// sloppy: EvtRender, wevtutil and libevtx copy control characters from
// event data straight into the XML (2 of the 32 public .evtx samples have
// them), which encoding/xml rejects, losing whole events over one byte.
// And encoding/xml runs at a fraction of the speed a log scanner needs.
// It stays strict about structure (unbalanced or mismatched tags,
// unterminated tags, comments and attribute values), which is what
// damage looks like, and lenient about content: control characters,
// invalid UTF-8 and unknown entities are kept as they are. Where
// encoding/xml accepts an event, both produce the same Event (FuzzXML
// checks this).
type xmlScanner struct {
	stack [][]byte // names of the open elements
	attrs []xmlAttr
	abuf  []byte // unescaped attribute values of the current tag
	tbuf  []byte // unescaped text
}

type xmlSyntaxError struct {
	off int
	msg string
}

func (e *xmlSyntaxError) Error() string {
	return fmt.Sprintf("xml syntax error at byte %d of the event: %s", e.off, e.msg)
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// localName drops a namespace prefix.
func localName(name []byte) []byte {
	if i := bytes.LastIndexByte(name, ':'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// run feeds the first element of d to b.
func (s *xmlScanner) run(d []byte, b *eventBuilder) error {
	s.stack = s.stack[:0]
	eof := func() error { return &xmlSyntaxError{len(d), "unexpected EOF"} }
	for i := 0; i < len(d); {
		if d[i] != '<' {
			j := bytes.IndexByte(d[i:], '<')
			if j < 0 {
				j = len(d)
			} else {
				j += i
			}
			if len(s.stack) > 0 {
				s.tbuf = s.tbuf[:0]
				b.chars(unescapeXML(&s.tbuf, d[i:j]))
			}
			i = j
			continue
		}
		if i+1 >= len(d) {
			return eof()
		}
		switch d[i+1] {
		case '/':
			j := bytes.IndexByte(d[i+2:], '>')
			if j < 0 {
				return eof()
			}
			name := bytes.TrimRight(d[i+2:i+2+j], " \t\r\n")
			if len(s.stack) == 0 {
				return &xmlSyntaxError{i, fmt.Sprintf("unexpected end element </%s>", name)}
			}
			top := s.stack[len(s.stack)-1]
			if !bytes.Equal(top, name) {
				return &xmlSyntaxError{i, fmt.Sprintf("element <%s> closed by </%s>", top, name)}
			}
			s.stack = s.stack[:len(s.stack)-1]
			b.end()
			i += 2 + j + 1
			if b.done {
				return nil
			}
		case '!':
			rest := d[i:]
			switch {
			case bytes.HasPrefix(rest, []byte("<!--")):
				j := bytes.Index(rest[4:], []byte("-->"))
				if j < 0 {
					return eof()
				}
				i += 4 + j + 3
			case bytes.HasPrefix(rest, []byte("<![CDATA[")):
				j := bytes.Index(rest[9:], []byte("]]>"))
				if j < 0 {
					return eof()
				}
				if len(s.stack) > 0 {
					s.tbuf = s.tbuf[:0]
					b.chars(normalizeCR(&s.tbuf, rest[9:9+j]))
				}
				i += 9 + j + 3
			default:
				n := skipDirective(rest)
				if n < 0 {
					return eof()
				}
				i += n
			}
		case '?':
			j := bytes.Index(d[i+2:], []byte("?>"))
			if j < 0 {
				return eof()
			}
			i += 2 + j + 2
		default:
			n, err := s.startTag(d, i, b)
			if err != nil {
				return err
			}
			i = n
			if b.done {
				return nil
			}
		}
	}
	if len(s.stack) == 0 {
		return errors.New("no <Event> element")
	}
	return eof()
}

// startTag parses the tag at d[i] ("<name ...>" or "<name .../>") and
// returns the index after it.
func (s *xmlScanner) startTag(d []byte, i int, b *eventBuilder) (int, error) {
	eof := &xmlSyntaxError{len(d), "unexpected EOF"}
	j := i + 1
	for j < len(d) && !isXMLSpace(d[j]) && d[j] != '/' && d[j] != '>' && d[j] != '<' {
		j++
	}
	name := d[i+1 : j]
	if len(name) == 0 {
		return 0, &xmlSyntaxError{i, "expected element name after <"}
	}
	s.attrs = s.attrs[:0]
	// Unescaping only ever shrinks a value, so with this capacity appends
	// never move abuf and earlier values stay valid.
	if cap(s.abuf) < len(d)-i {
		s.abuf = make([]byte, 0, len(d)-i)
	}
	s.abuf = s.abuf[:0]
	selfClosing := false
	for {
		for j < len(d) && isXMLSpace(d[j]) {
			j++
		}
		if j >= len(d) {
			return 0, eof
		}
		if d[j] == '>' {
			j++
			break
		}
		if d[j] == '/' {
			if j+1 >= len(d) {
				return 0, eof
			}
			if d[j+1] != '>' {
				return 0, &xmlSyntaxError{j, "expected /> in element"}
			}
			selfClosing = true
			j += 2
			break
		}
		k := j
		for k < len(d) && !isXMLSpace(d[k]) && d[k] != '=' && d[k] != '/' && d[k] != '>' && d[k] != '<' {
			k++
		}
		aname := d[j:k]
		if len(aname) == 0 {
			return 0, &xmlSyntaxError{k, fmt.Sprintf("bad character %q in element <%s>", d[k], name)}
		}
		for k < len(d) && isXMLSpace(d[k]) {
			k++
		}
		if k >= len(d) {
			return 0, eof
		}
		if d[k] != '=' {
			return 0, &xmlSyntaxError{k, fmt.Sprintf("attribute %s without value in element <%s>", aname, name)}
		}
		k++
		for k < len(d) && isXMLSpace(d[k]) {
			k++
		}
		if k >= len(d) {
			return 0, eof
		}
		q := d[k]
		if q != '"' && q != '\'' {
			return 0, &xmlSyntaxError{k, "unquoted or missing attribute value in element"}
		}
		e := bytes.IndexByte(d[k+1:], q)
		if e < 0 {
			return 0, eof
		}
		raw := d[k+1 : k+1+e]
		if bytes.IndexByte(raw, '<') >= 0 {
			return 0, &xmlSyntaxError{k, "unescaped < inside quoted string"}
		}
		s.attrs = append(s.attrs, xmlAttr{name: localName(aname), value: unescapeXML(&s.abuf, raw)})
		j = k + 1 + e + 1
	}
	s.stack = append(s.stack, name)
	if err := b.start(localName(name), s.attrs); err != nil {
		return 0, err
	}
	if selfClosing {
		s.stack = s.stack[:len(s.stack)-1]
		b.end()
	}
	return j, nil
}

// skipDirective returns the length of a <!...> declaration, or -1 if it
// does not end. It follows encoding/xml exactly, so both agree on where
// the markup resumes: the character after "<!" is taken as is, quoted
// text and nested <...> are skipped, and so are <!-- comments -->.
func skipDirective(d []byte) int {
	if len(d) < 3 {
		return -1
	}
	depth := 0
	var quote byte
	for i := 3; i < len(d); {
		c := d[i]
		if quote == 0 && c == '>' && depth == 0 {
			return i + 1
		}
		i++
	handle:
		switch {
		case c == quote:
			quote = 0
		case quote != 0:
		case c == '\'' || c == '"':
			quote = c
		case c == '>':
			depth--
		case c == '<':
			for _, want := range []byte("!--") {
				if i >= len(d) {
					return -1
				}
				c = d[i]
				i++
				if c != want {
					depth++
					goto handle
				}
			}
			var b0, b1 byte
			for {
				if i >= len(d) {
					return -1
				}
				c = d[i]
				i++
				if b0 == '-' && b1 == '-' && c == '>' {
					break
				}
				b0, b1 = b1, c
			}
		}
	}
	return -1
}

// unescapeXML appends raw to *buf with entities and character references
// decoded and line ends normalised as XML requires (CRLF and CR become LF),
// and returns the appended part; raw itself when there is nothing to do.
// An unknown or malformed entity is kept literally.
func unescapeXML(buf *[]byte, raw []byte) []byte {
	if bytes.IndexByte(raw, '&') < 0 && bytes.IndexByte(raw, '\r') < 0 {
		return raw
	}
	out := *buf
	start := len(out)
	for i := 0; i < len(raw); {
		c := raw[i]
		switch c {
		case '\r':
			out = append(out, '\n')
			if i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
			i++
		case '&':
			if r, n := decodeXMLEntity(raw[i:]); n > 0 {
				out = utf8.AppendRune(out, r)
				i += n
			} else {
				out = append(out, '&')
				i++
			}
		default:
			out = append(out, c)
			i++
		}
	}
	*buf = out
	return out[start:]
}

// normalizeCR is unescapeXML for CDATA, where only line ends change.
func normalizeCR(buf *[]byte, raw []byte) []byte {
	if bytes.IndexByte(raw, '\r') < 0 {
		return raw
	}
	out := *buf
	start := len(out)
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\r' {
			out = append(out, '\n')
			if i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
			continue
		}
		out = append(out, raw[i])
	}
	*buf = out
	return out[start:]
}

// decodeXMLEntity decodes the entity at the start of s ("&amp;", "&#65;",
// "&#x41;") and returns its rune and length, or n == 0 if it is not one.
func decodeXMLEntity(s []byte) (r rune, n int) {
	semi := bytes.IndexByte(s, ';')
	if semi < 2 {
		return 0, 0
	}
	name := s[1:semi]
	switch string(name) {
	case "lt":
		return '<', semi + 1
	case "gt":
		return '>', semi + 1
	case "amp":
		return '&', semi + 1
	case "apos":
		return '\'', semi + 1
	case "quot":
		return '"', semi + 1
	}
	if name[0] != '#' || len(name) < 2 {
		return 0, 0
	}
	digits, base := name[1:], uint64(10)
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 {
		return 0, 0
	}
	var v uint64
	for _, c := range digits {
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, 0
		}
		v = v*base + d
		if v > utf8.MaxRune {
			return 0, 0
		}
	}
	return rune(v), semi + 1
}
