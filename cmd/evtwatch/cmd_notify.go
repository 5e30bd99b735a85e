package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/evtwatch/evtwatch/notify"
)

const notifyUsage = `Test the alert channels.

USAGE
  evtwatch notify test [--config FILE] [--dry-run] [--timeout DURATION] [--json]

"notify test" sends a sample alert through every channel configured in the
config file's notify section and reports, per channel, what happened. The
sample is the case evtwatch exists for: on SBSHQ01 Exchange ActiveSync cannot
bind UDP 2883 because dns.exe's socket pool holds it. Its title starts with
[TEST] so nobody acts on it. The outbox and throttle state are not touched:
a test is always sent, once, without retries.

--dry-run prints exactly what would be sent — the email as RFC 5322 text with
both parts, the Slack request body — and sends nothing.

Only the notify section is checked; "evtwatch config validate" checks the
rest. The default config file is %ProgramData%\evtwatch\config.yaml on
Windows and /etc/evtwatch/config.yaml elsewhere.

A failure says whether it is temporary (scan would keep the alert in its
outbox and retry: server down, SMTP 4xx, Slack 5xx or 429) or needs you to fix
the configuration (SMTP 5xx, bad password or certificate, Slack
channel_not_found or invalid_auth).

EXAMPLES
  # Check what the messages will look like
  $ evtwatch notify test --dry-run --config ./config.yaml

  # Send the test alert
  $ evtwatch notify test

EXIT STATUS (notify test): 0 every channel accepted the message; 1 at least
one did not; 4 the config is invalid or configures no channel.
`

func runNotify(ctx context.Context, args []string, s streams) (exitCode, error) {
	if len(args) == 0 {
		fmt.Fprint(s.Err, notifyUsage)
		return exitUsage, usagef("notify: missing subcommand (want: test)")
	}
	switch args[0] {
	case "test":
		return runNotifyTest(ctx, args[1:], s)
	case "-h", "--help", "help":
		fmt.Fprint(s.Out, notifyUsage)
		return exitOK, nil
	}
	return exitUsage, usagef("unknown notify subcommand %q (want: test)", args[0])
}

// channelResult is one channel's line in the notify test report.
type channelResult struct {
	Channel  string `json:"channel"`
	OK       bool   `json:"ok"`
	DryRun   bool   `json:"dry_run,omitempty"`
	Target   string `json:"target"`
	Duration string `json:"duration"`
	// Retryable says whether a scan would keep retrying (true) or the
	// configuration needs fixing (false); only set on failure.
	Retryable *bool  `json:"retryable,omitempty"`
	Error     string `json:"error,omitempty"`
	// Preview is what would have been sent (--dry-run --json).
	Preview string `json:"preview,omitempty"`
}

func runNotifyTest(ctx context.Context, args []string, s streams) (exitCode, error) {
	fs := newFlagSet("notify test", notifyUsage, s)
	configPath := fs.String("config", evtwatchConfigPath(), "config file")
	dryRun := fs.Bool("dry-run", false, "print exactly what would be sent, and send nothing")
	timeout := fs.Duration("timeout", 0, "time allowed per channel (default: the config's notify.timeout, 30s)")
	asJSON := fs.Bool("json", false, "report as JSON on stdout")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return exitUsage, err
	}
	if len(pos) > 0 {
		return exitUsage, usagef("notify test takes no arguments, got %q", pos)
	}
	if *timeout < 0 {
		return exitUsage, usagef("--timeout must not be negative")
	}
	cfg, err := loadNotifyConfig(*configPath, os.LookupEnv)
	if err != nil {
		return exitConfig, err
	}
	if len(cfg.Channels()) == 0 {
		return exitConfig, &configError{err: fmt.Errorf("config %s configures no alert channel: add notify.email or notify.slack", *configPath)}
	}
	per := cfg.Timeout.Std()
	if *timeout > 0 {
		per = *timeout
	}
	logger := slog.New(slog.NewTextHandler(s.Err, &slog.HandlerOptions{Level: slog.LevelWarn}))

	alert := notify.TestAlert(time.Now())
	var results []channelResult
	for _, name := range cfg.Channels() {
		// One channel at a time, each built on its own, so --json can
		// capture each dry-run preview separately.
		var preview bytes.Buffer
		out := s.Out
		if *asJSON {
			out = &preview
		}
		one := cfg
		if name != "email" {
			one.Email = nil
		}
		if name != "slack" {
			one.Slack = nil
		}
		chans, err := notifyChannels(one, logger, *dryRun, out)
		if err != nil {
			return exitConfig, err
		}
		r := channelResult{Channel: name, DryRun: *dryRun, Target: describeTarget(cfg, name)}
		cctx, cancel := context.WithTimeout(ctx, per)
		start := time.Now()
		retry, err := chans[0].Notifier.Notify(cctx, alert)
		cancel()
		r.Duration = time.Since(start).Round(time.Millisecond).String()
		if err != nil {
			r.Error = err.Error()
			r.Retryable = &retry
		} else {
			r.OK = true
		}
		if *dryRun && *asJSON {
			r.Preview = preview.String()
		}
		results = append(results, r)
		if ctx.Err() != nil {
			break
		}
	}

	if *asJSON {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return exitError, fmt.Errorf("write report: %w", err)
		}
	} else {
		writeNotifyReport(s.Out, results)
	}
	if ctx.Err() != nil {
		return exitInterrupted, nil
	}
	failed := 0
	for _, r := range results {
		if !r.OK {
			failed++
		}
	}
	if failed > 0 {
		return exitError, fmt.Errorf("%d of %d channel(s) failed", failed, len(results))
	}
	return exitOK, nil
}

func writeNotifyReport(w io.Writer, results []channelResult) {
	for _, r := range results {
		switch {
		case r.OK && r.DryRun:
			fmt.Fprintf(w, "%s: dry run, not sent (%s; the message is printed above)\n", r.Channel, r.Target)
		case r.OK:
			fmt.Fprintf(w, "%s: sent %s in %s\n", r.Channel, r.Target, r.Duration)
		default:
			kind := "needs a configuration fix; scan would keep it queued until outbox max_age"
			if r.Retryable != nil && *r.Retryable {
				kind = "temporary; scan would keep it queued and retry"
			}
			fmt.Fprintf(w, "%s: FAILED after %s (%s): %s\n", r.Channel, r.Duration, kind, r.Error)
		}
	}
}

// describeTarget says where a channel delivers, without secrets.
func describeTarget(cfg notify.Config, channel string) string {
	switch channel {
	case "email":
		e := cfg.Email
		auth := e.Auth
		if auth != notify.AuthNone {
			auth += " as " + e.Username
		}
		return fmt.Sprintf("to %s via %s (tls %s, auth %s)",
			strings.Join(e.To, ", "), net.JoinHostPort(e.Host, strconv.Itoa(e.Port)), e.TLS, auth)
	case "slack":
		sl := cfg.Slack
		if sl.WebhookURL != "" {
			host := "?"
			if u, err := url.Parse(sl.WebhookURL.Reveal()); err == nil {
				host = u.Host
			}
			// The path of a webhook URL is its secret; the host is not.
			return "to the incoming webhook at " + host
		}
		host := sl.APIURL
		if u, err := url.Parse(sl.APIURL); err == nil {
			host = u.Host
		}
		return fmt.Sprintf("to %s via chat.postMessage at %s", sl.Channel, host)
	}
	return channel
}
