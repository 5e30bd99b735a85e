//go:build !windows

package main

// installEventSource has nothing to register outside Windows.
func installEventSource() error { return nil }

// reportRun does nothing outside Windows, deliberately: the Application
// log summary is an optional side channel for Windows monitoring, the same
// summary is logged on stderr (unless --quiet) and the exit status carries
// the outcome for cron. There is no syslog equivalent worth an error here.
func reportRun(runSummary) error { return nil }
