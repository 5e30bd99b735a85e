package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

const scheduleUsage = `Run 'evtwatch scan' on a schedule.

USAGE
  evtwatch schedule install --every 5m [--config FILE] [--user ACCOUNT] [--name NAME] [--print]
  evtwatch schedule remove [--name NAME] [--print]

On Windows, install creates a Task Scheduler task with schtasks: it runs
'evtwatch scan --quiet --config FILE' every interval as SYSTEM (or --user),
with highest privileges so it can read every log and the owner of every
port. Overlapping runs are harmless: the second one finds the state locked
and exits with status 6. Run it from an elevated prompt. --user other than
SYSTEM, LOCAL SERVICE or NETWORK SERVICE makes schtasks ask for the
account's password (a gMSA, ending in $, needs none).

On other systems install prints the equivalent crontab line instead of
changing anything; remove says what to delete.

--print shows the schtasks command without running it.

EXAMPLES
  # every five minutes, as SYSTEM, with the default config
  $ evtwatch schedule install --every 5m

  # every 15 minutes as a service account, another config
  $ evtwatch schedule install --every 15m --user CONTOSO\svc-evtwatch$ --config D:\evtwatch\config.yaml

  $ evtwatch schedule remove
`

// maxTaskRun is schtasks' limit on the /TR command line.
const maxTaskRun = 261

func runSchedule(ctx context.Context, args []string, s streams) (exitCode, error) {
	if len(args) == 0 || (args[0] != "install" && args[0] != "remove") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(s.Err, scheduleUsage)
			return exitOK, nil
		}
		fmt.Fprint(s.Err, scheduleUsage)
		return exitUsage, usagef("schedule: say install or remove")
	}
	verb := args[0]
	fs := newFlagSet("schedule "+verb, scheduleUsage, s)
	every := fs.String("every", "", "interval between runs: whole minutes, e.g. 5m, 1h, 1d (install)")
	config := fs.String("config", evtwatchConfigPath(), "config file the task runs with (install)")
	user := fs.String("user", "SYSTEM", "account the task runs as (install)")
	name := fs.String("name", "evtwatch", "task name")
	printOnly := fs.Bool("print", false, "print the command instead of running it")
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return exitUsage, err
	}
	if len(pos) > 0 {
		return exitUsage, usagef("schedule %s: unexpected argument %q", verb, pos[0])
	}
	exe, err := os.Executable()
	if err != nil {
		return exitError, fmt.Errorf("find own executable: %w", err)
	}
	if strings.Contains(exe, "go-build") {
		fmt.Fprintf(s.Err, "warning: %s looks like a 'go run' build that will be deleted; install evtwatch first and run the installed binary\n", exe)
	}
	if verb == "remove" {
		cmd := schtasksDelete(*name)
		if runtime.GOOS != "windows" {
			fmt.Fprintf(s.Out, "Remove the crontab line that runs %s scan (crontab -e).\n", exe)
			return exitOK, nil
		}
		return runSchtasks(ctx, cmd, *printOnly, s, fmt.Sprintf("removed scheduled task %q", *name))
	}
	if *every == "" {
		return exitUsage, usagef("schedule install: --every is required (e.g. --every 5m)")
	}
	interval, err := parseCfgDuration(*every)
	if err != nil {
		return exitUsage, usagef("--every: %v", err)
	}
	cfg, err := filepath.Abs(*config)
	if err != nil {
		return exitError, err
	}
	if runtime.GOOS != "windows" {
		line, note, err := cronLine(interval, exe, cfg)
		if err != nil {
			return exitUsage, usagef("--every: %v", err)
		}
		fmt.Fprintf(s.Out, "# evtwatch: add this line to root's crontab (crontab -e):\n%s\n", line)
		if note != "" {
			fmt.Fprintf(s.Out, "# note: %s\n", note)
		}
		return exitOK, nil
	}
	cmd, err := schtasksCreate(*name, interval, exe, cfg, *user)
	if err != nil {
		return exitUsage, usagef("schedule install: %v", err)
	}
	if code, err := runSchtasks(ctx, cmd, *printOnly, s, fmt.Sprintf("created scheduled task %q: evtwatch scan every %s as %s", *name, formatCfgDuration(interval), *user)); err != nil || code != exitOK {
		return code, err
	}
	if !*printOnly {
		if err := installEventSource(); err != nil {
			fmt.Fprintf(s.Err, "warning: could not register the event log source %q (run summaries will show without text in Event Viewer): %v\n", eventSourceName, err)
		}
	}
	return exitOK, nil
}

func runSchtasks(ctx context.Context, args []string, printOnly bool, s streams, done string) (exitCode, error) {
	if printOnly {
		fmt.Fprintln(s.Out, windowsCommandLine(append([]string{"schtasks"}, args...)))
		return exitOK, nil
	}
	c := exec.CommandContext(ctx, "schtasks", args...)
	c.Stdin, c.Stdout, c.Stderr = s.In, s.Out, s.Err
	if err := c.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return exitError, fmt.Errorf("schtasks failed (exit status %d); run from an elevated prompt", ee.ExitCode())
		}
		return exitError, fmt.Errorf("run schtasks: %w", err)
	}
	fmt.Fprintln(s.Err, done)
	return exitOK, nil
}

