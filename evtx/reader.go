package evtx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"time"
)

// Format names an input format.
type Format string

// Formats Open recognises.
const (
	FormatUnknown Format = ""
	FormatEVTX    Format = "evtx" // Vista+ binary log ("ElfFile\0")
	FormatEVT     Format = "evt"  // NT/2000/XP/2003 binary log ("LfLe")
	FormatXML     Format = "xml"  // wevtutil qe /f:xml, Get-WinEvent ToXml
	FormatText    Format = "text" // Event Viewer clipboard/"Save as" text blocks
	FormatCSV     Format = "csv"  // Event Viewer tab- or comma-separated export
	FormatLive    Format = "live" // a live channel read through wevtapi
)

// ErrUnknownFormat is returned by Open for input that is not an event log in
// any format evtwatch reads. Callers that accept a mix of inputs (logs and
// port captures) use it to try the next kind.
var ErrUnknownFormat = errors.New("not an event log in a known format")

// ErrUnsupportedPlatform is returned by OS-specific sources on other systems.
var ErrUnsupportedPlatform = errors.New("unsupported on this OS")

// Header holds the fields a reader can often learn before decoding a whole
// record. Fields a format cannot provide cheaply are zero; Filter.Keep must
// treat zero values as "unknown", not as a mismatch.
type Header struct {
	Provider string
	Source   string
	EventID  uint16
	RecordID uint64
	Time     time.Time
	Channel  string
}

// Filter lets callers skip records without paying for their full decoding.
type Filter struct {
	// MinRecordID skips records whose record ID is lower (bookmarks).
	MinRecordID uint64
	// Keep, when set, is asked about each record that passes MinRecordID,
	// as early as the format allows; false skips the record. Readers may ask
	// again with a fuller Header after decoding, so Keep must be cheap and
	// consistent.
	Keep func(Header) bool
}

func (f Filter) passRecordID(id uint64) bool { return id >= f.MinRecordID }

func (f Filter) keep(h Header) bool { return f.Keep == nil || f.Keep(h) }

// Options configure a Reader.
type Options struct {
	Filter Filter
	// Format forces a format instead of sniffing (FormatUnknown sniffs).
	Format Format
	// Location is the time zone of the machine that exported an Event Viewer
	// text or CSV export: those write local wall-clock times without a zone.
	// Nil means UTC. Formats that store UTC (.evt, .evtx, XML) ignore it.
	Location *time.Location
}

// Reader yields the events of one input in file order.
type Reader interface {
	// Next returns the next event, or io.EOF when the input is exhausted.
	// Damage in the input is not an error here: it is recorded in Problems
	// and reading goes on. Errors are for the input as a whole (I/O failure,
	// cancelled context).
	Next(ctx context.Context) (*Event, error)
	// Problems lists what was skipped or only partly decoded so far.
	Problems() []Problem
	// Format is the format being read.
	Format() Format
	Close() error
}

// Problem is a part of the input that could not be read, located precisely
// enough for a person to look at it with a hex editor.
type Problem struct {
	Path string
	// Offset is the byte offset of the damaged chunk or record, -1 if unknown.
	Offset int64
	// ChunkOffset is the offset of the enclosing EVTX chunk, -1 if none.
	ChunkOffset int64
	// RecordID is the damaged record's ID when its header gave one.
	RecordID uint64
	// Skipped is how many records were lost at this place (0 when the record
	// was still emitted with an Err, or when unknown).
	Skipped int
	Err     error
}

func (p Problem) Error() string {
	var b bytes.Buffer
	b.WriteString(p.Path)
	if p.ChunkOffset >= 0 && p.ChunkOffset != p.Offset {
		fmt.Fprintf(&b, ": chunk at offset %d (0x%x)", p.ChunkOffset, p.ChunkOffset)
	}
	if p.Offset >= 0 {
		fmt.Fprintf(&b, ": offset %d (0x%x)", p.Offset, p.Offset)
	}
	if p.RecordID != 0 {
		fmt.Fprintf(&b, ": record %d", p.RecordID)
	}
	if p.Skipped > 0 {
		fmt.Fprintf(&b, ": %d record(s) skipped", p.Skipped)
	}
	fmt.Fprintf(&b, ": %v", p.Err)
	return b.String()
}

