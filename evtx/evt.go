package evtx

// The legacy event log of Windows NT 4, 2000, XP and Server 2003 (.evt).
//
// A file is a 48-byte header (EVENTLOGHEADER) followed by a circular buffer
// that runs from offset 0x30 to the end of the file. The buffer holds
// EVENTLOGRECORDs, oldest first, then the 40-byte end-of-file cursor
// (ELF_EOF_RECORD, signature 0x11111111 0x22222222 0x33333333 0x44444444).
// Once the buffer is full the service overwrites the oldest records and
// writes on past the end of the file at offset 0x30, so the live records
// can wrap, one of them split across the boundary. What lies between the
// cursor and the oldest live record is dead space that often still holds
// whole deleted records.
//
// While the log is open the header is flagged dirty and its offsets are
// stale; only the cursor is written with every record. So for a dirty (or
// inconsistent) header the reader looks for the cursor itself, as libevt
// does, and trusts it. References: MSDN EVENTLOGHEADER, EVENTLOGRECORD and
// ELF_EOF_RECORD; Joachim Metz, "Windows Event Log (EVT) format" (libevt).
//
// Differences from libevt, deliberately:
//   - a damaged record in the live part is reported as a Problem and the
//     reader resynchronises on the next valid record, where libevt stops
//     reading live records at the first damaged one;
//   - a deleted record whose tail was overwritten is emitted as recovered
//     with Event.Err saying so (libevt emits it without a warning, with
//     whatever strings the overwritten bytes happen to form).

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	evtHeaderSize       = 0x30
	evtEOFSize          = 0x28
	evtRecordHeaderSize = 0x38
	// evtMinRecordSize is the fixed part plus the trailing size copy, the
	// smallest record libevt accepts.
	evtMinRecordSize = evtRecordHeaderSize + 4
	// evtMaxRecordSize bounds what a size field may claim. ReportEvent
	// limits strings and data far below this; a larger value is damage.
	evtMaxRecordSize = 4 << 20
	// evtWindowSize is how much of the file is kept in memory at a time.
	evtWindowSize = 256 << 10
	// evtSmallRead is the most readSmall reads: a record header, a cursor.
	evtSmallRead = 64
	// evtMaxInterned bounds the source/computer/SID intern tables so a
	// hostile file cannot grow them without limit.
	evtMaxInterned = 4096
)

// evtFlagDirty is ELF_LOGFILE_HEADER_DIRTY in EVENTLOGHEADER.Flags: the log
// was open and the header not flushed. The other flags (0x2 wrapped, 0x4
// log full, 0x8 archive) do not change how the file is read: the cursor
// says where the records are.
const evtFlagDirty = 0x1

var (
	evtRecordSignature = []byte("LfLe")
	evtEOFSignature    = []byte{
		0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22,
		0x33, 0x33, 0x33, 0x33, 0x44, 0x44, 0x44, 0x44,
	}
)

// evtHeader is EVENTLOGHEADER.
type evtHeader struct {
	Size, MajorVersion, MinorVersion    uint32
	StartOffset, EndOffset              uint32
	CurrentRecordNumber, OldestRecordNo uint32
	MaxSize, Flags, Retention           uint32
	EndHeaderSize                       uint32
}

func parseEVTHeader(b []byte) evtHeader {
	u := func(i int) uint32 { return binary.LittleEndian.Uint32(b[i:]) }
	return evtHeader{
		Size: u(0), MajorVersion: u(8), MinorVersion: u(12),
		StartOffset: u(16), EndOffset: u(20),
		CurrentRecordNumber: u(24), OldestRecordNo: u(28),
		MaxSize: u(32), Flags: u(36), Retention: u(40), EndHeaderSize: u(44),
	}
}

// evtCursor is the end-of-file record (ELF_EOF_RECORD) found in the file.
type evtCursor struct {
	offset  int64  // where it is
	begin   uint32 // BeginRecord: offset of the oldest record
	end     uint32 // EndRecord: its own offset when consistent
	current uint32 // CurrentRecordNumber: the next record number
	oldest  uint32 // OldestRecordNumber
}

type evtState uint8

const (
	evtStateStart evtState = iota
	evtStateLive
	evtStateDead
	evtStateDone
)

// evtReader reads one .evt file: first the live records from the oldest to
// the cursor, then the deleted records still present in the dead space
// (Event.Recovered). It reads through a window of the file, so memory does
// not grow with the file.
type evtReader struct {
	src     io.ReaderAt
	closer  io.Closer
	path    string
	size    int64
	filter  Filter
	channel string

	win    []byte // file bytes at winOff
	winOff int64
	winBuf []byte
	rec    []byte // assembles records that wrap around the buffer end

	hdr      evtHeader
	lo, hi   int64 // the circular buffer: [lo, hi)
	cursor   *evtCursor
	state    evtState
	problems problemLog

	// Live walk: from start, liveLen bytes up to the cursor.
	start   int64
	liveLen int64
	pos     int64
	lastID  uint32 // last record number seen in the live walk, 0 if none
	// Dead space: deadLen bytes from deadStart.
	deadStart int64
	deadLen   int64
	deadPos   int64
	// damagedBudget bounds the bytes decoded for partly overwritten
	// deleted records, which the scan steps over 4 bytes at a time.
	damagedBudget int64
	budgetSpent   bool

	names   map[string]string // interned source and computer names
	sids    map[string]string // interned SID strings
	scratch []byte            // UTF-8 of one record's insertion strings
	ends    []int
	small   [evtSmallRead]byte
}

