package evtx

// The .evtx reader. This is the only file that imports golang-evtx; it keeps
// the library on a short leash:
//
//   - We walk the file ourselves, 64 KiB chunk by chunk after the 4 KiB file
//     header, by file size. The header's chunk count is stale in dirty files
//     (2-vss_7-System.evtx holds 1160 records, the header-driven walk finds
//     1155), and a bad chunk must not hide the ones after it.
//   - We read each chunk into our own buffer and decode record headers
//     ourselves, so a damaged record costs that record only: the walk
//     resynchronises on the next record signature.
//   - Only the BinXML decoding of one record is handed to the library
//     (goevtx.Parse), synchronously, under recover(), through a reader that
//     bounds how much it may read and how deep it may recurse, so that
//     crafted input can neither panic through nor run away with the stack or
//     the heap. The library's goroutine APIs (Events, FastEvents, Chunks...)
//     and its panicking accessors are never used, and its package-level
//     settings (ModeCarving, Debug, MaxJobs) are left alone.
//   - With a filter (Filter.MinRecordID or Keep), each record's header
//     fields are first read from its template values (fastheader.go), and
//     only the records the filter keeps are decoded; a caught-up reader
//     skips whole chunks after reading their header and last record.
//   - We build the event from the parsed template instance ourselves, in
//     document order. GoEvtxMap is a map, so it loses the order of unnamed
//     <Data> items (insertion strings %1, %2...), which rules depend on.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	goevtx "github.com/0xrawsec/golang-evtx/evtx"
)

// EVTX layout (MS-EVEN6 and libevtx's documentation of it).
const (
	evtxFileHeaderSize   = 4096
	evtxChunkSize        = 0x10000
	evtxChunkHeaderSize  = 512 // header proper (128) + string and template tables
	evtxRecordHeaderSize = 24
	evtxChunkPrefetch    = 4096 // see chunkBefore
	// The smallest record: header, a BinXML fragment header and token, and
	// the trailing copy of the size.
	evtxMinRecordSize = evtxRecordHeaderSize + 4
)

var (
	evtxFileMagic   = []byte("ElfFile\x00")
	evtxChunkMagic  = []byte("ElfChnk\x00")
	evtxRecordMagic = []byte("**\x00\x00")
)

// Limits on what decoding one record may cost. A record is at most a chunk
// (64 KiB) and the templates it uses live in the same chunk, so real records
// read far less than evtxMaxRecordRead (at most 42 KB, 21,000 reads, in the
// public corpus: PowerShell script blocks); crafted input that loops through
// template references hits the limit instead of exhausting memory or the
// stack.
const (
	evtxMaxRecordRead  = 1 << 20
	evtxMaxParseFrames = 512 // call depth while goevtx.Parse runs
	evtxMaxTreeDepth   = 128 // XML element nesting we build
)

// errEVTXBudget and errEVTXDepth are panicked by evtxChunkReader to abort a
// runaway parse from inside the library; decodeRecord recovers them.
var (
	errEVTXBudget = errors.New("record decoding exceeded its read budget (looping BinXML)")
	errEVTXDepth  = errors.New("record decoding nested too deep (recursive BinXML)")
)

type evtxReader struct {
	ra     io.ReaderAt
	closer io.Closer
	path   string
	filter Filter
	size   int64

	nextChunk int64 // file offset of the next chunk to load
	chunk     *evtxChunk
	buf       []byte // chunk buffer, reused for every chunk

	pcs      []uintptr // scratch for the depth check
	problems problemLog
	closed   bool

	// collect, set on a parallel worker's reader, keeps each problem in
	// pending instead, unbounded: the worker hands a chunk's problems to
	// the caller, which logs them in file order like the sequential walk.
	collect bool
	pending []Problem

	// headerChunks is the file header's chunk count (0 when the header is
	// missing or not an EVTX header); headerCRCOK says its CRC matched.
	// finished is set once the end of the file has been checked against
	// them (finishFile).
	headerChunks int
	headerCRCOK  bool
	finished     bool

	// ids says whether record header IDs equal the EventRecordID inside
	// the records, which decides whether MinRecordID may be applied before
	// decoding. They differ in exported subsets ("Save Filtered Log File
	// As" renumbers the headers from 1 and keeps the EventRecordIDs).
	ids evtxIDMode

	// fast reads record headers from template values without decoding
	// (fastheader.go); nil when there is no filter, as every record is
	// decoded anyway. view is the current chunk for it.
	fast *fastState
	view evtxView

	decoded  int // records handed to the BinXML decoder (tests check filtering)
	fastRead int // records whose header the fast path read
}

type evtxIDMode uint8

const (
	evtxIDsUnknown evtxIDMode = iota
	evtxIDsAgree
	evtxIDsDiffer
)

// evtxChunk is the chunk being read.
type evtxChunk struct {
	off   int64 // file offset
	data  []byte
	avail int // bytes present in the file (less than a chunk when truncated)

	firstID, lastID uint64 // from the chunk header, trusted only if headerOK
	headerOK        bool   // header CRC matches

	pos       int  // next record offset within the chunk
	end       int  // where records stop
	strict    bool // end came from a trusted header: damage before it is reported
	truncated bool // the file ends before end

	lib   goevtx.Chunk       // carries the template cache for goevtx.Parse
	good  map[int32]struct{} // template cache entries from successful records
	names map[int32]string   // see evtxTreeBuilder
	trees map[goevtx.Element]*goevtx.Node
	prev  uint64 // last record header ID seen, to count losses
	seen  bool   // prev is set
}

type evtxRecordHeaderInfo struct {
	size uint32
	id   uint64
	time time.Time
}

func openEVTX(f *os.File, path string, opts Options) (Reader, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	return newEVTXReader(f, st.Size(), f, path, opts)
}

