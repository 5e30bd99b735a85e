// Command evtwatch finds Windows services that fail because another process
// holds the port they need, names the process, and alerts by email and Slack.
package main

import (
	"context"
	"io"
	"log"
	"os"
	"os/signal"

	"golang.org/x/term"
)

func main() {
	// golang-evtx prints a stack trace through the standard logger for each
	// damaged element it meets (thousands of lines for one broken template).
	// The .evtx reader reports that damage as Problems with file and offset;
	// evtwatch itself logs through injected slog handlers, never this logger.
	log.SetOutput(io.Discard)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], streams{
		In:       os.Stdin,
		Out:      os.Stdout,
		Err:      os.Stderr,
		ErrIsTTY: term.IsTerminal(int(os.Stderr.Fd())),
	})
	stop()
	os.Exit(int(code))
}
