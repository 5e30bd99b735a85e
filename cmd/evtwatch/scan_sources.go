package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/evtwatch/evtwatch/cmd/evtwatch/internal/state"
	"github.com/evtwatch/evtwatch/evtx"
)

// source is one place events come from, with its own position in the
// state file. Reading never saves the position: the cycle commits positions
// together with what it did with the events (see scanCycle).
type source interface {
	// key names the source in the state file ("file:/abs/path",
	// "channel:System").
	key() string
	// read returns the new events after pos (nil on a first run) that keep
	// accepts, and the position after every event read, kept or not.
	read(ctx context.Context, pos *state.Source, rc readContext) (sourceRead, error)
	close() error
}

// readContext is what every source needs to read.
type readContext struct {
	// lookback bounds a first read: older events are passed over.
	lookback time.Time
	now      time.Time
	// keep says whether an event matters to any rule; the others are read
	// (and counted) but not returned.
	keep func(*evtx.Event) bool
	// keepHeader is keep asked of a record before it is decoded, where the
	// format allows (evtx.Filter.Keep); unknown fields must pass.
	keepHeader func(evtx.Header) bool
	log        *slog.Logger
}

// sourceRead is what one read of one source gave.
type sourceRead struct {
	events   []*evtx.Event
	read     int // all new events, kept or not
	pos      *state.Source
	problems []error  // damage in the input: the run is partial
	warnings []string // recovered conditions worth a line in the log (a rolled-over log)
}

// fileSource is one log file, read incrementally from (file identity, last
// record). A file that is being appended to is followed by reading again
// from the saved record, which the .evtx reader turns into a seek past
// every chunk already read.
type fileSource struct {
	path string
}

func (s *fileSource) key() string { return "file:" + s.path }

func (s *fileSource) close() error { return nil }

func (s *fileSource) read(ctx context.Context, pos *state.Source, rc readContext) (sourceRead, error) {
	var saved evtx.FilePosition
	if pos != nil && pos.File != nil {
		saved = *pos.File
	}
	fr, err := evtx.OpenFileAfter(s.path, saved, rc.lookback, evtx.Options{Filter: evtx.Filter{Keep: rc.keepHeader}})
	if err != nil {
		return sourceRead{}, err
	}
	defer fr.Close()
	out := sourceRead{}
	if note := fr.Resume().Note; note != "" {
		out.warnings = append(out.warnings, note)
	}
	for {
		ev, err := fr.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return sourceRead{}, fmt.Errorf("%s: %w", s.path, err)
		}
		out.read++
		if rc.keep == nil || rc.keep(ev) {
			out.events = append(out.events, ev)
		}
	}
	out.read += fr.Filtered()
	if gap := fr.Gap(); gap != "" {
		out.warnings = append(out.warnings, gap)
	}
	// Damage is reported once per file: before the saved record it was
	// reported when it was read; a bad chunk the reader cannot skip by its
	// header is remembered by offset.
	var reported []int64
	if pos != nil && fr.Resume().Kind == evtx.ResumeContinue {
		reported = pos.Reported
	}
	next := slices.Clone(reported)
	for _, p := range fr.Problems() {
		if saved.Last.RecordID != 0 && p.RecordID != 0 && p.RecordID <= saved.Last.RecordID {
			continue
		}
		if p.Offset >= 0 && slices.Contains(reported, p.Offset) {
			rc.log.Debug("damage already reported", "problem", p)
			continue
		}
		out.problems = append(out.problems, p)
		if p.Offset >= 0 && len(next) < maxReported {
			next = append(next, p.Offset)
		}
	}
	np := fr.Position()
	out.pos = &state.Source{File: &np, Reported: next, Updated: rc.now}
	return out, nil
}

// maxReported bounds the damage offsets remembered per file.
const maxReported = 256