// newEVTXReader reads size bytes of EVTX from ra; Close closes closer.
func newEVTXReader(ra io.ReaderAt, size int64, closer io.Closer, path string, opts Options) (*evtxReader, error) {
	r := &evtxReader{
		ra:        ra,
		closer:    closer,
		path:      path,
		filter:    opts.Filter,
		size:      size,
		nextChunk: evtxFileHeaderSize,
		buf:       make([]byte, evtxChunkSize),
		pcs:       make([]uintptr, evtxMaxParseFrames),
	}
	if opts.Filter.MinRecordID > 0 || opts.Filter.Keep != nil {
		r.fast = newFastState()
	}
	if err := r.checkFileHeader(); err != nil {
		return nil, err
	}
	return r, nil
}

// checkFileHeader looks at the file header only to report what is wrong
// with it. Its chunk count, next record ID, CRC and dirty flag are all
// ignored for reading: dirty headers are the norm in logs copied from a live
// system, and the chunks themselves say what they hold. The chunk count is
// kept for finishFile, which tells a truncated copy by it.
func (r *evtxReader) checkFileHeader() error {
	head := r.buf[:evtxFileHeaderSize]
	n, err := r.ra.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read %s: %w", r.path, err)
	}
	switch {
	case n < len(evtxFileMagic) || !bytes.Equal(head[:len(evtxFileMagic)], evtxFileMagic):
		r.problem(Problem{Offset: 0, ChunkOffset: -1, Err: errors.New("not an EVTX file header (bad signature); reading chunks anyway")})
	case n < evtxFileHeaderSize:
		r.problem(Problem{Offset: 0, ChunkOffset: -1, Err: fmt.Errorf("file ends inside its header (%d bytes)", n)})
	default:
		le := binary.LittleEndian
		r.headerChunks = int(le.Uint16(head[42:]))
		r.headerCRCOK = crc32.ChecksumIEEE(head[:120]) == le.Uint32(head[124:])
	}
	return nil
}

// finishFile reports, once the walk has reached the end of the file, a
// copy that holds fewer chunks than its file header counts: a copy cut at
// a chunk boundary (or right after the header) leaves no partial chunk to
// stumble on, so nothing else would say that records are missing. A stale
// header (a dirty log copied while in use) only ever counts too few
// chunks, so more chunks than it says are normal and go unreported. A
// chunk cut short is counted as held: finishChunk has reported what it
// lost.
func (r *evtxReader) finishFile() {
	if r.finished {
		return
	}
	r.finished = true
	held := 0
	if r.size > evtxFileHeaderSize {
		held = int((r.size - evtxFileHeaderSize + evtxChunkSize - 1) / evtxChunkSize)
	}
	if r.headerChunks <= held {
		return
	}
	says := "the file header says"
	if !r.headerCRCOK {
		says = "the file header (whose CRC does not match) says"
	}
	cut := ""
	if held > 0 && (r.size-evtxFileHeaderSize)%evtxChunkSize != 0 {
		cut = ", the last one cut short"
	}
	r.problem(Problem{Offset: r.size, ChunkOffset: -1, Err: fmt.Errorf(
		"the copy looks truncated: %s %d chunks, the file holds %d%s; the records of the other %d are missing",
		says, r.headerChunks, held, cut, r.headerChunks-held)})
}

func (r *evtxReader) Format() Format { return FormatEVTX }

func (r *evtxReader) Problems() []Problem { return r.problems.all() }

func (r *evtxReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.chunk = nil
	if r.closer == nil {
		return nil
	}
	return r.closer.Close()
}

func (r *evtxReader) problem(p Problem) {
	p.Path = r.path
	if r.collect {
		r.pending = append(r.pending, p)
		return
	}
	r.problems.add(p)
}

// Next returns the next record in file order.
func (r *evtxReader) Next(ctx context.Context) (*Event, error) {
	if r.closed {
		return nil, fmt.Errorf("read %s: %w", r.path, fs.ErrClosed)
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if r.chunk == nil {
			more, err := r.loadChunk()
			if err != nil {
				return nil, err
			}
			if !more {
				r.finishFile()
				return nil, io.EOF
			}
			continue
		}
		ev, done := r.nextRecord(r.chunk)
		if done {
			r.chunk = nil
		}
		if ev != nil {
			return ev, nil
		}
	}
}

