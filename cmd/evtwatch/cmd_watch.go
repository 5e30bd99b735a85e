package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/evtwatch/evtwatch/cmd/evtwatch/internal/state"
)

const watchUsage = `Watch the configured sources continuously and alert as failures repeat.

USAGE
  evtwatch watch [--config FILE] [--quiet]

watch does what scan does, in a loop, holding the state lock for as long as
it runs: live channels (Windows) are subscribed to and wake it as soon as
an event arrives; log files and folders are polled every watch.interval
(default 30s) and a file that grows is read from where it was left (new
records and chunks only); the outbox is retried on the same interval. Each
cycle commits its positions and alerts atomically, as scan does, so
stopping or killing watch at any moment loses nothing.

Started by the Windows service manager ('evtwatch service install'), it
runs as a service: stop requests end the current cycle cleanly, and every
cycle that read or sent something writes a summary to the Application log.

Ctrl-C stops it (exit status 130).

EXAMPLES
  $ evtwatch watch --config ./config.yaml
`

func runWatch(ctx context.Context, args []string, s streams) (exitCode, error) {
	fs := newFlagSet("watch", watchUsage, s)
	var o scanOptions
	fs.StringVar(&o.ConfigPath, "config", evtwatchConfigPath(), "config file")
	fs.BoolVar(&o.Quiet, "quiet", false, "print only errors")
	serviceName := fs.String("service", "evtwatch", "service name, when the service manager starts evtwatch (set by 'service install')")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return exitUsage, err
	}
	if len(pos) > 0 {
		return exitUsage, usagef("watch: unexpected argument %q", pos[0])
	}
	// Started by the Windows service manager (whatever the command line
	// says): run under it. Elsewhere, and from a console, this returns
	// handled == false at once.
	var runErr error
	handled, code, err := runUnderServiceManager(*serviceName, func(ctx context.Context) exitCode {
		o.Quiet = true // nobody reads a service's stderr; summaries go to the event log
		c, err := watchRun(ctx, o, s, nil)
		if err != nil {
			runErr = err
			_ = reportRun(runSummary{Command: "watch", Code: codeFor(err), Err: err})
			return codeFor(err)
		}
		return c
	})
	if handled {
		if err == nil {
			err = runErr
		}
		return code, err
	}
	if err != nil {
		return exitError, err
	}
	return watchRun(ctx, o, s, nil)
}

// watchRun runs cycles until ctx is done. ticks, when not nil, replaces the
// interval timer (tests drive the cycles with it).
func watchRun(ctx context.Context, o scanOptions, s streams, ticks <-chan time.Time) (exitCode, error) {
	o.defaults()
	log := newLogger(s.Err, o.Quiet)
	sc, err := newScanner(ctx, o, s, log, true)
	if err != nil {
		var le *state.LockedError
		if errors.As(err, &le) {
			fmt.Fprintf(s.Err, "evtwatch watch: %v\n", err)
			return exitLocked, nil
		}
		return exitError, err
	}
	defer sc.close()
	if ticks == nil {
		t := time.NewTicker(sc.cfg.Watch.Interval.Std())
		defer t.Stop()
		ticks = t.C
	}
	log.Info("watching", "sources", len(sc.cfg.Sources), "interval", sc.cfg.Watch.Interval, "state", sc.cfg.State)
	failures := 0
	for {
		res, err := sc.cycle(ctx)
		if ctx.Err() != nil {
			return exitInterrupted, nil
		}
		code := scanExitCode(res)
		if err != nil {
			// The state could not be written (disk full, permissions): the
			// cycle did not commit, so nothing is lost; try again.
			failures++
			log.Error("cycle failed; retrying on the next interval", "err", err, "consecutive_failures", failures)
			code = exitError
		} else {
			failures = 0
		}
		if o.onCommit != nil {
			o.onCommit()
		}
		if res.Events > 0 || res.Flush.Sent > 0 || res.Added.Queued > 0 || err != nil || len(res.Problems) > 0 {
			sum := runSummary{Command: "watch"}
			sum.fill(res)
			sum.Code, sum.Err = code, err
			log.Info(sum.line())
			if rerr := reportRun(sum); rerr != nil {
				log.Debug("could not write the cycle summary to the event log", "err", rerr)
			}
		}
		if err := sc.waitForWork(ctx, ticks, log); err != nil {
			return exitInterrupted, nil
		}
	}
}

// waitForWork blocks until the next tick, or until a subscribed channel
// signals new events, or ctx ends (the error).
func (sc *scanner) waitForWork(ctx context.Context, ticks <-chan time.Time, log *slog.Logger) error {
	wctx, cancel := context.WithCancel(ctx)
	wake := make(chan struct{}, 1)
	var wg sync.WaitGroup
	for _, ch := range sc.channelsS {
		if ch.live == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ch.wait(wctx); err != nil {
				if wctx.Err() == nil {
					log.Warn("waiting for events failed; relying on the interval", "channel", ch.channel, "err", err)
				}
				return
			}
			select {
			case wake <- struct{}{}:
			default:
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
		err = ctx.Err()
	case <-ticks:
	case <-wake:
	}
	// Readers are not used concurrently: the waiters end before the next
	// cycle reads.
	cancel()
	wg.Wait()
	return err
}
