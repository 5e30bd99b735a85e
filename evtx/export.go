package evtx

// Event Viewer text and CSV exports.
//
// These carry what binary logs lack, the rendered message, and lack what
// binary logs carry: record numbers, insertion strings, UTC times. So:
//
//   - Event.Message is the description and Event.Provider the source name
//     shown by Event Viewer. Event.Data is empty, except when Event Viewer
//     had no message file for the source and listed the insertion strings
//     in the description instead ("The description for Event ID ... cannot
//     be found"): those are recovered, see insertionStrings.
//   - RecordID is 0, which means "unknown" everywhere in this package.
//     A sequence number would look like a record ID without being one
//     (exports of overlapping ranges would disagree, and nothing matches
//     it to the live log), so none is invented. Consumers that need a key
//     per event must not use RecordID alone when it is 0: Origin (path
//     and byte offset) identifies an exported event. Filter.MinRecordID
//     does not apply to such events.
//   - Times are the exporting machine's local wall-clock time in its
//     locale; Options.Location says which zone that was (nil: UTC). See
//     localTimes for the layouts read.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// typeWord is an event type or level as Event Viewer prints it.
type typeWord struct {
	level     Level
	eventType uint16 // the classic type, for exports of classic logs
	keywords  uint64 // audit keywords (modern layouts)
}

// typeWords maps the words (lower case) of the type/level column and the
// "Event Type:"/"Level:" lines. English is what the sample exports use;
// the German and French words are those of the localised consoles, from
// their UI strings, and are best effort.
var typeWords = map[string]typeWord{
	"error":                   {LevelError, EventTypeError, 0},
	"warning":                 {LevelWarning, EventTypeWarning, 0},
	"information":             {LevelInformation, EventTypeInformation, 0},
	"success":                 {LevelInformation, EventTypeSuccess, 0},
	"success audit":           {LevelLogAlways, EventTypeAuditSuccess, KeywordAuditSuccess},
	"failure audit":           {LevelLogAlways, EventTypeAuditFailure, KeywordAuditFailure},
	"audit success":           {LevelLogAlways, EventTypeAuditSuccess, KeywordAuditSuccess},
	"audit failure":           {LevelLogAlways, EventTypeAuditFailure, KeywordAuditFailure},
	"critical":                {LevelCritical, EventTypeError, 0},
	"verbose":                 {LevelVerbose, EventTypeInformation, 0},
	"fehler":                  {LevelError, EventTypeError, 0},
	"warnung":                 {LevelWarning, EventTypeWarning, 0},
	"informationen":           {LevelInformation, EventTypeInformation, 0},
	"kritisch":                {LevelCritical, EventTypeError, 0},
	"ausführlich":             {LevelVerbose, EventTypeInformation, 0},
	"erfolgsüberwachung":      {LevelLogAlways, EventTypeAuditSuccess, KeywordAuditSuccess},
	"fehlerüberwachung":       {LevelLogAlways, EventTypeAuditFailure, KeywordAuditFailure},
	"überwachung erfolgreich": {LevelLogAlways, EventTypeAuditSuccess, KeywordAuditSuccess},
	"überwachung gescheitert": {LevelLogAlways, EventTypeAuditFailure, KeywordAuditFailure},
	"erreur":                  {LevelError, EventTypeError, 0},
	"avertissement":           {LevelWarning, EventTypeWarning, 0},
	"critique":                {LevelCritical, EventTypeError, 0},
	"commentaires":            {LevelVerbose, EventTypeInformation, 0},
	"audit des succès":        {LevelLogAlways, EventTypeAuditSuccess, KeywordAuditSuccess},
	"audit des échecs":        {LevelLogAlways, EventTypeAuditFailure, KeywordAuditFailure},
	"succès de l'audit":       {LevelLogAlways, EventTypeAuditSuccess, KeywordAuditSuccess},
	"échec de l'audit":        {LevelLogAlways, EventTypeAuditFailure, KeywordAuditFailure},
	"succès de l\u2019audit":  {LevelLogAlways, EventTypeAuditSuccess, KeywordAuditSuccess},
	"échec de l\u2019audit":   {LevelLogAlways, EventTypeAuditFailure, KeywordAuditFailure},
}