// loadChunk reads the next chunk into r.chunk, or leaves r.chunk nil when the
// chunk is empty, damaged beyond use or filtered out (it then returns true so
// Next goes on with the following one). It returns false at end of file.
func (r *evtxReader) loadChunk() (bool, error) {
	off := r.nextChunk
	if off >= r.size {
		return false, nil
	}
	r.nextChunk += evtxChunkSize
	if r.fast != nil {
		clear(r.fast.layouts)
		if r.filter.MinRecordID > 0 && r.chunkBefore(off) {
			return true, nil
		}
	}

	data := r.buf
	n, err := r.ra.ReadAt(data, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read %s at offset %d: %w", r.path, off, err)
	}
	clear(data[n:])
	if !bytes.Equal(data[:len(evtxChunkMagic)], evtxChunkMagic) {
		if !evtxAllZero(data[:n]) {
			// Not a chunk and not unused space: whatever records it held are
			// lost, and nothing in it says how many.
			r.problem(Problem{Offset: off, ChunkOffset: off, Err: fmt.Errorf("bad chunk signature %q: chunk skipped", evtxPrintable(data[:8]))})
		}
		return true, nil
	}
	if n < evtxChunkHeaderSize {
		r.problem(Problem{Offset: off, ChunkOffset: off, Err: fmt.Errorf("file ends inside a chunk header (%d bytes): chunk skipped", n)})
		return true, nil
	}

	le := binary.LittleEndian
	c := &evtxChunk{
		off:      off,
		data:     data,
		avail:    n,
		firstID:  le.Uint64(data[24:]),
		lastID:   le.Uint64(data[32:]),
		headerOK: evtxChunkHeaderCRC(data) == le.Uint32(data[124:]),
		pos:      evtxChunkHeaderSize,
	}
	// Records end at the free-space offset. It is used whenever it is sane,
	// even if the header CRC is not (as libevtx and python-evtx do): past it
	// lie zeros or stale records of an earlier use of the chunk, which
	// would only resurface deleted events. Without a sane offset, the end
	// of the last record will do; without that, read records until the
	// first slot that holds none.
	free, last := int(le.Uint32(data[48:])), int(le.Uint32(data[44:]))
	switch {
	case free >= evtxChunkHeaderSize && free <= evtxChunkSize:
		c.end, c.strict = free, true
	case last >= evtxChunkHeaderSize && last < n:
		if h, ok := evtxRecordHeader(data[last:n]); ok {
			c.end, c.strict = last+int(h.size), true
			break
		}
		fallthrough
	default:
		c.end = evtxChunkSize
	}
	if n < evtxChunkSize {
		// The file ends inside this chunk. Records before the cut are
		// still read; finishChunk reports the cut when it lost any.
		c.truncated = !c.strict || c.end > n
		c.end = min(c.end, n)
	}
	if c.headerOK {
		c.prev, c.seen = c.firstID-1, c.firstID > 0
	}
	c.lib = goevtx.NewChunk()
	c.lib.Offset = off
	c.lib.Data = data[:n]
	c.good = make(map[int32]struct{})
	c.names = make(map[int32]string)
	c.trees = make(map[goevtx.Element]*goevtx.Node)
	r.view = evtxView{b: data, avail: n, loaded: evtxAllLoaded}
	r.chunk = c
	return true, nil
}

// chunkBefore reports whether every record of the chunk at off precedes
// MinRecordID, reading only the chunk header and the last record (and the
// pages its template and names live in): a caught-up scan of a large log
// then reads a few KiB per chunk instead of 64.
//
// Record IDs are the EventRecordIDs inside the records, as for the records
// themselves: record headers may be renumbered ("Save Filtered Log File
// As", logs assembled from other logs' chunks). The chunk's records are
// taken to be in ascending order, as the event log service writes them, so
// the last one has the highest ID. Anything uncertain (header CRC, the
// last record's offset, its template) and the chunk is read record by
// record instead.
func (r *evtxReader) chunkBefore(off int64) bool {
	le := binary.LittleEndian
	v := &r.view
	*v = evtxView{b: r.buf, avail: int(min(evtxChunkSize, r.size-off)), ra: r.ra, off: off}
	// The names and templates most records use are defined by the first
	// records: one read for them and the header.
	v.at(0, min(v.avail, evtxChunkPrefetch))
	head := v.at(0, evtxChunkHeaderSize)
	if head == nil || !bytes.Equal(head[:len(evtxChunkMagic)], evtxChunkMagic) || evtxChunkHeaderCRC(head) != le.Uint32(head[124:]) {
		return false
	}
	first, last := le.Uint64(head[24:]), le.Uint64(head[32:])
	lastOff, free := int(le.Uint32(head[44:])), int(le.Uint32(head[48:]))
	if last < first || lastOff < evtxChunkHeaderSize {
		return false
	}
	rh := v.at(lastOff, evtxRecordHeaderSize)
	if rh == nil {
		return false
	}
	h, ok := evtxRecordHeader(v.at(lastOff, int(le.Uint32(rh[4:]))))
	if !ok {
		return false
	}
	// Records written after the header was last updated (a log copied
	// while in use) would lie past the last one it names.
	next := lastOff + int(h.size)
	if free > next {
		return false
	}
	if sig := v.at(next, len(evtxRecordMagic)); sig != nil && bytes.Equal(sig, evtxRecordMagic) {
		return false
	}
	hdr, ok := r.fast.fastHeader(v, lastOff, h)
	if ok {
		r.fastRead++
	}
	return ok && hdr.RecordID < r.filter.MinRecordID
}

func (r *evtxReader) noteIDs(header, event uint64) {
	switch {
	case header != event:
		r.ids = evtxIDsDiffer // for good: one renumbered record is enough
	case r.ids == evtxIDsUnknown:
		r.ids = evtxIDsAgree
	}
}

// nextRecord decodes records of c until one is to be returned. done reports
// that the chunk has no more records (then ev is nil).
func (r *evtxReader) nextRecord(c *evtxChunk) (ev *Event, done bool) {
	for c.pos+evtxRecordHeaderSize <= c.end {
		pos := c.pos
		h, ok := evtxRecordHeader(c.data[pos:c.avail])
		if !ok {
			r.damage(c, pos)
			continue
		}
		c.pos = pos + int(h.size)
		c.prev, c.seen = h.id, true
		// The cheap questions first: the fast path reads provider,
		// EventID, record ID and time from the template values.
		fast := false
		if r.fast != nil {
			if fh, ok := r.fast.fastHeader(&r.view, pos, h); ok {
				fast = true
				r.fastRead++
				r.noteIDs(h.id, fh.RecordID)
				if !r.filter.passRecordID(fh.RecordID) || !r.filter.keep(fh) {
					continue
				}
			}
		}
		// Without it, the record header still gives the record ID when
		// header IDs are known to be the EventRecordIDs.
		if !fast && r.ids == evtxIDsAgree {
			if !r.filter.passRecordID(h.id) || !r.filter.keep(Header{RecordID: h.id}) {
				continue
			}
		}
		ev, err := r.decodeRecord(c, pos, h)
		if err != nil {
			r.problem(Problem{Offset: ev.Origin.Offset, ChunkOffset: c.off, RecordID: h.id, Err: fmt.Errorf("record not decoded: %w", err)})
		} else {
			r.noteIDs(h.id, ev.RecordID)
		}
		if !r.filter.passRecordID(ev.RecordID) {
			continue
		}
		hdr := Header{RecordID: ev.RecordID, Time: ev.Time}
		if err == nil {
			hdr = Header{
				Provider: ev.Provider, Source: ev.Source, EventID: ev.EventID,
				RecordID: ev.RecordID, Time: ev.Time, Channel: ev.Channel,
			}
		}
		if !r.filter.keep(hdr) {
			continue
		}
		return ev, false
	}
	r.finishChunk(c)
	return nil, true
}