func openEVT(f *os.File, path string, opts Options) (Reader, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	return newEVTReader(f, f, st.Size(), path, opts), nil
}

// newEVTReader reads size bytes of .evt from src. closer, when not nil, is
// closed by Close.
func newEVTReader(src io.ReaderAt, closer io.Closer, size int64, path string, opts Options) *evtReader {
	return &evtReader{
		src:     src,
		closer:  closer,
		path:    path,
		size:    size,
		filter:  opts.Filter,
		channel: evtChannelFromName(path),
		lo:      evtHeaderSize,
		hi:      size,
		names:   make(map[string]string),
		sids:    make(map[string]string),
	}
}

func (r *evtReader) Format() Format { return FormatEVT }

func (r *evtReader) Problems() []Problem { return r.problems.all() }

func (r *evtReader) Close() error {
	r.state = evtStateDone
	if r.closer == nil {
		return nil
	}
	c := r.closer
	r.closer = nil
	return c.Close()
}

// Next returns the next live record, then the recovered ones.
func (r *evtReader) Next(ctx context.Context) (*Event, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var (
			ev  *Event
			err error
		)
		switch r.state {
		case evtStateStart:
			err = r.locate(ctx)
		case evtStateLive:
			ev, err = r.nextLive(ctx)
		case evtStateDead:
			ev, err = r.nextDead(ctx)
		default:
			return nil, io.EOF
		}
		if err != nil {
			r.state = evtStateDone
			return nil, err
		}
		if ev != nil {
			return ev, nil
		}
	}
}

func (r *evtReader) problem(off int64, id uint32, skipped int, format string, args ...any) {
	r.problems.add(Problem{
		Path:        r.path,
		Offset:      off,
		ChunkOffset: -1,
		RecordID:    uint64(id),
		Skipped:     skipped,
		Err:         fmt.Errorf(format, args...),
	})
}

// --- file access --------------------------------------------------------

// readLinear returns n bytes at off, valid until the next read.
func (r *evtReader) readLinear(off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 || off+int64(n) > r.size {
		return nil, fmt.Errorf("read %s: %d bytes at offset %d: beyond end of file", r.path, n, off)
	}
	if off >= r.winOff && off+int64(n) <= r.winOff+int64(len(r.win)) {
		i := off - r.winOff
		return r.win[i : i+int64(n)], nil
	}
	want := max(n, evtWindowSize)
	if rest := r.size - off; int64(want) > rest {
		want = int(rest)
	}
	if cap(r.winBuf) < want {
		r.winBuf = make([]byte, want)
	}
	m, err := r.src.ReadAt(r.winBuf[:want], off)
	if m < n {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		r.win = nil
		return nil, fmt.Errorf("read %s at offset %d: %w", r.path, off, err)
	}
	r.win, r.winOff = r.winBuf[:m], off
	return r.win[:n], nil
}

func (r *evtReader) ringCap() int64 { return r.hi - r.lo }

// ringAt is the offset d bytes after off in the circular buffer.
func (r *evtReader) ringAt(off, d int64) int64 {
	c := r.ringCap()
	x := (off - r.lo + d) % c
	if x < 0 {
		x += c
	}
	return r.lo + x
}

// ringDist is how many bytes lie from `from` forward to `to`.
func (r *evtReader) ringDist(from, to int64) int64 {
	c := r.ringCap()
	x := (to - from) % c
	if x < 0 {
		x += c
	}
	return x
}

func (r *evtReader) inRing(off int64) bool { return off >= r.lo && off < r.hi }

// read returns n bytes from off, continuing at the start of the buffer when
// they run past the end of the file (a record split across the wrap).
func (r *evtReader) read(off int64, n int) ([]byte, error) {
	if off+int64(n) <= r.hi {
		return r.readLinear(off, n)
	}
	first := int(r.hi - off)
	if cap(r.rec) < n {
		r.rec = make([]byte, n)
	}
	buf := r.rec[:n]
	b, err := r.readLinear(off, first)
	if err != nil {
		return nil, err
	}
	copy(buf, b)
	b, err = r.readLinear(r.lo, n-first)
	if err != nil {
		return nil, err
	}
	copy(buf[first:], b)
	return buf, nil
}

