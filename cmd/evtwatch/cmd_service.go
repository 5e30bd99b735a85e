package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

const serviceUsage = `Run 'evtwatch watch' as a Windows service.

USAGE
  evtwatch service install [--config FILE] [--name NAME] [--user ACCOUNT --password-file FILE] [--start]
  evtwatch service remove [--name NAME]

install registers a service (automatic, delayed start; restarted by the
service manager after a failure) that runs 'evtwatch watch --config FILE'
as LocalSystem, or as --user with the password read from --password-file
(omit it for a gMSA or NT AUTHORITY\LocalService). It also registers the
'evtwatch' event source, under which every watch cycle that did something
writes a one-line summary to the Application log. remove stops the service
and deletes it. Run both from an elevated prompt.

Services exist only on Windows; elsewhere use 'evtwatch schedule install'
(a crontab line) or a systemd unit running 'evtwatch watch'.

EXAMPLES
  $ evtwatch service install --config C:\ProgramData\evtwatch\config.yaml --start
  $ evtwatch service remove
`

// serviceOptions are the service install/remove settings.
type serviceOptions struct {
	Name         string
	Config       string
	User         string
	PasswordFile string
	Start        bool
}

func runService(ctx context.Context, args []string, s streams) (exitCode, error) {
	if len(args) == 0 || (args[0] != "install" && args[0] != "remove") {
		fmt.Fprint(s.Err, serviceUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return exitOK, nil
		}
		return exitUsage, usagef("service: say install or remove")
	}
	verb := args[0]
	fs := newFlagSet("service "+verb, serviceUsage, s)
	var o serviceOptions
	fs.StringVar(&o.Name, "name", "evtwatch", "service name")
	fs.StringVar(&o.Config, "config", evtwatchConfigPath(), "config file the service runs with (install)")
	fs.StringVar(&o.User, "user", "", "account to run as (install; default LocalSystem)")
	fs.StringVar(&o.PasswordFile, "password-file", "", "file holding the account's password (install)")
	fs.BoolVar(&o.Start, "start", false, "start the service after installing it")
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return exitUsage, err
	}
	if len(pos) > 0 {
		return exitUsage, usagef("service %s: unexpected argument %q", verb, pos[0])
	}
	if verb == "remove" {
		if err := removeService(ctx, o.Name); err != nil {
			return exitError, err
		}
		fmt.Fprintf(s.Err, "removed service %q\n", o.Name)
		return exitOK, nil
	}
	if o.Config, err = filepath.Abs(o.Config); err != nil {
		return exitError, err
	}
	var password string
	if o.PasswordFile != "" {
		b, err := os.ReadFile(o.PasswordFile)
		if err != nil {
			return exitError, fmt.Errorf("read --password-file: %w", err)
		}
		password = trimLineEnd(string(b))
	}
	exe, err := os.Executable()
	if err != nil {
		return exitError, fmt.Errorf("find own executable: %w", err)
	}
	if err := installService(o, exe, password); err != nil {
		return exitError, err
	}
	fmt.Fprintf(s.Err, "installed service %q: %s\n", o.Name, windowsCommandLine(serviceArgs(exe, o)))
	if err := installEventSource(); err != nil {
		fmt.Fprintf(s.Err, "warning: could not register the event log source %q: %v\n", eventSourceName, err)
	}
	return exitOK, nil
}

// serviceArgs is the command line the service manager starts.
func serviceArgs(exe string, o serviceOptions) []string {
	return []string{exe, "watch", "--config", o.Config, "--service", o.Name}
}

func trimLineEnd(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}
