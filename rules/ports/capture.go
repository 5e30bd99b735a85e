package ports

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// CaptureKind names a recognised capture format.
type CaptureKind string

// Capture kinds. Each is recognised by content (Sniff), never by file name.
const (
	KindUnknown      CaptureKind = ""
	KindNetstat      CaptureKind = "netstat -ano"
	KindNetstatOwner CaptureKind = "netstat -anob"
	KindTasklistSvc  CaptureKind = "tasklist /svc"
	KindTasklist     CaptureKind = "tasklist"
	KindPSUDP        CaptureKind = "Get-NetUDPEndpoint"
	KindPSTCP        CaptureKind = "Get-NetTCPConnection"
	KindNetshDynamic CaptureKind = "netsh dynamicport"
	KindNetshExclude CaptureKind = "netsh excludedportrange"
	KindRegQuery     CaptureKind = "reg query"
	KindVer          CaptureKind = "ver"
	KindSystemInfo   CaptureKind = "systeminfo"
	KindProcessList  CaptureKind = "wmic process"
	KindCollectInfo  CaptureKind = "collect.cmd info"
)

// SniffLen is how many leading bytes of a file Sniff looks at.
const SniffLen = 16 << 10

// ErrNoCaptures is returned by LoadCaptures when none of the files is a
// capture it understands.
var ErrNoCaptures = errors.New("no port-ownership captures among the inputs")

// maxProblemsPerFile bounds the row errors kept for one file; the rest are
// counted in one final problem.
const maxProblemsPerFile = 20

// ParseError is an unparseable part of a capture: the row is skipped and
// the rest of the file is still read.
type ParseError struct {
	File string
	Line int // 1-based; 0 when the problem concerns the whole file
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

type detector struct {
	kind  CaptureKind
	sniff func(lines []string) CaptureKind
	// parse reads the whole file and returns how many records it held and,
	// when it learnt more than the head showed, a refined kind.
	parse func(l *loader, file string, lines []string) (int, CaptureKind)
}

// detectors are tried in order; the first match wins. Formats with a
// strong marker come first.
func detectors() []detector {
	return []detector{
		{KindCollectInfo, sniffCollectInfo, parseCollectInfo},
		{KindRegQuery, sniffRegQuery, parseRegQuery},
		{KindPSUDP, sniffPSCSV, parsePSCSV},
		{KindTasklist, sniffTasklistCSV, parseTasklistCSV},
		{KindTasklist, sniffTasklistTable, parseTasklistTable},
		{KindNetstat, sniffNetstat, parseNetstat},
		{KindNetshExclude, sniffNetshExcluded, parseNetshExcluded},
		{KindNetshDynamic, sniffNetshDynamic, parseNetshDynamic},
		{KindProcessList, sniffProcessList, parseProcessList},
		{KindVer, sniffVer, parseVer},
		{KindSystemInfo, sniffSystemInfo, parseSystemInfo},
	}
}

// Sniff tells which capture format the first bytes of a file (up to
// SniffLen) hold, or KindUnknown. UTF-16 and OEM-encoded files are
// handled.
func Sniff(head []byte) CaptureKind {
	if len(head) > SniffLen {
		head = head[:SniffLen]
	}
	lines := sniffLines(head)
	for _, d := range detectors() {
		if k := d.sniff(lines); k != KindUnknown {
			return k
		}
	}
	return KindUnknown
}

// IsCapture reports whether head is the start of a capture LoadCaptures
// reads, so a caller can route a mixed folder (event logs elsewhere).
func IsCapture(head []byte) bool { return Sniff(head) != KindUnknown }

func sniffLines(head []byte) []string {
	lines := splitLines(decodeText(head))
	// The last line of a head may be cut short.
	if len(head) >= SniffLen && len(lines) > 1 {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// LoadCaptures reads capture files (not folders) and merges them into one
// Snapshot and one Facts. Per-file problems (unreadable files, files that
// are not captures, unparseable rows, each naming file and line) are
// returned in problems and do not stop the load; err is ErrNoCaptures
// when no file could be used.
func LoadCaptures(paths ...string) (snap *Snapshot, facts *Facts, problems []error, err error) {
	l := newLoader()
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			l.problems = append(l.problems, fmt.Errorf("read capture: %w", err))
			continue
		}
		var mtime time.Time
		if fi, err := os.Stat(p); err == nil {
			mtime = fi.ModTime()
		}
		l.add(p, data, mtime)
	}
	snap, facts = l.finish()
	if len(facts.Captures) == 0 {
		return snap, facts, l.problems, ErrNoCaptures
	}
	return snap, facts, l.problems, nil
}

// ParseCapture reads one capture held in memory; name is used in problems
// and as the snapshot source.
func ParseCapture(name string, r io.Reader) (*Snapshot, *Facts, []error, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read %s: %w", name, err)
	}
	l := newLoader()
	l.add(name, data, time.Time{})
	snap, facts := l.finish()
	if len(facts.Captures) == 0 {
		return snap, facts, l.problems, ErrNoCaptures
	}
	return snap, facts, l.problems, nil
}

type bindKey struct {
	proto  Protocol
	addr   netip.Addr
	port   uint16
	state  string
	remote string
	pid    int
}

type loader struct {
	snap        *Snapshot
	facts       *Facts
	seen        map[bindKey]bool
	problems    []error
	fileProbs   int
	bindSources []string
	newest      time.Time
	// services seen per PID, in order, without duplicates
	svcSeen map[int]map[string]bool
}

func newLoader() *loader {
	return &loader{
		snap:    &Snapshot{Processes: map[int]*Process{}},
		facts:   newFacts(),
		seen:    map[bindKey]bool{},
		svcSeen: map[int]map[string]bool{},
	}
}

