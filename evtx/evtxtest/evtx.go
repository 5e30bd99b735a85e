package evtxtest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strings"

	"github.com/evtwatch/evtwatch/evtx"
)

// EVTX layout constants.
const (
	fileHeaderSize  = 4096
	chunkSize       = 65536
	chunkHeaderSize = 512
	fileMagic       = "ElfFile\x00"
	chunkMagic      = "ElfChnk\x00"
	recordMagic     = "\x2a\x2a\x00\x00"
)

// EVTXOptions shape the .evtx file WriteEVTX produces. The zero value writes
// a clean, closed log with as many records per chunk as fit.
type EVTXOptions struct {
	// RecordsPerChunk caps the records in each chunk, to spread few events
	// over several chunks. 0 fills each chunk as Windows does.
	RecordsPerChunk int
	// Dirty sets the header's dirty flag, as on a log copied while the
	// event log service had it open.
	Dirty bool
	// Full sets the header's "log is full" flag.
	Full bool
	// HeaderChunks, when positive, is the chunk count the file header
	// claims instead of the real one; the header's last chunk number and
	// next record ID follow it. A smaller count reproduces a stale header
	// (2-vss_7-System.evtx claims 4 chunks and holds 17); a larger one
	// describes a truncated copy.
	HeaderChunks int
	// EmptyChunks appends zero-filled 64 KiB chunks after the written ones,
	// like the preallocated tail of a live log.
	EmptyChunks int
	// ClassicDataElements writes unnamed data as one <Data> element per
	// insertion string. By default unnamed data is written the way Windows
	// stores the insertion strings of classic event sources: a single
	// <Data> substitution holding a string array (value type 0x81), which
	// readers expand to one <Data> per string.
	ClassicDataElements bool
	// RenumberRecords numbers the record headers 1, 2, 3... while each
	// event's EventRecordID keeps its RecordID, as in a log saved with a
	// filter ("wevtutil epl /q:..." or Event Viewer's "Save Filtered Log
	// File As"). By default both are the RecordID.
	RenumberRecords bool
	// Corrupt damages the written chunks; see Corruption.
	Corrupt []Corruption
}

// Corruption damages one chunk or record of the written file, for reader
// tests.
type Corruption struct {
	// Chunk is the 0-based index of the damaged chunk.
	Chunk int
	// Record is the 0-based index of the damaged record within the chunk,
	// for the record kinds.
	Record int
	Kind   CorruptionKind
}

// CorruptionKind says what a Corruption breaks. Record damage is applied
// before the chunk checksums are computed, so on its own it leaves them
// valid and only the record is bad; add BadRecordsChecksum to break them
// too.
type CorruptionKind int

// Kinds of damage.
const (
	// BadChunkMagic overwrites the chunk signature with garbage.
	BadChunkMagic CorruptionKind = iota + 1
	// BadChunkChecksum makes the chunk header CRC32 wrong; the data is
	// intact.
	BadChunkChecksum
	// BadRecordsChecksum makes the chunk's event records CRC32 wrong.
	BadRecordsChecksum
	// BadRecordBinXML garbles the first BinXML token of one record. Its
	// header (signature, size, record ID, written time) stays intact, so a
	// reader can report the record by ID while it cannot decode it.
	BadRecordBinXML
	// BadRecordSignature overwrites one record's signature, so a reader
	// walking records by size cannot go past it.
	BadRecordSignature
)

func (k CorruptionKind) String() string {
	switch k {
	case BadChunkMagic:
		return "bad chunk magic"
	case BadChunkChecksum:
		return "bad chunk checksum"
	case BadRecordsChecksum:
		return "bad records checksum"
	case BadRecordBinXML:
		return "bad record BinXML"
	case BadRecordSignature:
		return "bad record signature"
	}
	return fmt.Sprintf("CorruptionKind(%d)", int(k))
}

// ChunkOffset is the file offset of chunk i in a file WriteEVTX wrote.
func ChunkOffset(i int) int64 { return fileHeaderSize + int64(i)*chunkSize }

