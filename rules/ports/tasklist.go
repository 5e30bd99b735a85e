package ports

import (
	"encoding/csv"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// tasklist [/svc] /fo csv|table. Headers are localized ("Abbildname",
// "映像名称"), so columns are taken by position: image, PID, then either
// services (/svc: 3 columns) or session name, session#, memory (5
// columns; 9 with /v).

func readCSVLine(line string) ([]string, error) { return readCSVLineSep(line, ',') }

func readCSVLineSep(line string, sep rune) ([]string, error) {
	r := csv.NewReader(strings.NewReader(line))
	r.Comma = sep
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	return r.Read()
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// tasklistColumns classifies a tasklist row by column count: 3 columns are
// /svc unless the third holds DLL names (/m); 5 and 9 are plain and /v.
func tasklistColumns(rec []string) CaptureKind {
	switch len(rec) {
	case 3:
		if strings.Contains(strings.ToLower(rec[2]), ".dll") {
			return KindUnknown
		}
		return KindTasklistSvc
	case 5, 9:
		return KindTasklist
	}
	return KindUnknown
}

func sniffTasklistCSV(lines []string) CaptureKind {
	seen := 0
	for _, line := range lines {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if !strings.HasPrefix(strings.TrimSpace(line), `"`) {
			return KindUnknown
		}
		rec, err := readCSVLine(line)
		if err != nil {
			return KindUnknown
		}
		if seen++; seen > 2 {
			return KindUnknown
		}
		if len(rec) < 3 || !isDigits(rec[1]) {
			continue // the (localized) header
		}
		if rec[0] == "" {
			return KindUnknown
		}
		return tasklistColumns(rec)
	}
	return KindUnknown
}

func splitServices(s string) []string {
	var out []string
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		// "N/A" and its translations ("Nicht zutreffend", "N/D") are not
		// service key names.
		if !plausibleServiceName(n) {
			continue
		}
		out = append(out, n)
	}
	return out
}

func parseTasklistCSV(l *loader, file string, lines []string) (int, CaptureKind) {
	n := 0
	kind := KindUnknown
	for i, line := range lines {
		if strings.TrimSpace(line) == "" {
			continue
		}
		rec, err := readCSVLine(line)
		if err != nil {
			l.problemf(file, i+1, "bad CSV row: %v", err)
			continue
		}
		if len(rec) >= 2 && !isDigits(rec[1]) && n == 0 {
			continue // header
		}
		k := tasklistColumns(rec)
		if k == KindUnknown || !isDigits(rec[1]) || rec[0] == "" {
			l.problemf(file, i+1, "not a tasklist row: %q", line)
			continue
		}
		if kind == KindUnknown {
			kind = k
		}
		pid, err := strconv.Atoi(rec[1])
		if err != nil {
			l.problemf(file, i+1, "bad PID %q", rec[1])
			continue
		}
		l.setImage(pid, rec[0])
		if k == KindTasklistSvc {
			l.addServices(pid, splitServices(rec[2])...)
		}
		n++
	}
	return n, kind
}

var tableSeparator = regexp.MustCompile(`^=+( +=+)+\s*$`)

// tableSpans returns the [start,end) rune columns of each "====" group.
func tableSpans(sep string) [][2]int {
	var spans [][2]int
	start := -1
	for i, c := range []rune(sep) {
		switch {
		case c == '=' && start < 0:
			start = i
		case c != '=' && start >= 0:
			spans = append(spans, [2]int{start, i})
			start = -1
		}
	}
	if start >= 0 {
		spans = append(spans, [2]int{start, len([]rune(sep))})
	}
	return spans
}

func findTableSeparator(lines []string) int {
	seen := 0
	for i, line := range lines {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if tableSeparator.MatchString(line) {
			return i
		}
		if seen++; seen > 3 {
			return -1
		}
	}
	return -1
}

func sniffTasklistTable(lines []string) CaptureKind {
	i := findTableSeparator(lines)
	if i < 0 {
		return KindUnknown
	}
	spans := tableSpans(lines[i])
	for _, line := range lines[i+1:] {
		if strings.TrimSpace(line) == "" {
			continue
		}
		img, rest, ok := cutColumn(line, spans[0][1])
		f := strings.Fields(rest)
		if !ok || img == "" || len(f) == 0 || !isDigits(f[0]) {
			return KindUnknown
		}
		switch len(spans) {
		case 3:
			if strings.Contains(strings.ToLower(rest), ".dll") {
				return KindUnknown
			}
			return KindTasklistSvc
		case 5, 9:
			return KindTasklist
		}
		return KindUnknown
	}
	return KindUnknown
}

// cutColumn splits line at rune column end: the trimmed first column and
// the rest.
func cutColumn(line string, end int) (string, string, bool) {
	r := []rune(line)
	if len(r) <= end {
		return strings.TrimSpace(line), "", len(strings.TrimSpace(line)) > 0
	}
	return strings.TrimSpace(string(r[:end])), string(r[end:]), true
}

func parseTasklistTable(l *loader, file string, lines []string) (int, CaptureKind) {
	sepAt := findTableSeparator(lines)
	if sepAt < 0 {
		return 0, KindUnknown
	}
	spans := tableSpans(lines[sepAt])
	kind := KindTasklist
	if len(spans) == 3 {
		kind = KindTasklistSvc
	}
	n := 0
	last := -1
	for i := sepAt + 1; i < len(lines); i++ {
		line := lines[i]
		if strings.TrimSpace(line) == "" {
			continue
		}
		img, rest, _ := cutColumn(line, spans[0][1])
		if img == "" {
			// The services column wraps onto indented lines.
			if kind == KindTasklistSvc && last >= 0 {
				l.addServices(last, splitServices(rest)...)
				continue
			}
			l.problemf(file, i+1, "not a tasklist row: %q", strings.TrimSpace(line))
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 || !isDigits(f[0]) {
			l.problemf(file, i+1, "not a tasklist row: %q", strings.TrimSpace(line))
			last = -1
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			l.problemf(file, i+1, "bad PID %q", f[0])
			last = -1
			continue
		}
		l.setImage(pid, img)
		if kind == KindTasklistSvc {
			_, svc, _ := strings.Cut(strings.TrimSpace(rest), f[0])
			l.addServices(pid, splitServices(svc)...)
		}
		last = pid
		n++
	}
	return n, kind
}

// plausibleServiceName reports whether s can be a service key name as
// tasklist /svc and netstat -b print it: no spaces, no slashes (the SCM
// rejects both slashes), no control or box-drawing characters; letters of
// any script, digits and the punctuation real names use (MSSQL$SHAREPOINT,
// CDPUserSvc_4a2b1, {GUID}).
func plausibleServiceName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
		case strings.ContainsRune("_-.$#@{}+~!&'()", r):
		default:
			return false
		}
	}
	return !strings.HasPrefix(s, "-")
}
