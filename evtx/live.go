package evtx

import (
	"context"
	"errors"
	"log/slog"
)

// LiveOptions configure reading a live channel through the Windows Event
// Log API (OpenLive).
type LiveOptions struct {
	// Query names the channel and narrows the selection. Its AfterRecordID
	// and Since come from the resume plan (PlanResume).
	Query Query
	// Bookmark is bookmark XML to continue after (Follow mode). It is
	// preferred over Query.AfterRecordID; if the bookmarked event is gone,
	// the reader falls back to the query's bounds and logs it.
	Bookmark string
	// Follow subscribes (EvtSubscribe in pull mode): Next returns
	// ErrCaughtUp when nothing is pending and Wait blocks until the service
	// signals new events. Without Follow the reader runs a query (EvtQuery)
	// over what the log holds now and Next ends with io.EOF.
	Follow bool
	// Messages renders Event.Message with the provider's message table
	// (EvtFormatMessage), which costs a publisher lookup per provider.
	Messages bool
	// Logger receives warnings (nil: discarded).
	Logger *slog.Logger
}

// ErrCaughtUp is returned by a following LiveReader's Next when every
// event so far has been returned; call Wait, then Next again.
var ErrCaughtUp = errors.New("caught up: no new events yet")

// ErrLogStale is returned when the log changed under the reader (cleared,
// or wrapped past the reader's position: ERROR_EVT_QUERY_RESULT_STALE).
// The caller re-plans with PlanResume and opens a new reader.
var ErrLogStale = errors.New("the log was cleared or wrapped past the read position")

// LiveReader reads one live channel.
type LiveReader interface {
	Reader
	// Bookmark returns the bookmark XML after the last event returned by
	// Next, or the starting bookmark when none was returned yet ("" when
	// there is neither).
	Bookmark() (string, error)
	// Wait blocks until new events may be available, or ctx is done.
	Wait(ctx context.Context) error
}

// unsupportedLive wraps ErrUnsupportedPlatform with what to do instead.
func unsupportedLive(what string) error {
	return &liveUnsupportedError{what: what}
}

type liveUnsupportedError struct{ what string }

func (e *liveUnsupportedError) Error() string {
	return e.what + ": reading live Windows event logs needs Windows 10 / Server 2016 or later (" +
		ErrUnsupportedPlatform.Error() + "); export the log (wevtutil epl) and read the .evtx file instead"
}

func (e *liveUnsupportedError) Unwrap() error { return ErrUnsupportedPlatform }
