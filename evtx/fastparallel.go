package evtx

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"sync"
	"sync/atomic"
)

// OpenParallel opens a log like Open. An .evtx file is then decoded by
// workers goroutines (GOMAXPROCS when workers < 1, at most 8), each taking one 64 KiB
// chunk at a time, at most a few chunks ahead of the caller, while Next
// still returns the events in file order: the same events, and the same
// Problems once read to the end, as Open's reader. Other formats, and one
// worker, are read by Open's reader itself.
//
// The decoding goroutines run until the file is read or the reader is
// closed, so Close it. Next honours its context while waiting for a chunk.
// Filter.Keep is called from the workers, one call at a time, in no
// particular order between chunks.
func OpenParallel(path string, opts Options, workers int) (Reader, error) {
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	// Each worker keeps up to two chunks of decoded events in memory; more
	// than a few workers only wait for the caller anyway.
	workers = min(workers, maxParallelWorkers)
	if keep := opts.Filter.Keep; keep != nil && workers > 1 {
		var mu sync.Mutex
		opts.Filter.Keep = func(h Header) bool {
			mu.Lock()
			defer mu.Unlock()
			return keep(h)
		}
	}
	r, err := Open(path, opts)
	if err != nil || workers == 1 {
		return r, err
	}
	er, ok := r.(*evtxReader)
	if !ok {
		return r, nil
	}
	return newParallelEVTX(er, workers), nil
}

// maxParallelWorkers bounds OpenParallel's workers, and so its memory.
const maxParallelWorkers = 8

// parallelEVTX hands the chunks of an .evtx file to decoding workers and
// returns their events in order.
type parallelEVTX struct {
	base    *evtxReader // file, path, filter; its own chunk state is unused
	window  int         // chunks in flight
	next    int64       // offset of the next chunk to hand out
	jobs    chan *parallelChunk
	queue   []*parallelChunk // handed out, in file order
	cur     *parallelChunk
	idx     int
	stop    atomic.Bool
	wg      sync.WaitGroup
	closed  bool
	failed  error // the first I/O error, returned from then on
	started bool
	workers int
}

// parallelChunk is one chunk's work: set by a worker, read by the caller
// after ready is closed.
type parallelChunk struct {
	off      int64
	events   []*Event
	problems []Problem
	err      error
	ready    chan struct{}
}

func newParallelEVTX(base *evtxReader, workers int) *parallelEVTX {
	window := 2 * workers
	return &parallelEVTX{
		base:    base,
		window:  window,
		next:    base.nextChunk,
		jobs:    make(chan *parallelChunk, window),
		workers: workers,
	}
}

func (p *parallelEVTX) start() {
	p.started = true
	for range p.workers {
		// Each worker decodes with a reader of its own (buffers, template
		// caches, golang-evtx chunk state); they share only the file,
		// whose ReadAt is safe for concurrent use.
		w := &evtxReader{
			ra:      p.base.ra,
			path:    p.base.path,
			filter:  p.base.filter,
			size:    p.base.size,
			buf:     make([]byte, evtxChunkSize),
			pcs:     make([]uintptr, evtxMaxParseFrames),
			collect: true,
		}
		if p.base.fast != nil {
			w.fast = newFastState()
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for c := range p.jobs {
				if !p.stop.Load() {
					c.events, c.err = w.decodeChunkAt(c.off, &p.stop)
					c.problems, w.pending = w.pending, nil
				}
				close(c.ready)
			}
		}()
	}
}

// decodeChunkAt decodes the records of the chunk at off, stopping early
// when stop is set. Problems go to r.pending (r.collect is set).
func (r *evtxReader) decodeChunkAt(off int64, stop *atomic.Bool) ([]*Event, error) {
	r.nextChunk, r.chunk = off, nil
	if _, err := r.loadChunk(); err != nil {
		return nil, err
	}
	var evs []*Event
	for r.chunk != nil && !stop.Load() {
		ev, done := r.nextRecord(r.chunk)
		if done {
			r.chunk = nil
		}
		if ev != nil {
			evs = append(evs, ev)
		}
	}
	return evs, nil
}

func (p *parallelEVTX) Format() Format { return FormatEVTX }

// Problems lists the problems of the chunks returned so far, bounded and
// summed up as Open's reader does; once read to the end, the same list.
func (p *parallelEVTX) Problems() []Problem { return p.base.problems.all() }

// fill hands out chunks until window are in flight.
func (p *parallelEVTX) fill() {
	for len(p.queue) < p.window && p.next < p.base.size {
		c := &parallelChunk{off: p.next, ready: make(chan struct{})}
		p.next += evtxChunkSize
		p.queue = append(p.queue, c)
		p.jobs <- c // never blocks: at most window jobs are outstanding
	}
}

func (p *parallelEVTX) Next(ctx context.Context) (*Event, error) {
	if p.closed {
		return nil, fmt.Errorf("read %s: %w", p.base.path, fs.ErrClosed)
	}
	if p.failed != nil {
		return nil, p.failed
	}
	if !p.started {
		p.start()
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if p.cur != nil && p.idx < len(p.cur.events) {
			ev := p.cur.events[p.idx]
			p.cur.events[p.idx] = nil // the caller owns it now
			p.idx++
			return ev, nil
		}
		p.cur = nil
		p.fill()
		if len(p.queue) == 0 {
			p.base.finishFile()
			return nil, io.EOF
		}
		head := p.queue[0]
		select {
		case <-head.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		p.queue[0] = nil
		p.queue = p.queue[1:]
		for i := range head.problems {
			p.base.problem(head.problems[i])
		}
		if head.err != nil {
			p.failed = head.err
			return nil, head.err
		}
		p.cur, p.idx = head, 0
	}
}

// Close stops the workers, waits for them and closes the file.
func (p *parallelEVTX) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	p.stop.Store(true)
	close(p.jobs)
	p.wg.Wait()
	p.queue, p.cur = nil, nil
	return p.base.Close()
}

var _ Reader = (*parallelEVTX)(nil)