// damage handles a record slot at pos that holds no valid record header:
// the end of the records when the rest is unused, otherwise lost data, after
// which the walk resumes at the next valid record header.
func (r *evtxReader) damage(c *evtxChunk, pos int) {
	if !c.strict && evtxAllZero(c.data[pos:c.end]) {
		c.pos = c.end
		return
	}
	next := evtxResync(c.data[:c.avail], pos+1, c.end)
	p := Problem{Offset: c.off + int64(pos), ChunkOffset: c.off, Err: errors.New("no valid record header: data skipped")}
	if next < 0 {
		c.pos = c.end
		if c.truncated {
			return // finishChunk reports the cut
		}
		if c.strict && c.headerOK && c.seen && c.lastID > c.prev && c.lastID-c.prev < evtxChunkSize {
			p.Skipped = int(c.lastID - c.prev)
			c.prev = c.lastID
		}
		if !c.strict {
			p.Err = errors.New("unreadable data after the last record")
		}
	} else {
		c.pos = next
		id := binary.LittleEndian.Uint64(c.data[next+8:])
		if c.seen && id > c.prev && id-c.prev-1 < evtxChunkSize {
			p.Skipped = int(id - c.prev - 1)
		}
	}
	r.problem(p)
}

// finishChunk reports records the chunk header promises but the walk did
// not find (file cut inside the chunk, or damage at its end).
func (r *evtxReader) finishChunk(c *evtxChunk) {
	if c.truncated {
		p := Problem{Offset: c.off + int64(c.avail), ChunkOffset: c.off, Err: fmt.Errorf("file ends inside a chunk (%d of %d bytes)", c.avail, evtxChunkSize)}
		if c.strict && c.seen && c.lastID > c.prev && c.lastID-c.prev < evtxChunkSize {
			p.Skipped = int(c.lastID - c.prev)
		}
		r.problem(p)
	}
}

// evtxRecordHeader decodes the record header at the start of b.
func evtxRecordHeader(b []byte) (evtxRecordHeaderInfo, bool) {
	if len(b) < evtxRecordHeaderSize || !bytes.Equal(b[:4], evtxRecordMagic) {
		return evtxRecordHeaderInfo{}, false
	}
	le := binary.LittleEndian
	h := evtxRecordHeaderInfo{size: le.Uint32(b[4:]), id: le.Uint64(b[8:]), time: evtxFiletime(le.Uint64(b[16:]))}
	if h.size < evtxMinRecordSize || uint64(h.size) > uint64(len(b)) {
		return h, false
	}
	return h, true
}

// evtxResync finds the next offset in [from, end) that starts a plausible
// record: signature, a size that fits, and the trailing copy of that size.
func evtxResync(b []byte, from, end int) int {
	for from+evtxRecordHeaderSize <= end {
		i := bytes.Index(b[from:end], evtxRecordMagic)
		if i < 0 {
			return -1
		}
		pos := from + i
		if h, ok := evtxRecordHeader(b[pos:]); ok && binary.LittleEndian.Uint32(b[pos+int(h.size)-4:]) == h.size {
			return pos
		}
		from = pos + 1
	}
	return -1
}

// decodeRecord decodes the record at pos of c, whose header is h. It always
// returns an event: when the BinXML cannot be decoded, one with what the
// record header gives (record ID, time) and Err set, along with the error.
func (r *evtxReader) decodeRecord(c *evtxChunk, pos int, h evtxRecordHeaderInfo) (*Event, error) {
	ev := &Event{
		RecordID: h.id,
		Time:     h.time,
		Origin:   Origin{Path: r.path, Format: FormatEVTX, Offset: c.off + int64(pos)},
	}
	r.decoded++
	before := len(c.lib.TemplateTable)
	root, err := r.parseBinXML(c, pos+evtxRecordHeaderSize)
	if err == nil {
		err = evtxFillEvent(ev, root)
	}
	if err != nil {
		// Templates the failed parse put in the chunk's cache may be
		// half-read; drop them so later records parse them afresh.
		if len(c.lib.TemplateTable) != before {
			for k := range c.lib.TemplateTable {
				if _, ok := c.good[k]; !ok {
					delete(c.lib.TemplateTable, k)
				}
			}
		}
		*ev = Event{RecordID: h.id, Time: h.time, Origin: ev.Origin, Err: err.Error()}
		return ev, err
	}
	if len(c.lib.TemplateTable) != len(c.good) {
		for k := range c.lib.TemplateTable {
			c.good[k] = struct{}{}
		}
	}
	return ev, nil
}

// parseBinXML runs the library's BinXML parser on the record body at start
// and turns the result into an ordered element tree. Library panics become
// errors.
func (r *evtxReader) parseBinXML(c *evtxChunk, start int) (root *evtxNode, err error) {
	defer func() {
		if p := recover(); p != nil {
			switch p {
			case errEVTXBudget, errEVTXDepth:
				err = p.(error)
			default:
				err = fmt.Errorf("golang-evtx: %v", p)
			}
			root = nil
		}
	}()
	rd := &evtxChunkReader{b: c.lib.Data, off: int64(start), pcs: r.pcs}
	elt, perr := goevtx.Parse(rd, &c.lib, false)
	if perr != nil && !errors.Is(perr, io.EOF) {
		return nil, fmt.Errorf("golang-evtx: %v", perr)
	}
	frag, ok := elt.(*goevtx.Fragment)
	if !ok {
		return nil, fmt.Errorf("record does not start with a BinXML fragment (%T)", elt)
	}
	ti, ok := frag.BinXMLElement.(*goevtx.TemplateInstance)
	if !ok {
		return nil, fmt.Errorf("record holds no BinXML template instance (%T)", frag.BinXMLElement)
	}
	b := evtxTreeBuilder{data: c.lib.Data, names: c.names, trees: c.trees, top: ti}
	if offs := evtxValueOffsets(c.lib.Data, start, ti); offs != nil {
		b.values = map[*goevtx.TemplateInstance][]int{ti: offs}
	}
	root = &evtxNode{}
	b.instance(root, ti, 0)
	if b.err != nil {
		return nil, b.err
	}
	return root, nil
}

