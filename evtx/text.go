package evtx

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
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
		if bytes.Contains(t, []byte("<Event")) {
			return FormatXML
		}
	case bytes.HasPrefix(t, []byte("Event Type:")):
		return FormatText
	}
	return sniffExport(t)
}
