// Command evtwatch finds Windows services that fail because another process
// holds the port they need, names the process, and alerts by email and Slack.
package main

import (
	"context"
	"os"
	"os/signal"

	"golang.org/x/term"
)

func main() {
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