func lookupTypeWord(s string) (typeWord, bool) {
	s = strings.TrimSpace(s)
	// Lower-case short ASCII words on the stack: this runs for every line
	// that might start a row.
	var buf [24]byte
	if len(s) <= len(buf) {
		ascii := true
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c >= 0x80 {
				ascii = false
				break
			}
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[i] = c
		}
		if ascii {
			w, ok := typeWords[string(buf[:len(s)])]
			return w, ok
		}
	}
	w, ok := typeWords[strings.ToLower(s)]
	return w, ok
}

// apply sets the level and keywords. Classic exports (2003 and XP) get
// what Windows shows for a classic event through the modern API, so rules
// see the same values as for the .evt file.
func (w typeWord) apply(ev *Event, classic bool) {
	if classic {
		ev.Level, ev.Keywords = LevelFromEventType(w.eventType)
		return
	}
	ev.Level, ev.Keywords = w.level, w.keywords
}

// setEventID reads the event ID column or line. Consoles show the low 16
// bits, but a 32-bit value keeps its qualifiers.
func setEventID(ev *Event, s string) error {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return fmt.Errorf("bad event id %q", strings.TrimSpace(s))
	}
	ev.EventID, ev.Qualifiers = uint16(v), uint16(v>>16)
	return nil
}

// setCategory keeps a numeric category ("2", or "(2)" when the source has
// no category names) as Task; names like "None" or "Logon" are not numbers.
func setCategory(ev *Event, s string) {
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "("), ")")
	if v, n := atoiPrefix(s); n > 0 && n == len(s) && v <= 0xFFFF {
		ev.Task = uint16(v)
	}
}

// textFields holds the labelled lines of one event: a dozen at most, so a
// small array does better than a map.
type textFields struct {
	n     int
	names [16]string
	vals  [16]string
}

func (f *textFields) get(name string) string {
	for i := 0; i < f.n; i++ {
		if f.names[i] == name {
			return f.vals[i]
		}
	}
	return ""
}

func (f *textFields) has(name string) bool {
	for i := 0; i < f.n; i++ {
		if f.names[i] == name {
			return true
		}
	}
	return false
}

func (f *textFields) set(name, value string) {
	if f.n < len(f.names) {
		f.names[f.n], f.vals[f.n] = name, value
		f.n++
	}
}

// setUser keeps a SID as UserSID and an account name as User; "N/A" is
// Event Viewer's "no user".
func setUser(ev *Event, s string) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" || strings.EqualFold(s, "N/A"):
	case strings.HasPrefix(s, "S-1-"):
		ev.UserSID = s
	default:
		ev.User = s
	}
}

// exportReader is what the text and CSV readers share.
type exportReader struct {
	lr       *lineReader
	closer   io.Closer
	path     string
	opts     Options
	format   Format
	times    localTimes
	problems problemLog
	// unknownWords are level words already reported, so an export from an
	// unexpected locale costs one problem per word, not one per event.
	unknownWords map[string]bool
	cutSeen      int
}

func newExportReader(r io.Reader, c io.Closer, path string, opts Options, format Format) exportReader {
	lr := newLineReader(r)
	x := exportReader{lr: lr, closer: c, path: path, opts: opts, format: format, times: localTimes{loc: opts.Location}}
	// Settle M/D versus D/M from the first 64 KiB before the first event.
	x.times.learn(lr.head(64 << 10))
	return x
}

func (x *exportReader) Format() Format { return x.format }

func (x *exportReader) Problems() []Problem {
	for ; x.cutSeen < len(x.lr.cut); x.cutSeen++ {
		x.problem(x.lr.cut[x.cutSeen], 0, fmt.Errorf("line longer than %d bytes cut short", maxTextLine))
	}
	return x.problems.all()
}

func (x *exportReader) problem(off int64, skipped int, err error) {
	x.problems.add(Problem{Path: x.path, Offset: off, ChunkOffset: -1, Skipped: skipped, Err: err})
}

func (x *exportReader) Close() error {
	if x.closer == nil {
		return nil
	}
	c := x.closer
	x.closer = nil
	return c.Close()
}

func (x *exportReader) unknownLevel(off int64, word string) {
	if x.unknownWords == nil {
		x.unknownWords = make(map[string]bool)
	}
	if !x.unknownWords[word] && len(x.unknownWords) < 16 {
		x.unknownWords[word] = true
		x.problem(off, 0, fmt.Errorf("unknown event type %q: such events are read with level 0", word))
	}
}

