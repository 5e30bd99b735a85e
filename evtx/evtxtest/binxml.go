package evtxtest

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// BinXML tokens ([MS-EVEN6] 2.2.12 and the libevtx format notes).
const (
	tokEOF            = 0x00
	tokOpenStart      = 0x01 // element without attributes
	tokOpenStartAttrs = 0x41 // element with an attribute list
	tokCloseStart     = 0x02
	tokCloseEmpty     = 0x03
	tokEndElement     = 0x04
	tokValue          = 0x05
	tokAttrLast       = 0x06
	tokAttrMore       = 0x46
	tokTemplate       = 0x0c
	tokNormalSubst    = 0x0d
	tokOptionalSubst  = 0x0e
	tokFragment       = 0x0f
)

// BinXML value types.
const (
	typeNull        = 0x00
	typeString      = 0x01
	typeUInt8       = 0x04
	typeUInt16      = 0x06
	typeUInt32      = 0x08
	typeUInt64      = 0x0a
	typeBinary      = 0x0e
	typeGUID        = 0x0f
	typeFileTime    = 0x11
	typeSID         = 0x13
	typeHexInt64    = 0x15
	typeBinXML      = 0x21
	typeStringArray = 0x81
)

const eventNamespace = "http://schemas.microsoft.com/win/2004/08/events/event"

// noDependency is the dependency identifier of an element that is always
// rendered.
const noDependency = -1

// xelem is one element of a template definition.
type xelem struct {
	name    string
	dep     int // substitution the element depends on, or noDependency
	attrs   []xattr
	content []xnode
}

type xattr struct {
	name  string
	value xnode
}

// xnode is element content or an attribute value: a child element, literal
// text, or a substitution.
type xnode struct {
	elem *xelem
	text *string
	sub  *xsub
}

type xsub struct {
	optional bool
	id       uint16
	typ      byte
}

func textNode(s string) xnode { return xnode{text: &s} }

func elemNode(e *xelem) xnode { return xnode{elem: e} }

func subNode(optional bool, id uint16, typ byte) xnode {
	return xnode{sub: &xsub{optional: optional, id: id, typ: typ}}
}

// template is a template definition shared by every event of one shape.
type template struct {
	key  string
	guid [16]byte
	id   uint32 // Windows uses the first 4 bytes of the GUID
	root *xelem
}

func newTemplate(key string, root *xelem) *template {
	sum := sha1.Sum([]byte(key))
	t := &template{key: key, root: root}
	copy(t.guid[:], sum[:16])
	t.id = binary.LittleEndian.Uint32(t.guid[:4])
	return t
}

// value is one template instance value.
type value struct {
	typ  byte
	data []byte
	// frag, for typeBinXML, writes a nested fragment in place: its bytes
	// depend on where it lands in the chunk (string and template offsets).
	frag func(w *chunkWriter) error
}

var nullValue = value{typ: typeNull}

func u8Value(v uint8) value { return value{typ: typeUInt8, data: []byte{v}} }

func u16Value(v uint16) value {
	return value{typ: typeUInt16, data: binary.LittleEndian.AppendUint16(nil, v)}
}

func u32Value(v uint32) value {
	return value{typ: typeUInt32, data: binary.LittleEndian.AppendUint32(nil, v)}
}

func u64Value(v uint64) value {
	return value{typ: typeUInt64, data: binary.LittleEndian.AppendUint64(nil, v)}
}

func hex64Value(v uint64) value {
	return value{typ: typeHexInt64, data: binary.LittleEndian.AppendUint64(nil, v)}
}

func fileTimeValue(t time.Time) value {
	return value{typ: typeFileTime, data: binary.LittleEndian.AppendUint64(nil, fileTime(t))}
}

// stringValue is a UTF-16 string with its terminating NUL, the form Windows
// writes most often.
func stringValue(s string) (value, error) {
	b := appendUTF16(nil, s)
	b = append(b, 0, 0)
	if len(b) > math.MaxUint16 {
		return value{}, fmt.Errorf("string of %d UTF-16 bytes is longer than a BinXML value can hold (65535)", len(b))
	}
	return value{typ: typeString, data: b}, nil
}

