package main

import (
	"strings"

	"golang.org/x/sys/windows/svc/eventlog"
)

// installEventSource registers evtwatch as an event source of the
// Application log, with EventCreate.exe's message file so the text of the
// run summaries shows in Event Viewer. Registering twice is fine.
func installEventSource() error {
	err := eventlog.InstallAsEventCreate(eventSourceName, eventlog.Error|eventlog.Warning|eventlog.Info)
	if err != nil && strings.Contains(err.Error(), "already exists") {
		return nil
	}
	return err
}

// reportRun writes the one-line run summary to the Application log, so
// existing monitoring and event forwarding see the watcher itself. An
// unregistered source still logs (the text then shows as an insertion
// string); evtwatch registers it on schedule/service install.
func reportRun(r runSummary) error { return reportRunAs(eventSourceName, r) }

func reportRunAs(source string, r runSummary) error {
	l, err := eventlog.Open(source)
	if err != nil {
		return err
	}
	defer l.Close()
	id := r.eventID()
	switch r.severity() {
	case severityError:
		return l.Error(id, r.line())
	case severityWarning:
		return l.Warning(id, r.line())
	}
	return l.Info(id, r.line())
}
