package ports

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ver, systeminfo, wmic process get ... /value, and the info file
// collect.cmd writes.

var (
	verLine     = regexp.MustCompile(`(?i)^\s*microsoft windows.*\[\S+\s+(\d+)\.(\d+)\.(\d+)(?:\.\d+)?\]\s*$`)
	versionText = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)\b`)
	labelValue  = regexp.MustCompile(`^([^\s:][^:]{0,60}):\s+(\S.*)$`)
)

func setVersion(o *OSInfo, m []string) {
	o.Major, _ = strconv.Atoi(m[1])
	o.Minor, _ = strconv.Atoi(m[2])
	o.Build, _ = strconv.Atoi(m[3])
	o.Version = m[1] + "." + m[2] + "." + m[3]
}

func sniffVer(lines []string) CaptureKind {
	seen := 0
	for _, line := range lines {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if verLine.MatchString(line) {
			return KindVer
		}
		if seen++; seen > 2 {
			break
		}
	}
	return KindUnknown
}

func parseVer(l *loader, _ string, lines []string) (int, CaptureKind) {
	for _, line := range lines {
		if m := verLine.FindStringSubmatch(line); m != nil {
			// systeminfo, when present, also gives the name; the numbers agree.
			if !l.facts.OS.Known() {
				setVersion(&l.facts.OS, m)
			}
			return 1, KindVer
		}
	}
	return 0, KindVer
}

// systeminfo prints "Label:   value" lines with localized labels ("OS
// Version:", "Betriebssystemversion:"). The version is the first value
// shaped like "5.2.3790 Service Pack 2 Build 3790", the name the first
// value starting "Microsoft" that mentions Windows, the host the first
// value of all.
func sniffSystemInfo(lines []string) CaptureKind {
	labelled := 0
	version, windows := false, false
	for _, line := range lines {
		m := labelValue.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		labelled++
		v := m[2]
		if versionText.MatchString(v) {
			version = true
		}
		if strings.HasPrefix(v, "Microsoft") && strings.Contains(v, "Windows") {
			windows = true
		}
	}
	if labelled >= 8 && version && windows {
		return KindSystemInfo
	}
	return KindUnknown
}

func parseSystemInfo(l *loader, _ string, lines []string) (int, CaptureKind) {
	n := 0
	var name string
	var ver []string
	host := ""
	for _, line := range lines {
		m := labelValue.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n++
		v := strings.TrimSpace(m[2])
		if host == "" {
			host = v
		}
		if name == "" && strings.HasPrefix(v, "Microsoft") && strings.Contains(v, "Windows") {
			name = v
		}
		if ver == nil {
			ver = versionText.FindStringSubmatch(v)
		}
	}
	if ver != nil {
		setVersion(&l.facts.OS, ver)
	}
	if name != "" {
		l.facts.OS.Name = name
	}
	if l.facts.Host == "" && !strings.ContainsAny(host, " \t") {
		l.facts.Host = host
	}
	return n, KindSystemInfo
}

// wmic process get CreationDate,ExecutablePath,Name,ProcessId /value: blocks
// of Key=Value lines, UTF-16 when redirected. collect.cmd falls back to a
// PowerShell loop writing the same shape with ISO 8601 dates.

func sniffProcessList(lines []string) CaptureKind {
	pid, name := false, false
	for _, line := range lines {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		switch strings.ToLower(k) {
		case "processid":
			pid = isDigits(v)
		case "name":
			name = true
		}
		if pid && name {
			return KindProcessList
		}
	}
	return KindUnknown
}

func parseProcessList(l *loader, file string, lines []string) (int, CaptureKind) {
	n := 0
	rec := map[string]string{}
	start := 0
	flush := func() {
		if len(rec) == 0 {
			return
		}
		defer clear(rec)
		pidStr, ok := rec["processid"]
		if !ok {
			l.problemf(file, start+1, "process block without ProcessId")
			return
		}
		pid, err := strconv.Atoi(pidStr)
		if err != nil {
			l.problemf(file, start+1, "bad ProcessId %q", pidStr)
			return
		}
		l.setImage(pid, rec["name"])
		p := l.proc(pid)
		if path := rec["executablepath"]; path != "" && p.Path == "" {
			p.Path = path
		}
		if t, ok := parseWMITime(rec["creationdate"]); ok && p.Started.IsZero() {
			p.Started = t
		}
		n++
	}
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if t == "" {
			if _, ok := rec["processid"]; ok {
				flush()
			}
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			l.problemf(file, i+1, "not a Key=Value line: %q", t)
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if _, dup := rec[k]; dup {
			flush()
		}
		if len(rec) == 0 {
			start = i
		}
		rec[k] = strings.TrimSpace(v)
	}
	flush()
	return n, KindProcessList
}

// parseWMITime reads a CIM datetime ("20090113080412.123456+060", the
// offset in minutes) or an ISO 8601 time.
func parseWMITime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if len(s) != 25 || s[14] != '.' || (s[21] != '+' && s[21] != '-') {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102150405.000000", s[:21])
	if err != nil {
		return time.Time{}, false
	}
	off, err := strconv.Atoi(s[22:])
	if err != nil {
		return time.Time{}, false
	}
	if s[21] == '-' {
		off = -off
	}
	zone := time.FixedZone("", off*60)
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), zone), true
}

// collectInfoMarker starts the info file collect.cmd writes.
const collectInfoMarker = "evtwatch-collect"

func sniffCollectInfo(lines []string) CaptureKind {
	for _, line := range lines {
		if t := strings.TrimSpace(line); t != "" {
			if strings.HasPrefix(t, collectInfoMarker) {
				return KindCollectInfo
			}
			return KindUnknown
		}
	}
	return KindUnknown
}

func parseCollectInfo(l *loader, _ string, lines []string) (int, CaptureKind) {
	n := 0
	for _, line := range lines {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "computer":
			if v != "" {
				l.facts.Host = v
				n++
			}
		case "localdatetime", "collected":
			if t, ok := parseWMITime(v); ok {
				l.facts.Collected = t
				n++
			}
		}
	}
	return n, KindCollectInfo
}