// evtxChunkReader is the io.ReadSeeker goevtx.Parse reads a chunk through.
// Besides bounding reads to the chunk, it stops a parse that reads too much
// or recurses too deep, which only crafted or corrupted data does: the
// library follows template offsets without cycle checks, and Go cannot
// recover from a stack overflow.
type evtxChunkReader struct {
	b     []byte
	off   int64
	read  int
	calls int
	pcs   []uintptr
}

func (r *evtxChunkReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.off >= int64(len(r.b)) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += int64(n)
	r.read += n
	if r.read > evtxMaxRecordRead {
		panic(errEVTXBudget)
	}
	r.calls++
	// A recursion level reads at least once, so checking every 1024 reads
	// bounds the overshoot to a few MB of stack, while keeping the cost of
	// walking the stack (runtime.Callers) out of the profile.
	if r.calls&1023 == 0 && runtime.Callers(0, r.pcs) == len(r.pcs) {
		panic(errEVTXDepth)
	}
	return n, nil
}

func (r *evtxChunkReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = int64(len(r.b)) + offset
	default:
		return 0, errors.New("seek: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("seek: negative position")
	}
	r.off = abs
	return abs, nil
}

// evtxNode is one XML element of a decoded record, children in document
// order.
type evtxNode struct {
	name  string
	attrs []evtxAttr
	text  string
	kids  []*evtxNode
}

type evtxAttr struct {
	name  string
	value string
	time  time.Time // set when the value was a FILETIME or SYSTEMTIME
}

func (n *evtxNode) child(name string) *evtxNode {
	for _, k := range n.kids {
		if k.name == name {
			return k
		}
	}
	return nil
}

func (n *evtxNode) attr(name string) (evtxAttr, bool) {
	for _, a := range n.attrs {
		if a.name == name {
			return a, true
		}
	}
	return evtxAttr{}, false
}

// evtxTreeBuilder resolves a template instance (the element tree of its
// definition plus its substitution values) into evtxNodes.
type evtxTreeBuilder struct {
	err error
	// The chunk, and the chunk offsets of the values of the template
	// instances evtxValueOffsets could locate: the record's own and those
	// embedded in its values.
	data   []byte
	values map[*goevtx.TemplateInstance][]int
	// Per-chunk caches: names by their chunk offset, and the element tree
	// of the record's template definition by its first element (the library
	// shares a cached definition's elements between the records that use
	// it; embedded templates are parsed afresh for each record, so caching
	// theirs would only hold on to memory).
	names map[int32]string
	trees map[goevtx.Element]*goevtx.Node
	top   *goevtx.TemplateInstance
}

func (b *evtxTreeBuilder) name(off int32, n *goevtx.Name) string {
	if s, ok := b.names[off]; ok {
		return s
	}
	s := n.String()
	b.names[off] = s
	return s
}

func (b *evtxTreeBuilder) root(ti *goevtx.TemplateInstance) *goevtx.Node {
	els := ti.Definition.Data.Elements
	if len(els) == 0 {
		return &goevtx.Node{}
	}
	if ti != b.top {
		n := ti.Root()
		return &n
	}
	if n, ok := b.trees[els[0]]; ok {
		return n
	}
	n := ti.Root()
	b.trees[els[0]] = &n
	return &n
}

// evtxValueOffsets locates the substitution values of a template instance
// starting at start (a record's BinXML, or an embedded BinXML value) in the
// chunk, so string arrays can be re-read with their empty
// strings (golang-evtx drops them, which would shift the positions of the
// insertion strings after them). The layout is: fragment header (4),
// template instance token and header (10), the template definition when it
// is inline (24-byte header + its size), the value count (4), one 4-byte
// descriptor per value, then the values back to back. nil when the bytes do
// not agree with what the library parsed.
func evtxValueOffsets(data []byte, start int, ti *goevtx.TemplateInstance) []int {
	le := binary.LittleEndian
	p := start + 4 + 10
	if p+4 > len(data) || data[start+4] != goevtx.TokenTemplateInstance {
		return nil
	}
	if int(le.Uint32(data[start+4+6:])) == p {
		if p+24 > len(data) {
			return nil
		}
		p += 24 + int(le.Uint32(data[p+20:]))
	}
	if p < 0 || p+4 > len(data) || int(le.Uint32(data[p:])) != len(ti.Data.ValDescs) {
		return nil
	}
	descs := p + 4
	off := descs + 4*len(ti.Data.ValDescs)
	offs := make([]int, len(ti.Data.ValDescs))
	for i, d := range ti.Data.ValDescs {
		if descs+4*i+2 > len(data) || le.Uint16(data[descs+4*i:]) != d.Size {
			return nil
		}
		offs[i] = off
		off += int(d.Size)
	}
	if off > len(data) {
		return nil
	}
	return offs
}

// stringArray returns the items of string array value i of ti, empty ones
// included when the raw bytes can be read.
func (b *evtxTreeBuilder) stringArray(ti *goevtx.TemplateInstance, i int, v *goevtx.ValueStringTable) []string {
	if offs := b.values[ti]; offs != nil {
		raw := b.data[offs[i] : offs[i]+int(ti.Data.ValDescs[i].Size)]
		return evtxSplitUTF16(raw)
	}
	ss, _ := v.Repr().([]string)
	return ss
}