// scanTaskCommand is the command line the task runs.
func scanTaskCommand(exe, config string) string {
	return windowsCommandLine([]string{exe, "scan", "--quiet", "--config", config})
}

// schtasksCreate builds the schtasks /Create arguments for a scan every
// interval. See https://learn.microsoft.com/windows-server/administration/windows-commands/schtasks-create.
func schtasksCreate(name string, interval time.Duration, exe, config, user string) ([]string, error) {
	sc, mo, err := taskSchedule(interval)
	if err != nil {
		return nil, err
	}
	tr := scanTaskCommand(exe, config)
	if len(tr) > maxTaskRun {
		return nil, fmt.Errorf("the task command is %d characters, over schtasks' limit of %d: install evtwatch and its config under shorter paths (%s)", len(tr), maxTaskRun, tr)
	}
	args := []string{"/Create", "/TN", name, "/TR", tr, "/SC", sc, "/MO", strconv.Itoa(mo), "/RU", user, "/RL", "HIGHEST", "/F"}
	if needsPassword(user) {
		args = append(args, "/RP", "*")
	}
	return args, nil
}

func schtasksDelete(name string) []string { return []string{"/Delete", "/TN", name, "/F"} }

// taskSchedule maps an interval to schtasks' /SC and /MO.
func taskSchedule(d time.Duration) (string, int, error) {
	if d < time.Minute || d%time.Minute != 0 {
		return "", 0, fmt.Errorf("%s: the interval must be a whole number of minutes, at least 1m", d)
	}
	mins := int(d / time.Minute)
	switch {
	case mins%1440 == 0:
		if mins/1440 > 365 {
			return "", 0, fmt.Errorf("%s: at most 365d", formatCfgDuration(d))
		}
		return "DAILY", mins / 1440, nil
	case mins%60 == 0 && mins/60 <= 23:
		return "HOURLY", mins / 60, nil
	case mins <= 1439:
		return "MINUTE", mins, nil
	}
	return "", 0, fmt.Errorf("%s: use whole days above 23h59m", formatCfgDuration(d))
}

// needsPassword reports whether schtasks must be given the account's
// password: built-in service accounts and gMSAs have none.
func needsPassword(user string) bool {
	u := strings.ToUpper(user)
	if i := strings.LastIndex(u, `\`); i >= 0 {
		u = u[i+1:]
	}
	switch u {
	case "SYSTEM", "LOCALSYSTEM", "LOCAL SERVICE", "LOCALSERVICE", "NETWORK SERVICE", "NETWORKSERVICE":
		return false
	}
	return !strings.HasSuffix(u, "$")
}

// cronLine is the crontab line running scan every interval, with a note
// when cron cannot express the interval exactly.
func cronLine(d time.Duration, exe, config string) (line, note string, err error) {
	if d < time.Minute || d%time.Minute != 0 {
		return "", "", fmt.Errorf("%s: the interval must be a whole number of minutes, at least 1m", d)
	}
	mins := int(d / time.Minute)
	var spec string
	switch {
	case mins < 60:
		spec = fmt.Sprintf("*/%d * * * *", mins)
		if mins == 1 {
			spec = "* * * * *"
		}
		if 60%mins != 0 {
			note = fmt.Sprintf("cron restarts */%d at every hour, so one gap per hour is shorter", mins)
		}
	case mins%60 == 0 && mins < 1440:
		h := mins / 60
		spec = fmt.Sprintf("0 */%d * * *", h)
		if 24%h != 0 {
			note = fmt.Sprintf("cron restarts */%d at midnight, so one gap per day is shorter", h)
		}
	case mins%1440 == 0:
		days := mins / 1440
		spec = "0 0 * * *"
		if days > 1 {
			spec = fmt.Sprintf("0 0 */%d * *", days)
			note = "cron counts days within the month, so the gap at the month's end differs"
		}
	default:
		return "", "", fmt.Errorf("%s: cron cannot run at this interval; use minutes below 1h, whole hours or whole days", formatCfgDuration(d))
	}
	// cron turns an unescaped % in the command into a line break, even
	// inside quotes; \% is passed on as %.
	command := strings.ReplaceAll(shellQuote(exe)+" scan --quiet --config "+shellQuote(config), "%", `\%`)
	return spec + " " + command, note, nil
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:=,@%", r))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// windowsCommandLine joins arguments the way CommandLineToArgvW splits them
// (syscall.EscapeArg's rules), so the task runs exactly these arguments.
func windowsCommandLine(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = escapeWindowsArg(a)
	}
	return strings.Join(out, " ")
}

func escapeWindowsArg(s string) string {
	if s == "" {
		return `""`
	}
	if !strings.ContainsAny(s, " \t\"") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			slashes++
		case '"':
			b.WriteString(strings.Repeat(`\`, slashes+1))
			slashes = 0
		default:
			slashes = 0
		}
		b.WriteByte(c)
	}
	b.WriteString(strings.Repeat(`\`, slashes))
	b.WriteByte('"')
	return b.String()
}
