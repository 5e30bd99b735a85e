package evtx

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"syscall"

	"github.com/evtwatch/evtwatch/evtx/internal/wevtapi"
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
	// over what the log holds now and Next ends with io.EOF; such a reader
	// must be used and closed by the goroutine that opened it, since the
	// service wants a query handle used on the thread that created it (the
	// reader locks the goroutine to its thread until Close).
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

// errNextAgain: a query's EvtNext timed out before the service had a result;
// ask again (the caller checks its context between calls).
var errNextAgain = errors.New("no result yet")

// nextOutcome interprets one EvtNext call (err as the binding returns it,
// got the number of handles it set): the number of handles to use, or why
// there are none. It is portable so Linux CI tests it; the error codes are
// the Win32 ones the Event Log API returns.
//
//   - ERROR_NO_MORE_ITEMS, and success with no handle, end the results
//     (io.EOF for a query, ErrCaughtUp for a subscription).
//   - ERROR_INVALID_OPERATION with no handle means the same: the service
//     returns it when a pull subscription with nothing pending is polled,
//     and when a query is asked again after its end (Winlogbeat maps it the
//     same way). Treated as a failure it made every idle watch cycle fail.
//   - ERROR_TIMEOUT: for a subscription (polled with a zero timeout) it is
//     "caught up"; asking again at once would spin. For a query, ask again.
//   - ERROR_EVT_QUERY_RESULT_STALE / _INVALID_POSITION, and ERROR_NOT_FOUND
//     (a strict subscription whose next records were overwritten), mean the
//     log moved under the reader: ErrLogStale, so the caller re-plans and
//     says what was missed.
func nextOutcome(err error, got uint32, follow bool) (int, error) {
	end := io.EOF
	if follow {
		end = ErrCaughtUp
	}
	if err == nil {
		if got == 0 {
			return 0, end
		}
		return int(got), nil
	}
	var code syscall.Errno
	if !errors.As(err, &code) {
		return 0, err
	}
	switch code {
	case wevtapi.ErrorNoMoreItems:
		return 0, end
	case wevtapi.ErrorInvalidOperation:
		if got == 0 {
			return 0, end
		}
	case wevtapi.ErrorTimeout:
		if follow {
			return 0, ErrCaughtUp
		}
		return 0, errNextAgain
	case wevtapi.ErrorEvtQueryResultStale, wevtapi.ErrorEvtQueryResultInvalidPosition, wevtapi.ErrorNotFound:
		return 0, ErrLogStale
	}
	return 0, err
}