// evtxSplitUTF16 splits NUL-terminated UTF-16LE strings, keeping empty ones.
func evtxSplitUTF16(raw []byte) []string {
	var out []string
	u := make([]uint16, 0, len(raw)/2)
	for i := 0; i+1 < len(raw); i += 2 {
		c := binary.LittleEndian.Uint16(raw[i:])
		if c == 0 {
			out = append(out, string(utf16.Decode(u)))
			u = u[:0]
			continue
		}
		u = append(u, c)
	}
	if len(u) > 0 {
		out = append(out, string(utf16.Decode(u)))
	}
	return out
}

// arrayItems returns the items of an array value when n's only content is
// a substitution of one: Windows renders such an element once per item,
// which is how classic events store their insertion strings
// (<Data>%1</Data> with a string array gives <Data>a</Data><Data>b</Data>).
// An empty array still gives one empty element. An optional substitution
// without a value gives no element at all, whatever its type. (These are
// libevtx's rules, checked against every record of the public corpus.)
func (b *evtxTreeBuilder) arrayItems(ti *goevtx.TemplateInstance, n *goevtx.Node) ([]string, bool) {
	if len(n.Element) != 1 || len(n.Child) != 0 {
		return nil, false
	}
	var sub *goevtx.NormalSubstitution
	switch e := n.Element[0].(type) {
	case *goevtx.NormalSubstitution:
		sub = e
	case *goevtx.OptionalSubstitution:
		sub = &e.NormalSubstitution
	default:
		return nil, false
	}
	id := int(sub.SubID)
	if id < 0 || id >= len(ti.Data.Values) {
		return nil, false
	}
	var items []string
	switch v := ti.Data.Values[id].(type) {
	case *goevtx.ValueNull:
		if _, optional := n.Element[0].(*goevtx.OptionalSubstitution); optional {
			return nil, true
		}
		return nil, false
	case *goevtx.ValueStringTable:
		items = b.stringArray(ti, id, v)
	case *goevtx.ValueArrayUInt16:
		a, _ := v.Value().([]uint16)
		for _, x := range a {
			items = append(items, strconv.FormatUint(uint64(x), 10))
		}
	case *goevtx.ValueArrayUInt64:
		a, _ := v.Value().([]uint64)
		for _, x := range a {
			items = append(items, strconv.FormatUint(x, 10))
		}
	default:
		return nil, false
	}
	if len(items) == 0 {
		items = []string{""}
	}
	return items, true
}

func (b *evtxTreeBuilder) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf(format, args...)
	}
}

// instance appends the top-level elements of ti to parent.
func (b *evtxTreeBuilder) instance(parent *evtxNode, ti *goevtx.TemplateInstance, depth int) {
	if b.err != nil {
		return
	}
	if depth >= evtxMaxTreeDepth {
		b.fail("XML nested deeper than %d elements", evtxMaxTreeDepth)
		return
	}
	root := b.root(ti)
	var text strings.Builder // text outside any element: not XML, dropped
	for _, e := range root.Element {
		b.content(parent, &text, ti, e, depth)
	}
	for _, n := range root.Child {
		b.element(parent, ti, n, depth)
	}
}

func (b *evtxTreeBuilder) element(parent *evtxNode, ti *goevtx.TemplateInstance, n *goevtx.Node, depth int) {
	if b.err != nil {
		return
	}
	if depth >= evtxMaxTreeDepth {
		b.fail("XML nested deeper than %d elements", evtxMaxTreeDepth)
		return
	}
	if n.Start == nil {
		b.fail("element without a start tag")
		return
	}
	x := &evtxNode{name: b.name(n.Start.NameOffset, &n.Start.Name)}
	for i := range n.Start.AttributeList.Attributes {
		a := &n.Start.AttributeList.Attributes[i]
		v, t, present := b.attrValue(ti, a.AttributeData)
		if present {
			x.attrs = append(x.attrs, evtxAttr{name: b.name(a.NameOffset, &a.Name), value: v, time: t})
		}
	}
	if items, ok := b.arrayItems(ti, n); ok {
		for _, it := range items {
			y := *x
			y.text = it
			parent.kids = append(parent.kids, &y)
		}
		return
	}
	var text strings.Builder
	for _, e := range n.Element {
		b.content(x, &text, ti, e, depth+1)
	}
	x.text = text.String()
	for _, k := range n.Child {
		b.element(x, ti, k, depth+1)
	}
	parent.kids = append(parent.kids, x)
}

// content adds one item of element content to x: text to text, elements
// (from embedded BinXML) to x's children.
func (b *evtxTreeBuilder) content(x *evtxNode, text *strings.Builder, ti *goevtx.TemplateInstance, e goevtx.Element, depth int) {
	if b.err != nil {
		return
	}
	switch e := e.(type) {
	case *goevtx.NormalSubstitution:
		b.substitution(x, text, ti, int(e.SubID), depth)
	case *goevtx.OptionalSubstitution:
		b.substitution(x, text, ti, int(e.SubID), depth)
	case *goevtx.Fragment:
		b.fragment(x, e, depth)
	case *goevtx.TemplateInstance:
		b.instance(x, e, depth+1)
	case *goevtx.ValueText:
		text.WriteString(evtxUTF16ToString(e.Value.String))
	case *goevtx.CharEntityRef:
		text.WriteRune(rune(uint16(e.Value)))
	case *goevtx.BinXMLEntityReference:
		text.WriteString(e.String())
	case goevtx.Value:
		s, _ := evtxValueString(e)
		text.WriteString(s)
	case goevtx.EmptyElement, *goevtx.BinXMLEOF:
	default:
		b.fail("unexpected %T in element content", e)
	}
}