// WriteEVTXFile writes events to a new .evtx file at path (see WriteEVTX).
func WriteEVTXFile(path string, events []evtx.Event, opts EVTXOptions) error {
	var buf bytes.Buffer
	if err := WriteEVTX(&buf, events, opts); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WriteEVTX writes events as a Windows XML Event Log (.evtx) to w, in the
// layout Windows Server 2016 and later write: one System template per
// provider, channel and computer, with the event data as a nested BinXML
// fragment whose template is shared by every event of the same data shape.
// Each chunk carries its own string and template tables, and every CRC32 is
// valid unless opts.Corrupt says otherwise.
//
// Events keep their RecordID; a zero RecordID becomes the previous one plus
// one (the first is 1). Record IDs run without gaps inside a chunk, as in
// every log Windows writes (libevtx reports a gap as corruption), so a
// RecordID that does not follow the previous one starts a new chunk. Time is stored as a FILETIME (100 ns). Named Data
// become <Data Name="..."> elements, unnamed ones insertion strings (see
// EVTXOptions.ClassicDataElements), Binary a <Binary> element. Qualifiers
// are written only when non-zero, and Provider GUID, EventSourceName
// (Source), UserSID and the activity IDs only when set. Windows writes
// EventSourceName equal to the provider name for the classic events of
// manifest providers (Service Control Manager): set Source to Provider to
// get that shape, which readers report with Source empty. ProviderGUID is
// written as given; ActivityID and RelatedActivityID are GUID values,
// which readers render as "{UPPER-CASE}". Message, User, Origin, Recovered
// and Err are not part of a binary log and are ignored.
func WriteEVTX(w io.Writer, events []evtx.Event, opts EVTXOptions) error {
	if opts.RecordsPerChunk < 0 || opts.HeaderChunks < 0 || opts.EmptyChunks < 0 {
		return errors.New("negative option")
	}
	b := &fileBuilder{opts: opts, templates: map[string]*template{}}
	for i := range events {
		if err := b.add(&events[i]); err != nil {
			return fmt.Errorf("event %d (record %d): %w", i, b.nextID, err)
		}
	}
	b.closeChunk()
	if len(b.chunks) == 0 {
		// Windows never leaves a log without a chunk, and libevtx reports
		// a header that counts none as corrupted.
		b.chunks = append(b.chunks, builtChunk{data: newChunkWriter().finish()})
	}
	if err := b.corrupt(); err != nil {
		return err
	}
	if _, err := w.Write(b.fileHeader()); err != nil {
		return err
	}
	for _, c := range b.chunks {
		if _, err := w.Write(c.data); err != nil {
			return err
		}
	}
	empty := make([]byte, chunkSize)
	for range opts.EmptyChunks {
		if _, err := w.Write(empty); err != nil {
			return err
		}
	}
	return nil
}

type builtChunk struct {
	data       []byte
	recordOffs []uint32
	lastID     uint64
}

type fileBuilder struct {
	opts      EVTXOptions
	templates map[string]*template // by key; definitions are rewritten per chunk
	cur       *chunkWriter
	curOffs   []uint32
	chunks    []builtChunk
	lastID    uint64 // last EventRecordID written
	nextID    uint64 // EventRecordID of the event being added
	headerID  uint64 // last record header ID written
}

func (b *fileBuilder) add(ev *evtx.Event) error {
	id := ev.RecordID
	if id == 0 {
		id = b.lastID + 1
	}
	b.nextID = id
	sys, values, err := b.eventValues(ev, id)
	if err != nil {
		return err
	}
	headerID := id
	if b.opts.RenumberRecords {
		headerID = b.headerID + 1
	}
	if b.cur != nil && b.cur.records > 0 &&
		((b.opts.RecordsPerChunk > 0 && b.cur.records >= b.opts.RecordsPerChunk) || headerID != b.cur.lastRecordID+1) {
		b.closeChunk()
	}
	if b.cur == nil {
		b.cur = newChunkWriter()
	}
	off := b.cur.off()
	err = b.cur.record(headerID, ev, sys, values)
	if errors.Is(err, errChunkFull) && b.cur.records > 0 {
		b.closeChunk()
		b.cur = newChunkWriter()
		off = b.cur.off()
		err = b.cur.record(headerID, ev, sys, values)
	}
	if errors.Is(err, errChunkFull) {
		return fmt.Errorf("the record does not fit in a 64 KiB chunk (%d bytes of data and strings)", approxSize(values))
	}
	if err != nil {
		return err
	}
	b.curOffs = append(b.curOffs, uint32(off))
	b.lastID = id
	b.headerID = headerID
	return nil
}

func approxSize(values []value) int {
	n := 0
	for _, v := range values {
		n += len(v.data)
	}
	return n
}

func (b *fileBuilder) closeChunk() {
	if b.cur == nil || b.cur.records == 0 {
		return
	}
	b.chunks = append(b.chunks, builtChunk{data: b.cur.finish(), recordOffs: b.curOffs, lastID: b.cur.lastRecordID})
	b.cur, b.curOffs = nil, nil
}

// record appends one event record. On errChunkFull the chunk is left as it
// was before the call.
func (w *chunkWriter) record(id uint64, ev *evtx.Event, sys *template, values []value) error {
	start := w.off()
	w.raw([]byte(recordMagic))
	w.u32(0)
	w.u64(id)
	w.u64(fileTime(ev.Time))
	w.fragmentHeader()
	if err := w.templateInstance(sys, values); err != nil {
		w.buf = w.buf[:start]
		return err
	}
	w.u8(tokEOF)
	for (w.off()-start+4)%8 != 0 { // Windows keeps records 8-byte aligned
		w.u8(0)
	}
	w.u32(uint32(w.off() - start + 4))
	w.patch32(start+4, uint32(w.off()-start))
	if w.off() > chunkSize {
		w.buf = w.buf[:start]
		return errChunkFull
	}
	if w.records == 0 {
		w.firstRecordID = id
	}
	w.records++
	w.lastRecordID = id
	w.lastRecordOff = uint32(start)
	return nil
}

// sealChunk computes the event records CRC32 and the chunk header CRC32.
func sealChunk(chunk []byte) {
	free := binary.LittleEndian.Uint32(chunk[48:])
	binary.LittleEndian.PutUint32(chunk[52:], crc32.ChecksumIEEE(chunk[chunkHeaderSize:free]))
	crc := crc32.NewIEEE()
	crc.Write(chunk[:120])
	crc.Write(chunk[128:chunkHeaderSize])
	binary.LittleEndian.PutUint32(chunk[124:], crc.Sum32())
}

func (b *fileBuilder) corrupt() error {
	for _, c := range b.opts.Corrupt {
		if c.Chunk < 0 || c.Chunk >= len(b.chunks) {
			return fmt.Errorf("corrupt %v: no chunk %d (the file has %d)", c.Kind, c.Chunk, len(b.chunks))
		}
	}
	// Record damage first, then reseal, so that it is the only damage.
	for i := range b.chunks {
		ch := &b.chunks[i]
		touched := false
		for _, c := range b.opts.Corrupt {
			if c.Chunk != i || (c.Kind != BadRecordBinXML && c.Kind != BadRecordSignature) {
				continue
			}
			if c.Record < 0 || c.Record >= len(ch.recordOffs) {
				return fmt.Errorf("corrupt %v: chunk %d has no record %d (it has %d)", c.Kind, i, c.Record, len(ch.recordOffs))
			}
			off := ch.recordOffs[c.Record]
			if c.Kind == BadRecordBinXML {
				ch.data[off+24] = 0xff // not a BinXML token
			} else {
				copy(ch.data[off:], "XXXX")
			}
			touched = true
		}
		if touched {
			sealChunk(ch.data)
		}
	}
	for _, c := range b.opts.Corrupt {
		data := b.chunks[c.Chunk].data
		switch c.Kind {
		case BadChunkMagic:
			copy(data, "BadChnk\x00")
		case BadChunkChecksum:
			binary.LittleEndian.PutUint32(data[124:], ^binary.LittleEndian.Uint32(data[124:]))
		case BadRecordsChecksum:
			binary.LittleEndian.PutUint32(data[52:], ^binary.LittleEndian.Uint32(data[52:]))
		case BadRecordBinXML, BadRecordSignature:
		default:
			return fmt.Errorf("unknown corruption kind %d", int(c.Kind))
		}
	}
	return nil
}

func (b *fileBuilder) fileHeader() []byte {
	h := make([]byte, fileHeaderSize)
	copy(h, fileMagic)
	count := len(b.chunks)
	next := b.headerID + 1
	if n := b.opts.HeaderChunks; n > 0 {
		count = n
		if n < len(b.chunks) {
			next = b.chunks[n-1].lastID + 1
		}
	}
	last := uint64(0)
	if count > 0 {
		last = uint64(count - 1)
	}
	binary.LittleEndian.PutUint64(h[8:], 0) // first chunk number
	binary.LittleEndian.PutUint64(h[16:], last)
	binary.LittleEndian.PutUint64(h[24:], next)
	binary.LittleEndian.PutUint32(h[32:], 128)
	binary.LittleEndian.PutUint16(h[36:], 1) // format 3.1
	binary.LittleEndian.PutUint16(h[38:], 3)
	binary.LittleEndian.PutUint16(h[40:], fileHeaderSize)
	binary.LittleEndian.PutUint16(h[42:], uint16(count))
	var flags uint32
	if b.opts.Dirty {
		flags |= 1
	}
	if b.opts.Full {
		flags |= 2
	}
	binary.LittleEndian.PutUint32(h[120:], flags)
	binary.LittleEndian.PutUint32(h[124:], crc32.ChecksumIEEE(h[:120]))
	return h
}

// Substitution identifiers of the System template, as Windows numbers them.
const (
	subLevel             = 0
	subOpcode            = 1
	subTask              = 2
	subEventID           = 3
	subQualifiers        = 4
	subKeywords          = 5
	subTimeCreated       = 6
	subActivityID        = 7
	subProcessID         = 8
	subThreadID          = 9
	subRecordID          = 10
	subVersion           = 11
	subUserID            = 12
	subRelatedActivityID = 18
	subEventData         = 19
	systemValues         = 20
)

// eventValues returns the System template for ev and its 20 values, the
// last being the event data fragment.
func (b *fileBuilder) eventValues(ev *evtx.Event, id uint64) (*template, []value, error) {
	sys := b.systemTemplate(ev)
	v := make([]value, systemValues)
	for i := range v {
		v[i] = nullValue
	}
	v[subLevel] = u8Value(uint8(ev.Level))
	v[subOpcode] = u8Value(ev.Opcode)
	v[subTask] = u16Value(ev.Task)
	v[subEventID] = u16Value(ev.EventID)
	if ev.Qualifiers != 0 {
		v[subQualifiers] = u16Value(ev.Qualifiers)
	}
	v[subKeywords] = hex64Value(ev.Keywords)
	v[subTimeCreated] = fileTimeValue(ev.Time)
	v[subProcessID] = u32Value(ev.ProcessID)
	v[subThreadID] = u32Value(ev.ThreadID)
	v[subRecordID] = u64Value(id)
	v[subVersion] = u8Value(ev.Version)
	var err error
	if ev.ActivityID != "" {
		if v[subActivityID], err = guidValue(ev.ActivityID); err != nil {
			return nil, nil, fmt.Errorf("activity ID: %w", err)
		}
	}
	if ev.RelatedActivityID != "" {
		if v[subRelatedActivityID], err = guidValue(ev.RelatedActivityID); err != nil {
			return nil, nil, fmt.Errorf("related activity ID: %w", err)
		}
	}
	if ev.UserSID != "" {
		if v[subUserID], err = sidValue(ev.UserSID); err != nil {
			return nil, nil, fmt.Errorf("user: %w", err)
		}
	}
	data, dataValues, err := b.dataTemplate(ev)
	if err != nil {
		return nil, nil, err
	}
	v[subEventData] = value{typ: typeBinXML, frag: func(w *chunkWriter) error {
		w.fragmentHeader()
		if err := w.templateInstance(data, dataValues); err != nil {
			return err
		}
		w.u8(tokEOF)
		return nil
	}}
	return sys, v, nil
}

func (b *fileBuilder) template(key string, build func() *xelem) *template {
	if t, ok := b.templates[key]; ok {
		return t
	}
	t := newTemplate(key, build())
	b.templates[key] = t
	return t
}

// systemTemplate is the Event/System skeleton. Like Windows, it carries the
// provider, channel and computer as literal text, so there is one per
// combination of them.
func (b *fileBuilder) systemTemplate(ev *evtx.Event) *template {
	key := strings.Join([]string{"system", ev.Provider, ev.ProviderGUID, ev.Source, ev.Channel, ev.Computer}, "\x00")
	return b.template(key, func() *xelem {
		el := func(name string, dep int, content ...xnode) xnode {
			return elemNode(&xelem{name: name, dep: dep, content: content})
		}
		opt := func(id uint16, typ byte) xnode { return subNode(true, id, typ) }
		var provider []xattr
		if ev.Provider != "" {
			provider = append(provider, xattr{"Name", textNode(ev.Provider)})
		}
		if ev.ProviderGUID != "" {
			provider = append(provider, xattr{"Guid", textNode(ev.ProviderGUID)})
		}
		if ev.Source != "" {
			provider = append(provider, xattr{"EventSourceName", textNode(ev.Source)})
		}
		text := func(s string) []xnode {
			if s == "" {
				return nil
			}
			return []xnode{textNode(s)}
		}
		system := &xelem{name: "System", dep: noDependency, content: []xnode{
			elemNode(&xelem{name: "Provider", dep: noDependency, attrs: provider}),
			elemNode(&xelem{name: "EventID", dep: subEventID,
				attrs:   []xattr{{"Qualifiers", opt(subQualifiers, typeUInt16)}},
				content: []xnode{opt(subEventID, typeUInt16)}}),
			el("Version", subVersion, opt(subVersion, typeUInt8)),
			el("Level", subLevel, opt(subLevel, typeUInt8)),
			el("Task", subTask, opt(subTask, typeUInt16)),
			el("Opcode", subOpcode, opt(subOpcode, typeUInt8)),
			el("Keywords", subKeywords, opt(subKeywords, typeHexInt64)),
			elemNode(&xelem{name: "TimeCreated", dep: noDependency,
				attrs: []xattr{{"SystemTime", opt(subTimeCreated, typeFileTime)}}}),
			el("EventRecordID", subRecordID, opt(subRecordID, typeUInt64)),
			elemNode(&xelem{name: "Correlation", dep: noDependency, attrs: []xattr{
				{"ActivityID", opt(subActivityID, typeGUID)},
				{"RelatedActivityID", opt(subRelatedActivityID, typeGUID)},
			}}),
			elemNode(&xelem{name: "Execution", dep: noDependency, attrs: []xattr{
				{"ProcessID", opt(subProcessID, typeUInt32)},
				{"ThreadID", opt(subThreadID, typeUInt32)},
			}}),
			el("Channel", noDependency, text(ev.Channel)...),
			el("Computer", noDependency, text(ev.Computer)...),
			elemNode(&xelem{name: "Security", dep: noDependency,
				attrs: []xattr{{"UserID", opt(subUserID, typeSID)}}}),
		}}
		return &xelem{name: "Event", dep: noDependency,
			attrs:   []xattr{{"xmlns", textNode(eventNamespace)}},
			content: []xnode{elemNode(system), opt(subEventData, typeBinXML)},
		}
	})
}

// dataTemplate is the EventData template for ev's shape and its values.
// When there is binary data Windows stores its length as an extra value
// just before it, and so does this.
func (b *fileBuilder) dataTemplate(ev *evtx.Event) (*template, []value, error) {
	var values []value
	var content []xnode
	var key strings.Builder
	key.WriteString("eventdata")

	classicArray := !b.opts.ClassicDataElements && len(ev.Data) > 0
	for _, d := range ev.Data {
		if d.Name != "" {
			classicArray = false
		}
	}
	if classicArray {
		ss := make([]string, len(ev.Data))
		for i, d := range ev.Data {
			ss[i] = d.Value
		}
		v, err := stringArrayValue(ss)
		if err != nil {
			return nil, nil, err
		}
		values = append(values, v)
		content = append(content, elemNode(&xelem{name: "Data", dep: 0,
			content: []xnode{subNode(true, 0, typeStringArray)}}))
		key.WriteString("\x00array")
	} else {
		for i, d := range ev.Data {
			v, err := stringValue(d.Value)
			if err != nil {
				return nil, nil, fmt.Errorf("data %d (%q): %w", i, d.Name, err)
			}
			values = append(values, v)
			e := &xelem{name: "Data", dep: noDependency, content: []xnode{subNode(false, uint16(i), typeString)}}
			if d.Name != "" {
				e.attrs = []xattr{{"Name", textNode(d.Name)}}
			}
			content = append(content, elemNode(e))
			key.WriteString("\x00=" + d.Name)
		}
	}
	if len(ev.Binary) > 0 {
		v, err := binaryValue(ev.Binary)
		if err != nil {
			return nil, nil, err
		}
		values = append(values, u32Value(uint32(len(ev.Binary))), v)
		content = append(content, elemNode(&xelem{name: "Binary", dep: noDependency,
			content: []xnode{subNode(false, uint16(len(values)-1), typeBinary)}}))
		key.WriteString("\x00binary")
	}
	t := b.template(key.String(), func() *xelem {
		return &xelem{name: "EventData", dep: noDependency, content: content}
	})
	return t, values, nil
}
