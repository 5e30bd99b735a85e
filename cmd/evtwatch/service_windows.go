package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// installService registers watch with the service manager: automatic,
// delayed start, restarted after failures (1 min, 1 min, then 5 min).
func installService(o serviceOptions, exe, password string) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service manager (run elevated): %w", err)
	}
	defer m.Disconnect()
	if s, err := m.OpenService(o.Name); err == nil {
		s.Close()
		return fmt.Errorf("service %q already exists; remove it first ('evtwatch service remove --name %s')", o.Name, o.Name)
	}
	args := serviceArgs(exe, o)[1:]
	s, err := m.CreateService(o.Name, exe, mgr.Config{
		DisplayName:      "evtwatch",
		Description:      "Watches the event logs for services that cannot bind their port, names the process holding it and alerts.",
		StartType:        mgr.StartAutomatic,
		DelayedAutoStart: true,
		ServiceStartName: o.User,
		Password:         password,
	}, args...)
	if err != nil {
		return fmt.Errorf("create service %q: %w", o.Name, err)
	}
	defer s.Close()
	actions := []mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: time.Minute},
		{Type: mgr.ServiceRestart, Delay: time.Minute},
		{Type: mgr.ServiceRestart, Delay: 5 * time.Minute},
	}
	if err := s.SetRecoveryActions(actions, uint32((24 * time.Hour).Seconds())); err != nil {
		return fmt.Errorf("set recovery actions of %q: %w", o.Name, err)
	}
	// watch exits with a non-zero service-specific code on a bad config;
	// restart then too, as a crash would.
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("set recovery actions of %q: %w", o.Name, err)
	}
	if o.Start {
		if err := s.Start(); err != nil {
			return fmt.Errorf("start service %q: %w", o.Name, err)
		}
	}
	return nil
}

// removeService stops the service if it runs, then deletes it.
func removeService(ctx context.Context, name string) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service manager (run elevated): %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		return fmt.Errorf("open service %q: %w", name, err)
	}
	defer s.Close()
	st, err := s.Query()
	if err == nil && st.State != svc.Stopped {
		if _, err := s.Control(svc.Stop); err != nil && !errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
			return fmt.Errorf("stop service %q: %w", name, err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for st.State != svc.Stopped && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(300 * time.Millisecond)
			if st, err = s.Query(); err != nil {
				break
			}
		}
	}
	if err := s.Delete(); err != nil {
		return fmt.Errorf("delete service %q: %w", name, err)
	}
	return nil
}

// runUnderServiceManager runs watch under the service manager when the
// service manager started this process; handled is false otherwise.
func runUnderServiceManager(name string, run func(context.Context) exitCode) (handled bool, code exitCode, err error) {
	isService, err := svc.IsWindowsService()
	if err != nil || !isService {
		return false, exitOK, err
	}
	h := &serviceHandler{run: run}
	if err := svc.Run(name, h); err != nil {
		return true, exitError, fmt.Errorf("run as service %q: %w", name, err)
	}
	return true, h.code, nil
}

type serviceHandler struct {
	run  func(context.Context) exitCode
	code exitCode
}

// stopTimeout bounds how long a stop request waits for the cycle in flight
// (an SMTP send) before the service reports stopped anyway.
const stopTimeout = 20 * time.Second

func (h *serviceHandler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan exitCode, 1)
	go func() { done <- h.run(ctx) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case code := <-done:
			// watch ended on its own: a failure the service manager should
			// see (and restart after, per the recovery actions).
			h.code = code
			status <- svc.Status{State: svc.StopPending}
			if code == exitOK || code == exitInterrupted {
				return false, 0
			}
			return true, uint32(code)
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: uint32(stopTimeout / time.Millisecond)}
				cancel()
				select {
				case h.code = <-done:
				case <-time.After(stopTimeout):
				}
				return false, 0
			}
		}
	}
}
