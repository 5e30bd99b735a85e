package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/evtwatch/evtwatch/rules"
)

// Dispatcher turns findings into alerts and delivers them. It owns no
// storage: it reads and updates a State that the caller loads and
// persists. The intended cycle for a scan is
//
//	st, err := notify.DecodeState(b)             // from the scan's state file
//	d, err := notify.NewDispatcher(cfg, channels, st, logger)
//	d.Add(findings...)                            // throttle, resolve, queue
//	save(st)                                      // findings are now durable: advance read positions
//	report, err := d.Flush(ctx, func() error { return save(st) })
//
// Add only changes the State in memory; Flush sends what is due and calls
// checkpoint after every change, so a crash repeats at most the message
// that was in flight.
type Dispatcher struct {
	mu       sync.Mutex
	cfg      Config
	channels []Channel
	state    *State
	logger   *slog.Logger
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error
	// configs identifies each channel's configuration (channelConfigID),
	// so a rejected entry held back is tried at once when it changes.
	configs map[string]string
}

// DispatcherOption configures a Dispatcher.
type DispatcherOption func(*Dispatcher)

// WithDispatchClock injects the clock and the sleep used between retries.
func WithDispatchClock(now func() time.Time, sleep func(context.Context, time.Duration) error) DispatcherOption {
	return func(d *Dispatcher) {
		if now != nil {
			d.now = now
		}
		if sleep != nil {
			d.sleep = sleep
		}
	}
}