func (b *evtxTreeBuilder) fragment(x *evtxNode, f *goevtx.Fragment, depth int) {
	ti, ok := f.BinXMLElement.(*goevtx.TemplateInstance)
	if !ok {
		b.fail("embedded BinXML without a template instance (%T)", f.BinXMLElement)
		return
	}
	b.instance(x, ti, depth+1)
}

func (b *evtxTreeBuilder) substitution(x *evtxNode, text *strings.Builder, ti *goevtx.TemplateInstance, id, depth int) {
	if id < 0 || id >= len(ti.Data.Values) {
		b.fail("substitution %d out of range (%d values)", id, len(ti.Data.Values))
		return
	}
	switch v := ti.Data.Values[id].(type) {
	case *goevtx.Fragment:
		// Embedded BinXML (UserData, the EventData of classic events): its
		// elements become children of x.
		if inner, ok := v.BinXMLElement.(*goevtx.TemplateInstance); ok {
			if offs := b.values[ti]; offs != nil {
				if in := evtxValueOffsets(b.data, offs[id], inner); in != nil {
					b.values[inner] = in
				}
			}
		}
		b.fragment(x, v, depth)
	case *goevtx.TemplateInstance:
		b.instance(x, v, depth+1)
	case goevtx.Value:
		s, _ := evtxValueString(v)
		text.WriteString(s)
	case nil, goevtx.EmptyElement:
		// A value the library could not parse: leave the content empty.
	default:
		b.fail("unexpected substitution value %T", v)
	}
}

// attrValue renders an attribute's value. present is false for an optional
// substitution whose value is null, which Windows leaves out.
func (b *evtxTreeBuilder) attrValue(ti *goevtx.TemplateInstance, e goevtx.Element) (s string, t time.Time, present bool) {
	var sub int
	switch e := e.(type) {
	case *goevtx.ValueText:
		return evtxUTF16ToString(e.Value.String), time.Time{}, true
	case *goevtx.NormalSubstitution:
		sub = int(e.SubID)
	case *goevtx.OptionalSubstitution:
		sub = int(e.SubID)
	case *goevtx.CharEntityRef:
		return string(rune(uint16(e.Value))), time.Time{}, true
	case *goevtx.BinXMLEntityReference:
		return e.String(), time.Time{}, true
	case goevtx.Value:
		s, t := evtxValueString(e)
		return s, t, true
	default:
		return "", time.Time{}, false
	}
	if sub < 0 || sub >= len(ti.Data.Values) {
		b.fail("substitution %d out of range (%d values)", sub, len(ti.Data.Values))
		return "", time.Time{}, false
	}
	v, ok := ti.Data.Values[sub].(goevtx.Value)
	if !ok {
		return "", time.Time{}, false
	}
	if _, null := v.(*goevtx.ValueNull); null {
		return "", time.Time{}, false
	}
	s, t = evtxValueString(v)
	return s, t, true
}

// evtxValueString renders a BinXML value as Windows renders it in event XML.
// t is set for time values.
func evtxValueString(v goevtx.Value) (s string, t time.Time) {
	switch v := v.(type) {
	case *goevtx.ValueNull:
		return "", time.Time{}
	case *goevtx.ValueString:
		if u, ok := v.Value().(goevtx.UTF16String); ok {
			return evtxUTF16ToString(u), time.Time{}
		}
		return v.String(), time.Time{}
	case *goevtx.AnsiString:
		return strings.TrimRight(evtxLatin1(v.Value()), "\x00"), time.Time{}
	case *goevtx.ValueGUID:
		if g, ok := v.Value().(goevtx.GUID); ok {
			return "{" + evtxGUIDString(g) + "}", time.Time{}
		}
		return "{" + v.String() + "}", time.Time{}
	case *goevtx.ValueBinary:
		b, _ := v.Value().([]byte)
		return strings.ToUpper(hex.EncodeToString(b)), time.Time{}
	case *goevtx.ValueBool:
		if i, ok := v.ValueInt32.Value().(int32); ok && i != 0 {
			return "true", time.Time{}
		}
		return "false", time.Time{}
	// Never call Value() on the hex types: golang-evtx v1.2.9 defines it as
	// calling itself (unbounded recursion, a fatal stack overflow).
	case *goevtx.ValueHexInt32:
		if u, ok := v.ValueUInt32.Value().(uint32); ok {
			return "0x" + strconv.FormatUint(uint64(u), 16), time.Time{}
		}
	case *goevtx.ValueHexInt64:
		if u, ok := v.ValueUInt64.Value().(uint64); ok {
			return "0x" + strconv.FormatUint(u, 16), time.Time{}
		}
	case *goevtx.ValueFileTime, *goevtx.ValueSysTime:
		var tm time.Time
		switch x := v.Repr().(type) {
		case goevtx.UTCTime:
			tm = time.Time(x).UTC()
		case time.Time:
			tm = x.UTC()
		}
		return tm.Format(time.RFC3339Nano), tm
	case *goevtx.ValueStringTable:
		if ss, ok := v.Repr().([]string); ok {
			return strings.Join(ss, ", "), time.Time{}
		}
	}
	// The library's Repr formats numbers, GUIDs and SIDs with fmt, which is
	// most of the cost of rendering them; the same text, cheaper.
	if s, ok := evtxFastValueString(v); ok {
		return s, time.Time{}
	}
	switch x := v.Repr().(type) {
	case string:
		return x, time.Time{}
	case []byte:
		return evtxLatin1(x), time.Time{}
	default:
		return fmt.Sprint(x), time.Time{}
	}
}

