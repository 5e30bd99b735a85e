package evtx

import (
	"strconv"
	"strings"
	"unicode/utf16"

	goevtx "github.com/0xrawsec/golang-evtx/evtx"
)

// evtxFastValueString renders the value types whose golang-evtx Repr goes
// through fmt (integers, GUIDs, SIDs) to the very same text, without fmt.
// ok is false for other types. TestEVTXFastValueString holds it to Repr.
func evtxFastValueString(v goevtx.Value) (string, bool) {
	switch v := v.(type) {
	case *goevtx.ValueUInt8:
		x, ok := v.Value().(uint8)
		return strconv.FormatUint(uint64(x), 10), ok
	case *goevtx.ValueUInt16:
		x, ok := v.Value().(uint16)
		return strconv.FormatUint(uint64(x), 10), ok
	case *goevtx.ValueUInt32:
		x, ok := v.Value().(uint32)
		return strconv.FormatUint(uint64(x), 10), ok
	case *goevtx.ValueUInt64:
		x, ok := v.Value().(uint64)
		return strconv.FormatUint(x, 10), ok
	case *goevtx.ValueInt8:
		x, ok := v.Value().(int8)
		return strconv.FormatInt(int64(x), 10), ok
	case *goevtx.ValueInt16:
		x, ok := v.Value().(int16)
		return strconv.FormatInt(int64(x), 10), ok
	case *goevtx.ValueInt32:
		x, ok := v.Value().(int32)
		return strconv.FormatInt(int64(x), 10), ok
	case *goevtx.ValueInt64:
		x, ok := v.Value().(int64)
		return strconv.FormatInt(x, 10), ok
	case *goevtx.ValueSID:
		sid, ok := v.Value().(goevtx.Sid)
		if !ok {
			return "", false
		}
		b := make([]byte, 0, 16+11*len(sid.SubAuthority))
		b = append(b, "S-"...)
		b = strconv.AppendUint(b, uint64(sid.Revision), 10)
		var auth uint64
		for _, ia := range sid.IdentifierAuthority {
			auth = auth<<8 + uint64(ia)
		}
		b = append(b, '-')
		b = strconv.AppendUint(b, auth, 10)
		for _, sa := range sid.SubAuthority {
			b = append(b, '-')
			b = strconv.AppendUint(b, uint64(sa), 10)
		}
		return string(b), true
	}
	return "", false
}

// evtxGUIDString is golang-evtx's GUID.String (upper-case registry form,
// without braces), without fmt.
func evtxGUIDString(g goevtx.GUID) string {
	const hexDigits = "0123456789ABCDEF"
	order := [16]int{3, 2, 1, 0, -1, 5, 4, -1, 7, 6, -1, 8, 9, -1, 10, 11}
	b := make([]byte, 0, 36)
	for _, i := range order {
		if i < 0 {
			b = append(b, '-')
			continue
		}
		b = append(b, hexDigits[g[i]>>4], hexDigits[g[i]&15])
	}
	for i := 12; i < 16; i++ {
		b = append(b, hexDigits[g[i]>>4], hexDigits[g[i]&15])
	}
	return string(b)
}

// evtxUTF16ToString is golang-evtx's UTF16String.ToString (decode, drop
// trailing NULs) with one allocation instead of three for ASCII text, which
// most event text is.
func evtxUTF16ToString(u goevtx.UTF16String) string {
	for _, c := range u {
		if c >= 0x80 {
			return strings.TrimRight(string(utf16.Decode(u)), "\x00")
		}
	}
	n := len(u)
	for n > 0 && u[n-1] == 0 {
		n--
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(u[i])
	}
	return string(b)
}
