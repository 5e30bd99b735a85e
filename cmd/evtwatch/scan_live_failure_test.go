package main

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx"
)

// failingLive opens fakeLive readers whose first Next after failAfter
// events fails with err once (an access problem, a service restart).
type failingLive struct {
	*fakeLive
	failAfter int
	err       error
	failed    bool
}

func (f *failingLive) Open(opts evtx.LiveOptions) (evtx.LiveReader, error) {
	r, err := f.fakeLive.Open(opts)
	if err != nil || f.failed {
		return r, err
	}
	return &failingReader{LiveReader: r, f: f}, nil
}

type failingReader struct {
	evtx.LiveReader
	f      *failingLive
	served int
}

func (r *failingReader) Next(ctx context.Context) (*evtx.Event, error) {
	if !r.f.failed && r.served >= r.f.failAfter {
		r.f.failed = true
		return nil, r.f.err
	}
	ev, err := r.LiveReader.Next(ctx)
	if err == nil {
		r.served++
	}
	return ev, err
}

// TestChannelSourceReopensAfterFailure: a subscription that failed is not
// asked again on the next cycle (it would fail for ever); the next cycle
// opens a new one from the position saved at the failure, with no gap and
// no repeat.
func TestChannelSourceReopensAfterFailure(t *testing.T) {
	now := scanT0
	live := &failingLive{fakeLive: newFakeLive(), failAfter: 2, err: errors.New("EvtNext: the RPC server is unavailable")}
	for i := range 4 {
		live.write("System", scm(now.Add(-time.Duration(4-i)*time.Minute)))
	}
	src := &channelSource{api: live, channel: "System", follow: true}
	rc := readContext{lookback: now.Add(-24 * time.Hour), now: now, log: slog.New(slog.DiscardHandler)}

	out, err := src.read(context.Background(), nil, rc)
	require.ErrorIs(t, err, live.err)
	require.Equal(t, []uint64{1, 2}, ids(out.events))
	require.NotNil(t, out.pos)
	require.Nil(t, src.live, "the failed reader is closed")

	out, err = src.read(context.Background(), out.pos, rc)
	require.NoError(t, err)
	require.Equal(t, []uint64{3, 4}, ids(out.events))
	require.Len(t, live.opened, 2, "re-opened from the saved position")
	require.Equal(t, uint64(2), live.opened[1].Query.AfterRecordID)
	require.NoError(t, src.close())

}

// problemLive opens fakeLive readers that record one rendering problem
// and whose bookmark lags one event behind (EvtUpdateBookmark failed).
type problemLive struct{ *fakeLive }

func (f problemLive) Open(opts evtx.LiveOptions) (evtx.LiveReader, error) {
	r, err := f.fakeLive.Open(opts)
	if err != nil {
		return nil, err
	}
	return &problemReader{LiveReader: r, channel: opts.Query.Channel}, nil
}

type problemReader struct {
	evtx.LiveReader
	channel string
	ids     []uint64
}

func (r *problemReader) Next(ctx context.Context) (*evtx.Event, error) {
	ev, err := r.LiveReader.Next(ctx)
	if err == nil {
		r.ids = append(r.ids, ev.RecordID)
	}
	return ev, err
}

func (r *problemReader) Problems() []evtx.Problem {
	return []evtx.Problem{{Path: r.channel, Offset: -1, ChunkOffset: -1, Err: errors.New("render event: ERROR_INSUFFICIENT_BUFFER")}}
}

func (r *problemReader) Bookmark() (string, error) {
	if len(r.ids) < 2 {
		return "", nil
	}
	return evtx.NewBookmarkXML(r.channel, r.ids[len(r.ids)-2]), nil
}

// TestChannelSourceSubscriptionProblemsOnce: a subscription stays open
// across watch cycles and its problem list only grows; each problem is
// reported by the cycle that met it, not by every later one (which made
// every cycle "partial"). A bookmark that does not point at the last
// record read is not saved.
func TestChannelSourceSubscriptionProblemsOnce(t *testing.T) {
	now := scanT0
	live := problemLive{newFakeLive()}
	live.write("System", scm(now.Add(-2*time.Minute)), scm(now.Add(-time.Minute)))
	src := &channelSource{api: live, channel: "System", follow: true}

	out := readChannel(t, src, nil, now)
	require.Equal(t, []uint64{1, 2}, ids(out.events))
	require.Len(t, out.problems, 1)
	require.Equal(t, evtx.NewBookmarkXML("System", 2), out.pos.Bookmark, "the lagging bookmark (record 1) is not saved")

	live.write("System", scm(now))
	out = readChannel(t, src, out.pos, now)
	require.Equal(t, []uint64{3}, ids(out.events))
	require.Empty(t, out.problems, "reported by the first cycle")
	require.Equal(t, evtx.NewBookmarkXML("System", 3), out.pos.Bookmark)
	require.NoError(t, src.close())
}