// finish applies the filter and returns the event, or nil to skip it.
func (x *exportReader) finish(ev *Event) *Event {
	if ev.RecordID != 0 && !x.opts.Filter.passRecordID(ev.RecordID) {
		return nil
	}
	if !x.opts.Filter.keep(headerFromEvent(ev)) {
		return nil
	}
	return ev
}

// eof ends iteration, with the read error if there was one.
func (x *exportReader) eof() error {
	if err := x.lr.err; err != nil {
		x.lr.err = nil
		return fmt.Errorf("read %s: %w", x.path, err)
	}
	return io.EOF
}

// textReader reads the text Event Viewer copies to the clipboard ("Copy
// event details" on 2003/XP, "Copy details as text" on Vista+), any number
// of events one after the other. Server 2003/XP:
//
//	Event Type:	Error
//	Event Source:	Server ActiveSync
//	Event Category:	None
//	Event ID:	3015
//	Date:		3/14/2008
//	Time:		10:37:21 AM
//	User:		N/A
//	Computer:	SBSHQ01
//	Description:
//	IP-based AUTD failed to initialize ...
//	Data:
//	0000: 05 40 00 80               .@.?
//
// The "Description:" line is sometimes missing, the message then follows
// "Computer:" directly. Vista and later write "Log Name:", "Source:",
// "Date:", "Event ID:", "Task Category:", "Level:", "Keywords:", "User:",
// "Computer:", "Description:" and may append "Event Xml:" with the event's
// XML, which is then decoded for everything but the message.
type textReader struct{ exportReader }

func openText(f *os.File, path string, opts Options) (Reader, error) {
	return newTextReader(f, f, path, opts), nil
}

func newTextReader(r io.Reader, c io.Closer, path string, opts Options) *textReader {
	return &textReader{newExportReader(r, c, path, opts, FormatText)}
}

// Labels of the 2003/XP and Vista+ layouts.
var (
	textLabels2003  = map[string]bool{"Event Type": true, "Event Source": true, "Event Category": true, "Event ID": true, "Date": true, "Time": true, "User": true, "Computer": true}
	textLabelsVista = map[string]bool{"Log Name": true, "Source": true, "Date": true, "Event ID": true, "Task Category": true, "Level": true, "Keywords": true, "User": true, "Computer": true, "OpCode": true, "Opcode": true}
)

// labelLine splits "Label:<spaces or tabs>value".
func labelLine(s string) (label, value string, ok bool) {
	label, value, ok = strings.Cut(s, ":")
	if !ok {
		return "", "", false
	}
	return strings.TrimSpace(label), strings.TrimSpace(value), true
}

func isTextBlockStart(s string) bool {
	return strings.HasPrefix(s, "Event Type:") || strings.HasPrefix(s, "Log Name:")
}

func (r *textReader) Next(ctx context.Context) (*Event, error) {
	junk := int64(-1)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l, ok := r.lr.next()
		if !ok {
			return nil, r.eof()
		}
		var ev *Event
		switch {
		case strings.TrimSpace(l.s) == "":
			continue
		case strings.HasPrefix(l.s, "Event Type:"):
			ev = r.readBlock(l, textLabels2003)
		case strings.HasPrefix(l.s, "Log Name:"):
			ev = r.readBlock(l, textLabelsVista)
		default:
			// Text between events that belongs to none: say so once per run.
			if junk < 0 {
				junk = l.off
				r.problem(l.off, 0, errors.New("text outside any event skipped"))
			}
			continue
		}
		junk = -1
		if ev == nil {
			continue
		}
		if ev = r.finish(ev); ev != nil {
			return ev, nil
		}
	}
}