// stringArrayValue is the array of NUL-terminated strings Windows uses for
// the insertion strings of classic event sources.
func stringArrayValue(ss []string) (value, error) {
	var b []byte
	for _, s := range ss {
		b = appendUTF16(b, s)
		b = append(b, 0, 0)
	}
	if len(b) > math.MaxUint16 {
		return value{}, fmt.Errorf("insertion strings of %d UTF-16 bytes are longer than a BinXML value can hold (65535)", len(b))
	}
	return value{typ: typeStringArray, data: b}, nil
}

func binaryValue(b []byte) (value, error) {
	if len(b) > math.MaxUint16 {
		return value{}, fmt.Errorf("binary data of %d bytes is longer than a BinXML value can hold (65535)", len(b))
	}
	return value{typ: typeBinary, data: b}, nil
}

// fileTime converts t to a FILETIME (100 ns ticks since 1601-01-01 UTC),
// truncating below 100 ns. Times before 1601 become 0.
func fileTime(t time.Time) uint64 {
	const epochDelta = 11644473600 // seconds from 1601 to 1970
	secs := t.Unix() + epochDelta
	if secs < 0 {
		return 0
	}
	return uint64(secs)*10_000_000 + uint64(t.Nanosecond()/100)
}

func appendUTF16(b []byte, s string) []byte {
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

// parseGUID accepts "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}" with or without
// braces, in any case, and returns the 16 bytes in Windows (mixed-endian)
// order.
func parseGUID(s string) ([16]byte, error) {
	var g [16]byte
	t := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "{"), "}")
	parts := strings.Split(t, "-")
	if len(parts) != 5 || len(parts[0]) != 8 || len(parts[1]) != 4 || len(parts[2]) != 4 || len(parts[3]) != 4 || len(parts[4]) != 12 {
		return g, fmt.Errorf("invalid GUID %q", s)
	}
	raw, err := hex.DecodeString(strings.Join(parts, ""))
	if err != nil {
		return g, fmt.Errorf("invalid GUID %q", s)
	}
	binary.LittleEndian.PutUint32(g[0:], binary.BigEndian.Uint32(raw[0:4]))
	binary.LittleEndian.PutUint16(g[4:], binary.BigEndian.Uint16(raw[4:6]))
	binary.LittleEndian.PutUint16(g[6:], binary.BigEndian.Uint16(raw[6:8]))
	copy(g[8:], raw[8:])
	return g, nil
}

func guidValue(s string) (value, error) {
	g, err := parseGUID(s)
	if err != nil {
		return value{}, err
	}
	return value{typ: typeGUID, data: g[:]}, nil
}