// evtxLatin1 turns 8-bit text into UTF-8: valid UTF-8 is kept, anything else
// is read as Latin-1, a safe approximation of the writer's ANSI code page.
func evtxLatin1(v any) string {
	b, _ := v.([]byte)
	if utf8.Valid(b) {
		return string(b)
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// evtxFillEvent maps the decoded <Event> element onto ev.
func evtxFillEvent(ev *Event, root *evtxNode) error {
	e := root.child("Event")
	if e == nil {
		if len(root.kids) == 0 {
			return errors.New("record holds no XML element")
		}
		return fmt.Errorf("record holds <%s>, not <Event>", root.kids[0].name)
	}
	sys := e.child("System")
	if sys == nil {
		return errors.New("event has no <System> element")
	}
	for _, k := range sys.kids {
		switch k.name {
		case "Provider":
			if a, ok := k.attr("Name"); ok {
				ev.Provider = a.value
			}
			if a, ok := k.attr("Guid"); ok {
				ev.ProviderGUID = a.value
			}
			if a, ok := k.attr("EventSourceName"); ok && !strings.EqualFold(a.value, ev.Provider) {
				ev.Source = a.value
			}
		case "EventID":
			if id, ok := evtxUint(k.text, 32); ok {
				ev.EventID = uint16(id)
				ev.Qualifiers = uint16(id >> 16)
			}
			if a, ok := k.attr("Qualifiers"); ok {
				if q, ok := evtxUint(a.value, 16); ok {
					ev.Qualifiers = uint16(q)
				}
			}
		case "Version":
			if v, ok := evtxUint(k.text, 8); ok {
				ev.Version = uint8(v)
			}
		case "Level":
			if v, ok := evtxUint(k.text, 8); ok {
				ev.Level = Level(v)
			}
		case "Task":
			if v, ok := evtxUint(k.text, 16); ok {
				ev.Task = uint16(v)
			}
		case "Opcode":
			if v, ok := evtxUint(k.text, 8); ok {
				ev.Opcode = uint8(v)
			}
		case "Keywords":
			if v, ok := evtxUint(k.text, 64); ok {
				ev.Keywords = v
			}
		case "TimeCreated":
			if a, ok := k.attr("SystemTime"); ok {
				if !a.time.IsZero() {
					ev.Time = a.time
				} else if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(a.value)); err == nil {
					ev.Time = t.UTC()
				}
			}
		case "EventRecordID":
			// Some providers write 0 (debug channels); the header's ID is
			// then the better name for the record.
			if v, ok := evtxUint(k.text, 64); ok && v != 0 {
				ev.RecordID = v
			}
		case "Execution":
			if a, ok := k.attr("ProcessID"); ok {
				if v, ok := evtxUint(a.value, 32); ok {
					ev.ProcessID = uint32(v)
				}
			}
			if a, ok := k.attr("ThreadID"); ok {
				if v, ok := evtxUint(a.value, 32); ok {
					ev.ThreadID = uint32(v)
				}
			}
		case "Correlation":
			if a, ok := k.attr("ActivityID"); ok {
				ev.ActivityID = a.value
			}
			if a, ok := k.attr("RelatedActivityID"); ok {
				ev.RelatedActivityID = a.value
			}
		case "Channel":
			ev.Channel = k.text
		case "Computer":
			ev.Computer = k.text
		case "Security":
			if a, ok := k.attr("UserID"); ok {
				ev.UserSID = a.value
			}
		}
	}
	for _, k := range e.kids {
		switch k.name {
		case "EventData":
			for _, d := range k.kids {
				switch d.name {
				case "Data":
					item := Data{Value: d.text}
					if a, ok := d.attr("Name"); ok {
						item.Name = a.value
					}
					ev.Data = append(ev.Data, item)
				case "Binary":
					ev.Binary = evtxHexBytes(d.text)
				default:
					ev.Data = evtxFlatten(ev.Data, d)
				}
			}
		case "UserData", "ProcessingErrorData", "DebugData":
			for _, d := range k.kids {
				ev.Data = evtxFlatten(ev.Data, d)
			}
		case "BinaryEventData":
			ev.Binary = evtxHexBytes(k.text)
		case "RenderingInfo":
			if m := k.child("Message"); m != nil {
				ev.Message = m.text
			}
		}
	}
	return nil
}

// evtxFlatten appends the leaf elements under n as named data, in document
// order: <EventXML><Param1>a</Param1><Param2>b</Param2></EventXML> gives
// Param1=a, Param2=b.
func evtxFlatten(data []Data, n *evtxNode) []Data {
	if len(n.kids) == 0 {
		name := n.name
		if a, ok := n.attr("Name"); ok && name == "Data" {
			name = a.value
		}
		return append(data, Data{Name: name, Value: n.text})
	}
	for _, k := range n.kids {
		data = evtxFlatten(data, k)
	}
	return data
}

func evtxUint(s string, bits int) (uint64, bool) {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 0, bits)
	return v, err == nil
}

// evtxHexBytes decodes the hex text of a <Binary> element; nil when it is not
// hex.
func evtxHexBytes(s string) []byte {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) == 0 {
		return nil
	}
	return b
}

// evtxFiletime converts a Windows FILETIME (100 ns ticks since 1601) to UTC.
func evtxFiletime(ft uint64) time.Time {
	const unixEpoch = 116444736000000000 // 1970-01-01 in FILETIME ticks
	if ft == 0 || ft > 1<<63-1 {
		return time.Time{}
	}
	ticks := int64(ft) - unixEpoch
	return time.Unix(ticks/1e7, ticks%1e7*100).UTC()
}

// evtxChunkHeaderCRC is the CRC32 of the chunk header (bytes 0-120) and its
// string and template tables (128-512), as stored at offset 124.
func evtxChunkHeaderCRC(chunk []byte) uint32 {
	crc := crc32.ChecksumIEEE(chunk[:120])
	return crc32.Update(crc, crc32.IEEETable, chunk[128:evtxChunkHeaderSize])
}

func evtxAllZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// evtxPrintable quotes damaged signature bytes for a message.
func evtxPrintable(b []byte) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '.'
		}
		return r
	}, string(b))
}