// readBlock reads one event whose first line is first.
func (r *textReader) readBlock(first textLine, labels map[string]bool) *Event {
	vista := labels["Log Name"]
	var fields textFields
	label, value, _ := labelLine(first.s)
	fields.set(label, value)
	for {
		l, ok := r.lr.next()
		if !ok {
			break
		}
		label, value, ok := labelLine(l.s)
		if !ok || !labels[label] || fields.has(label) {
			r.lr.unread(l)
			break
		}
		fields.set(label, value)
	}

	// The description: after a "Description:" line (blank lines before it
	// allowed), or straight after the labels in copies that lack it.
	var msg []string
	described := false
	var binary []byte
	var eventXML []string
	for {
		l, ok := r.lr.next()
		if !ok {
			break
		}
		if isTextBlockStart(l.s) {
			r.lr.unread(l)
			break
		}
		t := strings.TrimSpace(l.s)
		if rest, found := strings.CutPrefix(t, "Description:"); found && !described && cleanDescription(msg) == "" {
			described = true
			msg = msg[:0]
			if rest = strings.TrimSpace(rest); rest != "" {
				msg = append(msg, rest)
			}
			continue
		}
		if !vista && t == "Data:" && r.dataFollows() {
			binary = r.readHexDump()
			break
		}
		if vista && t == "Event Xml:" {
			eventXML = r.readEventXML()
			break
		}
		msg = append(msg, l.s)
	}

	ev := &Event{Origin: Origin{Path: r.path, Format: FormatText, Offset: first.off}}
	fromXML := false
	if len(eventXML) > 0 {
		// The XML is the better source for everything but the message: it
		// has UTC times, the provider GUID and the event data.
		x, err := ParseEventXML([]byte(strings.Join(eventXML, "\n")))
		if x != nil {
			ev, fromXML = x, true
			ev.Origin = Origin{Path: r.path, Format: FormatText, Offset: first.off}
			if ev.Err != "" {
				ev.Err = "event xml: " + ev.Err
			}
		} else {
			r.problem(first.off, 0, fmt.Errorf("event xml not readable, using the text fields: %w", err))
		}
	}
	if !fromXML {
		if err := r.fillFromLabels(ev, &fields, vista, first.off); err != nil {
			r.problem(first.off, 1, err)
			return nil
		}
	}
	ev.Message = cleanDescription(msg)
	if len(ev.Data) == 0 {
		ev.Data = insertionStrings(ev.Message)
	}
	if binary != nil {
		ev.Binary = binary
	}
	setUser(ev, fields.get("User"))
	if ev.Err != "" {
		r.problem(first.off, 0, errors.New(ev.Err))
	}
	return ev
}

func (r *textReader) fillFromLabels(ev *Event, fields *textFields, vista bool, off int64) error {
	var errs []string
	if !fields.has("Event ID") {
		return errors.New("event without an \"Event ID:\" line skipped")
	}
	if err := setEventID(ev, fields.get("Event ID")); err != nil {
		return fmt.Errorf("event skipped: %w", err)
	}
	if vista {
		ev.Provider = fields.get("Source")
		ev.Channel = fields.get("Log Name")
		setCategory(ev, fields.get("Task Category"))
		if lvl := fields.get("Level"); lvl != "" {
			if w, ok := lookupTypeWord(lvl); ok {
				w.apply(ev, false)
			} else {
				r.unknownLevel(off, lvl)
			}
		}
		// Security events show "Level: Information" with the audit result
		// in Keywords.
		if w, ok := lookupTypeWord(fields.get("Keywords")); ok && w.keywords != 0 {
			ev.Level, ev.Keywords = w.level, w.keywords
		}
		if t, err := r.times.parseDateTime(fields.get("Date")); err != nil {
			errs = append(errs, "date: "+err.Error())
		} else {
			ev.Time = t
		}
	} else {
		ev.Provider = fields.get("Event Source")
		setCategory(ev, fields.get("Event Category"))
		if typ := fields.get("Event Type"); typ != "" {
			if w, ok := lookupTypeWord(typ); ok {
				w.apply(ev, true)
			} else {
				r.unknownLevel(off, typ)
			}
		}
		if t, err := r.times.parse(fields.get("Date"), fields.get("Time")); err != nil {
			errs = append(errs, "date: "+err.Error())
		} else {
			ev.Time = t
		}
	}
	ev.Computer = fields.get("Computer")
	if len(errs) > 0 {
		ev.Err = strings.Join(errs, "; ")
	}
	return nil
}

// dataFollows tells a "Data:" section header from a message line that
// happens to read "Data:": a hex dump, a blank line, another event or the
// end must follow.
func (r *textReader) dataFollows() bool {
	l, ok := r.lr.peek()
	if !ok {
		return true
	}
	_, hex := parseHexDumpLine(l.s)
	return hex || strings.TrimSpace(l.s) == "" || isTextBlockStart(l.s)
}

func (r *textReader) readHexDump() []byte {
	var out []byte
	for {
		l, ok := r.lr.next()
		if !ok {
			return out
		}
		b, ok := parseHexDumpLine(l.s)
		if !ok {
			r.lr.unread(l)
			return out
		}
		out = append(out, b...)
	}
}

