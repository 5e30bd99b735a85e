package evtx

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// FileIdentity tells whether a log file is still the one a position was
// saved for, or a new file at the same path (re-exported, rotated, replaced).
//
// Two signals are combined. Volume and Index are the file system's identity
// (device and inode on Unix, volume serial and file index on Windows), zero
// when the file system has none. The fingerprint is a SHA-256 of bytes that
// never change while a log only grows: the first record's bytes (EVTX, .evt)
// or the file's first bytes (text formats), never the headers, which are
// rewritten on every append. A file is the same when its identity matches
// (if both sides have one) and the fingerprinted bytes are unchanged, so an
// in-place rewrite with other content is caught too.
type FileIdentity struct {
	Volume      uint64 `json:"volume,omitempty"`
	Index       uint64 `json:"index,omitempty"`
	PrintOffset int64  `json:"print_offset,omitempty"`
	PrintLen    int64  `json:"print_len,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Size        int64  `json:"size"`
}

// IsZero reports whether nothing was recorded.
func (id FileIdentity) IsZero() bool { return id == FileIdentity{} }

// maxPrintLen bounds how many bytes are hashed, so identifying a 1 GB log
// costs one small read.
const maxPrintLen = 4096

// IdentifyFile computes the identity of the file at path.
func IdentifyFile(path string) (FileIdentity, error) {
	if err := checkRegular(path); err != nil {
		return FileIdentity{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return FileIdentity{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return FileIdentity{}, fmt.Errorf("stat %s: %w", path, err)
	}
	vol, idx, err := fileSystemID(f, st)
	if err != nil {
		return FileIdentity{}, fmt.Errorf("identify %s: %w", path, err)
	}
	off, n, err := printRegion(f, st.Size())
	if err != nil {
		return FileIdentity{}, fmt.Errorf("identify %s: %w", path, err)
	}
	sum, err := hashRegion(f, off, n)
	if err != nil {
		return FileIdentity{}, fmt.Errorf("identify %s: %w", path, err)
	}
	return FileIdentity{Volume: vol, Index: idx, PrintOffset: off, PrintLen: n, Fingerprint: sum, Size: st.Size()}, nil
}

// SameFile reports whether the file at path is still the file id was taken
// from (possibly grown).
func (id FileIdentity) SameFile(path string) (bool, error) {
	if err := checkRegular(path); err != nil {
		return false, err
	}
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", path, err)
	}
	vol, idx, err := fileSystemID(f, st)
	if err != nil {
		return false, fmt.Errorf("identify %s: %w", path, err)
	}
	if (id.Volume != 0 || id.Index != 0) && (vol != 0 || idx != 0) && (vol != id.Volume || idx != id.Index) {
		return false, nil
	}
	if st.Size() < id.Size || st.Size() < id.PrintOffset+id.PrintLen {
		return false, nil // logs only grow; a shorter file is another file
	}
	sum, err := hashRegion(f, id.PrintOffset, id.PrintLen)
	if err != nil {
		return false, fmt.Errorf("identify %s: %w", path, err)
	}
	return sum == id.Fingerprint, nil
}

// printRegion picks the stable bytes to fingerprint.
func printRegion(f *os.File, size int64) (off, n int64, err error) {
	head := make([]byte, 4096+512)
	m, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, 0, err
	}
	head = head[:m]
	switch Sniff(head) {
	case FormatEVTX:
		// Records of the first chunk start after the file header (4096) and
		// the chunk header (512); the chunk header's free-space offset (at
		// +48, relative to the chunk) says how far they are written.
		const chunk = 4096
		if len(head) < chunk+52 || !bytes.HasPrefix(head[chunk:], []byte("ElfChnk\x00")) {
			return 0, 0, nil
		}
		free := int64(binary.LittleEndian.Uint32(head[chunk+48:]))
		off = chunk + 512
		n = min(chunk+free, size) - off
	case FormatEVT:
		// The first record starts after the 48-byte header, its length is
		// its first field. A wrapped .evt overwrites it, which is a new file
		// as far as positions go.
		if len(head) < 52 {
			return 0, 0, nil
		}
		off = 48
		n = int64(binary.LittleEndian.Uint32(head[48:]))
	default:
		n = size
	}
	if n < 0 {
		n = 0
	}
	n = min(n, maxPrintLen, max(size-off, 0))
	return off, n, nil
}

func hashRegion(f *os.File, off, n int64) (string, error) {
	h := sha256.New()
	if n > 0 {
		if _, err := io.Copy(h, io.NewSectionReader(f, off, n)); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// FilePosition is where a file source stopped.
type FilePosition struct {
	File FileIdentity `json:"file"`
	// Last is the last event read (record ID and time).
	Last Position `json:"last"`
	// Count is how many events were read from this file; formats without
	// record IDs (some Event Viewer exports) resume by skipping that many.
	Count uint64 `json:"count"`
}

// FileResume says how an incremental read of a file began.
type FileResume struct {
	Kind ResumeKind
	// Note explains a fresh start on a replaced file; empty otherwise.
	Note string
}

// FileRead is one incremental pass over a log file: it yields only the
// events after a saved FilePosition (or, on a first read, those within the
// look-back) and tracks the new position. The new position is not saved by
// FileRead: the caller commits it together with what it did with the events.
type FileRead struct {
	r      Reader
	path   string
	saved  FilePosition
	resume FileResume
	since  time.Time
	skip   uint64 // events to skip (formats without record IDs)
	pos    FilePosition
	// earliest is the oldest event time seen, for Gap.
	earliest time.Time
	// filtered counts the new records opts.Filter.Keep passed over.
	filtered int
	// passed counts the events a first read passed over as older than the
	// look-back, passedNewest is the newest of them: the admin is told, so
	// a folder of old exports does not look clean when it was not read.
	passed       int
	passedNewest time.Time
}

// OpenFileAfter opens path for reading the events after saved. lookback
// bounds a first read (zero: no bound). opts.Filter.MinRecordID is set from
// the position, so the .evtx reader can skip whole chunks it has seen.
//
// Records opts.Filter.Keep rejects are not returned, but the position moves
// past them as past any event read (and Filtered counts them), so the next
// read does not look at them again.
func OpenFileAfter(path string, saved FilePosition, lookback time.Time, opts Options) (*FileRead, error) {
	id, err := IdentifyFile(path)
	if err != nil {
		return nil, err
	}
	fr := &FileRead{path: path, saved: saved, pos: FilePosition{File: id}}
	switch {
	case saved.File.IsZero():
		fr.resume = FileResume{Kind: ResumeFresh}
		fr.since = lookback
	default:
		same, err := saved.File.SameFile(path)
		if err != nil {
			return nil, err
		}
		if same {
			fr.resume = FileResume{Kind: ResumeContinue}
			fr.pos.Last = saved.Last
			fr.pos.Count = saved.Count
			if saved.Last.RecordID > 0 {
				opts.Filter.MinRecordID = max(opts.Filter.MinRecordID, saved.Last.RecordID+1)
			} else {
				fr.skip = saved.Count
			}
		} else {
			fr.resume = FileResume{Kind: ResumeCleared, Note: fmt.Sprintf(
				"%s: the file was replaced since the last run; resuming with events after %s (record %d)",
				path, saved.Last.Time.UTC().Format(time.RFC3339), saved.Last.RecordID)}
			fr.pos.Last = saved.Last
		}
	}
	if keep := opts.Filter.Keep; keep != nil {
		opts.Filter.Keep = func(h Header) bool {
			if keep(h) {
				return true
			}
			fr.passOver(h)
			return false
		}
	}
	r, err := Open(path, opts)
	if err != nil {
		return nil, err
	}
	fr.r = r
	return fr, nil
}

// passOver accounts for a record the caller's Keep rejected inside the
// reader as Next accounts for an event it reads: readers ask Keep with the
// record's ID and time, and say no at most once per record.
func (fr *FileRead) passOver(h Header) {
	if fr.accept(&Event{RecordID: h.RecordID, Time: h.Time}) {
		fr.filtered++
	}
}

// accept decides whether ev is new to this read, for Next and passOver
// alike, and moves the position past it when it is.
func (fr *FileRead) accept(ev *Event) bool {
	if fr.earliest.IsZero() || (!ev.Time.IsZero() && ev.Time.Before(fr.earliest)) {
		fr.earliest = ev.Time
	}
	switch fr.resume.Kind {
	case ResumeContinue:
		if fr.skip > 0 {
			fr.skip--
			return false
		}
		if fr.saved.Last.RecordID > 0 && ev.RecordID != 0 && ev.RecordID <= fr.saved.Last.RecordID {
			return false // the reader did not apply MinRecordID
		}
	case ResumeCleared:
		if !afterByTime(fr.saved.Last, ev) {
			return false
		}
	case ResumeFresh:
		if fr.beforeLookback(ev) {
			fr.passOld(ev)
			return false
		}
	}
	fr.advance(ev)
	return true
}

// Filtered is how many new records opts.Filter.Keep passed over so far:
// with the events Next returned, all the new records read.
func (fr *FileRead) Filtered() int { return fr.filtered }

// Resume says how this read began.
func (fr *FileRead) Resume() FileResume { return fr.resume }

// Next returns the next new event, or io.EOF.
func (fr *FileRead) Next(ctx context.Context) (*Event, error) {
	for {
		ev, err := fr.r.Next(ctx)
		if err != nil {
			return nil, err
		}
		if fr.accept(ev) {
			return ev, nil
		}
	}
}

// beforeLookback reports whether a first read passes ev over as older than
// the look-back. Events without a time are read.
func (fr *FileRead) beforeLookback(ev *Event) bool {
	return !fr.since.IsZero() && !ev.Time.IsZero() && ev.Time.Before(fr.since)
}

// passOld moves past an event older than the look-back, counting it.
func (fr *FileRead) passOld(ev *Event) {
	fr.passed++
	if ev.Time.After(fr.passedNewest) {
		fr.passedNewest = ev.Time
	}
	fr.advance(ev)
}

// PassedOver is how many events a first read passed over as older than
// the look-back so far (their position is past, so no later read returns
// them).
func (fr *FileRead) PassedOver() int { return fr.passed }

// afterByTime orders events of a replaced file by time, then record ID.
func afterByTime(p Position, ev *Event) bool {
	if ev.Time.After(p.Time) {
		return true
	}
	return ev.Time.Equal(p.Time) && ev.RecordID > p.RecordID
}

func (fr *FileRead) advance(ev *Event) {
	fr.pos.Count++
	if ev.Err != "" {
		// A record decoded with Err may have been half-written when read (a
		// log still being appended to): do not move past it on its own, so
		// it is read again next time instead of being lost.
		return
	}
	if ev.RecordID > fr.pos.Last.RecordID || (ev.RecordID == 0 && ev.Time.After(fr.pos.Last.Time)) {
		fr.pos.Last = Position{RecordID: ev.RecordID, Time: ev.Time}
	}
}

// Position is the position after the events returned so far.
func (fr *FileRead) Position() FilePosition { return fr.pos }

// Gap describes events this read skipped for good, in one line for the
// log; empty when there are none. Meaningful after EOF.
//
//   - A first read passes over the events older than the look-back and
//     moves its position past them, so no later read looks at them: say
//     how many, and how old, so a folder of old exports is not mistaken
//     for a clean one.
//   - A replaced file whose earliest event is newer than the saved
//     position: whatever happened in between is in neither file.
func (fr *FileRead) Gap() string {
	switch fr.resume.Kind {
	case ResumeFresh:
		if fr.passed == 0 {
			return ""
		}
		return fmt.Sprintf("%s: first read: passed over %d event(s) older than the look-back (before %s; newest at %s); they will not be analysed ('evtwatch analyze' reads a whole file)",
			fr.path, fr.passed, fr.since.UTC().Format(time.RFC3339), fr.passedNewest.UTC().Format(time.RFC3339))
	case ResumeCleared:
		if fr.earliest.IsZero() || !fr.earliest.After(fr.saved.Last.Time) {
			return ""
		}
		return fmt.Sprintf("%s: the new file starts at %s, after the last event read (%s): events in between may have been missed",
			fr.path, fr.earliest.UTC().Format(time.RFC3339), fr.saved.Last.Time.UTC().Format(time.RFC3339))
	}
	return ""
}

// Problems lists damage seen by the underlying reader.
func (fr *FileRead) Problems() []Problem { return fr.r.Problems() }

// Format is the file's format.
func (fr *FileRead) Format() Format { return fr.r.Format() }

// Close closes the file.
func (fr *FileRead) Close() error { return fr.r.Close() }

var _ Reader = (*FileRead)(nil)
