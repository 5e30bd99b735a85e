package evtx

// The .evtx fast path (issue #7): what a filter asks about a record —
// provider, classic source name, EventID, record ID, time, channel — read
// straight from the record's template instance, without rendering it.
//
// A record is a template instance: a reference to a template definition
// (BinXML with substitution slots, defined once per chunk) plus an array of
// substitution values. Windows writes the System fields as substitutions
// (<EventID>%3</EventID>, <Provider Name="%14"/>) or as literal text in the
// template (<Channel>System</Channel>). The definition is walked once per
// chunk to learn where each field comes from (fastLayout); each record then
// costs a look at its value descriptors and the few values the fields use.
//
// Every answer mirrors what the full decoding (golang-evtx plus
// evtxFillEvent) would give, including the library's quirks, so a filter
// sees the same values either way. Whatever this code does not understand
// exactly — a field made of several pieces, an unusual value type, a
// template the library would reject, a System section that embedded BinXML
// could extend — makes the field unknown (zero, which Filter.Keep treats as
// "could be anything") or, for the record ID and time, which bookmarks and
// positions rest on, sends the record to full decoding.
//
// Invariant checked by TestEVTXFastHeaderMatchesDecoding over every record
// of the public corpus: each known field equals the decoded event's.

import (
	"encoding/binary"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// BinXML tokens (MS-EVEN6 2.2.12) and value types, as golang-evtx accepts
// them.
const (
	fastTokEOF          = 0x00
	fastTokOpenStart    = 0x01
	fastTokOpenStartA   = 0x41 // with attributes
	fastTokCloseStart   = 0x02
	fastTokCloseEmpty   = 0x03
	fastTokEnd          = 0x04
	fastTokValue        = 0x05
	fastTokValueMore    = 0x45
	fastTokAttr         = 0x06 // last attribute
	fastTokAttrMore     = 0x46
	fastTokCharRef      = 0x08 // 0x48 is not accepted by golang-evtx
	fastTokEntityRef    = 0x09
	fastTokEntityRefM   = 0x49
	fastTokTemplate     = 0x0c
	fastTokNormalSub    = 0x0d
	fastTokOptionalSub  = 0x0e
	fastTokFragment     = 0x0f
	fastTypeNull        = 0x00
	fastTypeString      = 0x01
	fastTypeInt8        = 0x03
	fastTypeUInt8       = 0x04
	fastTypeInt16       = 0x05
	fastTypeUInt16      = 0x06
	fastTypeInt32       = 0x07
	fastTypeUInt32      = 0x08
	fastTypeInt64       = 0x09
	fastTypeUInt64      = 0x0a
	fastTypeReal64      = 0x0c
	fastTypeBool        = 0x0d
	fastTypeGUID        = 0x0f
	fastTypeFileTime    = 0x11
	fastTypeSysTime     = 0x12
	fastTypeSID         = 0x13
	fastTypeHexInt32    = 0x14
	fastTypeHexInt64    = 0x15
	fastTypeBinXML      = 0x21
	fastTypeArray       = 0x80
	fastMaxDepth        = 64   // deeper templates go to full decoding
	fastMaxValues       = 4096 // more substitution values than this: full decoding
	fastMaxInternedStrs = 4096
)

// evtxView is one chunk's bytes, either all read (loaded == all) or read
// from the file on demand a 4 KiB page at a time: a caught-up scan looks at
// a chunk's header and last record only, a few pages out of sixteen.
type evtxView struct {
	b      []byte // evtxChunkSize bytes
	avail  int    // bytes of the chunk the file holds
	loaded uint64 // bit i: page i is in b
	ra     io.ReaderAt
	off    int64 // file offset of the chunk
	err    error // first read error
}

const (
	evtxReadAhead = 2 // pages
	evtxPageSize  = 1024
	evtxAllLoaded = ^uint64(0) // evtxChunkSize / evtxPageSize pages
)

// at returns b[off:off+n], reading the pages it spans if needed; nil when
// the range is outside the chunk's bytes or cannot be read.
func (v *evtxView) at(off, n int) []byte {
	if off < 0 || n < 0 || off > v.avail-n {
		return nil
	}
	if v.loaded != evtxAllLoaded && n > 0 {
		first, last := off/evtxPageSize, (off+n-1)/evtxPageSize
		want := (uint64(2)<<last - 1) &^ (uint64(1)<<first - 1)
		if v.loaded&want != want && !v.load(off, n) {
			return nil
		}
	}
	return v.b[off : off+n]
}

func (v *evtxView) load(off, n int) bool {
	first, last := off/evtxPageSize, (off+max(n, 1)-1)/evtxPageSize
	for p := first; p <= last; p++ {
		if v.loaded&(1<<p) != 0 {
			continue
		}
		// Read the run of missing pages from p in one call, and a few
		// more: what is read next usually lies close by, and a system
		// call costs more than copying a few KiB.
		q := p
		for q+1 < evtxChunkSize/evtxPageSize && (q+1 <= last || q+1 < p+evtxReadAhead) && v.loaded&(1<<(q+1)) == 0 && (q+1)*evtxPageSize < v.avail {
			q++
		}
		from, to := p*evtxPageSize, min((q+1)*evtxPageSize, v.avail)
		m, err := v.ra.ReadAt(v.b[from:to], v.off+int64(from))
		if m < to-from {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			if v.err == nil {
				v.err = err
			}
			return false
		}
		for i := p; i <= q; i++ {
			v.loaded |= 1 << i
		}
		p = q
	}
	return true
}

func (v *evtxView) u8(off int) (byte, bool) {
	b := v.at(off, 1)
	if b == nil {
		return 0, false
	}
	return b[0], true
}

func (v *evtxView) u16(off int) (uint16, bool) {
	b := v.at(off, 2)
	if b == nil {
		return 0, false
	}
	return binary.LittleEndian.Uint16(b), true
}

func (v *evtxView) u32(off int) (uint32, bool) {
	b := v.at(off, 4)
	if b == nil {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}

// fastKind says where a field's value comes from in a template.
type fastKind uint8

const (
	fastAbsent  fastKind = iota // not in the template: the field is empty
	fastLiteral                 // text in the template itself
	fastSub                     // substitution value sub
	fastUnknown                 // anything else: ask the full decoder
)

type fastField struct {
	kind fastKind
	sub  int
	lit  string
}

// fastLayout is what the fast path learned from one template definition.
type fastLayout struct {
	ok bool // false: the definition is not one golang-evtx would parse
	// event: the template has <Event><System>, so records using it can
	// take the fast path.
	event bool
	// end is the offset just past the definition's EOF token.
	end                                                int
	provider, source, eventID, time, recordID, channel fastField
	// guards are substitutions in the content of the top level, Event or
	// System: embedded BinXML there adds elements ahead of the template's
	// own (classic events carry their EventData so, inside <Event>), which
	// must not be named like the ones the fields come from.
	guards []fastGuard
	// Of a template used as embedded BinXML: the names of its top-level
	// elements, and whether substitutions there could add more.
	topNames uint32
	topSubs  bool
}

type fastGuard struct {
	sub   int
	names uint32 // bits 1<<fastName
}

// The element and attribute names the layout cares about.
type fastName uint8

const (
	nameOther fastName = iota
	nameEvent
	nameSystem
	nameProvider
	nameEventID
	nameTimeCreated
	nameEventRecordID
	nameChannel
	nameName
	nameEventSourceName
	nameSystemTime
)

var fastNames = []struct {
	s string
	n fastName
}{
	{"Event", nameEvent},
	{"System", nameSystem},
	{"Provider", nameProvider},
	{"EventID", nameEventID},
	{"TimeCreated", nameTimeCreated},
	{"EventRecordID", nameEventRecordID},
	{"Channel", nameChannel},
	{"Name", nameName},
	{"EventSourceName", nameEventSourceName},
	{"SystemTime", nameSystemTime},
}

// readName classifies the name structure at off (previous offset 4, hash 2,
// count 2, count+1 UTF-16 units) the way golang-evtx reads it: count+1
// units, trailing NULs trimmed. ok is false when it does not fit the chunk.
func readName(v *evtxView, off int) (fastName, bool) {
	n, ok := v.u16(off + 6)
	if !ok {
		return nameOther, false
	}
	units := v.at(off+8, 2*(int(n)+1))
	if units == nil {
		return nameOther, false
	}
	for len(units) >= 2 && units[len(units)-1] == 0 && units[len(units)-2] == 0 {
		units = units[:len(units)-2]
	}
	for _, c := range fastNames {
		if len(units) != 2*len(c.s) {
			continue
		}
		match := true
		for i := 0; i < len(c.s); i++ {
			if units[2*i] != c.s[i] || units[2*i+1] != 0 {
				match = false
				break
			}
		}
		if match {
			return c.n, true
		}
	}
	return nameOther, true
}

// nameRef reads a name reference (4-byte chunk offset) at p and returns the
// name and the position after it: the name itself follows inline when the
// offset points right past the reference. Names the layout does not need
// (want false) are not looked at where they lie elsewhere in the chunk,
// which spares a caught-up scan reading the pages they are on.
func nameRef(v *evtxView, p int, want bool) (fastName, int, bool) {
	off, ok := v.u32(p)
	if !ok {
		return nameOther, 0, false
	}
	p += 4
	name := nameOther
	if want || int(off) == p {
		if name, ok = readName(v, int(off)); !ok {
			return nameOther, 0, false
		}
		if !want {
			name = nameOther
		}
	}
	if int(off) == p {
		n, _ := v.u16(p + 6)
		p += 8 + 2*(int(n)+1)
	}
	return name, p, true
}

// Roles of the elements on the path to the fields.
type fastRole uint8

const (
	roleOther fastRole = iota
	roleEvent
	roleSystem
	roleProvider
	roleEventID
	roleTimeCreated
	roleEventRecordID
	roleChannel
)

// fastContent collects the content of a text field's element: its text is
// known when it is empty or a single literal or substitution.
type fastContent struct {
	n     int
	first fastField
}

func (c *fastContent) add(f fastField) {
	c.n++
	if c.n == 1 {
		c.first = f
	}
}

func (c *fastContent) field() fastField {
	switch c.n {
	case 0:
		return fastField{kind: fastLiteral}
	case 1:
		return c.first
	}
	return fastField{kind: fastUnknown}
}

// parseLayout walks the template definition at defOff (header: next offset
// 4, GUID 16, data size 4; then a BinXML fragment ending in EOF) and works
// out where the fields come from. It accepts only what golang-evtx parses
// without error, and only shapes whose rendering it can predict.
func parseLayout(v *evtxView, defOff int) *fastLayout {
	l := &fastLayout{}
	// The definition in one read, when it is not in memory yet.
	if size, ok := v.u32(defOff + 20); ok {
		v.at(defOff, min(24+int(size), v.avail-defOff))
	}
	p := defOff + 24
	if t, ok := v.u8(p); !ok || t != fastTokFragment {
		return l
	}
	p += 4
	var (
		stack      [fastMaxDepth]fastRole
		depth      int
		content    [roleChannel + 1]fastContent
		seen       [roleChannel + 1]bool
		topSeen    bool // a top-level element was seen
		systemSeen bool
	)
	// The first attribute of a name is the one read; a second one would
	// be read instead when the first is null: not worth predicting.
	set := func(f *fastField, x fastField) {
		if f.kind == fastAbsent {
			*f = x
		} else {
			*f = fastField{kind: fastUnknown}
		}
	}
	for {
		tok, ok := v.u8(p)
		if !ok {
			return l
		}
		switch tok {
		case fastTokEOF:
			if depth != 0 {
				return l
			}
			l.end = p + 1
			l.eventID = content[roleEventID].field()
			l.recordID = content[roleEventRecordID].field()
			l.channel = content[roleChannel].field()
			for _, r := range []fastRole{roleEventID, roleEventRecordID, roleChannel} {
				if !seen[r] {
					switch r {
					case roleEventID:
						l.eventID = fastField{}
					case roleEventRecordID:
						l.recordID = fastField{}
					case roleChannel:
						l.channel = fastField{}
					}
				}
			}
			// An element whose only content is one substitution is left
			// out when the value is null, or repeated per item of an array
			// (evtxTreeBuilder.arrayItems): its attributes are then not
			// simply the template's.
			for _, r := range []fastRole{roleProvider, roleTimeCreated} {
				if c := content[r]; c.n == 1 && c.first.kind == fastSub {
					if r == roleProvider {
						l.provider, l.source = fastField{kind: fastUnknown}, fastField{kind: fastUnknown}
					} else {
						l.time = fastField{kind: fastUnknown}
					}
				}
			}
			l.ok = true
			l.event = seen[roleEvent] && seen[roleSystem]
			return l
		case fastTokOpenStart, fastTokOpenStartA:
			if depth == fastMaxDepth {
				return l
			}
			parent := roleOther
			if depth > 0 {
				parent = stack[depth-1]
			}
			// token, dependency id (2), data size (4), name reference;
			// only names at the top and in Event and System matter.
			name, q, ok := nameRef(v, p+7, depth == 0 || parent == roleEvent || parent == roleSystem)
			if !ok {
				return l
			}
			p = q
			role := roleOther
			switch {
			case depth == 0:
				l.topNames |= 1 << name
				if !topSeen && name == nameEvent {
					role = roleEvent
				} else if name == nameEvent {
					// root.child("Event") takes the first one only when
					// it is also the first element; keep it simple.
					return l
				}
				topSeen = true
			case parent == roleEvent && name == nameSystem && !systemSeen:
				role, systemSeen = roleSystem, true
			case parent == roleSystem:
				switch name {
				case nameProvider:
					role = roleProvider
				case nameEventID:
					role = roleEventID
				case nameTimeCreated:
					role = roleTimeCreated
				case nameEventRecordID:
					role = roleEventRecordID
				case nameChannel:
					role = roleChannel
				}
			}
			if role != roleOther {
				if seen[role] {
					return l // the last one would win: not worth predicting
				}
				seen[role] = true
			}
			if tok == fastTokOpenStartA {
				p += 4 // attribute list size, which golang-evtx ignores
				for {
					at, ok := v.u8(p)
					if !ok || (at != fastTokAttr && at != fastTokAttrMore) {
						return l
					}
					aname, q, ok := nameRef(v, p+1, role == roleProvider || role == roleTimeCreated)
					if !ok {
						return l
					}
					val, q, ok := attrValue(v, q)
					if !ok {
						return l
					}
					p = q
					switch {
					case role == roleProvider && aname == nameName:
						set(&l.provider, val)
					case role == roleProvider && aname == nameEventSourceName:
						set(&l.source, val)
					case role == roleTimeCreated && aname == nameSystemTime:
						set(&l.time, val)
					}
					if at == fastTokAttr {
						break
					}
				}
			}
			if t, ok := v.u8(p); !ok || (t != fastTokCloseStart && t != fastTokCloseEmpty) {
				return l
			}
			stack[depth] = role
			depth++
		case fastTokCloseStart:
			p++
		case fastTokCloseEmpty, fastTokEnd:
			if depth == 0 {
				return l
			}
			depth--
			p++
		case fastTokValue, fastTokValueMore, fastTokNormalSub, fastTokOptionalSub, fastTokCharRef, fastTokEntityRef, fastTokEntityRefM:
			val, q, ok := attrValue(v, p)
			if !ok {
				return l
			}
			p = q
			role := roleOther
			if depth > 0 {
				role = stack[depth-1]
			}
			isSub := tok == fastTokNormalSub || tok == fastTokOptionalSub
			switch role {
			case roleOther:
				if isSub && depth == 0 {
					l.topSubs = true
					l.guards = append(l.guards, fastGuard{sub: val.sub, names: 1 << nameEvent})
				}
			case roleEvent:
				if isSub {
					l.guards = append(l.guards, fastGuard{sub: val.sub, names: 1 << nameSystem})
				}
			case roleSystem:
				if isSub {
					l.guards = append(l.guards, fastGuard{sub: val.sub, names: 1<<nameProvider | 1<<nameEventID | 1<<nameTimeCreated | 1<<nameEventRecordID | 1<<nameChannel})
				}
			default:
				content[role].add(val)
			}
		default:
			// Nested template instances, fragments, CDATA, processing
			// instructions and unknown tokens: not a shape to predict.
			return l
		}
	}
}

// attrValue parses the one value token golang-evtx reads for an attribute
// (and for each content item) at p.
func attrValue(v *evtxView, p int) (fastField, int, bool) {
	tok, ok := v.u8(p)
	if !ok {
		return fastField{}, 0, false
	}
	switch tok {
	case fastTokValue, fastTokValueMore:
		// type (must be string), character count, UTF-16 text
		typ, ok1 := v.u8(p + 1)
		n, ok2 := v.u16(p + 2)
		// golang-evtx reads the count as signed and skips the text of a
		// "negative" one.
		if !ok1 || !ok2 || typ != fastTypeString || n >= 0x8000 {
			return fastField{}, 0, false
		}
		raw := v.at(p+4, 2*int(n))
		if raw == nil {
			return fastField{}, 0, false
		}
		return fastField{kind: fastLiteral, lit: utf16String(raw)}, p + 4 + 2*int(n), true
	case fastTokNormalSub, fastTokOptionalSub:
		id, ok := v.u16(p + 1)
		if !ok || v.at(p+3, 1) == nil {
			return fastField{}, 0, false
		}
		return fastField{kind: fastSub, sub: int(id)}, p + 4, true
	case fastTokCharRef:
		if v.at(p+1, 2) == nil {
			return fastField{}, 0, false
		}
		return fastField{kind: fastUnknown}, p + 3, true
	case fastTokEntityRef, fastTokEntityRefM:
		_, q, ok := nameRef(v, p+1, false)
		if !ok {
			return fastField{}, 0, false
		}
		return fastField{kind: fastUnknown}, q, true
	}
	return fastField{}, 0, false
}

// utf16String decodes UTF-16LE the way golang-evtx's UTF16String.ToString
// does: invalid surrogates become U+FFFD, trailing NULs are dropped.
func utf16String(raw []byte) string {
	ascii := true
	n := len(raw) / 2
	for i := 0; i < n; i++ {
		if raw[2*i+1] != 0 || raw[2*i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		b := make([]byte, n)
		for i := range b {
			b[i] = raw[2*i]
		}
		return strings.TrimRight(string(b), "\x00")
	}
	u := make([]uint16, n)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(raw[2*i:])
	}
	return strings.TrimRight(string(utf16.Decode(u)), "\x00")
}

// fastState is a reader's fast-path scratch: the layouts of the current
// chunk's templates by definition offset, and interned strings (providers
// and channels repeat in every record).
type fastState struct {
	layouts map[uint32]*fastLayout
	strs    map[string]string
	vals    []fastVal
}

type fastVal struct {
	typ  byte
	off  int
	size int
}

func newFastState() *fastState {
	return &fastState{layouts: make(map[uint32]*fastLayout), strs: make(map[string]string)}
}

// intern returns the decoded UTF-16 string raw, shared between records.
func (s *fastState) intern(raw []byte) string {
	if str, ok := s.strs[string(raw)]; ok {
		return str
	}
	str := utf16String(raw)
	if len(s.strs) < fastMaxInternedStrs {
		s.strs[string(raw)] = str
	}
	return str
}

// fastValueSizeOK says whether golang-evtx reads exactly size bytes for a
// value of type typ, so the values after it are where the descriptors say.
func fastValueSizeOK(typ byte, size int) bool {
	switch typ {
	case fastTypeString:
		return size%2 == 0
	case fastTypeInt8, fastTypeUInt8:
		return size == 1
	case fastTypeInt16, fastTypeUInt16:
		return size == 2
	case fastTypeInt32, fastTypeUInt32, fastTypeBool, fastTypeHexInt32:
		return size == 4
	case fastTypeInt64, fastTypeUInt64, fastTypeReal64, fastTypeFileTime, fastTypeHexInt64:
		return size == 8
	case fastTypeGUID, fastTypeSysTime:
		return size == 16
	case fastTypeSID:
		return size >= 8 // checked against its sub-authority count by the caller
	}
	if typ&fastTypeArray != 0 {
		// Arrays golang-evtx reads as string tables or uint16 arrays take
		// size/2 units; uint64 arrays fail on a partial element.
		if size%2 != 0 {
			return false
		}
		if typ&0x01 == 0 && typ&0x0a == 0x0a && typ&0x06 != 0x06 {
			return size%8 == 0
		}
	}
	return true
}

// fastHeader reads the header of the record at pos of the chunk in v, whose
// record header is h. ok is false when the record must be decoded fully to
// know its record ID and time.
func (s *fastState) fastHeader(v *evtxView, pos int, h evtxRecordHeaderInfo) (hdr Header, ok bool) {
	// Bounds are checked throughout; should a bug slip through on crafted
	// input, full decoding (under its own recover) takes over.
	defer func() {
		if recover() != nil {
			hdr, ok = Header{}, false
		}
	}()
	return s.readHeader(v, pos, h)
}

// readHeader is fastHeader without the safety net, for the fuzzer.
func (s *fastState) readHeader(v *evtxView, pos int, h evtxRecordHeaderInfo) (Header, bool) {
	size := int(h.size)
	if tail, ok := v.u32(pos + size - 4); !ok || int(tail) != size {
		return Header{}, false
	}
	end := pos + size - 4
	start := pos + evtxRecordHeaderSize
	frag := v.at(start, 14)
	if frag == nil || frag[0] != fastTokFragment || frag[4] != fastTokTemplate {
		return Header{}, false
	}
	defOff := int(binary.LittleEndian.Uint32(frag[10:]))
	valuesAt := start + 14
	l := s.layouts[uint32(defOff)]
	if l == nil {
		l = parseLayout(v, defOff)
		s.layouts[uint32(defOff)] = l
	}
	if !l.ok || !l.event {
		return Header{}, false
	}
	if defOff == valuesAt {
		dsize, ok := v.u32(defOff + 20)
		if !ok || l.end != defOff+24+int(dsize) {
			return Header{}, false
		}
		valuesAt = l.end
	}
	// Value count, descriptors (size 2, type 1, padding 1), values.
	n32, ok := v.u32(valuesAt)
	if !ok || n32 > fastMaxValues || valuesAt+4+4*int(n32) > end {
		return Header{}, false
	}
	n := int(n32)
	descs := v.at(valuesAt+4, 4*n)
	if descs == nil {
		return Header{}, false
	}
	s.vals = s.vals[:0]
	off := valuesAt + 4 + 4*n
	for i := range n {
		sz := int(binary.LittleEndian.Uint16(descs[4*i:]))
		typ := descs[4*i+2]
		if !fastValueSizeOK(typ, sz) {
			return Header{}, false
		}
		if typ == fastTypeSID {
			if c, ok := v.u8(off + 1); !ok || 8+4*int(c) != sz {
				return Header{}, false
			}
		}
		s.vals = append(s.vals, fastVal{typ: typ, off: off, size: sz})
		off += sz
		if off > end {
			return Header{}, false
		}
	}

	for _, g := range l.guards {
		if !s.guardOK(v, g, n) {
			return Header{}, false
		}
	}

	hdr := Header{RecordID: h.id, Time: h.time}
	// Record ID and time: known for certain, or full decoding.
	switch l.recordID.kind {
	case fastAbsent:
	case fastLiteral, fastSub:
		str, num, isNum, present, ok := s.text(v, l.recordID)
		if !ok {
			return Header{}, false
		}
		if present {
			var id uint64
			var valid bool
			if isNum {
				id, valid = num, true
			} else {
				id, valid = evtxUint(str, 64)
			}
			if valid && id != 0 {
				hdr.RecordID = id
			}
		}
	default:
		return Header{}, false
	}
	switch l.time.kind {
	case fastAbsent:
	case fastLiteral:
		if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(l.time.lit)); err == nil {
			hdr.Time = t.UTC()
		}
	case fastSub:
		if l.time.sub >= n {
			return Header{}, false
		}
		val := s.vals[l.time.sub]
		switch val.typ {
		case fastTypeNull:
			// An attribute whose value is null is left out.
		case fastTypeFileTime:
			ft, _ := v.u32(val.off)
			hi, _ := v.u32(val.off + 4)
			hdr.Time = libFiletime(int64(uint64(hi)<<32 | uint64(ft)))
		case fastTypeSysTime:
			b := v.at(val.off, 16)
			if b == nil {
				return Header{}, false
			}
			hdr.Time = libSystime(b)
		default:
			return Header{}, false
		}
	default:
		return Header{}, false
	}

	// The rest: unknown (zero) whenever not certain.
	provider, pOK := s.attr(v, l.provider)
	source, sOK := s.attr(v, l.source)
	if pOK && sOK {
		hdr.Provider = provider
		if !strings.EqualFold(source, provider) {
			hdr.Source = source
		}
	}
	if l.eventID.kind == fastLiteral || l.eventID.kind == fastSub {
		if str, num, isNum, present, ok := s.text(v, l.eventID); ok && present {
			var id uint64
			var valid bool
			if isNum {
				id, valid = num, num <= math.MaxUint32
			} else {
				id, valid = evtxUint(str, 32)
			}
			if valid {
				hdr.EventID = uint16(id)
			}
		}
	}
	switch l.channel.kind {
	case fastLiteral:
		hdr.Channel = l.channel.lit
	case fastSub:
		if l.channel.sub < n {
			if val := s.vals[l.channel.sub]; val.typ == fastTypeString {
				hdr.Channel = s.intern(v.at(val.off, val.size))
			}
		}
	}
	return hdr, true
}

// guardOK checks a guarded substitution's value: anything but embedded
// BinXML only adds text; embedded BinXML must be a template instance whose
// top-level elements are none of g.names. (golang-evtx parses embedded
// BinXML without the chunk's template cache, from the same bytes.)
func (s *fastState) guardOK(v *evtxView, g fastGuard, n int) bool {
	if g.sub >= n {
		return true // golang-evtx fails the record, and so will decoding
	}
	val := s.vals[g.sub]
	if val.typ != fastTypeBinXML {
		return true
	}
	// A template instance, with or without a fragment header before it.
	ti := val.off
	if t, ok := v.u8(ti); ok && t == fastTokFragment {
		ti += 4
	}
	head := v.at(ti, 10)
	if head == nil || head[0] != fastTokTemplate {
		return false
	}
	defOff := binary.LittleEndian.Uint32(head[6:])
	l := s.layouts[defOff]
	if l == nil {
		l = parseLayout(v, int(defOff))
		s.layouts[defOff] = l
	}
	return l.ok && !l.topSubs && l.topNames&g.names == 0
}

// attr returns an attribute's value as the full decoding gives it for a
// string-valued attribute ("" when absent or null); ok is false when not
// certain.
func (s *fastState) attr(v *evtxView, f fastField) (string, bool) {
	switch f.kind {
	case fastAbsent:
		return "", true
	case fastLiteral:
		return f.lit, true
	case fastSub:
		if f.sub >= len(s.vals) {
			return "", false
		}
		val := s.vals[f.sub]
		switch val.typ {
		case fastTypeNull:
			return "", true
		case fastTypeString:
			raw := v.at(val.off, val.size)
			if raw == nil {
				return "", false
			}
			return s.intern(raw), true
		}
	}
	return "", false
}

// text returns an element's text for the number fields: the literal or
// string value (str), or the number of an integer value (num, isNum).
// present is false when the element is left out (optional substitution of a
// null value) or empty.
func (s *fastState) text(v *evtxView, f fastField) (str string, num uint64, isNum, present, ok bool) {
	switch f.kind {
	case fastLiteral:
		return f.lit, 0, false, f.lit != "", true
	case fastSub:
	default:
		return "", 0, false, false, false
	}
	if f.sub >= len(s.vals) {
		return "", 0, false, false, false
	}
	val := s.vals[f.sub]
	b := v.at(val.off, val.size)
	if b == nil {
		return "", 0, false, false, false
	}
	le := binary.LittleEndian
	switch val.typ {
	case fastTypeNull:
		return "", 0, false, false, true
	case fastTypeString:
		str := utf16String(b)
		return str, 0, false, true, true
	case fastTypeUInt8:
		return "", uint64(b[0]), true, true, true
	case fastTypeUInt16:
		return "", uint64(le.Uint16(b)), true, true, true
	case fastTypeUInt32, fastTypeHexInt32:
		return "", uint64(le.Uint32(b)), true, true, true
	case fastTypeUInt64, fastTypeHexInt64:
		return "", le.Uint64(b), true, true, true
	case fastTypeInt8:
		return strconv.FormatInt(int64(int8(b[0])), 10), 0, false, true, true
	case fastTypeInt16:
		return strconv.FormatInt(int64(int16(le.Uint16(b))), 10), 0, false, true, true
	case fastTypeInt32:
		return strconv.FormatInt(int64(int32(le.Uint32(b))), 10), 0, false, true, true
	case fastTypeInt64:
		return strconv.FormatInt(int64(le.Uint64(b)), 10), 0, false, true, true
	}
	return "", 0, false, false, false
}

// libFiletime converts a FILETIME as golang-evtx's FileTime.Time does.
func libFiletime(ft int64) time.Time {
	const nano = int64(10000000)
	sec := int64(float64(ft)/float64(nano) - 11644473600.0)
	nsec := ((ft - 11644473600*nano) - sec*nano) * 100
	return time.Unix(sec, nsec).UTC()
}

// libSystime converts a SYSTEMTIME as golang-evtx's ValueSysTime.Time does
// (its milliseconds become microseconds, a library quirk kept on purpose).
func libSystime(b []byte) time.Time {
	le := binary.LittleEndian
	f := func(i int) int { return int(int16(le.Uint16(b[2*i:]))) }
	return time.Date(f(0), time.Month(f(1)), f(3), f(4), f(5), f(6), f(7)*1000, time.UTC)
}