// readEventXML collects the lines of an "Event Xml:" section.
func (r *textReader) readEventXML() []string {
	var lines []string
	for {
		l, ok := r.lr.next()
		if !ok {
			return lines
		}
		if isTextBlockStart(l.s) {
			r.lr.unread(l)
			return lines
		}
		lines = append(lines, l.s)
		if strings.Contains(l.s, "</Event>") {
			return lines
		}
	}
}

// parseHexDumpLine reads one line of Event Viewer's data dump, in byte
// layout ("0000: 05 40 00 80 ...   .@.?") or word layout ("0000: 80004005
// 00000bc7", each word a little-endian DWORD printed as a number).
func parseHexDumpLine(s string) ([]byte, bool) {
	colon := strings.IndexByte(s, ':')
	if colon < 4 || colon > 8 || !isHex(s[:colon]) {
		return nil, false
	}
	rest := strings.TrimLeft(s[colon+1:], " \t")
	// The ASCII column follows the hex after a run of spaces.
	if i := strings.Index(rest, "  "); i >= 0 {
		rest = rest[:i]
	}
	var out []byte
	for _, tok := range strings.Fields(rest) {
		if len(tok)%2 != 0 || len(tok) > 8 || !isHex(tok) {
			break
		}
		start := len(out)
		for i := 0; i < len(tok); i += 2 {
			v, _ := strconv.ParseUint(tok[i:i+2], 16, 8)
			out = append(out, byte(v))
		}
		// A word is printed most significant byte first.
		for i, j := start, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, true
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// Phrases of Event Viewer's "no message file" description. 2003/XP list
// the strings on one line, comma separated; Vista+ one per line.
const (
	noDescription   = "The description for Event ID"
	stringsLine2003 = "The following information is part of the event:"
	stringsVista    = "The following information was included with the event:"
	resourceNote    = "The message resource is present but"
)

// insertionStrings recovers the insertion strings from a description that
// Event Viewer could not render, so rules that read %1, %2 work on such
// exports too. Best effort: 2003's comma-separated list cannot tell a comma
// inside a string from a separator, and a Vista+ list ends at a blank line.
func insertionStrings(msg string) []Data {
	if !strings.Contains(msg, noDescription) {
		return nil
	}
	var out []Data
	if _, rest, ok := strings.Cut(msg, stringsVista); ok {
		started := false
		for _, l := range strings.Split(rest, "\n") {
			l = strings.TrimRight(l, " \t")
			switch {
			case !started && strings.TrimSpace(l) == "":
				continue
			case started && l == "", strings.HasPrefix(l, resourceNote):
				return out
			}
			started = true
			out = append(out, Data{Value: l})
		}
		return out
	}
	if _, rest, ok := strings.Cut(msg, stringsLine2003); ok {
		rest = strings.TrimSpace(rest)
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			rest = strings.TrimSpace(rest[:i])
		}
		rest = strings.TrimSuffix(rest, ".")
		if rest == "" {
			return nil
		}
		for _, v := range strings.Split(rest, ", ") {
			out = append(out, Data{Value: v})
		}
	}
	return out
}

// helpCenterLine is the boilerplate Event Viewer appends to 2003/XP
// descriptions; it says nothing about the event.
const helpCenterLine = "For more information, see Help and Support Center at"

// cleanDescription joins message lines, without the blank lines around
// them or the Help and Support Center boilerplate.
func cleanDescription(lines []string) string {
	trim := func() {
		for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
			lines = lines[1:]
		}
		for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
			lines = lines[:len(lines)-1]
		}
	}
	trim()
	if n := len(lines); n > 0 && strings.HasPrefix(strings.TrimSpace(lines[n-1]), helpCenterLine) {
		lines = lines[:n-1]
		trim()
	}
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.Join(lines, "\n")
}

// column is the meaning of one column of a tab or comma separated export.
type column uint8

const (
	colIgnore column = iota
	colType
	colDate
	colTime
	colDateTime
	colSource
	colCategory
	colEventID
	colUser
	colComputer
	colDescription
)