func (l *loader) add(path string, data []byte, mtime time.Time) {
	lines := splitLines(decodeText(data))
	head := data
	if len(head) > SniffLen {
		head = head[:SniffLen]
	}
	headLines := sniffLines(head)
	for _, d := range detectors() {
		kind := d.sniff(headLines)
		if kind == KindUnknown {
			continue
		}
		l.fileProbs = 0
		nb := len(l.snap.Bindings)
		n, refined := d.parse(l, path, lines)
		if l.fileProbs > maxProblemsPerFile {
			l.problems = append(l.problems, &ParseError{File: path, Msg: fmt.Sprintf("%d more unparseable rows not shown", l.fileProbs-maxProblemsPerFile)})
		}
		if refined != KindUnknown {
			kind = refined
		}
		l.facts.Captures = append(l.facts.Captures, CaptureFile{Path: path, Kind: kind, Records: n})
		if len(l.snap.Bindings) > nb || kind == KindNetstat || kind == KindNetstatOwner || kind == KindPSUDP || kind == KindPSTCP {
			l.bindSources = append(l.bindSources, path)
			if mtime.After(l.newest) {
				l.newest = mtime
			}
		}
		return
	}
	l.problems = append(l.problems, &ParseError{File: path, Msg: "not a recognised capture (netstat, tasklist, PowerShell CSV, netsh, reg query, ver, systeminfo)"})
}

func (l *loader) problemf(file string, line int, format string, args ...any) {
	l.fileProbs++
	if l.fileProbs > maxProblemsPerFile {
		return
	}
	l.problems = append(l.problems, &ParseError{File: file, Line: line, Msg: clipMessage(fmt.Sprintf(format, args...))})
}

// maxMessageRunes bounds a problem message: rows are quoted in them, and a
// damaged capture can hold a line of megabytes.
const maxMessageRunes = 160

func clipMessage(s string) string {
	if len(s) <= maxMessageRunes {
		return s
	}
	n := 0
	for i := range s {
		if n == maxMessageRunes {
			return s[:i] + fmt.Sprintf("… (%s bytes)", FormatCount(len(s)))
		}
		n++
	}
	return s
}

func (l *loader) addBinding(b Binding) {
	k := bindKey{b.Protocol, b.Addr, b.Port, b.State, b.Remote, b.PID}
	if l.seen[k] {
		return
	}
	l.seen[k] = true
	l.snap.Bindings = append(l.snap.Bindings, b)
}

func (l *loader) proc(pid int) *Process {
	p, ok := l.snap.Processes[pid]
	if !ok {
		p = &Process{PID: pid}
		l.snap.Processes[pid] = p
	}
	return p
}

func (l *loader) setImage(pid int, image string) {
	image = strings.TrimSpace(image)
	if image == "" {
		return
	}
	p := l.proc(pid)
	if p.Image == "" {
		p.Image = image
	}
}

func (l *loader) addServices(pid int, names ...string) {
	p := l.proc(pid)
	seen := l.svcSeen[pid]
	if seen == nil {
		seen = map[string]bool{}
		for _, s := range p.Services {
			seen[strings.ToLower(s)] = true
		}
		l.svcSeen[pid] = seen
	}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || seen[strings.ToLower(n)] {
			continue
		}
		seen[strings.ToLower(n)] = true
		p.Services = append(p.Services, n)
	}
}

func (l *loader) finish() (*Snapshot, *Facts) {
	s := l.snap
	// PIDs 0 and 4 are fixed on NT 5.1 and later; netstat -b prints "Can not
	// obtain ownership information" for them.
	for pid, name := range map[int]string{0: "System Idle Process", 4: "System"} {
		if p, ok := s.Processes[pid]; ok && p.Image == "" {
			p.Image = name
		} else if !ok && s.hasPID(pid) {
			s.Processes[pid] = &Process{PID: pid, Image: name}
		}
	}
	s.Source = strings.Join(l.bindSources, ", ")
	if s.Source == "" {
		var all []string
		for _, c := range l.facts.Captures {
			all = append(all, c.Path)
		}
		s.Source = strings.Join(all, ", ")
	}
	s.Taken = l.facts.Collected
	if s.Taken.IsZero() {
		s.Taken = l.newest
	}
	sortBindings(s.Bindings)
	for _, p := range s.Processes {
		if len(p.Services) > 1 {
			// tasklist lists services sorted; keep that order stable for
			// services learnt from netstat -b too.
			sort.SliceStable(p.Services, func(i, j int) bool {
				return strings.ToLower(p.Services[i]) < strings.ToLower(p.Services[j])
			})
		}
	}
	f := l.facts
	for proto, rs := range f.Excluded {
		slices.SortFunc(rs, func(a, b ExcludedRange) int { return int(a.Range.First) - int(b.Range.First) })
		f.Excluded[proto] = rs
	}
	return s, f
}

func (s *Snapshot) hasPID(pid int) bool {
	for _, b := range s.Bindings {
		if b.PID == pid {
			return true
		}
	}
	return false
}

// sortBindings orders bindings by protocol, port, address, PID, so output
// does not depend on input order.
func sortBindings(bs []Binding) {
	slices.SortStableFunc(bs, func(a, b Binding) int {
		if a.Protocol != b.Protocol {
			return strings.Compare(string(a.Protocol), string(b.Protocol))
		}
		if a.Port != b.Port {
			return int(a.Port) - int(b.Port)
		}
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c
		}
		if a.PID != b.PID {
			return a.PID - b.PID
		}
		if a.State != b.State {
			return strings.Compare(a.State, b.State)
		}
		return strings.Compare(a.Remote, b.Remote)
	})
}