// expandFileSources turns a configured path (file, folder or glob) into
// file sources, sorted. Folders are walked as analyze walks them
// (expandInputs): recursively, following links (each folder once), listing
// only regular files, since a named pipe or device is never a log and
// opening a pipe would block, and listing a subfolder that cannot be read,
// so that reading it reports the error by name. A glob's matches are taken
// the same way: folders walked, pipes and devices passed over. A path that
// does not exist is kept, so reading it reports the error. Files that are
// not event logs are skipped when read (ErrUnknownFormat).
func expandFileSources(pattern string) ([]*fileSource, error) {
	roots := []string{pattern}
	if _, err := os.Lstat(pattern); err != nil && strings.ContainsAny(pattern, "*?[") {
		m, err := filepath.Glob(pattern)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", pattern, err)
		}
		roots = slices.DeleteFunc(m, neitherFileNorFolder)
	}
	files, err := expandInputs(roots)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", pattern, err)
	}
	out := make([]*fileSource, 0, len(files))
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		out = append(out, &fileSource{path: abs})
	}
	slices.SortFunc(out, func(a, b *fileSource) int { return strings.Compare(a.path, b.path) })
	return out, nil
}

// neitherFileNorFolder reports whether a glob match is a named pipe,
// socket or device (or a link to one): never a log. Matches that cannot
// be examined are kept, so reading them reports why.
func neitherFileNorFolder(path string) bool {
	st, err := os.Stat(path)
	if err != nil {
		return false
	}
	return !st.IsDir() && !st.Mode().IsRegular()
}

// identity is the file a source reads, links resolved: two configured
// paths reaching one file make one source, not two positions reading it
// twice.
func (s *fileSource) identity() string {
	if real := resolved(s.path); real != "" {
		return real
	}
	return s.path
}

// channelFilter narrows a live query to what the rules can use.
type channelFilter struct {
	EventIDs  []uint16
	Providers []string
}

// liveLog is the live event log as channel sources use it: evtx's wevtapi
// functions on Windows (systemLiveLog), an in-memory log in tests, so the
// resume, catch-up and recovery logic runs on Linux CI too.
type liveLog interface {
	LogRange(channel string) (evtx.LogRange, error)
	RecordTime(channel string, recordID uint64) (time.Time, bool, error)
	Open(opts evtx.LiveOptions) (evtx.LiveReader, error)
}

// systemLiveLog is this machine's event log.
type systemLiveLog struct{}

func (systemLiveLog) LogRange(channel string) (evtx.LogRange, error) {
	return evtx.LiveLogRange(channel)
}

func (systemLiveLog) RecordTime(channel string, id uint64) (time.Time, bool, error) {
	return evtx.LiveRecordTime(channel, id)
}

func (systemLiveLog) Open(opts evtx.LiveOptions) (evtx.LiveReader, error) { return evtx.OpenLive(opts) }

// channelSource is a live Windows channel. A scan runs a query bounded by
// the resume plan; watch keeps a pull-mode subscription open between cycles.
type channelSource struct {
	api     liveLog
	channel string
	filter  channelFilter
	follow  bool
	live    evtx.LiveReader // the open subscription (watch)
	// problemsSeen is how many of live's problems were already reported:
	// a subscription lives across cycles and its list only grows.
	problemsSeen int
}

func (s *channelSource) key() string { return "channel:" + s.channel }

func (s *channelSource) close() error {
	if s.live == nil {
		return nil
	}
	err := s.live.Close()
	s.live = nil
	return err
}

// read plans the resume from the saved position (detecting a cleared or
// wrapped log), reads what is new and returns the new position.
func (s *channelSource) read(ctx context.Context, pos *state.Source, rc readContext) (sourceRead, error) {
	var saved state.Source
	if pos != nil {
		saved = *pos
	}
	out := sourceRead{}
	for attempt := 0; ; attempt++ {
		err := s.readOnce(ctx, &saved, rc, &out)
		if errors.Is(err, evtx.ErrLogStale) && attempt < 2 {
			// The log changed under us; re-plan from what we have read.
			s.close()
			if out.pos != nil {
				saved = *out.pos
			}
			continue
		}
		return out, err
	}
}