// headerlessLayouts are the column orders of exports without a header
// line, tried in turn against the first row.
var headerlessLayouts = [][]column{
	// Server 2003/XP "Save Log File As" .txt/.csv, in the order Microsoft
	// documents for archived logs: 3/14/2008,10:37:21 AM,Server
	// ActiveSync,Error,None,3015,N/A,SBSHQ01,description.
	{colDate, colTime, colSource, colType, colCategory, colEventID, colUser, colComputer, colDescription},
	// The order of the 2003 list view's columns, which some tools and
	// hand-made exports follow: Error,3/14/2008,10:37:21 AM,Server ...
	{colType, colDate, colTime, colSource, colCategory, colEventID, colUser, colComputer, colDescription},
	// Vista+ "Save All Events As" with its header line removed.
	{colType, colDateTime, colSource, colEventID, colCategory, colDescription},
}

// headerNames maps header cells (lower case) of Vista+ exports.
var headerNames = map[string]column{
	"type": colType, "level": colType, "keywords": colType,
	"date and time": colDateTime, "date": colDate, "time": colTime,
	"source": colSource, "category": colCategory, "task category": colCategory,
	"event": colEventID, "event id": colEventID,
	"user": colUser, "computer": colComputer, "description": colDescription,
	"ebene": colType, "schlüsselwörter": colType, "datum und uhrzeit": colDateTime, "datum": colDate, "uhrzeit": colTime,
	"quelle": colSource, "aufgabenkategorie": colCategory, "kategorie": colCategory, "ereignis-id": colEventID,
	"benutzer": colUser, "beschreibung": colDescription,
	"niveau": colType, "mots-clés": colType, "date et heure": colDateTime, "heure": colTime,
	"catégorie de la tâche": colCategory, "id de l'événement": colEventID, "id de l\u2019événement": colEventID,
	"utilisateur": colUser, "ordinateur": colComputer,
}

// exportLayout is a recognised CSV/tab export shape.
type exportLayout struct {
	sep     byte
	cols    []column
	header  bool
	classic bool // 2003/XP: separate date and time columns, classic types
}

func (l exportLayout) index(c column) int {
	for i, x := range l.cols {
		if x == c {
			return i
		}
	}
	return -1
}

// headerLayout reads a header line.
func headerLayout(line string, sep byte) (exportLayout, bool) {
	cells, _, _ := splitRow(line, sep, 64, nil)
	if len(cells) < 4 {
		return exportLayout{}, false
	}
	l := exportLayout{sep: sep, header: true}
	seen := map[column]bool{}
	for _, c := range cells {
		col := headerNames[strings.ToLower(strings.TrimSpace(bidiMarks.Replace(c)))]
		if seen[col] && col != colIgnore {
			col = colIgnore
		}
		seen[col] = true
		l.cols = append(l.cols, col)
	}
	if !seen[colType] || !seen[colSource] || !seen[colEventID] || !(seen[colDateTime] || seen[colDate] && seen[colTime]) {
		return exportLayout{}, false
	}
	// Vista+ headers name five columns; the rows carry the description
	// as an unnamed sixth.
	if !seen[colDescription] {
		l.cols = append(l.cols, colDescription)
	}
	l.classic = !seen[colDateTime]
	return l, true
}

// rowMatches checks the cells that identify an event row: a known type
// word (or, with a header, any), a date and time, and, when needID, a
// numeric event ID. Recognising a file needs the ID too; within a known
// file a row with a damaged ID must still start an event, to be reported
// rather than be taken for a line of the previous description.
func (l exportLayout) rowMatches(cells []string, times *localTimes, needID bool) bool {
	probe := *times // do not learn from a row that may not be one
	typeOK, dateOK, idOK := false, false, false
	var date, clock string
	for i, c := range l.cols {
		if i >= len(cells) {
			break
		}
		v := strings.TrimSpace(cells[i])
		switch c {
		case colType:
			_, typeOK = lookupTypeWord(v)
			typeOK = typeOK || l.header && v != ""
		case colDate:
			date = v
		case colTime:
			clock = v
		case colDateTime:
			_, err := probe.parseDateTime(v)
			dateOK = err == nil
		case colEventID:
			_, n := atoiPrefix(v)
			idOK = n > 0 && n == len(v)
		}
	}
	if date != "" || clock != "" {
		_, err := probe.parse(date, clock)
		dateOK = err == nil
	}
	return typeOK && dateOK && (idOK || !needID)
}

