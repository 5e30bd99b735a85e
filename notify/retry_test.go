package notify_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/notify"
)

// scripted fails with the given results in turn, then succeeds.
type scripted struct {
	results []struct {
		retry bool
		err   error
	}
	calls int
}

func (s *scripted) add(retry bool, err error) *scripted {
	s.results = append(s.results, struct {
		retry bool
		err   error
	}{retry, err})
	return s
}

func (s *scripted) Notify(_ context.Context, _ ...notify.Alert) (bool, error) {
	s.calls++
	if s.calls <= len(s.results) {
		r := s.results[s.calls-1]
		return r.retry, r.err
	}
	return false, nil
}

func TestRetry(t *testing.T) {
	start := mustTime(t, "2024-03-05T14:00:00Z")
	boom := errors.New("451 try later")
	for name, tc := range map[string]struct {
		script    *scripted
		deadline  time.Duration // 0: none
		wantCalls int
		wantRetry bool
		wantErr   bool
		wantSlept []time.Duration
	}{
		"success after two recoverable failures, exponential waits": {
			script:    new(scripted).add(true, boom).add(true, boom),
			wantCalls: 3, wantSlept: []time.Duration{time.Second, 2 * time.Second},
		},
		"a permanent failure stops at once": {
			script:    new(scripted).add(false, errors.New("550 no such user")),
			wantCalls: 1, wantErr: true,
		},
		"gives up after the attempts, still retryable": {
			script:    new(scripted).add(true, boom).add(true, boom).add(true, boom).add(true, boom),
			wantCalls: 4, wantRetry: true, wantErr: true,
			wantSlept: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
		},
		"Retry-After longer than the backoff is honoured": {
			script:    new(scripted).add(true, notify.WithRetryAfter(errors.New("429"), 7*time.Second)),
			wantCalls: 2, wantSlept: []time.Duration{7 * time.Second},
		},
		"a wait that would pass the deadline is not started": {
			script:    new(scripted).add(true, notify.WithRetryAfter(errors.New("429"), time.Minute)),
			deadline:  10 * time.Second,
			wantCalls: 1, wantRetry: true, wantErr: true,
		},
		"waits that fit the deadline are made": {
			script:    new(scripted).add(true, boom).add(true, boom).add(true, boom),
			deadline:  5 * time.Second,
			wantCalls: 3, wantRetry: true, wantErr: true,
			wantSlept: []time.Duration{time.Second, 2 * time.Second},
		},
	} {
		t.Run(name, func(t *testing.T) {
			clock := newFakeClock(start)
			ctx := context.Background()
			if tc.deadline > 0 {
				// The deadline is on the fake clock's timeline; the real
				// context must not expire during the test.
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Hour))
				defer cancel()
				clock = newFakeClock(time.Now().Add(time.Hour - tc.deadline))
			}
			r := notify.Retry(tc.script, notify.DefaultBackoff(), nil, notify.WithClock(clock.Now, clock.Sleep))
			retry, err := r.Notify(ctx, notify.SampleAlert(start))
			require.Equal(t, tc.wantCalls, tc.script.calls)
			require.Equal(t, tc.wantRetry, retry)
			require.Equal(t, tc.wantErr, err != nil, "err: %v", err)
			require.Equal(t, tc.wantSlept, clock.Slept())
		})
	}
}

func TestRetryStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := notify.NotifierFunc(func(context.Context, ...notify.Alert) (bool, error) {
		cancel()
		return true, context.Canceled
	})
	clock := newFakeClock(time.Unix(0, 0))
	retry, err := notify.Retry(n, notify.DefaultBackoff(), nil, notify.WithClock(clock.Now, clock.Sleep)).Notify(ctx)
	require.True(t, retry)
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, clock.Slept())
}

func TestBackoffDelay(t *testing.T) {
	b := notify.Backoff{Initial: time.Second, Max: 5 * time.Second, Attempts: 10}
	var got []time.Duration
	for i := 1; i <= 5; i++ {
		got = append(got, b.Delay(i))
	}
	require.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}, got)
}
