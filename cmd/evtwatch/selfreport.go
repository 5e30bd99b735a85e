package main

import (
	"fmt"
	"strings"
)

// eventSourceName is the Application log source evtwatch writes its run
// summaries under.
const eventSourceName = "evtwatch"

// runSummary is what one scan (or one watch cycle that did something)
// reports about itself.
type runSummary struct {
	Command  string
	Code     exitCode
	Sources  int
	Events   int // new events read
	Findings int
	Queued   int // alerts queued by this run
	Sent     int // messages delivered
	Pending  int // messages still in the outbox
	Problems int
	Err      error
	// DryRun marks a scan --dry-run: its messages were printed, not sent,
	// and nothing was saved.
	DryRun bool
}

type severity int

const (
	severityInfo severity = iota
	severityWarning
	severityError
)

func (r runSummary) severity() severity {
	switch r.Code {
	case exitOK, exitFindings, exitLocked:
		return severityInfo
	case exitPartial, exitInterrupted:
		return severityWarning
	}
	return severityError
}

// eventID is 100 plus the exit status, so a forwarding rule can select on
// the outcome (EventCreate sources accept IDs 1 to 1000).
func (r runSummary) eventID() uint32 { return 100 + uint32(r.Code) }

// line is the summary in one line.
func (r runSummary) line() string {
	var b strings.Builder
	if r.DryRun {
		what := outcome(r.Code)
		if r.Code == exitFindings {
			what = "findings to alert"
		}
		fmt.Fprintf(&b, "evtwatch %s (dry run: nothing sent, nothing saved): %s: %d source(s), %d new event(s), %d finding(s), %d message(s) printed above",
			r.Command, what, r.Sources, r.Events, r.Findings, r.Sent)
	} else {
		fmt.Fprintf(&b, "evtwatch %s: %s: %d source(s), %d new event(s), %d finding(s), %d alert(s) queued, %d message(s) sent, %d waiting for retry",
			r.Command, outcome(r.Code), r.Sources, r.Events, r.Findings, r.Queued, r.Sent, r.Pending)
	}
	if r.Problems > 0 {
		fmt.Fprintf(&b, ", %d input problem(s)", r.Problems)
	}
	if r.Err != nil {
		fmt.Fprintf(&b, "; error: %v", r.Err)
	}
	return b.String()
}

// outcome names an exit status in a few words.
func outcome(c exitCode) string {
	switch c {
	case exitOK:
		return "clean"
	case exitFindings:
		return "findings alerted"
	case exitPartial:
		return "partial"
	case exitConfig:
		return "configuration error"
	case exitLocked:
		return "skipped, state locked by another run"
	case exitInterrupted:
		return "interrupted"
	case exitUsage:
		return "usage error"
	}
	return fmt.Sprintf("error (exit status %d)", int(c))
}
