package evtx

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// decodeTextHead returns the start of a text input as UTF-8, handling the
// UTF-16 (with or without BOM) and UTF-8 BOM encodings Windows tools write.
func decodeTextHead(head []byte) []byte {
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		return head[3:]
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}):
		return utf16ToUTF8(head[2:], false)
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return utf16ToUTF8(head[2:], true)
	case len(head) >= 4 && head[1] == 0 && head[3] == 0 && head[0] != 0:
		return utf16ToUTF8(head, false)
	}
	return head
}

func utf16ToUTF8(b []byte, bigEndian bool) []byte {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		if bigEndian {
			u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
		} else {
			u = append(u, uint16(b[i])|uint16(b[i+1])<<8)
		}
	}
	out := make([]byte, 0, len(u))
	for _, r := range utf16.Decode(u) {
		out = utf8.AppendRune(out, r)
	}
	return out
}

// sniffText recognises the text-based formats from their first bytes.
func sniffText(text []byte) Format {
	t := bytes.TrimLeft(text, " \t\r\n")
	switch {
	case bytes.HasPrefix(t, []byte("<")):
		if looksLikeEventXML(t) {
			return FormatXML
		}
		return FormatUnknown
	case bytes.HasPrefix(t, []byte("Event Type:")), isVistaTextStart(t):
		return FormatText
	}
	// A one-line banner before the events, as libevtx's evtxexport prints.
	if nl := bytes.IndexByte(t, '\n'); nl > 0 && nl < 200 {
		rest := bytes.TrimLeft(t[nl+1:], " \t\r\n")
		if bytes.HasPrefix(rest, []byte("<Event")) && looksLikeEventXML(rest) {
			return FormatXML
		}
	}
	return sniffExport(t)
}

// looksLikeEventXML wants an <Event> or <Events> element, not merely a tag
// whose name starts with "Event" (an HTML page, some other XML document).
func looksLikeEventXML(t []byte) bool {
	for rest := t; ; {
		i := bytes.Index(rest, []byte("<Event"))
		if i < 0 || i+6 >= len(rest) {
			return false
		}
		switch rest[i+6] {
		case ' ', '\t', '\r', '\n', '>', '/', 's':
			return true
		}
		rest = rest[i+6:]
	}
}

// isVistaTextStart reports whether t starts with the "Log Name:" line of an
// event copied from the Vista+ Event Viewer, followed by its "Source:" line.
func isVistaTextStart(t []byte) bool {
	if !bytes.HasPrefix(t, []byte("Log Name:")) {
		return false
	}
	nl := bytes.IndexByte(t, '\n')
	if nl < 0 {
		return false
	}
	return bytes.HasPrefix(bytes.TrimLeft(t[nl+1:], " \t\r"), []byte("Source:"))
}

// textEncoding is how a text input is stored on disk.
type textEncoding uint8

const (
	encUTF8    textEncoding = iota // UTF-8, ASCII, or an ANSI code page
	encUTF16LE                     // PowerShell ">" and Event Viewer "Unicode" exports
	encUTF16BE
)

// textSource presents a text input as UTF-8 whatever its encoding, and maps
// lengths in that UTF-8 stream back to byte counts in the input so events
// can carry their offset in the file a person will open in a hex editor.
type textSource struct {
	r   io.Reader
	enc textEncoding
	// bom is the number of byte-order-mark bytes skipped at the start.
	bom int64
}

func newTextSource(r io.Reader) *textSource {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(4)
	s := &textSource{r: br}
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		s.bom = 3
		br.Discard(3) //nolint:errcheck // Peek proved the bytes are there
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}):
		s.enc, s.bom = encUTF16LE, 2
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		s.enc, s.bom = encUTF16BE, 2
	case len(head) >= 4 && head[1] == 0 && head[3] == 0 && head[0] != 0:
		s.enc = encUTF16LE
	}
	if s.enc != encUTF8 {
		br.Discard(int(s.bom)) //nolint:errcheck // Peek proved the bytes are there
		s.r = &utf16Reader{r: br, bigEndian: s.enc == encUTF16BE}
	}
	return s
}

// utf16Reader decodes UTF-16 to UTF-8. Every unpaired surrogate becomes
// one U+FFFD, which srcLen relies on to map offsets back; x/text's decoder
// folds some pairs of bad surrogates into a single U+FFFD.
type utf16Reader struct {
	r         io.Reader
	bigEndian bool
	src       []byte // input not decoded yet (at most an incomplete pair)
	out       []byte
	off       int // out[off:] is pending
	err       error
}

func (u *utf16Reader) Read(p []byte) (int, error) {
	for u.off == len(u.out) {
		if u.err != nil {
			return 0, u.err
		}
		u.fill()
	}
	n := copy(p, u.out[u.off:])
	u.off += n
	return n, nil
}

