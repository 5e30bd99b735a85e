package ports

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// collectOutputs lists the files collect.cmd writes into its folder,
// split into captures and event logs.
func collectOutputs(t *testing.T) (captures, logs []string) {
	script, err := os.ReadFile(filepath.Join("collect", "collect.cmd"))
	require.NoError(t, err)
	// cmd.exe needs CRLF: with bare LF, labels and goto misbehave.
	for i, line := range bytes.SplitAfter(script, []byte("\n")) {
		if len(line) > 0 {
			require.True(t, bytes.HasSuffix(line, []byte("\r\n")), "line %d lacks CRLF", i+1)
		}
	}
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`%OUT%\\([^"%]+)"`).FindAllSubmatch(script, -1) {
		name := string(m[1])
		if seen[name] {
			continue
		}
		seen[name] = true
		if ext := filepath.Ext(name); ext == ".evt" || ext == ".evtx" {
			logs = append(logs, name)
		} else {
			captures = append(captures, name)
		}
	}
	slices.Sort(captures)
	return captures, logs
}

// TestCollectorOutputIsRecognised feeds the recorded outputs of every
// command collect.cmd runs (the capture sets under testdata) to
// LoadCaptures: each file the script writes must be there and be
// recognised as the right kind, with nothing left over or unparsed.
func TestCollectorOutputIsRecognised(t *testing.T) {
	captures, logs := collectOutputs(t)
	require.ElementsMatch(t, []string{
		"info.txt", "ver.txt", "systeminfo.txt", "netstat-ano.txt", "netstat-anob.txt",
		"tasklist-svc.csv", "tasklist.csv", "processes.txt", "reg-tcpip.txt", "reg-dns.txt",
		"netsh-dynamicport.txt", "netsh-excludedportrange.txt",
	}, captures)
	require.ElementsMatch(t, []string{
		"System.evtx", "Application.evtx", "DNS Server.evtx",
		"System.evt", "Application.evt", "DNS Server.evt",
	}, logs)

	kinds := map[string]CaptureKind{
		"info.txt": KindCollectInfo, "ver.txt": KindVer, "systeminfo.txt": KindSystemInfo,
		"netstat-ano.txt": KindNetstat, "netstat-anob.txt": KindNetstatOwner,
		"tasklist-svc.csv": KindTasklistSvc, "tasklist.csv": KindTasklist, "processes.txt": KindProcessList,
		"reg-tcpip.txt": KindRegQuery, "reg-dns.txt": KindRegQuery,
		"netsh-dynamicport.txt": KindNetshDynamic, "netsh-excludedportrange.txt": KindNetshExclude,
	}
	for _, set := range []struct {
		dir     string
		missing []string // outputs the script does not write on that machine
	}{
		{"sbs2003", []string{"netsh-dynamicport.txt", "netsh-excludedportrange.txt"}}, // no netsh int ipv4 on NT 5.x
		{"server2019", []string{"netstat-anob.txt"}},                                  // run without elevation: removed
	} {
		t.Run(set.dir, func(t *testing.T) {
			var want []string
			for _, c := range captures {
				if !slices.Contains(set.missing, c) {
					want = append(want, c)
				}
			}
			files := captureFiles(t, set.dir)
			var names []string
			for _, f := range files {
				names = append(names, filepath.Base(f))
			}
			require.ElementsMatch(t, want, names)

			snap, facts, probs, err := LoadCaptures(files...)
			require.NoError(t, err)
			require.Empty(t, probs)
			require.Len(t, facts.Captures, len(files))
			for _, c := range facts.Captures {
				require.Equal(t, kinds[filepath.Base(c.Path)], c.Kind, c.Path)
				require.Positive(t, c.Records, c.Path)
			}
			require.True(t, facts.OS.Known())
			require.NotEmpty(t, facts.Host)
			require.False(t, facts.Collected.IsZero())
			require.NotNil(t, facts.Tcpip)
			require.NotNil(t, facts.DNS)
			dns := snap.Lookup(UDP, 53)
			require.NotEmpty(t, dns)
			require.Equal(t, "dns.exe", dns[0].Process.Image)
			require.NotEmpty(t, dns[0].Process.Path)
			require.False(t, dns[0].Process.Started.IsZero())
			require.True(t, dns[0].Pool)
		})
	}
}

var runsStdinReader = regexp.MustCompile(`(?i)(^|[\s(']|&&)(wmic|powershell)\s`)

// TestCollectorScriptShape checks what can go wrong in cmd.exe without
// running it: handle-number redirections, NT 5.x branches and the
// commands the issue asks for.
func TestCollectorScriptShape(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("collect", "collect.cmd"))
	require.NoError(t, err)
	script := string(b)
	for _, line := range strings.Split(script, "\r\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(strings.ToLower(l), "echo ") {
			// "echo x 1>file" drops the 1; redirections go first.
			require.NotRegexp(t, `\s[0-9]>`, l, "echo with a digit before >: %q", l)
		}
	}
	var code []string // the lines cmd.exe runs, without comments
	for _, line := range strings.Split(script, "\r\n") {
		l := strings.TrimSpace(line)
		if l != "" && !strings.HasPrefix(strings.ToLower(l), "rem ") {
			code = append(code, l)
		}
	}
	// The VBScript moniker holds "!": with delayed expansion on (a registry
	// default some admins set) it would be eaten.
	require.Contains(t, code, "setlocal EnableExtensions DisableDelayedExpansion")
	for _, l := range code {
		lower := strings.ToLower(l)
		// wmic and powershell wait on stdin when run without a console
		// (PsExec, scheduled tasks).
		if runsStdinReader.MatchString(l) {
			require.Regexp(t, `\^?<nul`, l, "no <nul: %q", l)
		}
		// netsh reports a missing command on stdout: its files must be
		// checked for a table, not only for being empty.
		if strings.HasPrefix(lower, "call :keep ") {
			require.NotContains(t, lower, "netsh", "netsh output kept by size only: %q", l)
		}
		// Wine's and some old cmd.exe builds get "mkdir ... ||" wrong.
		require.NotRegexp(t, `^mkdir .*\|\|`, l)
	}
	require.Contains(t, code, `call :keeptable "%OUT%\netsh-dynamicport.txt" "netsh dynamicport"`)
	require.Contains(t, code, `if not exist "%OUT%\" goto mkfail`)
	// A failed reg query leaves no file behind to be mistaken for data.
	require.Contains(t, code, `if errorlevel 1 del "%OUT%\reg-tcpip.txt" >nul 2>&1`)
	require.Contains(t, code, `if errorlevel 1 del "%OUT%\reg-dns.txt" >nul 2>&1`)
	// "Run as administrator" starts in system32: default next to the script.
	require.Contains(t, code, `if "%DEST%"=="" set "DEST=%~dp0"`)

	for _, cmd := range []string{
		"netstat -ano", "netstat -anob", "tasklist /svc /fo csv", "tasklist /fo csv",
		`reg query "HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters"`,
		`reg query "HKLM\SYSTEM\CurrentControlSet\Services\DNS\Parameters"`,
		"netsh int ipv4 show dynamicport tcp", "netsh int ipv4 show dynamicport udp",
		"netsh int ipv4 show excludedportrange protocol=udp", "netsh int ipv4 show excludedportrange protocol=tcp",
		"wevtutil epl System", "wevtutil epl Application", "BackupEventlog", "Win32_NTEventlogFile",
		"ver >", "systeminfo >", "wmic process get CreationDate,ExecutablePath,Name,ProcessId /value",
	} {
		require.Contains(t, script, cmd)
	}
}
