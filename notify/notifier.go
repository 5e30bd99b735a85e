package notify

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Notifier delivers alerts through one channel. Several alerts in one call
// make one message (a digest). retry says whether trying the same alerts
// again later may succeed (server down, 4xx SMTP reply, Slack 5xx or 429);
// it is false for failures that need a person (bad recipient, revoked
// token, unknown channel). err never contains a secret.
type Notifier interface {
	Notify(ctx context.Context, alerts ...Alert) (retry bool, err error)
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(ctx context.Context, alerts ...Alert) (bool, error)

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, alerts ...Alert) (bool, error) {
	return f(ctx, alerts...)
}

// Channel is a named notifier ("email", "slack"). Outbox entries are kept
// per channel, so a message delivered by email is not resent when Slack
// was the one that failed.
type Channel struct {
	Name     string
	Notifier Notifier
}

// retryAfterError carries a server's "try again after" hint.
type retryAfterError struct {
	after time.Duration
	err   error
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// WithRetryAfter attaches a server's "retry after d" hint (Slack 429
// Retry-After) to err; the retry wrapper and the outbox honour it.
func WithRetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryAfterError{after: d, err: err}
}

// RetryAfter returns the hint attached by WithRetryAfter.
func RetryAfter(err error) (time.Duration, bool) {
	var ra *retryAfterError
	if errors.As(err, &ra) {
		return ra.after, true
	}
	return 0, false
}

// Redact replaces every non-empty secret in s with <secret>. Channels run
// their error texts through it as a last line of defence: some libraries
// put the request URL (a webhook URL is a credential) into their errors.
func Redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "<secret>")
		}
	}
	return s
}

// redactedError is an error whose text has been scrubbed. It unwraps only
// to context errors, so errors.Is(err, context.DeadlineExceeded) still
// works but nothing can reach the unscrubbed chain.
type redactedError struct {
	msg      string
	ctx      error
	after    time.Duration
	hasAfter bool
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() []error {
	var out []error
	if e.ctx != nil {
		out = append(out, e.ctx)
	}
	if e.hasAfter {
		out = append(out, &retryAfterError{after: e.after, err: errors.New(e.msg)})
	}
	return out
}

// RedactError returns an error with err's text scrubbed of secrets that
// keeps context.Canceled/DeadlineExceeded and the Retry-After hint visible
// to errors.Is and RetryAfter. nil stays nil.
func RedactError(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	re := &redactedError{msg: Redact(err.Error(), secrets...)}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		re.ctx = context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		re.ctx = context.Canceled
	}
	re.after, re.hasAfter = RetryAfter(err)
	return re
}