// detectLayout recognises an export from its first line.
func detectLayout(line string, times *localTimes) (exportLayout, bool) {
	seps := []byte{',', '\t'}
	if strings.Count(line, "\t") > strings.Count(line, ",") {
		seps = []byte{'\t', ','}
	}
	for _, sep := range seps {
		if l, ok := headerLayout(line, sep); ok {
			return l, true
		}
		for _, cols := range headerlessLayouts {
			l := exportLayout{sep: sep, cols: cols, classic: cols[1] != colDateTime}
			cells, _, _ := splitRow(line, sep, len(cols), nil)
			if len(cells) >= len(cols)-1 && l.rowMatches(cells, times, true) {
				return l, true
			}
		}
	}
	return exportLayout{}, false
}

// sniffExport recognises Event Viewer CSV/tab exports from their first
// line: a header naming the type, date, source and event ID columns, or a
// row whose cells are an event type, a date, a time and a numeric ID.
func sniffExport(text []byte) Format {
	line := string(text)
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	} else if len(text) >= sniffLen-8 {
		return FormatUnknown // one huge line: not an export's first row
	}
	line = strings.TrimSuffix(line, "\r")
	var times localTimes
	times.learn(text)
	if _, ok := detectLayout(line, &times); ok {
		return FormatCSV
	}
	return FormatUnknown
}

// maxRecordLines bounds a record of a CSV export spread over lines by a
// quoted field that never closes.
const maxRecordLines = 10000

// splitRow splits a record into at most n cells. Cells may be quoted
// ("a,b" and "say ""hi"""), a quoted cell may continue on the lines more
// returns, and the last cell takes the rest of the record separators and
// all, because 2003 exports leave descriptions unquoted. lastQuoted says
// whether the final cell was quoted; ok is false when a quoted cell never
// closed.
func splitRow(line string, sep byte, n int, more func() (string, bool)) (cells []string, lastQuoted, ok bool) {
	return splitRowInto(nil, line, sep, n, more)
}

// splitRowInto is splitRow appending to cells.
func splitRowInto(cells []string, line string, sep byte, n int, more func() (string, bool)) (_ []string, lastQuoted, ok bool) {
	s := line
	for len(cells) < n {
		last := len(cells) == n-1
		if strings.HasPrefix(s, "\"") {
			val, rest, closed := readQuoted(s[1:], more)
			if !closed {
				return append(cells, val), true, false
			}
			if last {
				// Anything after the closing quote is kept, not lost.
				return append(cells, val+rest), true, true
			}
			if i := strings.IndexByte(rest, sep); i >= 0 {
				cells = append(cells, val+rest[:i])
				s = rest[i+1:]
				continue
			}
			return append(cells, val+rest), true, true
		}
		if last {
			return append(cells, s), false, true
		}
		i := strings.IndexByte(s, sep)
		if i < 0 {
			return append(cells, s), false, true
		}
		cells = append(cells, s[:i])
		s = s[i+1:]
	}
	return cells, false, true
}

func readQuoted(s string, more func() (string, bool)) (val, rest string, closed bool) {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			b.WriteString(s)
			if more == nil {
				return b.String(), "", false
			}
			next, ok := more()
			if !ok {
				return b.String(), "", false
			}
			b.WriteByte('\n')
			s = next
			continue
		}
		b.WriteString(s[:i])
		if i+1 < len(s) && s[i+1] == '"' {
			b.WriteByte('"')
			s = s[i+2:]
			continue
		}
		return b.String(), s[i+1:], true
	}
}

// csvReader reads Event Viewer "Save Log File As" (2003/XP) and "Save All
// Events As" (Vista+) exports, tab or comma separated, with or without a
// header line; the shape is recognised from the first line.
type csvReader struct {
	exportReader
	layout  exportLayout
	started bool
	// cells is scratch for isRowStart; startOff/startVal remember its last
	// answer, since every line is asked about twice (as the possible end
	// of a description, then as a row).
	cells    []string
	startOff int64
	startVal bool
}

func openCSV(f *os.File, path string, opts Options) (Reader, error) {
	return newCSVReader(f, f, path, opts), nil
}

func newCSVReader(r io.Reader, c io.Closer, path string, opts Options) *csvReader {
	return &csvReader{exportReader: newExportReader(r, c, path, opts, FormatCSV), startOff: -1}
}

// errNoExportLayout is returned when a file forced to be read as an export
// does not start like one.
var errNoExportLayout = errors.New("first line is neither an Event Viewer export header nor an event row")