func (u *utf16Reader) unit(b []byte) rune {
	if u.bigEndian {
		return rune(b[0])<<8 | rune(b[1])
	}
	return rune(b[0]) | rune(b[1])<<8
}

func (u *utf16Reader) fill() {
	if cap(u.src) == 0 {
		u.src = make([]byte, 0, 64<<10)
	}
	n, err := u.r.Read(u.src[len(u.src):cap(u.src)])
	u.src = u.src[:len(u.src)+n]
	if err != nil {
		u.err = err
	}
	eof := u.err != nil
	s := u.src
	u.out, u.off = u.out[:0], 0
	i := 0
	for i+1 < len(s) {
		c := u.unit(s[i:])
		switch {
		case utf16.IsSurrogate(c) && c < 0xDC00: // leading surrogate
			if i+3 >= len(s) && !eof {
				goto done // wait for its partner
			}
			if i+3 < len(s) {
				if c2 := u.unit(s[i+2:]); c2 >= 0xDC00 && c2 < 0xE000 {
					u.out = utf8.AppendRune(u.out, utf16.DecodeRune(c, c2))
					i += 4
					continue
				}
			}
			u.out = utf8.AppendRune(u.out, utf8.RuneError)
		case utf16.IsSurrogate(c):
			u.out = utf8.AppendRune(u.out, utf8.RuneError)
		default:
			u.out = utf8.AppendRune(u.out, c)
		}
		i += 2
	}
	if eof && i < len(s) { // a lone trailing byte
		u.out = utf8.AppendRune(u.out, utf8.RuneError)
		i = len(s)
	}
done:
	u.src = append(u.src[:0], s[i:]...)
}

// Read reads UTF-8 text.
func (s *textSource) Read(p []byte) (int, error) { return s.r.Read(p) }

// srcLen is the number of input bytes that decoded into b. For UTF-16 every
// rune came from one code unit, or two for a surrogate pair (a 4-byte UTF-8
// sequence); unpaired surrogates decode to one U+FFFD each, so the count
// holds for damaged input too.
func (s *textSource) srcLen(b []byte) int64 {
	if s.enc == encUTF8 {
		return int64(len(b))
	}
	units := 0
	for _, c := range b {
		switch {
		case c < 0x80 || c&0xC0 == 0xC0 && c < 0xF0:
			units++
		case c >= 0xF0:
			units += 2
		}
	}
	return 2 * int64(units)
}

// textLine is one line of a text input, without its line end, as UTF-8,
// with the input offset of its first byte.
type textLine struct {
	s   string
	off int64
}

// maxTextLine bounds one line; longer lines are cut (and reported) so a
// binary file forced through a text reader cannot exhaust memory.
const maxTextLine = 1 << 20

// lineReader splits a textSource into lines. Lines that are not valid
// UTF-8 are read as Windows-1252, the ANSI code page Event Viewer wrote
// exports in on Western-European and US systems.
type lineReader struct {
	src    *textSource
	br     *bufio.Reader
	off    int64
	peeked []textLine
	long   []byte
	err    error
	// cut lists the offsets of lines that were longer than maxTextLine.
	cut []int64
}

func newLineReader(r io.Reader) *lineReader {
	src := newTextSource(r)
	return &lineReader{src: src, br: bufio.NewReaderSize(src, 64<<10), off: src.bom}
}

// head returns up to n bytes of decoded text ahead of the reader without
// consuming them, for format and date-order detection.
func (lr *lineReader) head(n int) []byte {
	b, _ := lr.br.Peek(min(n, lr.br.Size()))
	return b
}

// next returns the next line; ok is false at the end of the input or on a
// read error (kept in lr.err).
func (lr *lineReader) next() (textLine, bool) {
	if n := len(lr.peeked); n > 0 {
		l := lr.peeked[n-1]
		lr.peeked = lr.peeked[:n-1]
		return l, true
	}
	start := lr.off
	raw, err := lr.br.ReadSlice('\n')
	var dropped int64
	if errors.Is(err, bufio.ErrBufferFull) {
		lr.long = append(lr.long[:0], raw...)
		for errors.Is(err, bufio.ErrBufferFull) {
			raw, err = lr.br.ReadSlice('\n')
			if len(lr.long) < maxTextLine {
				lr.long = append(lr.long, raw...)
			} else {
				dropped += lr.src.srcLen(raw)
			}
		}
		if dropped > 0 {
			lr.cut = append(lr.cut, start)
		}
		raw = lr.long
	}
	if err != nil && !errors.Is(err, io.EOF) {
		lr.err = err
	}
	if len(raw) == 0 {
		return textLine{}, false
	}
	l := textLine{off: start}
	lr.off = start + lr.src.srcLen(raw) + dropped
	raw = bytes.TrimSuffix(raw, []byte("\n"))
	raw = bytes.TrimSuffix(raw, []byte("\r"))
	if utf8.Valid(raw) {
		l.s = string(raw)
	} else {
		s, _ := charmap.Windows1252.NewDecoder().Bytes(raw)
		l.s = string(s)
	}
	return l, true
}

