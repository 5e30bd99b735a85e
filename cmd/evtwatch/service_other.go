//go:build !windows

package main

import (
	"context"
	"fmt"
	"runtime"
)

func installService(serviceOptions, string, string) error { return errNoServices() }

func removeService(context.Context, string) error { return errNoServices() }

func errNoServices() error {
	return fmt.Errorf("services are Windows-only (this is %s): run 'evtwatch watch' under systemd or use 'evtwatch schedule install' for a crontab line", runtime.GOOS)
}

// runUnderServiceManager reports that the process was not started by the
// Windows service manager: there is none here.
func runUnderServiceManager(string, func(context.Context) exitCode) (bool, exitCode, error) {
	return false, exitOK, nil
}