// readSmall returns n (at most evtSmallRead) bytes at off in the circular
// buffer without moving the window, so probing scattered offsets (record
// tails, candidate signatures) costs a small read, not a window reload.
func (r *evtReader) readSmall(off int64, n int) ([]byte, error) {
	if n > evtSmallRead {
		return nil, fmt.Errorf("read %s: small read of %d bytes", r.path, n)
	}
	buf := r.small[:n]
	for got := 0; got < n; {
		if off == r.hi {
			off = r.lo
		}
		k := int(min(int64(n-got), r.hi-off))
		if off >= r.winOff && off+int64(k) <= r.winOff+int64(len(r.win)) {
			copy(buf[got:], r.win[off-r.winOff:])
		} else if m, err := r.src.ReadAt(buf[got:got+k], off); m < k {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("read %s at offset %d: %w", r.path, off, err)
		}
		got, off = got+k, off+int64(k)
	}
	return buf, nil
}

func (r *evtReader) u32(off int64) (uint32, error) {
	b, err := r.readSmall(off, 4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

// peek returns up to n bytes from off (not past the end of the file),
// from the window when it holds them, else from a window loaded at off.
func (r *evtReader) peek(off int64, n int) ([]byte, error) {
	n = int(min(int64(n), r.hi-off))
	if off >= r.winOff && off < r.winOff+int64(len(r.win)) {
		if b := r.win[off-r.winOff:]; len(b) >= min(n, evtSmallRead) {
			return b[:min(len(b), n)], nil
		}
	}
	return r.readLinear(off, min(n, evtWindowSize))
}

// find returns the distance from `from` of the first 4-byte-aligned
// occurrence of the 4-byte pat that starts within the next length bytes of
// the buffer. (An aligned 4-byte pattern cannot straddle the end of the
// buffer, whose size is a multiple of 4 in every file Windows writes.)
func (r *evtReader) find(ctx context.Context, from, length int64, pat []byte) (int64, bool, error) {
	walked := int64(0)
	for walked < length {
		if err := ctx.Err(); err != nil {
			return 0, false, err
		}
		off := r.ringAt(from, walked)
		if a := (4 - off%4) % 4; a != 0 {
			walked += a
			continue
		}
		seg := min(r.hi-off, length-walked) // candidate starts left in this pass
		b, err := r.peek(off, int(min(seg+3, evtWindowSize)))
		if err != nil {
			return 0, false, err
		}
		if len(b) < 4 {
			walked += seg
			continue
		}
		for i := 0; i+4 <= len(b); {
			j := bytes.Index(b[i:], pat)
			if j < 0 || int64(i+j) >= seg {
				break
			}
			if (i+j)%4 == 0 {
				return walked + int64(i+j), true, nil
			}
			i += j + 1
		}
		walked += min(seg, int64(len(b)-3))
	}
	return 0, false, nil
}

// --- locating the live records -------------------------------------------

// locate reads the header, finds the cursor and the oldest live record, and
// sets up the live walk.
func (r *evtReader) locate(ctx context.Context) error {
	if r.size < evtHeaderSize {
		r.problem(0, 0, 0, "file is %d bytes, shorter than the %d-byte .evt header", r.size, evtHeaderSize)
		r.state = evtStateDone
		return nil
	}
	b, err := r.readLinear(0, evtHeaderSize)
	if err != nil {
		return err
	}
	r.hdr = parseEVTHeader(b)
	if !bytes.Equal(b[4:8], evtRecordSignature) {
		r.problem(4, 0, 0, "header signature is %q, want \"LfLe\"", b[4:8])
	}
	if r.hdr.Size != evtHeaderSize || r.hdr.EndHeaderSize != evtHeaderSize {
		// libevt flags this as corruption and reads on; so do we.
		r.problem(0, 0, 0, "header size fields are 0x%x and 0x%x, want 0x30", r.hdr.Size, r.hdr.EndHeaderSize)
	}
	if r.ringCap() < evtEOFSize {
		r.problem(evtHeaderSize, 0, 0, "no room for records after the header: file is %d bytes", r.size)
		r.state = evtStateDone
		return nil
	}

	// The header is trustworthy only when it is not dirty and its end
	// offset points at the cursor.
	hdrEnd := int64(r.hdr.EndOffset)
	if r.hdr.Flags&evtFlagDirty == 0 && r.inRing(hdrEnd) {
		if c, err := r.cursorAt(hdrEnd); err != nil {
			return err
		} else if c != nil && r.cursorUsable(c) {
			r.cursor = c
		}
	}
	if r.cursor == nil {
		from := hdrEnd
		if !r.inRing(from) {
			from = r.lo
		}
		if r.cursor, err = r.scanCursor(ctx, from); err != nil {
			return err
		}
	}

	if r.cursor == nil {
		return r.startWithoutCursor(ctx)
	}
	start, ok, err := r.oldestRecord(ctx)
	if err != nil {
		return err
	}
	if !ok {
		// Nothing live: the whole buffer past the cursor is dead space.
		r.setDead(r.cursor.offset)
		return nil
	}
	r.start = start
	r.liveLen = r.ringDist(start, r.cursor.offset)
	r.state = evtStateLive
	return nil
}

// cursorAt returns the end-of-file record at off, or nil if there is none.
func (r *evtReader) cursorAt(off int64) (*evtCursor, error) {
	b, err := r.readSmall(off, evtEOFSize)
	if err != nil {
		return nil, err
	}
	u := func(i int) uint32 { return binary.LittleEndian.Uint32(b[i:]) }
	if u(0) != evtEOFSize || u(36) != evtEOFSize || !bytes.Equal(b[4:20], evtEOFSignature) {
		return nil, nil
	}
	return &evtCursor{offset: off, begin: u(20), end: u(24), current: u(28), oldest: u(32)}, nil
}

// cursorUsable reports whether a cursor is consistent: it knows its own
// offset and its oldest-record offset holds a record (or itself, when the
// log is empty).
func (r *evtReader) cursorUsable(c *evtCursor) bool {
	if int64(c.end) != c.offset {
		return false
	}
	begin := int64(c.begin)
	if begin == c.offset {
		return true
	}
	if !r.inRing(begin) {
		return false
	}
	ok, _ := r.recordFrameAt(begin, r.ringDist(begin, c.offset))
	return ok
}

// scanCursor looks for the end-of-file record, like libevt, starting where
// the header says it was (the service writes forward from there). The
// first consistent cursor wins; failing that, the first one that merely
// has the right signatures.
func (r *evtReader) scanCursor(ctx context.Context, from int64) (*evtCursor, error) {
	var fallback *evtCursor
	walked := int64(0)
	for walked < r.ringCap() {
		d, ok, err := r.find(ctx, from, r.ringCap()-walked, evtEOFSignature[:4])
		if err != nil || !ok {
			return fallback, err
		}
		sig := r.ringAt(from, d)
		from, walked = r.ringAt(sig, 4), walked+d+4
		c, err := r.cursorAt(r.ringAt(sig, -4))
		if err != nil {
			return nil, err
		}
		if c == nil {
			continue
		}
		if r.cursorUsable(c) {
			return c, nil
		}
		if fallback == nil {
			fallback = c
		}
	}
	return fallback, nil
}

// oldestRecord finds where the live records begin: the cursor's
// BeginRecord, else the header's StartOffset, else (as libevt does) the
// first valid record after the cursor. When BeginRecord lies between the
// cursor and that record, the oldest records are damaged rather than the
// offset: the walk then starts at BeginRecord and reports the damage.
func (r *evtReader) oldestRecord(ctx context.Context) (int64, bool, error) {
	c := r.cursor
	begin := int64(c.begin)
	if begin == c.offset && r.inRing(begin) {
		return 0, false, nil // empty log
	}
	for _, off := range []int64{begin, int64(r.hdr.StartOffset)} {
		if !r.inRing(off) {
			continue
		}
		if ok, err := r.recordFrameAt(off, r.ringDist(off, c.offset)); err != nil {
			return 0, false, err
		} else if ok {
			return off, true, nil
		}
	}
	after := r.ringAt(c.offset, evtEOFSize)
	d, found, err := r.findRecord(ctx, after, r.ringCap()-evtEOFSize, func(off int64) int64 {
		return r.ringDist(off, c.offset)
	})
	if err != nil {
		return 0, false, err
	}
	beginPlausible := r.inRing(begin) && begin != c.offset && r.ringDist(after, begin) < r.ringCap()-evtEOFSize
	if beginPlausible && (!found || r.ringDist(after, begin) < d) {
		return begin, true, nil
	}
	// The damage is reported where the bad offset points, or, when that is
	// not in the file, at the end-of-file record that holds it.
	where := begin
	if !r.inRing(begin) {
		where = c.offset
	}
	if !found {
		r.problem(where, 0, 0, "oldest-record offset 0x%x holds no record and none was found before the end-of-file record at 0x%x", c.begin, c.offset)
		return 0, false, nil
	}
	start := r.ringAt(after, d)
	r.problem(where, 0, 0, "oldest-record offset 0x%x holds no record; reading from the first record after the end-of-file record, at 0x%x", c.begin, start)
	return start, true, nil
}

// startWithoutCursor reads a log whose end-of-file record is gone
// (truncated copy, overwritten cursor): every record in the buffer is then
// treated as live, in buffer order from the oldest record the header names.
func (r *evtReader) startWithoutCursor(ctx context.Context) error {
	if end := int64(r.hdr.EndOffset); end+evtEOFSize > r.size {
		// The usual cause: a copy cut short. Point at the end of what is
		// there, not at an offset the file does not have.
		r.problem(r.size, 0, 0, "no end-of-file record found, and the header puts it at offset %d (0x%x), past the end of this %d-byte file: the copy looks truncated; reading every record in the file as live, recovered records cannot be told apart", end, end, r.size)
	} else {
		r.problem(end, 0, 0, "no end-of-file record found: reading every record in the file as live, recovered records cannot be told apart")
	}
	start := int64(r.hdr.StartOffset)
	ok := false
	if r.inRing(start) {
		var err error
		if ok, err = r.recordFrameAt(start, r.ringCap()); err != nil {
			return err
		}
	}
	if !ok {
		d, found, err := r.findRecord(ctx, r.lo, r.ringCap(), func(int64) int64 { return r.ringCap() })
		if err != nil {
			return err
		}
		if !found {
			r.problem(r.lo, 0, 0, "no complete record in the %d bytes after the header", r.ringCap())
			r.state = evtStateDone
			return nil
		}
		start = r.lo + d
	}
	r.start, r.liveLen = start, r.ringCap()
	r.state = evtStateLive
	return nil
}

// recordFrameAt reports whether a record that fits in room bytes starts
// at off: size, signature and trailing size agree. It reads only those
// three fields.
func (r *evtReader) recordFrameAt(off, room int64) (bool, error) {
	n, err := r.u32(off)
	if err != nil {
		return false, err
	}
	if n < evtMinRecordSize || n > evtMaxRecordSize || int64(n) > room || int64(n) > r.ringCap() {
		return false, nil
	}
	sig, err := r.readSmall(r.ringAt(off, 4), 4)
	if err != nil || !bytes.Equal(sig, evtRecordSignature) {
		return false, err
	}
	tail, err := r.u32(r.ringAt(off, int64(n)-4))
	return err == nil && tail == n, err
}

// recordAt returns the record that starts at off if its frame is valid
// and it fits in room bytes, else nil. The bytes are valid until the next
// read.
func (r *evtReader) recordAt(off, room int64) ([]byte, error) {
	if ok, err := r.recordFrameAt(off, room); !ok || err != nil {
		return nil, err
	}
	n, err := r.u32(off)
	if err != nil {
		return nil, err
	}
	return r.read(off, int(n))
}

// findRecord returns the distance from `from` of the first aligned record
// starting within length bytes whose frame is valid; room(off) bounds its
// size.
func (r *evtReader) findRecord(ctx context.Context, from, length int64, room func(off int64) int64) (int64, bool, error) {
	walked := int64(0) // distance of the next candidate record start
	for walked < length {
		// The signature sits 4 bytes into the record.
		d, ok, err := r.find(ctx, r.ringAt(from, walked+4), length-walked, evtRecordSignature)
		if err != nil || !ok {
			return 0, false, err
		}
		recDist := walked + d
		off := r.ringAt(from, recDist)
		ok, err = r.recordFrameAt(off, room(off))
		if err != nil {
			return 0, false, err
		}
		if ok {
			return recDist, true, nil
		}
		walked = recDist + 4
	}
	return 0, false, nil
}

func (r *evtReader) setDead(cursorOff int64) {
	r.deadStart = r.ringAt(cursorOff, evtEOFSize)
	r.deadLen = r.ringCap() - r.liveLen - evtEOFSize
	if r.deadLen < 0 {
		r.deadLen = 0
	}
	r.deadPos = 0
	r.damagedBudget = 4*r.ringCap() + 1<<20
	r.state = evtStateDead
}

// --- live records ----------------------------------------------------------

// nextLive handles one record of the live walk. It returns a nil event for
// records the filter skips and after resynchronising past damage.
func (r *evtReader) nextLive(ctx context.Context) (*Event, error) {
	if r.pos >= r.liveLen {
		if r.cursor != nil {
			r.setDead(r.cursor.offset)
		} else {
			r.state = evtStateDone
		}
		return nil, nil
	}
	off := r.ringAt(r.start, r.pos)
	b, err := r.recordAt(off, r.liveLen-r.pos)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, r.resync(ctx, off)
	}
	n := len(b)
	r.pos += int64(n)
	id := binary.LittleEndian.Uint32(b[8:])
	r.lastID = id
	ev, decErr := r.decode(b, off, false)
	if decErr != nil {
		r.problem(off, id, 0, "record %d decoded only in part: %v", id, decErr)
	}
	return ev, nil
}

// resync skips damage at off in the live part: it reports it and moves on
// to the next record whose frame is valid, or to the cursor.
func (r *evtReader) resync(ctx context.Context, off int64) error {
	why, badID := r.describeDamage(off)
	room := r.liveLen - r.pos
	d, ok, err := r.findRecord(ctx, r.ringAt(off, 4), room-4, func(o int64) int64 {
		return r.liveLen - r.ringDist(r.start, o)
	})
	if err != nil {
		return err
	}
	skippedBytes := room
	nextID := uint32(0)
	if ok {
		skippedBytes = d + 4
		next := r.ringAt(off, skippedBytes)
		if nextID, err = r.u32(r.ringAt(next, 8)); err != nil {
			return err
		}
	} else if r.cursor != nil {
		nextID = r.cursor.current
	}
	lost := 0
	prev := r.lastID
	if prev == 0 && r.cursor != nil && r.cursor.oldest > 0 {
		prev = r.cursor.oldest - 1
	}
	// Only trust the record-number gap when the skipped bytes could hold
	// that many records.
	if nextID > prev+1 && int64(nextID-prev-1) <= skippedBytes/evtMinRecordSize+1 {
		lost = int(nextID - prev - 1)
	}
	if badID == 0 && lost == 1 {
		badID = prev + 1
	}
	if badID != 0 && lost == 0 {
		// Its header names it, and nothing after it could be read to
		// count by: at least this record is lost.
		lost = 1
	}
	r.problem(off, badID, lost, "damaged record: %s; skipped %d bytes", why, skippedBytes)
	r.pos += skippedBytes
	return nil
}

// describeDamage says what is wrong with the record framed at off, and its
// record number when the signature is intact.
func (r *evtReader) describeDamage(off int64) (string, uint32) {
	n, err := r.u32(off)
	if err != nil {
		return err.Error(), 0
	}
	sig, err := r.readSmall(r.ringAt(off, 4), 4)
	if err != nil {
		return err.Error(), 0
	}
	if !bytes.Equal(sig, evtRecordSignature) {
		if bytes.Equal(sig, evtEOFSignature[:4]) {
			return "unexpected end-of-file record", 0
		}
		return fmt.Sprintf("no record signature (size field 0x%x)", n), 0
	}
	id, _ := r.u32(r.ringAt(off, 8))
	room := r.liveLen - r.pos
	switch {
	case n < evtMinRecordSize:
		return fmt.Sprintf("record size %d is below the minimum %d", n, evtMinRecordSize), id
	case n > evtMaxRecordSize:
		return fmt.Sprintf("record size %d is larger than any record can be", n), id
	case int64(n) > room && r.cursor == nil:
		return fmt.Sprintf("record size %d is more than the %d bytes left in the file", n, room), id
	case int64(n) > room:
		return fmt.Sprintf("record size %d runs past the end-of-file record", n), id
	}
	tail, _ := r.u32(r.ringAt(off, int64(n)-4))
	return fmt.Sprintf("trailing size %d does not match record size %d", tail, n), id
}

// --- dead space ------------------------------------------------------------

// nextDead scans the dead space for deleted records still intact enough to
// read, as libevt's recovery does.
func (r *evtReader) nextDead(ctx context.Context) (*Event, error) {
	if r.deadPos >= r.deadLen {
		r.state = evtStateDone
		return nil, nil
	}
	// The signature of a record starting at deadPos sits 4 bytes later.
	d, ok, err := r.find(ctx, r.ringAt(r.deadStart, r.deadPos+4), r.deadLen-r.deadPos, evtRecordSignature)
	if err != nil {
		return nil, err
	}
	if !ok {
		r.deadPos = r.deadLen
		return nil, nil
	}
	recPos := r.deadPos + d
	off := r.ringAt(r.deadStart, recPos)
	r.deadPos = recPos + 4 // unless a whole record is read below
	n, err := r.u32(off)
	if err != nil {
		return nil, err
	}
	if n < evtMinRecordSize || n > evtMaxRecordSize || int64(n) > r.ringCap() {
		return nil, nil
	}
	tail, err := r.u32(r.ringAt(off, int64(n)-4))
	if err != nil {
		return nil, err
	}
	if tail == n {
		b, err := r.read(off, int(n))
		if err != nil {
			return nil, err
		}
		r.deadPos = recPos + int64(n)
		ev, _ := r.decode(b, off, true)
		return ev, nil
	}
	// The record's tail was overwritten. Keep it when everything its header
	// points at is still in bounds: its header fields are the evidence, and
	// Err warns that the strings may be cut or mixed with newer bytes.
	// Such candidates do not advance the scan by their size, so the bytes
	// spent decoding them are budgeted against hostile files.
	if hdr, err := r.readSmall(off, evtRecordHeaderSize); err != nil {
		return nil, err
	} else if !evtOffsetsInBounds(hdr, n) {
		return nil, nil
	}
	if r.damagedBudget -= int64(n); r.damagedBudget < 0 {
		if !r.budgetSpent {
			r.budgetSpent = true
			r.problem(off, 0, 0, "too many partly overwritten deleted records; no longer recovering them")
		}
		return nil, nil
	}
	b, err := r.read(off, int(n))
	if err != nil {
		return nil, err
	}
	ev, decErr := r.decode(b, off, true)
	if ev == nil || decErr != nil {
		return nil, nil
	}
	ev.Err = fmt.Sprintf("deleted record partly overwritten: trailing size %d does not match record size %d; insertion strings and data may be cut or foreign", tail, n)
	return ev, nil
}

// evtOffsetsInBounds reports whether the SID, strings and data a record
// header (its first 0x38 bytes) points at lie within a record of n bytes.
func evtOffsetsInBounds(h []byte, n uint32) bool {
	le := binary.LittleEndian
	end := uint64(n) - 4
	in := func(off, size uint32) bool {
		return size == 0 || uint64(off) >= evtRecordHeaderSize && uint64(off)+uint64(size) <= end
	}
	strOff := uint64(le.Uint32(h[36:]))
	return in(le.Uint32(h[44:]), le.Uint32(h[40:])) &&
		in(le.Uint32(h[52:]), le.Uint32(h[48:])) &&
		(le.Uint16(h[26:]) == 0 || strOff >= evtRecordHeaderSize && strOff <= end)
}

// --- record decoding -------------------------------------------------------

// decode turns the record b (size, signature and fixed fields checked by
// the caller's framing) at off into an Event. It returns a nil Event for a
// record the filter skips. A record whose offsets point outside it is still
// returned, with what could be read and Err set; the error is returned too.
func (r *evtReader) decode(b []byte, off int64, recovered bool) (*Event, error) {
	le := binary.LittleEndian
	id := le.Uint32(b[8:])
	if !r.filter.passRecordID(uint64(id)) {
		return nil, nil
	}
	var (
		generated = time.Unix(int64(le.Uint32(b[12:])), 0).UTC()
		eventID   = le.Uint32(b[20:])
		eventType = le.Uint16(b[24:])
		numStr    = int(le.Uint16(b[26:]))
		category  = le.Uint16(b[28:])
		strOff    = int(le.Uint32(b[36:]))
		sidLen    = int(le.Uint32(b[40:]))
		sidOff    = int(le.Uint32(b[44:]))
		dataLen   = int(le.Uint32(b[48:]))
		dataOff   = int(le.Uint32(b[52:]))
		end       = len(b) - 4
		errs      []string
	)
	source, p, ok := r.name(b, evtRecordHeaderSize, end)
	if !ok {
		errs = append(errs, "source name not terminated")
	}
	computer, _, ok2 := r.name(b, p, end)
	if ok && !ok2 {
		errs = append(errs, "computer name not terminated")
	}
	if r.filter.Keep != nil && !r.filter.Keep(Header{
		Provider: source,
		EventID:  uint16(eventID),
		RecordID: uint64(id),
		Time:     generated,
		Channel:  r.channel,
	}) {
		return nil, nil
	}
	level, keywords := LevelFromEventType(eventType)
	ev := &Event{
		Provider:   source,
		EventID:    uint16(eventID),
		Qualifiers: uint16(eventID >> 16),
		Level:      level,
		Task:       category,
		Keywords:   keywords,
		Channel:    r.channel,
		Computer:   computer,
		RecordID:   uint64(id),
		Time:       generated,
		Origin:     Origin{Path: r.path, Format: FormatEVT, Offset: off},
		Recovered:  recovered,
	}

	if sidLen != 0 {
		if sidOff < evtRecordHeaderSize || sidOff > end || sidLen > end-sidOff {
			errs = append(errs, fmt.Sprintf("user SID (%d bytes at %d) outside the record", sidLen, sidOff))
		} else if sid, ok := r.sid(b[sidOff : sidOff+sidLen]); ok {
			ev.UserSID = sid
		} else {
			errs = append(errs, "malformed user SID")
		}
	}

	if numStr > 0 {
		// Strings end where the data begins; with no data the data offset
		// is often meaningless (see libevt's notes), so bound by the record.
		bound := end
		if dataLen != 0 && dataOff >= strOff && dataOff <= end {
			bound = dataOff
		}
		if strOff < evtRecordHeaderSize || strOff > bound {
			errs = append(errs, fmt.Sprintf("insertion strings offset %d outside the record", strOff))
		} else if data, err := r.insertionStrings(b[strOff:bound], numStr); err != nil {
			ev.Data = data
			errs = append(errs, err.Error())
		} else {
			ev.Data = data
		}
	}

	if dataLen != 0 {
		if dataOff < evtRecordHeaderSize || dataOff > end || dataLen > end-dataOff {
			errs = append(errs, fmt.Sprintf("binary data (%d bytes at %d) outside the record", dataLen, dataOff))
		} else {
			ev.Binary = bytes.Clone(b[dataOff : dataOff+dataLen])
		}
	}

	if len(errs) > 0 {
		ev.Err = strings.Join(errs, "; ")
		return ev, errors.New(ev.Err)
	}
	return ev, nil
}

// name decodes the NUL-terminated UTF-16LE string at b[p:end], interned.
func (r *evtReader) name(b []byte, p, end int) (string, int, bool) {
	raw, next, ok := utf16z(b, p, end)
	if s, hit := r.names[string(raw)]; hit {
		return s, next, ok
	}
	s := string(appendUTF16(nil, raw))
	if len(r.names) < evtMaxInterned {
		r.names[string(raw)] = s
	}
	return s, next, ok
}

// insertionStrings decodes n NUL-terminated UTF-16LE strings from b into
// one allocation, returning what it could read when they are cut short.
func (r *evtReader) insertionStrings(b []byte, n int) ([]Data, error) {
	r.scratch, r.ends = r.scratch[:0], r.ends[:0]
	var err error
	p := 0
	for i := 0; i < n; i++ {
		if p >= len(b)-1 {
			err = fmt.Errorf("record holds %d of %d insertion strings", i, n)
			break
		}
		var next int
		var ok bool
		r.scratch, next, ok = appendUTF16z(r.scratch, b, p)
		r.ends = append(r.ends, len(r.scratch))
		if !ok {
			err = fmt.Errorf("insertion string %d of %d not terminated", i+1, n)
			break
		}
		p = next
	}
	all := string(r.scratch)
	data := make([]Data, len(r.ends))
	from := 0
	for i, to := range r.ends {
		data[i].Value = all[from:to]
		from = to
	}
	return data, err
}

// sid renders a binary SID as S-R-I-S-S..., interned.
func (r *evtReader) sid(b []byte) (string, bool) {
	if s, hit := r.sids[string(b)]; hit {
		return s, true
	}
	s, ok := formatSID(b)
	if ok && len(r.sids) < evtMaxInterned {
		r.sids[string(b)] = s
	}
	return s, ok
}

func formatSID(b []byte) (string, bool) {
	if len(b) < 8 {
		return "", false
	}
	count := int(b[1])
	if b[0] != 1 || len(b) < 8+4*count {
		return "", false
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	out := make([]byte, 0, 16+11*count)
	out = append(out, "S-1-"...)
	if auth >= 1<<32 {
		out = fmt.Appendf(out, "0x%012X", auth)
	} else {
		out = strconv.AppendUint(out, auth, 10)
	}
	for i := 0; i < count; i++ {
		out = append(out, '-')
		out = strconv.AppendUint(out, uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10)
	}
	return string(out), true
}

// utf16z returns the UTF-16LE code units at b[p:] up to the first NUL
// before end, the offset after the NUL, and whether a NUL was found.
func utf16z(b []byte, p, end int) (raw []byte, next int, ok bool) {
	if end > len(b) {
		end = len(b)
	}
	if p >= end {
		return nil, end, false
	}
	for i := p; i+1 < end; i += 2 {
		if b[i] == 0 && b[i+1] == 0 {
			return b[p:i], i + 2, true
		}
	}
	return b[p : end-(end-p)%2], end, false
}

// appendUTF16z appends the UTF-8 form of the NUL-terminated UTF-16LE
// string at b[p:] in one pass, returning the offset after the NUL and
// whether there was one.
func appendUTF16z(dst, b []byte, p int) ([]byte, int, bool) {
	i := p
	for ; i+1 < len(b); i += 2 {
		lo, hi := b[i], b[i+1]
		if hi == 0 && lo < utf8.RuneSelf {
			if lo == 0 {
				return dst, i + 2, true
			}
			dst = append(dst, lo)
			continue
		}
		// Rare: hand the rest of this string to the general decoder.
		raw, next, ok := utf16z(b, i, len(b))
		return appendUTF16(dst, raw), next, ok
	}
	return dst, len(b), false
}

// appendUTF16 appends the UTF-8 form of UTF-16LE code units; unpaired
// surrogates become U+FFFD.
func appendUTF16(dst, b []byte) []byte {
	dst = slices.Grow(dst, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u := rune(b[i]) | rune(b[i+1])<<8
		switch {
		case u < utf8.RuneSelf:
			dst = append(dst, byte(u))
		case u < 0xD800 || u >= 0xE000:
			dst = utf8.AppendRune(dst, u)
		case u < 0xDC00 && i+3 < len(b):
			v := rune(b[i+2]) | rune(b[i+3])<<8
			if v >= 0xDC00 && v < 0xE000 {
				dst = utf8.AppendRune(dst, 0x10000+(u-0xD800)<<10+(v-0xDC00))
				i += 2
			} else {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			}
		default:
			dst = utf8.AppendRune(dst, utf8.RuneError)
		}
	}
	return dst
}

// evtChannelFromName guesses the log from the file name, because a .evt
// does not record which log it is. This is a heuristic: the default file
// names (SysEvent.Evt, AppEvent.Evt, SecEvent.Evt ...) and the names admins
// give exports ("System.evt", "server1-Application.evt") map to the log;
// anything else leaves Channel empty rather than guess.
func evtChannelFromName(path string) string {
	base := filepath.Base(strings.ReplaceAll(path, `\`, "/"))
	stem := strings.ToLower(strings.TrimSuffix(base, filepath.Ext(base)))
	for _, m := range evtChannelNames {
		if !strings.HasSuffix(stem, m.stem) {
			continue
		}
		// The name must stand on its own: "myapplication" is not a log.
		if rest := stem[:len(stem)-len(m.stem)]; rest != "" {
			c := rest[len(rest)-1]
			if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
				continue
			}
		}
		return m.channel
	}
	return ""
}

var evtChannelNames = []struct{ stem, channel string }{
	{"sysevent", "System"},
	{"system", "System"},
	{"appevent", "Application"},
	{"application", "Application"},
	{"secevent", "Security"},
	{"security", "Security"},
	{"dnsevent", "DNS Server"},
	{"dns server", "DNS Server"},
	{"ntds", "Directory Service"},
	{"directory service", "Directory Service"},
	{"ntfrs", "File Replication Service"},
	{"file replication service", "File Replication Service"},
}