// unread pushes a line back; lines come back in reverse order of unread.
func (lr *lineReader) unread(l textLine) { lr.peeked = append(lr.peeked, l) }

// peek returns the next line without consuming it.
func (lr *lineReader) peek() (textLine, bool) {
	l, ok := lr.next()
	if ok {
		lr.unread(l)
	}
	return l, ok
}

// dateOrder is how a locale writes day, month and year.
type dateOrder uint8

const (
	orderUnknown dateOrder = iota
	orderMDY               // en-US: 3/14/2008
	orderDMY               // en-GB, fr-FR, de-DE: 14/03/2008, 14.03.2008
)

// localTimes reads the local wall-clock dates and times Event Viewer
// writes in exports: in the exporting machine's locale and time zone,
// without saying which. Layouts: M/D/YYYY and D/M/YYYY (told apart by a
// day above 12 anywhere in the file, else by an AM/PM clock, which only
// US-style locales pair with slashes), D.M.YYYY, D-M-YYYY, YYYY-MM-DD
// (ISO, also with a "T"), two-digit years; clocks h:mm[:ss[.fff]] with or
// without AM/PM, and h.mm.ss. The result is converted from loc (nil: UTC)
// to UTC.
type localTimes struct {
	loc *time.Location
	// order is learned from a date that can only be read one way, and then
	// applies to the ambiguous ones of the same file.
	order dateOrder
}

// bidiMarks are the direction marks Windows puts around dates in some
// locales' exports.
var bidiMarks = strings.NewReplacer("\u200e", "", "\u200f", "", "\u202a", "", "\u202b", "", "\u202c", "", "\u202d", "", "\u202e", "")

