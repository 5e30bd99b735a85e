package ports

import (
	"bytes"
	"encoding/binary"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// decodeText turns captured command output into UTF-8 text. Windows writes
// these files in one of three ways: UTF-16 LE (PowerShell ">" redirection,
// wmic), UTF-8 (PowerShell 7, Export-Csv -Encoding UTF8), or the console's
// OEM code page (cmd.exe redirection of netstat, tasklist, reg, netsh).
// BOMs are honoured; UTF-16 without a BOM is recognised by its NUL bytes;
// text that is not valid UTF-8 is read as code page 850, the Western
// European OEM page (pure-ASCII output, which is what the parsers depend
// on, decodes the same under every OEM page).
func decodeText(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		return toValidUTF8(b[3:])
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		return decodeUTF16(b[2:], binary.LittleEndian)
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		return decodeUTF16(b[2:], binary.BigEndian)
	}
	if le, be := nulShape(b); le {
		return decodeUTF16(b, binary.LittleEndian)
	} else if be {
		return decodeUTF16(b, binary.BigEndian)
	}
	if utf8.Valid(b) {
		return string(b)
	}
	// A head cut in the middle of a UTF-8 sequence is still UTF-8.
	if cut := trimPartialRune(b); len(cut) != len(b) && utf8.Valid(cut) {
		return string(cut)
	}
	s, err := charmap.CodePage850.NewDecoder().Bytes(b)
	if err != nil {
		return toValidUTF8(b)
	}
	return string(s)
}

// nulShape reports whether b looks like BOM-less UTF-16: ASCII text in
// UTF-16 LE has a NUL in (nearly) every odd byte and none in even bytes.
func nulShape(b []byte) (le, be bool) {
	n := min(len(b), 1024) &^ 1
	if n < 4 {
		return false, false
	}
	var even, odd int
	for i := 0; i < n; i += 2 {
		if b[i] == 0 {
			even++
		}
		if b[i+1] == 0 {
			odd++
		}
	}
	pairs := n / 2
	return odd*10 >= pairs*7 && even*10 < pairs, even*10 >= pairs*7 && odd*10 < pairs
}

func decodeUTF16(b []byte, order binary.ByteOrder) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = order.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

func trimPartialRune(b []byte) []byte {
	for i := 1; i <= 3 && i <= len(b); i++ {
		if utf8.RuneStart(b[len(b)-i]) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			break
		}
	}
	return b
}

func toValidUTF8(b []byte) string { return strings.ToValidUTF8(string(b), "\uFFFD") }

// splitLines splits text into lines without their CR/LF endings. wmic ends
// lines with "\r\r\n", so every trailing CR goes.
func splitLines(s string) []string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, "\r")
	}
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	return lines
}
