package evtx

import (
	"bufio"
	"bytes"
	"io"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
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
	switch s.enc {
	case encUTF16LE:
		br.Discard(int(s.bom)) //nolint:errcheck // Peek proved the bytes are there
		s.r = transform.NewReader(br, unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewDecoder())
	case encUTF16BE:
		br.Discard(int(s.bom)) //nolint:errcheck // Peek proved the bytes are there
		s.r = transform.NewReader(br, unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM).NewDecoder())
	}
	return s
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
