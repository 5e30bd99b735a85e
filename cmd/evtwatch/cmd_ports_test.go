package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/rules/ports"
	"github.com/stretchr/testify/require"
)

// portsTestdata is rules/ports' testdata. The CLI tests run from
// rules/ports so the sources printed match that package's golden files
// (rewrite them with "go test ./rules/ports -update").
const portsPkg = "../../rules/ports"

func golden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden", name))
	require.NoError(t, err)
	return string(b)
}

func TestPortsAndAuditMatchGolden(t *testing.T) {
	t.Chdir(portsPkg)
	for _, dir := range []string{"sbs2003", "server2019"} {
		code, out, errOut := runForTest(t, "ports", "testdata/"+dir)
		require.Equal(t, exitOK, code, errOut)
		require.Empty(t, errOut)
		require.Equal(t, golden(t, "ports-"+dir+".txt"), slashPaths(out))

		code, out, errOut = runForTest(t, "audit", "testdata/"+dir)
		require.Equal(t, exitOK, code, errOut)
		require.Empty(t, errOut)
		require.Equal(t, golden(t, "audit-"+dir+".txt"), slashPaths(out))

		code, out, _ = runForTest(t, "audit", "--json", "testdata/"+dir)
		require.Equal(t, exitOK, code)
		require.JSONEq(t, golden(t, "audit-"+dir+".json"), slashPaths(out))
	}
}

func TestPortsJSONAndPort(t *testing.T) {
	t.Chdir(portsPkg)
	code, out, errOut := runForTest(t, "ports", "--json", "testdata/sbs2003")
	require.Equal(t, exitOK, code, errOut)
	var rep struct {
		Processes []struct {
			PID      int      `json:"pid"`
			Image    string   `json:"image"`
			Services []string `json:"services"`
			TCP      int      `json:"tcp"`
			UDP      int      `json:"udp"`
			Pool     bool     `json:"pool"`
			PoolKind string   `json:"pool_kind"`
		} `json:"processes"`
		Bindings []ports.Binding `json:"bindings"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Len(t, rep.Bindings, 2551)
	dns := rep.Processes[0]
	require.Equal(t, 1692, dns.PID)
	require.Equal(t, "dns.exe", dns.Image)
	require.Equal(t, []string{"DNS"}, dns.Services)
	require.Equal(t, 2502, dns.UDP)
	require.True(t, dns.Pool)
	require.Equal(t, "dns", dns.PoolKind)

	code, out, _ = runForTest(t, "ports", "testdata/sbs2003", "--port", "2883")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "Needed by: Server ActiveSync (udp/2883)")
	require.Contains(t, out, "tcp/2883: free")
	require.Contains(t, out, "udp/2883: dns.exe (PID 1692) on 0.0.0.0, listening")
	require.Contains(t, out, "DNS server socket pool (MS08-037)")

	code, out, _ = runForTest(t, "ports", "--json", "--port", "4500", "testdata/sbs2003/netstat-anob.txt")
	require.Equal(t, exitOK, code)
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Len(t, rep.Processes, 1)
	require.Equal(t, "lsass.exe", rep.Processes[0].Image)
}

func TestPortsPartialAndErrors(t *testing.T) {
	dir := t.TempDir()
	netstat := "\r\nActive Connections\r\n\r\n  Proto  Local Address  Foreign Address  State  PID\r\n" +
		"  UDP    0.0.0.0:2883   *:*                     1692\r\n" +
		"  UDP    0.0.0.0:99999  *:*                     1692\r\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "netstat.txt"), []byte(netstat), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("remember to reboot\n"), 0o644))

	// A bad row: reported with file and line, the rest is used, exit 3.
	code, out, errOut := runForTest(t, "ports", dir)
	require.Equal(t, exitPartial, code)
	require.Contains(t, errOut, filepath.Join(dir, "netstat.txt")+":6: bad port")
	require.Contains(t, errOut, filepath.Join(dir, "notes.txt")+": skipped: not a port capture")
	require.Contains(t, out, "1 socket held by 1 process")

	// A file named on the command line that is not a capture is a problem.
	code, _, errOut = runForTest(t, "ports", filepath.Join(dir, "netstat.txt"), filepath.Join(dir, "notes.txt"))
	require.Equal(t, exitPartial, code)
	require.Contains(t, errOut, "notes.txt: not a port capture")

	code, _, errOut = runForTest(t, "audit", filepath.Join(dir, "notes.txt"))
	require.Equal(t, exitError, code)
	require.Contains(t, errOut, "no port captures")

	// A missing file is named, with the system's words for it; with
	// nothing else usable the run fails.
	_, notFound := os.Open(filepath.Join(dir, "missing"))
	var pe *os.PathError
	require.ErrorAs(t, notFound, &pe)
	code, _, errOut = runForTest(t, "ports", filepath.Join(dir, "missing"))
	require.Equal(t, exitError, code)
	require.Contains(t, errOut, "missing: "+pe.Err.Error())
	code, _, errOut = runForTest(t, "ports", filepath.Join(dir, "missing"), dir)
	require.Equal(t, exitPartial, code, errOut)

	code, _, errOut = runForTest(t, "ports", "--port", "70000", dir)
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "--port must be 1-65535")

	code, out, _ = runForTest(t, "ports", "--help")
	require.Equal(t, exitOK, code)
	require.Empty(t, out)
}

func TestPortsLive(t *testing.T) {
	code, out, errOut := runForTest(t, "ports")
	switch runtime.GOOS {
	case "linux", "windows":
		require.Equal(t, exitOK, code, errOut)
		require.Contains(t, out, "; live, ")
	default:
		require.Equal(t, exitError, code)
		require.Contains(t, errOut, "unsupported on this OS")
	}
	if runtime.GOOS != "windows" {
		code, _, errOut = runForTest(t, "audit")
		require.Equal(t, exitError, code)
		require.Contains(t, errOut, "unsupported on this OS")
	}
}

// TestCapturesAreNotEventLogs keeps routing in a mixed folder
// unambiguous: no capture may also sniff as an event log.
func TestCapturesAreNotEventLogs(t *testing.T) {
	for _, dir := range []string{"sbs2003", "server2019"} {
		files, err := filepath.Glob(filepath.Join(portsPkg, "testdata", dir, "*"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		for _, f := range files {
			head, err := readCaptureHead(f, ports.SniffLen)
			require.NoError(t, err)
			require.True(t, ports.IsCapture(head), f)
			require.Equal(t, evtx.FormatUnknown, evtx.Sniff(head), f)
		}
	}
}
