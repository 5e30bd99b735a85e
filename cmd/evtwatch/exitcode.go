package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// exitCode is the process exit status. Every code evtwatch uses is in
// exitCodes, which --help prints, so the table and the docs cannot drift.
type exitCode int

const (
	exitOK          exitCode = 0
	exitError       exitCode = 1
	exitUsage       exitCode = 2
	exitPartial     exitCode = 3
	exitConfig      exitCode = 4
	exitFindings    exitCode = 5
	exitLocked      exitCode = 6
	exitInterrupted exitCode = 130
)

var exitCodes = []struct {
	code exitCode
	text string
}{
	{exitOK, "success; nothing to report"},
	{exitError, "error: the run could not be done"},
	{exitUsage, "usage error: bad command, flag or argument"},
	{exitPartial, "partial: some input was unreadable or some alerts are queued for retry (wins over 5)"},
	{exitConfig, "configuration or rule file invalid"},
	{exitFindings, "findings reported (analyze) or alerted (scan)"},
	{exitLocked, "another evtwatch run holds the state lock"},
	{exitInterrupted, "interrupted"},
}

func exitCodeHelp() string {
	var b strings.Builder
	b.WriteString("EXIT STATUS\n")
	for _, c := range exitCodes {
		fmt.Fprintf(&b, "  %-4d %s\n", c.code, c.text)
	}
	return b.String()
}

// usageError is a bad command line; it maps to exitUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// configError is an invalid configuration or rule file; it maps to exitConfig.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// codeFor maps an error returned by a subcommand to its exit code.
func codeFor(err error) exitCode {
	var ue *usageError
	var ce *configError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ce):
		return exitConfig
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	return exitError
}