func (r *csvReader) Next(ctx context.Context) (*Event, error) {
	if !r.started {
		r.started = true
		for {
			l, ok := r.lr.next()
			if !ok {
				return nil, r.eof()
			}
			if strings.TrimSpace(l.s) == "" {
				continue
			}
			layout, ok := detectLayout(l.s, &r.times)
			if !ok {
				return nil, fmt.Errorf("%s: offset %d: %w", r.path, l.off, errNoExportLayout)
			}
			r.layout = layout
			if !layout.header {
				r.lr.unread(l)
			}
			break
		}
	}
	junk := false
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l, ok := r.lr.next()
		if !ok {
			return nil, r.eof()
		}
		if strings.TrimSpace(l.s) == "" {
			continue
		}
		if !r.isRowStart(l) {
			if !junk {
				r.problem(l.off, 0, errors.New("line that starts no event skipped"))
				junk = true
			}
			continue
		}
		junk = false
		ev := r.readRow(l)
		if ev == nil {
			continue
		}
		if ev = r.finish(ev); ev != nil {
			return ev, nil
		}
	}
}

func (r *csvReader) isRowStart(l textLine) bool {
	if l.off == r.startOff && l.off >= 0 {
		return r.startVal
	}
	cells, _, _ := splitRowInto(r.cells[:0], l.s, r.layout.sep, len(r.layout.cols), nil)
	r.cells = cells
	r.startOff = l.off
	r.startVal = len(cells) >= len(r.layout.cols)-1 && r.layout.rowMatches(cells, &r.times, false)
	return r.startVal
}

func (r *csvReader) readRow(first textLine) *Event {
	lines := 0
	more := func() (string, bool) {
		if lines >= maxRecordLines {
			return "", false
		}
		l, ok := r.lr.next()
		lines++
		return l.s, ok
	}
	cols := r.layout.cols
	cells, quoted, closed := splitRowInto(make([]string, 0, len(cols)), first.s, r.layout.sep, len(cols), more)
	if !closed {
		r.problem(first.off, 0, errors.New("quoted field never closes; the rest of the file is read as its text"))
	}
	descIdx := r.layout.index(colDescription)
	if descIdx == len(cols)-1 && len(cells) == len(cols) && !quoted {
		// An unquoted description goes on until the next event row.
		var extra []string
		for {
			l, ok := r.lr.peek()
			if !ok || r.isRowStart(l) {
				break
			}
			r.lr.next()
			extra = append(extra, l.s)
		}
		if len(extra) > 0 {
			cells[descIdx] += "\n" + strings.Join(extra, "\n")
		}
	}

	ev := &Event{Origin: Origin{Path: r.path, Format: FormatCSV, Offset: first.off}}
	var date, clock, datetime string
	haveID := false
	for i, c := range cols {
		if i >= len(cells) {
			break
		}
		v := cells[i]
		switch c {
		case colType:
			if w, ok := lookupTypeWord(v); ok {
				w.apply(ev, r.layout.classic)
			} else if v = strings.TrimSpace(v); v != "" {
				r.unknownLevel(first.off, v)
			}
		case colDate:
			date = v
		case colTime:
			clock = v
		case colDateTime:
			datetime = v
		case colSource:
			ev.Provider = strings.TrimSpace(v)
		case colCategory:
			setCategory(ev, v)
		case colEventID:
			if err := setEventID(ev, v); err != nil {
				r.problem(first.off, 1, fmt.Errorf("event skipped: %w", err))
				return nil
			}
			haveID = true
		case colUser:
			setUser(ev, v)
		case colComputer:
			ev.Computer = strings.TrimSpace(v)
		case colDescription:
			if strings.IndexByte(v, '\n') < 0 {
				ev.Message = strings.TrimSpace(v)
			} else {
				ev.Message = cleanDescription(strings.Split(v, "\n"))
			}
		}
	}
	if !haveID {
		r.problem(first.off, 1, errors.New("event skipped: row has no event id"))
		return nil
	}
	ev.Data = insertionStrings(ev.Message)
	var t time.Time
	var err error
	if r.layout.index(colDateTime) >= 0 {
		t, err = r.times.parseDateTime(datetime)
	} else {
		t, err = r.times.parse(date, clock)
	}
	if err != nil {
		ev.Err = "date: " + err.Error()
		r.problem(first.off, 0, errors.New(ev.Err))
	} else {
		ev.Time = t
	}
	return ev
}