// learn looks for an unambiguous D/M or M/D date in text.
func (lt *localTimes) learn(text []byte) {
	for i := 0; i < len(text) && lt.order == orderUnknown; i++ {
		if i > 0 && isDigit(text[i-1]) || !isDigit(text[i]) {
			continue
		}
		a, n := leadingInt(text[i:])
		if n > 2 || i+n >= len(text) {
			continue
		}
		sep := text[i+n]
		if sep != '/' && sep != '.' && sep != '-' {
			continue
		}
		b, m := leadingInt(text[i+n+1:])
		if m == 0 || m > 2 {
			continue
		}
		k := i + n + 1 + m
		if k >= len(text) || text[k] != sep {
			continue
		}
		if _, y := leadingInt(text[k+1:]); y != 2 && y != 4 {
			continue
		}
		switch {
		case a > 12 && a <= 31 && b >= 1 && b <= 12:
			lt.order = orderDMY
		case b > 12 && b <= 31 && a >= 1 && a <= 12:
			lt.order = orderMDY
		}
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// leadingInt reads the decimal digits at the start of b (at most 9).
func leadingInt(b []byte) (v, n int) {
	for n < len(b) && n < 9 && isDigit(b[n]) {
		v = v*10 + int(b[n]-'0')
		n++
	}
	return v, n
}

// stripBidi removes direction marks, without allocating when there are
// none (they all start with the byte 0xE2 in UTF-8).
func stripBidi(s string) string {
	if strings.IndexByte(s, 0xE2) < 0 {
		return s
	}
	return bidiMarks.Replace(s)
}

// atoiPrefix reads the decimal digits at the start of s (at most 9).
func atoiPrefix(s string) (v, n int) {
	for n < len(s) && n < 9 && isDigit(s[n]) {
		v = v*10 + int(s[n]-'0')
		n++
	}
	return v, n
}

// parseDateTime reads "date time" or ISO "dateTtime".
func (lt *localTimes) parseDateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(stripBidi(s))
	var date, clock string
	if len(s) > 10 && s[10] == 'T' {
		date, clock = s[:10], s[11:]
	} else {
		var ok bool
		date, clock, ok = strings.Cut(s, " ")
		if !ok {
			return time.Time{}, fmt.Errorf("bad date and time %q", s)
		}
	}
	return lt.parse(date, clock)
}

// parse reads a date and a clock time written separately.
func (lt *localTimes) parse(date, clock string) (time.Time, error) {
	date = strings.TrimSpace(stripBidi(date))
	clock = strings.TrimSpace(stripBidi(clock))
	h, mi, sec, nsec, ampm, utc, ok := parseClock(clock)
	if !ok {
		return time.Time{}, fmt.Errorf("bad time %q", clock)
	}
	y, mo, d, ok := lt.parseDate(date, ampm)
	if !ok {
		return time.Time{}, fmt.Errorf("bad date %q", date)
	}
	loc := lt.loc
	if loc == nil || utc {
		loc = time.UTC
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, nsec, loc).UTC(), nil
}

// parseDate reads three numbers separated by one of / . - (a trailing
// separator allowed, as in "14.03.2008."), year first when it has four
// digits, else day and month in the order of the file.
func (lt *localTimes) parseDate(s string, ampm bool) (y, m, d int, ok bool) {
	var n [3]int
	var w [3]int
	var sep byte
	i := 0
	for k := 0; k < 3; k++ {
		v, digits := atoiPrefix(s[i:])
		if digits == 0 {
			return 0, 0, 0, false
		}
		n[k], w[k] = v, digits
		i += digits
		if k == 2 {
			break
		}
		if i >= len(s) {
			return 0, 0, 0, false
		}
		if k == 0 {
			sep = s[i]
			if sep != '/' && sep != '.' && sep != '-' {
				return 0, 0, 0, false
			}
		} else if s[i] != sep {
			return 0, 0, 0, false
		}
		i++
	}
	if i < len(s) && s[i] == sep {
		i++
	}
	if i != len(s) {
		return 0, 0, 0, false
	}
	switch {
	case w[0] == 4:
		y, m, d = n[0], n[1], n[2]
	case w[2] == 4 || w[2] == 2:
		y = n[2]
		if w[2] == 2 {
			y += 2000
			if y >= 2070 {
				y -= 100
			}
		}
		a, b := n[0], n[1]
		order := lt.order
		switch {
		case a > 12 && b <= 12:
			order = orderDMY
			lt.order = orderDMY
		case b > 12 && a <= 12:
			order = orderMDY
			lt.order = orderMDY
		case order == orderUnknown && sep == '/' && ampm:
			order = orderMDY
		case order == orderUnknown:
			order = orderDMY
		}
		if order == orderMDY {
			m, d = a, b
		} else {
			d, m = a, b
		}
	default:
		return 0, 0, 0, false
	}
	if m < 1 || m > 12 || d < 1 || d > 31 || y < 1601 || y > 9999 {
		return 0, 0, 0, false
	}
	if d > 28 && time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Day() != d {
		return 0, 0, 0, false
	}
	return y, m, d, true
}

// clockSuffixes are the AM/PM markers of English and Spanish-style locales.
var clockSuffixes = []struct {
	s  string
	pm bool
}{{"a. m.", false}, {"p. m.", true}, {"a.m.", false}, {"p.m.", true}, {"am", false}, {"pm", true}}

// parseClock reads "10:37:21 AM", "22:37:21", "22:37", "10:31:07.512",
// "10.37.21", "10:37:21 p.m.", with a trailing "Z" meaning UTC.
func parseClock(s string) (h, m, sec, nsec int, ampm, utc, ok bool) {
	pm := false
	for _, suf := range clockSuffixes {
		if len(s) >= len(suf.s) && strings.EqualFold(s[len(s)-len(suf.s):], suf.s) {
			ampm, pm = true, suf.pm
			s = strings.TrimSpace(s[:len(s)-len(suf.s)])
			break
		}
	}
	if !ampm && strings.HasSuffix(s, "Z") {
		utc = true
		s = s[:len(s)-1]
	}
	h, n := atoiPrefix(s)
	if n == 0 || n > 2 || n >= len(s) {
		return
	}
	i := n
	sep := s[i]
	if sep != ':' && sep != '.' {
		return
	}
	i++
	m, n = atoiPrefix(s[i:])
	if n == 0 || n > 2 {
		return
	}
	i += n
	if i < len(s) && s[i] == sep {
		i++
		sec, n = atoiPrefix(s[i:])
		if n == 0 || n > 2 {
			return
		}
		i += n
		if sep == ':' && i < len(s) && s[i] == '.' {
			i++
			f, k := atoiPrefix(s[i:])
			if k == 0 {
				return
			}
			i += k
			for ; k < 9; k++ {
				f *= 10
			}
			nsec = f
		}
	} else if sep == '.' {
		return // "10.37" is more likely a number than a time
	}
	if i != len(s) {
		return
	}
	if ampm {
		if h < 1 || h > 12 {
			return
		}
		switch {
		case pm && h != 12:
			h += 12
		case !pm && h == 12:
			h = 0
		}
	}
	if h > 23 || m > 59 || sec > 59 {
		return
	}
	ok = true
	return
}