// NewDispatcher returns a dispatcher over the given channels and state.
// cfg must have been resolved (Config.Resolve).
func NewDispatcher(cfg Config, channels []Channel, state *State, logger *slog.Logger, opts ...DispatcherOption) (*Dispatcher, error) {
	if state == nil {
		return nil, errors.New("new dispatcher: nil state")
	}
	seen := map[string]bool{}
	for _, c := range channels {
		if c.Name == "" || c.Notifier == nil {
			return nil, errors.New("new dispatcher: channel without name or notifier")
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("new dispatcher: channel %q given twice", c.Name)
		}
		seen[c.Name] = true
	}
	if state.Incidents == nil {
		state.Incidents = map[string]*Incident{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg.applyDefaults()
	d := &Dispatcher{
		cfg: cfg, channels: channels, state: state, logger: logger,
		now: time.Now, sleep: sleepContext,
	}
	for _, o := range opts {
		o(d)
	}
	d.configs = map[string]string{}
	for _, c := range channels {
		d.configs[c.Name] = channelConfigID(cfg, c.Name)
	}
	return d, nil
}

// maxCABundle is the CA bundle size Resolve accepts.
const maxCABundle = 4 << 20

// channelConfigID identifies the configuration a channel delivers with,
// so that the hold-back after a rejection ends as soon as the admin
// changes it ("" for a channel not configured in cfg). Secrets count with
// one byte of their SHA-256 only: a new password or token is noticed 255
// times in 256 (otherwise the hold runs out on its own), and the state
// file keeps nothing that would help guess them. The CA bundle counts
// with its content, as replacing the file is the usual fix.
func channelConfigID(cfg Config, name string) string {
	secret := func(s Secret) string {
		if s == "" {
			return ""
		}
		sum := sha256.Sum256([]byte(s.Reveal()))
		return hex.EncodeToString(sum[:1])
	}
	var parts []any
	switch {
	case name == "email" && cfg.Email != nil:
		e := *cfg.Email
		e.RootCAs = nil
		ca := ""
		if e.CAFile != "" {
			b, err := readFileLimited(e.CAFile, maxCABundle)
			if err != nil {
				ca = err.Error()
			} else {
				sum := sha256.Sum256(b)
				ca = hex.EncodeToString(sum[:])
			}
		}
		parts = []any{e, secret(e.Password), ca} // Secret fields marshal as "<secret>"
	case name == "slack" && cfg.Slack != nil:
		parts = []any{*cfg.Slack, secret(cfg.Slack.WebhookURL), secret(cfg.Slack.Token)}
	default:
		return ""
	}
	b, err := json.Marshal(parts)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// AddResult counts what Add did with the findings.
type AddResult struct {
	// Queued counts firing alerts queued (new incidents and reminders),
	// not messages: each is queued once per channel.
	Queued int
	// Suppressed counts repeats held back by the throttle.
	Suppressed int
	// Resolved counts incidents that the findings showed had cleared; a
	// resolved notice is queued for each (not counted in Queued).
	Resolved int
	// Unchanged counts findings with no newer event than already alerted.
	Unchanged int
}

// maxStoredEvidence bounds how much evidence each queued alert carries,
// which bounds the state file.
const maxStoredEvidence = 20

func trimFinding(f rules.Finding, evidence int) rules.Finding {
	if len(f.Evidence) > evidence {
		f.Evidence = slices.Clone(f.Evidence[:evidence])
	}
	return f
}

// Add records findings: a new problem is queued at once; a repeat within
// the realert interval is counted and folded into the next message; a
// finding showing the port free or back with its expected owner (or held
// by a different process) resolves the incident it ends.
func (d *Dispatcher) Add(findings ...rules.Finding) AddResult {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	var res AddResult
	for _, f := range findings {
		f = trimFinding(f, maxStoredEvidence)
		if f.Last.IsZero() {
			f.Last = now
		}
		key := ThrottleKey(&f)
		if f.Culprit == nil && (f.Verdict == rules.VerdictUnknown || f.Verdict == rules.VerdictHeld) {
			// No port table this time: it is the open incident still
			// failing, not a new problem with an unknown culprit. Keep the
			// last known culprit and the snapshot it came from (whose time
			// shows it is not fresh).
			if inc, ok := d.openIncidentLocked(IncidentKey(&f)); ok {
				key = inc.Key
				f.Verdict, f.Culprit, f.Snapshot = inc.Finding.Verdict, inc.Finding.Culprit, inc.Finding.Snapshot
			}
		}
		recovered := false
		for _, k := range slices.Sorted(maps.Keys(d.state.Incidents)) {
			inc := d.state.Incidents[k]
			if k == key || !inc.ResolvedAt.IsZero() || IncidentKey(&inc.Finding) != IncidentKey(&f) {
				continue
			}
			var reason string
			switch {
			case f.Verdict == rules.VerdictFree:
				reason = "port " + Endpoint(&f) + " is free now"
			case f.Verdict == rules.VerdictExpected:
				reason = "port " + Endpoint(&f) + " is back with its expected owner"
			case f.Verdict == rules.VerdictHeld && f.Culprit != nil:
				reason = "port " + Endpoint(&f) + " is now held by " + CulpritLabel(f.Culprit)
			default:
				continue
			}
			by := trimFinding(f, 0)
			d.resolveLocked(inc, reason, &by, now)
			res.Resolved++
			recovered = true
		}
		if recovered && (f.Verdict == rules.VerdictFree || f.Verdict == rules.VerdictExpected) {
			continue // the recovery was the news
		}
		switch d.fireLocked(key, f, now) {
		case fired:
			res.Queued++
		case suppressed:
			res.Suppressed++
		default:
			res.Unchanged++
		}
	}
	return res
}

type fireResult int

const (
	unchanged fireResult = iota
	fired
	suppressed
)

func (d *Dispatcher) fireLocked(key string, f rules.Finding, now time.Time) fireResult {
	inc := d.state.Incidents[key]
	if inc != nil && !inc.ResolvedAt.IsZero() {
		if !f.Last.After(inc.LastEvent) {
			return unchanged // a stale report of an incident already resolved
		}
		delete(d.state.Incidents, key) // it is back: a new incident
		inc = nil
	}
	if inc == nil && (f.Verdict == rules.VerdictFree || f.Verdict == rules.VerdictExpected) && d.recentlyResolvedLocked(IncidentKey(&f), now) {
		return unchanged // the recovery was already reported
	}
	if inc == nil {
		inc = &Incident{
			ID: alertID(key, now), Key: key, Finding: trimFinding(f, 0),
			FirstNotified: now, LastNotified: now, LastEvent: f.Last,
		}
		d.state.Incidents[key] = inc
		d.enqueueLocked(Alert{ID: inc.ID, Key: key, Status: StatusFiring, Finding: f, FirstNotified: now}, now)
		return fired
	}
	if !f.Last.After(inc.LastEvent) {
		return unchanged
	}
	inc.Finding = trimFinding(f, 0)
	inc.LastEvent = f.Last
	if now.Sub(inc.LastNotified) < d.cfg.Realert.Std() {
		if inc.Suppressed == 0 {
			inc.SuppressedSince = now
		}
		inc.Suppressed++
		return suppressed
	}
	inc.Sequence++
	d.enqueueLocked(Alert{
		ID: inc.ID, Key: key, Status: StatusFiring, Finding: f, FirstNotified: inc.FirstNotified,
		Sequence: inc.Sequence, Suppressed: inc.Suppressed, SuppressedSince: inc.SuppressedSince,
	}, now)
	inc.LastNotified = now
	inc.Suppressed, inc.SuppressedSince = 0, time.Time{}
	return fired
}

// openIncidentLocked returns the most recently alerted open incident of
// an incident key.
func (d *Dispatcher) openIncidentLocked(incidentKey string) (*Incident, bool) {
	var best *Incident
	for _, inc := range d.state.Incidents {
		if inc.ResolvedAt.IsZero() && IncidentKey(&inc.Finding) == incidentKey && (best == nil || inc.LastNotified.After(best.LastNotified)) {
			best = inc
		}
	}
	return best, best != nil
}

func (d *Dispatcher) recentlyResolvedLocked(incidentKey string, now time.Time) bool {
	for _, inc := range d.state.Incidents {
		if !inc.ResolvedAt.IsZero() && IncidentKey(&inc.Finding) == incidentKey && now.Sub(inc.ResolvedAt) < d.cfg.Realert.Std() {
			return true
		}
	}
	return false
}

func (d *Dispatcher) resolveLocked(inc *Incident, reason string, by *rules.Finding, now time.Time) {
	inc.ResolvedAt = now
	d.enqueueLocked(Alert{
		ID: inc.ID, Key: inc.Key, Status: StatusResolved, Finding: inc.Finding,
		FirstNotified: inc.FirstNotified, Sequence: inc.Sequence,
		Suppressed: inc.Suppressed, SuppressedSince: inc.SuppressedSince,
		Resolution: &Resolution{At: now, Reason: reason, By: by},
	}, now)
	inc.Suppressed, inc.SuppressedSince = 0, time.Time{}
}

func (d *Dispatcher) enqueueLocked(a Alert, now time.Time) {
	for _, c := range d.channels {
		d.state.Outbox.Add(c.Name, a, now)
	}
	d.logger.Info("alert queued", "alert", a.ID, "status", a.Status, "title", a.Title(), "channels", len(d.channels))
}

// sweepLocked resolves open incidents whose events stopped ResolveAfter
// ago, forgets resolved ones once they can no longer matter, drops queued
// entries older than MaxAge and entries for channels no longer
// configured. It reports whether the state changed.
func (d *Dispatcher) sweepLocked(now time.Time) (changed bool, dropped int) {
	quiet := d.cfg.ResolveAfter.Std()
	for _, k := range slices.Sorted(maps.Keys(d.state.Incidents)) {
		inc := d.state.Incidents[k]
		if !inc.ResolvedAt.IsZero() {
			if now.Sub(inc.ResolvedAt) > max(d.cfg.Realert.Std(), quiet) {
				delete(d.state.Incidents, k)
				changed = true
			}
			continue
		}
		if now.Sub(inc.LastEvent) >= quiet && now.Sub(inc.FirstNotified) >= quiet {
			reason := fmt.Sprintf("no new failures for %s (last at %s)", HumanDuration(now.Sub(inc.LastEvent)), FormatTime(inc.LastEvent))
			d.resolveLocked(inc, reason, nil, now)
			changed = true
		}
	}
	for _, e := range d.state.Outbox.Expire(now, d.cfg.Outbox.MaxAge.Std()) {
		d.logger.Error("dropping undelivered alert: older than outbox max_age",
			"channel", e.Channel, "alert", e.Alert.ID, "status", e.Alert.Status, "title", e.Alert.Title(),
			"queued", FormatTime(e.Enqueued), "attempts", e.Attempts, "last_error", e.LastError,
			"max_age", d.cfg.Outbox.MaxAge.String())
		dropped++
		changed = true
	}
	known := map[string]bool{}
	for _, c := range d.channels {
		known[c.Name] = true
	}
	var gone []string
	for _, e := range d.state.Outbox.Entries {
		if !known[e.Channel] {
			d.logger.Warn("dropping queued alert: its channel is no longer configured",
				"channel", e.Channel, "alert", e.Alert.ID, "title", e.Alert.Title())
			gone = append(gone, e.ID)
		}
	}
	if len(gone) > 0 {
		d.state.Outbox.Remove(gone...)
		dropped += len(gone)
		changed = true
	}
	return changed, dropped
}

// FlushReport says what a Flush did.
type FlushReport struct {
	Sent    int // alerts delivered (counted per channel)
	Failed  int // alerts whose delivery failed this time and stay queued
	Dropped int // alerts dropped (older than max_age, or channel removed)
	Pending int // alerts still queued after the flush
	// Channels has one line per channel that had something to send.
	Channels map[string]ChannelReport
}

// ChannelReport is one channel's part of a FlushReport.
type ChannelReport struct {
	Sent, Failed int
	LastError    string
	// Retryable is false when the last failure needs a person to act.
	Retryable bool
}

// Flush resolves incidents whose events stopped, drops entries older than
// max_age (logged), and delivers due entries through every channel —
// channels in parallel, each in queue order, one message per alert or one
// digest per channel. A channel that fails recoverably is left alone for
// the rest of the flush (its entries wait for the next one). checkpoint,
// if not nil, is called after every change to the State with the
// Dispatcher's lock held; an error from it stops the flush.
func (d *Dispatcher) Flush(ctx context.Context, checkpoint func() error) (FlushReport, error) {
	rep := FlushReport{Channels: map[string]ChannelReport{}}
	save := func() error {
		if checkpoint == nil {
			return nil
		}
		if err := checkpoint(); err != nil {
			return fmt.Errorf("checkpoint notify state: %w", err)
		}
		return nil
	}

	d.mu.Lock()
	start := d.now()
	changed, dropped := d.sweepLocked(start)
	rep.Dropped = dropped
	var err error
	if changed {
		err = save()
	}
	d.mu.Unlock()
	if err != nil {
		return rep, err
	}

	var wg sync.WaitGroup
	errs := make([]error, len(d.channels))
	for i, c := range d.channels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.flushChannel(ctx, c, start, &rep, save)
		}()
	}
	wg.Wait()

	d.mu.Lock()
	rep.Pending = d.state.Outbox.Len()
	d.mu.Unlock()
	return rep, errors.Join(errs...)
}

func (d *Dispatcher) flushChannel(ctx context.Context, c Channel, now time.Time, rep *FlushReport, save func() error) error {
	logger := d.logger.With("channel", c.Name)
	config := d.configs[c.Name]
	d.mu.Lock()
	released, held := 0, 0
	var next time.Time
	for i := range d.state.Outbox.Entries {
		e := &d.state.Outbox.Entries[i]
		if e.Channel != c.Name || !e.Permanent || !now.Before(e.NotBefore) {
			continue
		}
		if e.ChannelConfig != config {
			e.NotBefore, e.Rejections = time.Time{}, 0
			released++
			continue
		}
		held++
		if next.IsZero() || e.NotBefore.Before(next) {
			next = e.NotBefore
		}
	}
	ids := d.state.Outbox.Due(c.Name, now)
	d.mu.Unlock()
	if released > 0 {
		logger.Info("channel configuration changed: retrying alerts held back after a rejection", "alerts", released)
	}
	if held > 0 {
		logger.Debug("alerts held back after a rejection", "alerts", held, "next_attempt", FormatTime(next))
	}
	if len(ids) == 0 {
		return nil
	}
	var batches [][]string
	if d.cfg.Digest {
		batches = [][]string{ids}
	} else {
		for _, id := range ids {
			batches = append(batches, []string{id})
		}
	}
	retrier := Retry(c.Notifier, DefaultBackoff(), logger, WithClock(d.now, d.sleep), WithAttemptTimeout(d.cfg.Timeout.Std()))
	for _, batch := range batches {
		if ctx.Err() != nil {
			return nil
		}
		d.mu.Lock()
		alerts := make([]Alert, 0, len(batch))
		for _, id := range batch {
			if e, ok := d.state.Outbox.Get(id); ok {
				alerts = append(alerts, e.Alert)
			}
		}
		d.mu.Unlock()
		if len(alerts) == 0 {
			continue
		}

		retry, sendErr := retrier.Notify(ctx, alerts...)

		d.mu.Lock()
		cr := rep.Channels[c.Name]
		at := d.now()
		if sendErr == nil {
			d.state.Outbox.Remove(batch...)
			cr.Sent += len(alerts)
			rep.Sent += len(alerts)
			msg := "alert sent"
			if dr, ok := c.Notifier.(interface{ DryRun() bool }); ok && dr.DryRun() {
				msg = "alert printed (dry run: not sent)"
			}
			for _, a := range alerts {
				logger.Info(msg, "alert", a.ID, "status", a.Status, "title", a.Title())
			}
		} else {
			notBefore := time.Time{}
			if ra, ok := RetryAfter(sendErr); ok {
				notBefore = at.Add(ra)
			}
			var hold time.Time
			for _, id := range batch {
				if e, ok := d.state.Outbox.Get(id); ok {
					e.Attempts++
					e.LastAttempt = at
					e.LastError = sendErr.Error()
					e.Permanent = !retry
					if retry {
						e.Rejections = 0
						continue
					}
					// Needs a person: try again later, later each time,
					// instead of on every run with an error each time.
					e.Rejections++
					e.ChannelConfig = config
					e.NotBefore = at.Add(RejectionHold(e.Rejections))
					hold = e.NotBefore
				}
			}
			if !notBefore.IsZero() {
				for i := range d.state.Outbox.Entries {
					if e := &d.state.Outbox.Entries[i]; e.Channel == c.Name && !(e.Permanent && e.NotBefore.After(notBefore)) {
						e.NotBefore = notBefore
					}
				}
			}
			cr.Failed += len(alerts)
			rep.Failed += len(alerts)
			cr.LastError, cr.Retryable = sendErr.Error(), retry
			level := slog.LevelWarn
			msg := "alert not delivered; kept in the outbox for the next run"
			attrs := []any{"alerts", len(alerts), "title", alerts[0].Title(), "retryable", retry, "err", sendErr}
			if !retry {
				level = slog.LevelError
				msg = "alert rejected; kept in the outbox, fix the configuration"
				attrs = append(attrs, "next_attempt", FormatTime(hold)+" (sooner when the channel's configuration changes)")
			}
			logger.Log(ctx, level, msg, attrs...)
		}
		rep.Channels[c.Name] = cr
		err := save()
		d.mu.Unlock()
		if err != nil {
			return err
		}
		if sendErr != nil && retry {
			return nil // the channel is down: leave the rest queued
		}
	}
	return nil
}

// Pending is the number of queued entries.
func (d *Dispatcher) Pending() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state.Outbox.Len()
}