func (s *channelSource) readOnce(ctx context.Context, saved *state.Source, rc readContext, out *sourceRead) error {
	rng, err := s.api.LogRange(s.channel)
	if err != nil {
		return err
	}
	if s.live == nil {
		if err := s.open(saved, rng, rc, out); err != nil {
			return err
		}
	}
	last := saved.Last
	bookmark := saved.Bookmark
	got := 0
	for {
		ev, err := s.live.Next(ctx)
		if errors.Is(err, io.EOF) || errors.Is(err, evtx.ErrCaughtUp) {
			break
		}
		if err != nil {
			if got > 0 {
				bookmark = evtx.NewBookmarkXML(s.channel, last.RecordID)
			}
			out.pos = &state.Source{Last: last, Bookmark: bookmark, Updated: rc.now}
			// A reader that failed is not asked again: the next cycle
			// re-plans from the position and opens a new one, instead of
			// failing on the same subscription every cycle (and a query's
			// handles are released now, not at exit).
			s.close()
			return err
		}
		if ev.RecordID != 0 && last.RecordID != 0 && ev.RecordID <= last.RecordID && s.follow {
			out.warnings = append(out.warnings, fmt.Sprintf(
				"%s: record IDs restarted at %d (after %d): the log was cleared while being watched; records written between the last read and the clear were lost, their number is unknown",
				s.channel, ev.RecordID, last.RecordID))
		}
		got++
		out.read++
		last = evtx.Position{RecordID: ev.RecordID, Time: ev.Time}
		if rc.keep == nil || rc.keep(ev) {
			out.events = append(out.events, ev)
		}
	}
	probs := s.live.Problems()
	for _, p := range probs[min(s.problemsSeen, len(probs)):] {
		out.problems = append(out.problems, p)
	}
	s.problemsSeen = len(probs)
	if got > 0 {
		bookmark = evtx.NewBookmarkXML(s.channel, last.RecordID)
		if bm, err := s.live.Bookmark(); err == nil && bookmarkAt(bm, s.channel, last.RecordID) {
			bookmark = bm
		}
	}
	if !s.follow {
		// A query sees every record up to the newest one that existed when
		// it started, matching or not: the position moves there, so a log
		// that wraps while nothing matches is not mistaken for a gap.
		if newest := rng.Newest(); newest > last.RecordID {
			if t, ok, err := s.api.RecordTime(s.channel, newest); err == nil && ok {
				last = evtx.Position{RecordID: newest, Time: t}
				bookmark = evtx.NewBookmarkXML(s.channel, newest)
			}
		}
		s.close()
	}
	out.pos = &state.Source{Last: last, Bookmark: bookmark, Updated: rc.now}
	return nil
}

func (s *channelSource) open(saved *state.Source, rng evtx.LogRange, rc readContext, out *sourceRead) error {
	var savedNow time.Time
	found := false
	if saved.Last.RecordID != 0 && saved.Last.RecordID >= rng.Oldest && saved.Last.RecordID <= rng.Newest() {
		t, ok, err := s.api.RecordTime(s.channel, saved.Last.RecordID)
		if err != nil {
			return err
		}
		savedNow, found = t, ok
	}
	plan := evtx.PlanResume(saved.Last, rc.lookback, rng, savedNow, found)
	if w := plan.Warning(s.channel, saved.Last); w != "" {
		out.warnings = append(out.warnings, w)
	}
	opts := evtx.LiveOptions{
		Query: evtx.Query{
			Channel:       s.channel,
			EventIDs:      s.filter.EventIDs,
			Providers:     s.filter.Providers,
			AfterRecordID: plan.AfterRecordID,
			Since:         plan.Since,
		},
		Follow:   s.follow,
		Messages: true,
		Logger:   rc.log,
	}
	if plan.Kind == evtx.ResumeContinue && s.follow {
		opts.Bookmark = saved.Bookmark
	}
	r, err := s.api.Open(opts)
	if err != nil {
		return err
	}
	s.live, s.problemsSeen = r, 0
	return nil
}

// bookmarkAt reports whether the reader's bookmark XML points at the last
// record read. The reader's bookmark is updated event by event
// (EvtUpdateBookmark), whose failure it cannot report; a bookmark left
// behind would make the next process read events again, so one that does
// not say the last record is replaced by one built from it.
func bookmarkAt(xml, channel string, recordID uint64) bool {
	l, err := evtx.ParseBookmarkXML(xml)
	if err != nil {
		return false
	}
	id, ok := l.RecordID(channel)
	return ok && id == recordID
}

// waitForEvents blocks until a following channel source may have new
// events (watch).
func (s *channelSource) wait(ctx context.Context) error {
	if s.live == nil {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.live.Wait(ctx)
}

// pruneFilePositions forgets file sources that no longer exist and have
// not been seen for a month, so a folder of daily exports does not grow the
// state file for ever.
func pruneFilePositions(st *state.State, now time.Time) {
	for k, src := range st.Sources {
		path, ok := strings.CutPrefix(k, "file:")
		if !ok || now.Sub(src.Updated) < 30*24*time.Hour {
			continue
		}
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			delete(st.Sources, k)
		}
	}
}
