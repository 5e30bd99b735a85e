package main

import (
	"context"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/evtwatch/evtwatch/evtx"
)

// fakeLive is an in-memory Windows event log with the behaviour channel
// sources depend on: consecutive record IDs per channel, a log that wraps
// (oldest records dropped) or is cleared (IDs restart at 1), queries over
// what is there when they start, and subscriptions that see what is
// written later and signal it.
type fakeLive struct {
	mu       sync.Mutex
	channels map[string][]evtx.Event
	nextID   map[string]uint64
	signal   chan struct{} // closed and replaced on every write
	// staleAfter makes the next reader fail with ErrLogStale after
	// returning this many events (0: never).
	staleAfter int
	opened     []evtx.LiveOptions
}

func newFakeLive() *fakeLive {
	return &fakeLive{channels: map[string][]evtx.Event{}, nextID: map[string]uint64{}, signal: make(chan struct{})}
}

// write appends events to channel, numbering them.
func (f *fakeLive) write(channel string, evs ...evtx.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ev := range evs {
		f.nextID[channel]++
		ev.RecordID = f.nextID[channel]
		ev.Channel = channel
		ev.Origin = evtx.Origin{Path: channel, Format: evtx.FormatLive, Offset: -1}
		f.channels[channel] = append(f.channels[channel], ev)
	}
	close(f.signal)
	f.signal = make(chan struct{})
}

// roll drops the oldest records so that keep remain (the log wrapped).
func (f *fakeLive) roll(channel string, keep int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	recs := f.channels[channel]
	if len(recs) > keep {
		f.channels[channel] = slices.Clone(recs[len(recs)-keep:])
	}
}

// clear empties channel; record IDs restart at 1.
func (f *fakeLive) clear(channel string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.channels[channel] = nil
	f.nextID[channel] = 0
}

func (f *fakeLive) LogRange(channel string) (evtx.LogRange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	recs := f.channels[channel]
	if len(recs) == 0 {
		return evtx.LogRange{}, nil
	}
	return evtx.LogRange{Oldest: recs[0].RecordID, Count: uint64(len(recs))}, nil
}

func (f *fakeLive) RecordTime(channel string, id uint64) (time.Time, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ev := range f.channels[channel] {
		if ev.RecordID == id {
			return ev.Time, true, nil
		}
	}
	return time.Time{}, false, nil
}

func (f *fakeLive) Open(opts evtx.LiveOptions) (evtx.LiveReader, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opened = append(f.opened, opts)
	r := &fakeLiveReader{f: f, opts: opts, after: opts.Query.AfterRecordID, staleAfter: f.staleAfter}
	f.staleAfter = 0
	if opts.Bookmark != "" {
		l, err := evtx.ParseBookmarkXML(opts.Bookmark)
		if err != nil {
			return nil, err
		}
		if id, ok := l.RecordID(opts.Query.Channel); ok {
			r.after = id
		}
	}
	if !opts.Follow {
		for _, ev := range f.channels[opts.Query.Channel] {
			if r.selects(ev) {
				r.snapshot = append(r.snapshot, ev)
			}
		}
	}
	return r, nil
}

type fakeLiveReader struct {
	f          *fakeLive
	opts       evtx.LiveOptions
	after      uint64 // last record returned (follow) / lower bound
	snapshot   []evtx.Event
	returned   int
	staleAfter int
	last       uint64
}

func (r *fakeLiveReader) selects(ev evtx.Event) bool {
	q := r.opts.Query
	if ev.RecordID <= r.after || (!q.Since.IsZero() && ev.Time.Before(q.Since)) {
		return false
	}
	if len(q.EventIDs) > 0 && !slices.Contains(q.EventIDs, ev.EventID) {
		return false
	}
	if len(q.Providers) > 0 && !slices.ContainsFunc(q.Providers, ev.FromProvider) {
		return false
	}
	return true
}

func (r *fakeLiveReader) Next(ctx context.Context) (*evtx.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.staleAfter > 0 && r.returned >= r.staleAfter {
		return nil, evtx.ErrLogStale
	}
	if !r.opts.Follow {
		if len(r.snapshot) == 0 {
			return nil, io.EOF
		}
		ev := r.snapshot[0]
		r.snapshot = r.snapshot[1:]
		r.returned++
		r.last = ev.RecordID
		return &ev, nil
	}
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	for _, ev := range r.f.channels[r.opts.Query.Channel] {
		if r.selects(ev) {
			r.after = ev.RecordID
			r.last = ev.RecordID
			r.returned++
			return &ev, nil
		}
	}
	return nil, evtx.ErrCaughtUp
}

func (r *fakeLiveReader) pending() bool {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	return slices.ContainsFunc(r.f.channels[r.opts.Query.Channel], r.selects)
}

func (r *fakeLiveReader) Wait(ctx context.Context) error {
	for {
		r.f.mu.Lock()
		sig := r.f.signal
		r.f.mu.Unlock()
		if r.pending() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-sig:
		}
	}
}

func (r *fakeLiveReader) Bookmark() (string, error) {
	if r.last == 0 {
		return r.opts.Bookmark, nil
	}
	return evtx.NewBookmarkXML(r.opts.Query.Channel, r.last), nil
}

func (r *fakeLiveReader) Problems() []evtx.Problem { return nil }
func (r *fakeLiveReader) Format() evtx.Format      { return evtx.FormatLive }
func (r *fakeLiveReader) Close() error             { return nil }
