package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/mgr"
)

func underWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

// connectSCM connects to the service manager with rights to create
// services, or skips: that needs an elevated prompt on Windows.
func connectSCM(t *testing.T) *mgr.Mgr {
	t.Helper()
	m, err := mgr.Connect()
	if err != nil {
		t.Skipf("cannot connect to the service manager with full access (needs an elevated prompt): %v", err)
	}
	t.Cleanup(func() { _ = m.Disconnect() })
	return m
}

func requireNoService(t *testing.T, m *mgr.Mgr, name string) {
	t.Helper()
	s, err := m.OpenService(name)
	if err == nil {
		s.Close()
		t.Fatalf("service %s still exists", name)
	}
	require.True(t, errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST), "open %s: %v", name, err)
}

// TestRemoveServiceDeletesIt creates a plain service and removes it the
// way 'evtwatch service remove' does. It runs under Wine too.
func TestRemoveServiceDeletesIt(t *testing.T) {
	m := connectSCM(t)
	name := fmt.Sprintf("evtwatch-test-%d", os.Getpid())
	exe, err := os.Executable()
	require.NoError(t, err)
	s, err := m.CreateService(name, exe, mgr.Config{DisplayName: name, StartType: mgr.StartManual}, "watch")
	require.NoError(t, err)
	s.Close()
	t.Cleanup(func() {
		if s, err := m.OpenService(name); err == nil {
			_ = s.Delete()
			s.Close()
		}
	})

	require.NoError(t, removeService(context.Background(), name))
	requireNoService(t, m, name)

	err = removeService(context.Background(), name)
	require.ErrorContains(t, err, fmt.Sprintf("open service %q", name))
	require.ErrorIs(t, err, windows.ERROR_SERVICE_DOES_NOT_EXIST)
}

// TestInstallServiceConfig installs the service without starting it and
// checks what the service manager recorded: command line, automatic
// delayed start, description and the restart-on-failure actions. It needs
// a real Windows host: Wine 8's ChangeServiceConfig2 rejects the delayed
// start level (ERROR_INVALID_LEVEL), so mgr.CreateService deletes the
// service again and fails.
func TestInstallServiceConfig(t *testing.T) {
	if underWine() {
		t.Skip("Wine 8: ChangeServiceConfig2 rejects SERVICE_CONFIG_DELAYED_AUTO_START_INFO (ERROR_INVALID_LEVEL)")
	}
	m := connectSCM(t)
	name := fmt.Sprintf("evtwatch-test-%d", os.Getpid())
	exe, err := os.Executable()
	require.NoError(t, err)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	o := serviceOptions{Name: name, Config: cfg}
	require.NoError(t, installService(o, exe, ""))
	t.Cleanup(func() { _ = removeService(context.Background(), name) })

	err = installService(o, exe, "")
	require.ErrorContains(t, err, "already exists")

	s, err := m.OpenService(name)
	require.NoError(t, err)
	defer s.Close()
	c, err := s.Config()
	require.NoError(t, err)
	require.Equal(t, uint32(mgr.StartAutomatic), c.StartType)
	require.True(t, c.DelayedAutoStart)
	require.Contains(t, c.Description, "Watches the event logs")
	require.True(t, strings.Contains(c.BinaryPathName, "watch --config") && strings.Contains(c.BinaryPathName, "--service "+name), c.BinaryPathName)
	actions, err := s.RecoveryActions()
	require.NoError(t, err)
	require.Len(t, actions, 3)
	require.Equal(t, mgr.ServiceRestart, actions[0].Type)
	require.Equal(t, 5*time.Minute, actions[2].Delay)
	onNonCrash, err := s.RecoveryActionsOnNonCrashFailures()
	require.NoError(t, err)
	require.True(t, onNonCrash)

	require.NoError(t, removeService(context.Background(), name))
	requireNoService(t, m, name)
}