func (p Problem) Unwrap() error { return p.Err }

// sniffLen is how many leading bytes Sniff needs at most.
const sniffLen = 4096

// Sniff tells the format from the first bytes of an input (up to 4 KiB).
func Sniff(head []byte) Format {
	switch {
	case bytes.HasPrefix(head, []byte("ElfFile\x00")):
		return FormatEVTX
	case len(head) >= 8 && string(head[4:8]) == "LfLe":
		return FormatEVT
	}
	text := decodeTextHead(head)
	return sniffText(text)
}

// opener builds a Reader for one format over an open file. The reader owns f.
type opener func(f *os.File, path string, opts Options) (Reader, error)

// openers is the one place a new input format is registered.
var openers = map[Format]opener{
	FormatEVTX: openEVTX,
	FormatEVT:  openEVT,
	FormatXML:  openXML,
	FormatText: openText,
	FormatCSV:  openCSV,
}

// Open opens an event log file, sniffing its format from its content.
func Open(path string, opts Options) (Reader, error) {
	if err := checkRegular(path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *PathError already names the file
	}
	format := opts.Format
	if format == FormatUnknown {
		head := make([]byte, sniffLen)
		n, err := io.ReadFull(f, head)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			f.Close()
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		format = Sniff(head[:n])
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("seek %s: %w", path, err)
		}
	}
	open, ok := openers[format]
	if !ok {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, ErrUnknownFormat)
	}
	r, err := open(f, path, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

// All iterates over a reader's events until EOF, the first fatal error (which
// is yielded once with a nil event) or the caller stops.
func All(ctx context.Context, r Reader) iter.Seq2[*Event, error] {
	return func(yield func(*Event, error) bool) {
		for {
			ev, err := r.Next(ctx)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
	}
}

// checkRegular returns an error naming path when it exists and is not a
// regular file. Only regular files hold logs: opening a named pipe would
// block until someone writes to it, and a folder or device cannot be read
// as one. A path that does not exist passes: opening it says so.
func checkRegular(path string) error {
	st, err := os.Stat(path)
	if err != nil || st.Mode().IsRegular() {
		return nil
	}
	if st.IsDir() {
		return fmt.Errorf("%s: is a folder, not a log file", path)
	}
	return fmt.Errorf("%s: not a regular file (%s)", path, fileKind(st.Mode()))
}

// fileKind names the type of a file that is not a regular one.
func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeCharDevice != 0:
		return "character device"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "mode " + m.String()
}

// maxListedProblems is how many problems a reader lists for one input.
// Damage past that is counted into one last Problem, so a file of garbage
// cannot make a reader hold (or a caller print) millions of them.
const maxListedProblems = 1000

// problemLog is a reader's list of problems, bounded by maxListedProblems.
type problemLog struct {
	list []Problem
	// more counts the problems not listed; moreSkipped their records lost;
	// moreFrom is the offset of the first one.
	more, moreSkipped int
	moreFrom          int64
	path              string
}

func (l *problemLog) add(p Problem) {
	if len(l.list) < maxListedProblems {
		l.list = append(l.list, p)
		return
	}
	if l.more == 0 {
		l.moreFrom, l.path = p.Offset, p.Path
	}
	l.more++
	l.moreSkipped += p.Skipped
}

// all returns a copy of the problems, the unlisted ones summed up last.
func (l *problemLog) all() []Problem {
	out := append([]Problem(nil), l.list...)
	if l.more > 0 {
		out = append(out, Problem{
			Path: l.path, Offset: l.moreFrom, ChunkOffset: -1, Skipped: l.moreSkipped,
			Err: fmt.Errorf("%d more problems from here on, not listed (only the first %d are)", l.more, maxListedProblems),
		})
	}
	return out
}