// sidValue encodes "S-1-5-21-..." as a binary SID.
func sidValue(s string) (value, error) {
	parts := strings.Split(strings.TrimSpace(s), "-")
	if len(parts) < 3 || !strings.EqualFold(parts[0], "S") {
		return value{}, fmt.Errorf("invalid SID %q", s)
	}
	rev, err := strconv.ParseUint(parts[1], 10, 8)
	if err != nil {
		return value{}, fmt.Errorf("invalid SID %q: revision: %w", s, err)
	}
	auth, err := strconv.ParseUint(parts[2], 10, 48)
	if err != nil {
		return value{}, fmt.Errorf("invalid SID %q: authority: %w", s, err)
	}
	subs := parts[3:]
	if len(subs) > 15 {
		return value{}, fmt.Errorf("invalid SID %q: more than 15 sub-authorities", s)
	}
	b := []byte{byte(rev), byte(len(subs))}
	for i := 5; i >= 0; i-- {
		b = append(b, byte(auth>>(8*i)))
	}
	for _, p := range subs {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return value{}, fmt.Errorf("invalid SID %q: sub-authority: %w", s, err)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	return value{typ: typeSID, data: b}, nil
}

// nameHash is the hash Windows stores with every name in a chunk; its low 6
// bits pick the bucket of the chunk's common string table.
func nameHash(s string) uint16 {
	var h uint32
	for _, u := range utf16.Encode([]rune(s)) {
		h = h*65599 + uint32(u)
	}
	return uint16(h)
}

// errChunkFull reports that a record does not fit in what is left of a
// chunk; the writer then starts a new one.
var errChunkFull = errors.New("chunk full")

// chunkWriter builds one 64 KiB chunk: BinXML is written straight into the
// chunk because names and template definitions are referenced by their
// offset in it.
type chunkWriter struct {
	buf []byte // grows past chunkSize only while a record is being tried

	names     map[string]uint32 // name -> offset of its stored name
	nameOrder []uint32
	templates map[string]uint32 // template key -> offset of its definition
	tplOrder  []uint32
	tplIDs    map[uint32]uint32 // definition offset -> template id

	records       int
	firstRecordID uint64
	lastRecordID  uint64
	lastRecordOff uint32
}

func newChunkWriter() *chunkWriter {
	w := &chunkWriter{
		buf:       make([]byte, chunkHeaderSize, chunkSize),
		names:     map[string]uint32{},
		templates: map[string]uint32{},
		tplIDs:    map[uint32]uint32{},
	}
	return w
}

func (w *chunkWriter) off() int { return len(w.buf) }

func (w *chunkWriter) u8(v byte)    { w.buf = append(w.buf, v) }
func (w *chunkWriter) u16(v uint16) { w.buf = binary.LittleEndian.AppendUint16(w.buf, v) }
func (w *chunkWriter) u32(v uint32) { w.buf = binary.LittleEndian.AppendUint32(w.buf, v) }
func (w *chunkWriter) u64(v uint64) { w.buf = binary.LittleEndian.AppendUint64(w.buf, v) }
func (w *chunkWriter) raw(b []byte) { w.buf = append(w.buf, b...) }

func (w *chunkWriter) patch32(at int, v uint32) { binary.LittleEndian.PutUint32(w.buf[at:], v) }

func (w *chunkWriter) patch16(at int, v uint16) { binary.LittleEndian.PutUint16(w.buf[at:], v) }

// name writes a name reference. The first use of a name in a chunk stores
// the name right after its offset, as Windows does; later uses point back.
func (w *chunkWriter) name(s string) {
	if off, ok := w.names[s]; ok {
		w.u32(off)
		return
	}
	off := uint32(w.off() + 4)
	w.u32(off)
	w.names[s] = off
	w.nameOrder = append(w.nameOrder, off)
	u := utf16.Encode([]rune(s))
	w.u32(0) // next name in the same hash bucket, linked in finish
	w.u16(nameHash(s))
	w.u16(uint16(len(u)))
	for _, c := range u {
		w.u16(c)
	}
	w.u16(0)
}

func (w *chunkWriter) fragmentHeader() { w.raw([]byte{tokFragment, 1, 1, 0}) }

func (w *chunkWriter) element(e *xelem) {
	tok := byte(tokOpenStart)
	if len(e.attrs) > 0 {
		tok = tokOpenStartAttrs
	}
	w.u8(tok)
	w.u16(uint16(int16(e.dep)))
	sizeAt := w.off()
	w.u32(0)
	start := w.off()
	w.name(e.name)
	if len(e.attrs) > 0 {
		listAt := w.off()
		w.u32(0)
		listStart := w.off()
		for i, a := range e.attrs {
			if i == len(e.attrs)-1 {
				w.u8(tokAttrLast)
			} else {
				w.u8(tokAttrMore)
			}
			w.name(a.name)
			w.node(a.value)
		}
		w.patch32(listAt, uint32(w.off()-listStart))
	}
	if len(e.content) == 0 {
		w.u8(tokCloseEmpty)
	} else {
		w.u8(tokCloseStart)
		for _, c := range e.content {
			w.node(c)
		}
		w.u8(tokEndElement)
	}
	w.patch32(sizeAt, uint32(w.off()-start))
}

func (w *chunkWriter) node(n xnode) {
	switch {
	case n.elem != nil:
		w.element(n.elem)
	case n.text != nil:
		u := utf16.Encode([]rune(*n.text))
		w.u8(tokValue)
		w.u8(typeString)
		w.u16(uint16(len(u)))
		for _, c := range u {
			w.u16(c)
		}
	case n.sub != nil:
		if n.sub.optional {
			w.u8(tokOptionalSubst)
		} else {
			w.u8(tokNormalSubst)
		}
		w.u16(n.sub.id)
		w.u8(n.sub.typ)
	}
}

// templateInstance writes a template instance: the definition inline on the
// template's first use in the chunk, a back reference afterwards, then the
// values.
func (w *chunkWriter) templateInstance(t *template, values []value) error {
	w.u8(tokTemplate)
	w.u8(1)
	w.u32(t.id)
	if off, ok := w.templates[t.key]; ok {
		w.u32(off)
	} else {
		off := uint32(w.off() + 4)
		w.u32(off)
		w.templates[t.key] = off
		w.tplOrder = append(w.tplOrder, off)
		w.tplIDs[off] = t.id
		w.u32(0) // next template definition in the same bucket, linked in finish
		w.raw(t.guid[:])
		sizeAt := w.off()
		w.u32(0)
		start := w.off()
		w.fragmentHeader()
		w.element(t.root)
		w.u8(tokEOF)
		w.patch32(sizeAt, uint32(w.off()-start))
	}
	w.u32(uint32(len(values)))
	descAt := w.off()
	for _, v := range values {
		w.u16(uint16(len(v.data)))
		w.u8(v.typ)
		w.u8(0)
	}
	for i, v := range values {
		if v.frag == nil {
			w.raw(v.data)
			continue
		}
		start := w.off()
		if err := v.frag(w); err != nil {
			return err
		}
		n := w.off() - start
		if n > math.MaxUint16 {
			return fmt.Errorf("event data of %d bytes is larger than a BinXML value can hold (65535)", n)
		}
		w.patch16(descAt+4*i, uint16(n))
	}
	return nil
}

// finish links the string and template hash chains, fills in the chunk
// header and its checksums, and returns the 64 KiB chunk.
func (w *chunkWriter) finish() []byte {
	free := uint32(w.off())
	chunk := make([]byte, chunkSize)
	copy(chunk, w.buf)

	var strHeads [64]uint32
	for _, off := range w.nameOrder {
		if off >= free {
			continue
		}
		bucket := binary.LittleEndian.Uint16(chunk[off+4:]) % 64
		binary.LittleEndian.PutUint32(chunk[off:], strHeads[bucket])
		strHeads[bucket] = off
	}
	var tplHeads [32]uint32
	for _, off := range w.tplOrder {
		if off >= free {
			continue
		}
		bucket := w.tplIDs[off] % 32
		binary.LittleEndian.PutUint32(chunk[off:], tplHeads[bucket])
		tplHeads[bucket] = off
	}

	h := chunk[:chunkHeaderSize]
	copy(h, chunkMagic)
	binary.LittleEndian.PutUint64(h[8:], w.firstRecordID)
	binary.LittleEndian.PutUint64(h[16:], w.lastRecordID)
	binary.LittleEndian.PutUint64(h[24:], w.firstRecordID)
	binary.LittleEndian.PutUint64(h[32:], w.lastRecordID)
	binary.LittleEndian.PutUint32(h[40:], 128)
	binary.LittleEndian.PutUint32(h[44:], w.lastRecordOff)
	binary.LittleEndian.PutUint32(h[48:], free)
	binary.LittleEndian.PutUint32(h[120:], 1) // every chunk Windows writes has flags 1
	for i, off := range strHeads {
		binary.LittleEndian.PutUint32(h[128+4*i:], off)
	}
	for i, off := range tplHeads {
		binary.LittleEndian.PutUint32(h[384+4*i:], off)
	}
	sealChunk(chunk)
	return chunk
}
