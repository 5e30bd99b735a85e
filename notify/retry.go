package notify

import (
	"context"
	"log/slog"
	"time"
)

// Backoff is the schedule of the retry wrapper: waits of Initial, 2×, 4×
// ... capped at Max, for at most Attempts tries in all.
type Backoff struct {
	Initial  time.Duration
	Max      time.Duration
	Attempts int
}

// DefaultBackoff tries 4 times over about 7 seconds: long enough to ride
// out a blip, short enough that a scheduled scan does not hang on a dead
// server (the outbox retries on the next run).
func DefaultBackoff() Backoff {
	return Backoff{Initial: time.Second, Max: 30 * time.Second, Attempts: 4}
}

// Delay is the wait after the given failed attempt (1-based).
func (b Backoff) Delay(attempt int) time.Duration {
	d := b.Initial
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	return d
}

// Retrier wraps a Notifier and retries recoverable failures with
// exponential backoff, honouring a server's Retry-After, never waiting
// past the context's deadline and never longer than Backoff.Max in one
// go: when the next wait would not fit, or a server asks for a longer
// pause than that (a scan has no deadline, and must not hold its lock for
// an hour on a 429), it gives up at once and returns the last error, with
// its Retry-After hint, and retry=true, so the caller can keep the alerts
// for later (the outbox holds them until the hint has passed).
type Retrier struct {
	notifier Notifier
	backoff  Backoff
	timeout  time.Duration
	logger   *slog.Logger
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error
}

// RetryOption configures a Retrier.
type RetryOption func(*Retrier)

// WithClock replaces the clock and the sleep function (tests use a fake
// clock whose sleep returns at once and advances it).
func WithClock(now func() time.Time, sleep func(context.Context, time.Duration) error) RetryOption {
	return func(r *Retrier) {
		if now != nil {
			r.now = now
		}
		if sleep != nil {
			r.sleep = sleep
		}
	}
}

// WithAttemptTimeout bounds each attempt, inside the caller's context.
func WithAttemptTimeout(d time.Duration) RetryOption {
	return func(r *Retrier) { r.timeout = d }
}

// Retry wraps n.
func Retry(n Notifier, b Backoff, logger *slog.Logger, opts ...RetryOption) *Retrier {
	if b.Attempts < 1 {
		b.Attempts = 1
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Retrier{notifier: n, backoff: b, logger: logger, now: time.Now, sleep: sleepContext}
	for _, o := range opts {
		o(r)
	}
	return r
}

var _ Notifier = (*Retrier)(nil)

// Notify delivers alerts, retrying as described on Retrier.
func (r *Retrier) Notify(ctx context.Context, alerts ...Alert) (bool, error) {
	for attempt := 1; ; attempt++ {
		retry, err := r.once(ctx, alerts)
		if err == nil {
			return false, nil
		}
		if !retry || ctx.Err() != nil || attempt >= r.backoff.Attempts {
			return retry, err
		}
		wait := r.backoff.Delay(attempt)
		if ra, ok := RetryAfter(err); ok && ra > wait {
			wait = ra
		}
		if r.backoff.Max > 0 && wait > r.backoff.Max {
			r.logger.Debug("not retrying now: the server asked for a longer pause than a run waits", "attempt", attempt, "wait", wait, "max", r.backoff.Max, "err", err)
			return true, err
		}
		if dl, ok := ctx.Deadline(); ok && r.now().Add(wait).After(dl) {
			r.logger.Debug("not retrying: next attempt would pass the deadline", "attempt", attempt, "wait", wait, "err", err)
			return true, err
		}
		r.logger.Debug("retrying after a recoverable failure", "attempt", attempt, "wait", wait, "err", err)
		if serr := r.sleep(ctx, wait); serr != nil {
			return true, err
		}
	}
}

func (r *Retrier) once(ctx context.Context, alerts []Alert) (bool, error) {
	if r.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	return r.notifier.Notify(ctx, alerts...)
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
