package evtx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/windows"

	"github.com/evtwatch/evtwatch/evtx/internal/wevtapi"
)

// liveBatch is how many event handles one EvtNext call returns at most
// (Windows rejects more than 1024 on some versions).
const liveBatch = 128

// queryWait bounds one EvtNext wait on a query, so a cancelled context is
// noticed.
const queryWait = 2000 // milliseconds

// liveReader reads a channel through EvtQuery (scan) or a pull-mode
// EvtSubscribe (follow). Every event handle is rendered to XML and decoded by
// ParseEventXML, the same decoder as exported XML, so live and offline
// events look the same to the rules.
type liveReader struct {
	opts     LiveOptions
	channel  string
	results  wevtapi.Handle // query result set or subscription
	signal   windows.Handle // follow mode: set by the service when events arrive
	bookmark wevtapi.Handle
	marked   bool // bookmark holds a position
	batch    [liveBatch]wevtapi.Handle
	n, i     int
	ended    bool                      // a query returned its last event
	locked   bool                      // query: the goroutine is locked to its thread until Close
	pubs     map[string]wevtapi.Handle // 0 when the publisher has no metadata
	problems []Problem
	log      *slog.Logger
}

// OpenLive opens a live channel for reading. The reader must be closed.
func OpenLive(opts LiveOptions) (LiveReader, error) {
	if opts.Query.Channel == "" {
		return nil, errNoChannel
	}
	r := &liveReader{opts: opts, channel: opts.Query.Channel, pubs: map[string]wevtapi.Handle{}, log: opts.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if opts.Follow {
		err = r.subscribe()
	} else {
		// "You must only use the query handle that this function returns
		// on the same thread that created the handle" (EvtQuery); a
		// goroutine moves between threads unless locked, until Close.
		runtime.LockOSThread()
		r.locked = true
		err = r.query()
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *liveReader) query() error {
	var err error
	if r.bookmark, err = newBookmark(r.opts.Bookmark); err != nil {
		return fmt.Errorf("channel %s: %w", r.channel, err)
	}
	r.marked = r.opts.Bookmark != ""
	r.results, err = r.withBroadening("EvtQuery", func(q *uint16) (wevtapi.Handle, error) {
		// Path is ignored for a structured query (EvtQuery documentation);
		// no EvtQueryTolerateQueryErrors: the service would silently drop
		// the failing part of the query, which may be a bound (re-reading
		// the whole log); withBroadening drops only the narrowing instead.
		return wevtapi.EvtQuery(0, nil, q, wevtapi.EvtQueryChannelPath|wevtapi.EvtQueryForwardDirection)
	}, r.opts.Query)
	return err
}

// withBroadening runs open with the query's structured XML, and once more
// with only its bounds (Query.Bounds) when the service rejects the query as
// invalid or too complex, with a warning: the rules filter every event
// anyway, so a broader query costs rendering time, never correctness.
func (r *liveReader) withBroadening(call string, open func(query *uint16) (wevtapi.Handle, error), q Query) (wevtapi.Handle, error) {
	for {
		ql, err := q.QueryList()
		if err != nil {
			return 0, fmt.Errorf("channel %s: %w", r.channel, err)
		}
		p, err := windows.UTF16PtrFromString(ql)
		if err != nil {
			return 0, fmt.Errorf("channel %s: query: %w", r.channel, err)
		}
		h, err := open(p)
		if err == nil {
			return h, nil
		}
		if q.narrowed() && (errors.Is(err, windows.Errno(wevtapi.ErrorEvtInvalidQuery)) || errors.Is(err, windows.Errno(wevtapi.ErrorEvtFilterTooComplex))) {
			r.log.Warn("the event log service rejected the narrowed query; reading every event of the channel within the same bounds instead", "channel", r.channel, "query", ql, "err", err)
			q = q.Bounds()
			continue
		}
		return 0, liveError(call, r.channel, err)
	}
}

func (r *liveReader) subscribe() error {
	var err error
	r.signal, err = windows.CreateEvent(nil, 1, 1, nil) // manual reset, initially set: drain first
	if err != nil {
		return fmt.Errorf("CreateEvent: %w", err)
	}
	if r.opts.Bookmark != "" {
		bm, err := newBookmark(r.opts.Bookmark)
		if err == nil {
			q := r.opts.Query
			q.AfterRecordID, q.Since = 0, time.Time{}
			if r.results, err = r.evtSubscribe(q, bm, wevtapi.EvtSubscribeStartAfterBookmark|wevtapi.EvtSubscribeStrict); err == nil {
				r.bookmark, r.marked = bm, true
				return nil
			}
			wevtapi.Close(bm)
		}
		// Lossless: the caller passes a bookmark only with the query bound
		// after the same record (a Continue plan), so only the seek is lost.
		// A bookmark saved by a scan may name a record the query does not
		// select, which a strict subscription may refuse.
		r.log.Info("bookmark not usable; subscribing after the saved record ID instead (nothing is skipped)", "channel", r.channel, "after_record_id", r.opts.Query.AfterRecordID, "err", err)
	}
	if r.bookmark, err = newBookmark(""); err != nil {
		return fmt.Errorf("channel %s: %w", r.channel, err)
	}
	r.results, err = r.evtSubscribe(r.opts.Query, 0, wevtapi.EvtSubscribeStartAtOldestRecord)
	return err
}

func (r *liveReader) evtSubscribe(q Query, bookmark wevtapi.Handle, flags uint32) (wevtapi.Handle, error) {
	return r.withBroadening("EvtSubscribe", func(qp *uint16) (wevtapi.Handle, error) {
		// ChannelPath is ignored for a structured query (EvtSubscribe
		// documentation). No EvtSubscribeTolerateQueryErrors, as in query.
		return wevtapi.EvtSubscribe(0, r.signal, nil, qp, bookmark, 0, 0, flags)
	}, q)
}

func (r *liveReader) Next(ctx context.Context) (*Event, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if r.i < r.n {
			h := r.batch[r.i]
			r.batch[r.i] = 0
			r.i++
			ev, err := r.decode(h)
			if uerr := wevtapi.EvtUpdateBookmark(r.bookmark, h); uerr == nil {
				r.marked = true
			}
			wevtapi.Close(h)
			if err != nil {
				r.problems = append(r.problems, Problem{Path: r.channel, Offset: -1, ChunkOffset: -1, Err: err})
				if ev == nil {
					continue
				}
			}
			return ev, nil
		}
		if err := r.fetch(); err != nil {
			return nil, err
		}
	}
}

// fetch fills the batch with the next event handles. The end of a query is
// remembered: EvtNext after it fails with ERROR_INVALID_OPERATION.
func (r *liveReader) fetch() error {
	r.i, r.n = 0, 0
	if r.ended {
		return io.EOF
	}
	timeout := uint32(queryWait)
	if r.opts.Follow {
		timeout = 0
	}
	var got uint32
	n, err := nextOutcome(wevtapi.EvtNext(r.results, liveBatch, &r.batch[0], timeout, 0, &got), got, r.opts.Follow)
	switch {
	case err == nil:
		r.n = n
		return nil
	case errors.Is(err, errNextAgain):
		return nil // nothing yet; Next checks the context and asks again
	case errors.Is(err, io.EOF):
		r.ended = true
		return io.EOF
	case errors.Is(err, ErrCaughtUp):
		return ErrCaughtUp
	case errors.Is(err, ErrLogStale):
		return fmt.Errorf("channel %s: %w", r.channel, ErrLogStale)
	}
	return liveError("EvtNext", r.channel, err)
}

func (r *liveReader) decode(h wevtapi.Handle) (*Event, error) {
	x, err := wevtapi.RenderXML(h)
	if err != nil {
		return nil, fmt.Errorf("render event: %w", err)
	}
	ev, err := ParseEventXML([]byte(x))
	if ev == nil {
		return nil, fmt.Errorf("decode rendered event: %w", err)
	}
	ev.Origin = Origin{Path: r.channel, Format: FormatLive, Offset: -1}
	if ev.Channel == "" {
		ev.Channel = r.channel
	}
	if r.opts.Messages && ev.Provider != "" {
		if pub := r.publisher(ev.Provider); pub != 0 {
			// An empty result keeps the message the XML carried (the
			// RenderingInfo of a forwarded event).
			if msg, merr := wevtapi.FormatMessage(pub, h); merr == nil {
				if msg != "" {
					ev.Message = msg
				}
			} else {
				r.log.Debug("no message for event", "channel", r.channel, "provider", ev.Provider, "event_id", ev.EventID, "err", merr)
			}
		}
	}
	return ev, err
}

// publisher opens and caches a provider's metadata; 0 when it has none
// (uninstalled software, forwarded events).
func (r *liveReader) publisher(name string) wevtapi.Handle {
	if h, ok := r.pubs[name]; ok {
		return h
	}
	h, err := wevtapi.OpenPublisher(name)
	if err != nil {
		r.log.Debug("no publisher metadata", "provider", name, "err", err)
		h = 0
	}
	r.pubs[name] = h
	return h
}

func (r *liveReader) Bookmark() (string, error) {
	if !r.marked {
		return "", nil
	}
	s, err := wevtapi.RenderBookmark(r.bookmark)
	if err != nil {
		return "", fmt.Errorf("channel %s: %w", r.channel, err)
	}
	return s, nil
}

// Wait blocks until the subscription's signal event is set, then resets it
// before the caller drains: an event that arrives while draining sets it
// again, so none is left waiting for the next one.
func (r *liveReader) Wait(ctx context.Context) error {
	if !r.opts.Follow {
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		ev, err := windows.WaitForSingleObject(r.signal, 250)
		if err != nil {
			return fmt.Errorf("wait for events on %s: %w", r.channel, err)
		}
		if ev == windows.WAIT_OBJECT_0 {
			return windows.ResetEvent(r.signal)
		}
	}
}

func (r *liveReader) Problems() []Problem { return r.problems }

func (r *liveReader) Format() Format { return FormatLive }

func (r *liveReader) Close() error {
	for i := r.i; i < r.n; i++ {
		wevtapi.Close(r.batch[i])
	}
	r.i, r.n = 0, 0
	for _, h := range r.pubs {
		wevtapi.Close(h)
	}
	r.pubs = nil
	wevtapi.Close(r.results)
	wevtapi.Close(r.bookmark)
	r.results, r.bookmark = 0, 0
	if r.signal != 0 {
		windows.CloseHandle(r.signal)
		r.signal = 0
	}
	if r.locked {
		r.locked = false
		runtime.UnlockOSThread()
	}
	return nil
}

// LiveLogRange returns the oldest record ID and the record count of a
// channel, for PlanResume.
func LiveLogRange(channel string) (LogRange, error) {
	oldest, count, err := wevtapi.LogRange(channel)
	if err != nil {
		return LogRange{}, liveError("EvtGetLogInfo", channel, err)
	}
	return LogRange{Oldest: oldest, Count: count}, nil
}

// LiveRecordTime returns the creation time of the record with the given ID,
// with ok false when the channel has no such record.
func LiveRecordTime(channel string, recordID uint64) (time.Time, bool, error) {
	runtime.LockOSThread() // the query handle stays on one thread (EvtQuery)
	defer runtime.UnlockOSThread()
	ch, q, err := utf16Pair(channel, "*[System[EventRecordID="+strconv.FormatUint(recordID, 10)+"]]")
	if err != nil {
		return time.Time{}, false, err
	}
	rs, err := wevtapi.EvtQuery(0, ch, q, wevtapi.EvtQueryChannelPath|wevtapi.EvtQueryForwardDirection)
	if err != nil {
		return time.Time{}, false, liveError("EvtQuery", channel, err)
	}
	defer wevtapi.Close(rs)
	var h wevtapi.Handle
	var got uint32
	_, err = nextOutcome(wevtapi.EvtNext(rs, 1, &h, queryWait, 0, &got), got, false)
	if errors.Is(err, io.EOF) {
		return time.Time{}, false, nil
	}
	if errors.Is(err, errNextAgain) {
		return time.Time{}, false, fmt.Errorf("channel %s: looking up record %d: the event log service did not answer within %d ms", channel, recordID, queryWait)
	}
	if err != nil {
		return time.Time{}, false, liveError("EvtNext", channel, err)
	}
	defer wevtapi.Close(h)
	x, err := wevtapi.RenderXML(h)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("channel %s: %w", channel, err)
	}
	ev, err := ParseEventXML([]byte(x))
	if ev == nil {
		return time.Time{}, false, fmt.Errorf("channel %s: record %d: %w", channel, recordID, err)
	}
	return ev.Time, true, nil
}

