package evtx

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx/internal/wevtapi"
)

// TestNextOutcome pins how an EvtNext result is read, as the Event Log API
// documents and as Winlogbeat found it behaves (ERROR_INVALID_OPERATION
// when polling an idle pull subscription). None of this runs under Wine.
func TestNextOutcome(t *testing.T) {
	errno := func(code int) error { return fmt.Errorf("EvtNext: %w", syscall.Errno(code)) }
	other := errno(5) // ERROR_ACCESS_DENIED
	for _, tc := range []struct {
		name   string
		err    error
		got    uint32
		follow bool
		n      int
		want   error
	}{
		{name: "handles", got: 7, n: 7},
		{name: "success without handles ends a query", want: io.EOF},
		{name: "success without handles: subscription caught up", follow: true, want: ErrCaughtUp},
		{name: "no more items: query", err: errno(wevtapi.ErrorNoMoreItems), want: io.EOF},
		{name: "no more items: subscription", err: errno(wevtapi.ErrorNoMoreItems), follow: true, want: ErrCaughtUp},
		{name: "invalid operation after a query's end", err: errno(wevtapi.ErrorInvalidOperation), want: io.EOF},
		{name: "invalid operation polling an idle subscription", err: errno(wevtapi.ErrorInvalidOperation), follow: true, want: ErrCaughtUp},
		{name: "invalid operation with handles is a failure", err: errno(wevtapi.ErrorInvalidOperation), got: 1, want: syscall.Errno(wevtapi.ErrorInvalidOperation)},
		{name: "timeout: query asks again", err: errno(wevtapi.ErrorTimeout), want: errNextAgain},
		{name: "timeout: subscription is caught up, no spinning", err: errno(wevtapi.ErrorTimeout), follow: true, want: ErrCaughtUp},
		{name: "stale result", err: errno(wevtapi.ErrorEvtQueryResultStale), follow: true, want: ErrLogStale},
		{name: "invalid position", err: errno(wevtapi.ErrorEvtQueryResultInvalidPosition), want: ErrLogStale},
		{name: "strict subscription lost its records", err: errno(wevtapi.ErrorNotFound), follow: true, want: ErrLogStale},
		{name: "other errors pass through", err: other, want: other},
		{name: "non-errno errors pass through", err: errors.New("boom"), want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := nextOutcome(tc.err, tc.got, tc.follow)
			require.Equal(t, tc.n, n)
			switch {
			case tc.want != nil:
				require.ErrorIs(t, err, tc.want)
			case tc.err != nil:
				require.Equal(t, tc.err, err)
			default:
				require.NoError(t, err)
			}
		})
	}
}

func TestQueryBounds(t *testing.T) {
	since := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	q := Query{
		Channel:       "Application",
		Providers:     []string{"Server ActiveSync", "IAS"},
		EventIDs:      []uint16{3015, 3024},
		Levels:        []Level{LevelError},
		AfterRecordID: 41200,
		Since:         since,
	}
	require.True(t, q.narrowed())
	b := q.Bounds()
	require.False(t, b.narrowed())
	xp, err := b.XPath()
	require.NoError(t, err)
	require.Equal(t, "*[System[EventRecordID>41200 and TimeCreated[@SystemTime>='2026-11-25T06:00:00.000Z']]]", xp)
	require.False(t, Query{Channel: "System"}.narrowed())
}

// TestQueryClauseBudget: providers, event IDs, levels and bounds share one
// budget of maxQueryClauses comparisons (Winlogbeat saw 21-22 rejected);
// what does not fit is left to the rules, never a bound.
func TestQueryClauseBudget(t *testing.T) {
	ids := make([]uint16, 0, 12)
	for i := range 12 {
		ids = append(ids, uint16(3000+2*i)) // no runs: 12 comparisons
	}
	providers := []string{"A", "B", "C", "D"} // 8 comparisons
	q := Query{Channel: "Application", Providers: providers, EventIDs: ids, Levels: []Level{LevelError}, AfterRecordID: 7}
	xp, err := q.XPath()
	require.NoError(t, err)
	// 1 bound + 8 provider comparisons leave 11: the 12 IDs do not fit, the level does.
	require.NotContains(t, xp, "EventID=")
	require.Contains(t, xp, "@EventSourceName='D'")
	require.Contains(t, xp, "Level=2")
	require.Contains(t, xp, "EventRecordID>7")

	q.AfterRecordID = 0
	xp, err = q.XPath()
	require.NoError(t, err)
	require.Contains(t, xp, "EventID=3022", "8 + 12 = 20 fit without a bound")
	require.NotContains(t, xp, "Level=", "no room left for the level")

	many := make([]string, 11) // 22 comparisons
	for i := range many {
		many[i] = fmt.Sprintf("P%d", i)
	}
	xp, err = Query{Channel: "System", Providers: many, EventIDs: []uint16{7036}, Since: time.Unix(0, 0)}.XPath()
	require.NoError(t, err)
	require.Equal(t, "*[System[EventID=7036 and TimeCreated[@SystemTime>='1970-01-01T00:00:00.000Z']]]", xp)
}