func newBookmark(xml string) (wevtapi.Handle, error) {
	var p *uint16
	if xml != "" {
		var err error
		if p, err = windows.UTF16PtrFromString(xml); err != nil {
			return 0, fmt.Errorf("%w: %v", ErrBadBookmark, err)
		}
	}
	h, err := wevtapi.EvtCreateBookmark(p)
	if err != nil {
		return 0, fmt.Errorf("EvtCreateBookmark: %w", err)
	}
	return h, nil
}

func utf16Pair(a, b string) (*uint16, *uint16, error) {
	pa, err := windows.UTF16PtrFromString(a)
	if err != nil {
		return nil, nil, err
	}
	pb, err := windows.UTF16PtrFromString(b)
	if err != nil {
		return nil, nil, err
	}
	return pa, pb, nil
}

// liveError names the call and the channel, and says what a missing channel
// or an access problem means for the user.
func liveError(call, channel string, err error) error {
	switch {
	case errors.Is(err, windows.Errno(wevtapi.ErrorEvtChannelNotFound)),
		errors.Is(err, windows.Errno(wevtapi.ErrorEvtInvalidChannelPath)):
		return fmt.Errorf("channel %q does not exist on this computer (%s: %w)", channel, call, err)
	case errors.Is(err, windows.ERROR_ACCESS_DENIED):
		return fmt.Errorf("channel %q: access denied: run as an administrator or a member of Event Log Readers (%s: %w)", channel, call, err)
	case errors.Is(err, windows.Errno(wevtapi.ErrorEvtSubscriptionToDirectChannel)):
		return fmt.Errorf("channel %q is an analytic or debug channel, which cannot be subscribed to; read it with a scan, or export it (%s: %w)", channel, call, err)
	case errors.Is(err, windows.Errno(wevtapi.ErrorEvtInvalidQuery)),
		errors.Is(err, windows.Errno(wevtapi.ErrorEvtFilterTooComplex)):
		return fmt.Errorf("channel %q: the event log service rejected the query (%s: %w)", channel, call, err)
	}
	return fmt.Errorf("channel %s: %s: %w", channel, call, err)
}
