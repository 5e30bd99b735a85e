package ports

import (
	"regexp"
	"strconv"
	"strings"
)

// netsh int ipv4 show dynamicport tcp|udp and show excludedportrange
// protocol=tcp|udp (Vista/2008 and later). Titles are localized ("Protokoll
// tcp Dynamischer Portbereich", "Protocole udp Plages d'exclusion de
// ports"), so blocks are found by shape: a title naming the protocol, a
// dashed rule, then "label : number" lines (dynamicport) or rows of two
// numbers with an optional "*" (excludedportrange).

var (
	protoWord   = regexp.MustCompile(`(?i)(?:^|[^a-z])(tcp|udp)(?:[^a-z]|$)`)
	singleRule  = regexp.MustCompile(`^\s*-{5,}\s*$`)
	doubleRule  = regexp.MustCompile(`^\s*-{3,}\s+-{3,}\s*$`)
	labelNumber = regexp.MustCompile(`^[^:]+:\s*(\d+)\s*$`)
	excludedRow = regexp.MustCompile(`^\s*(\d+)\s+(\d+)\s*(\*)?\s*$`)
)

func lineProto(s string) (Protocol, bool) {
	m := protoWord.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	return Protocol(strings.ToLower(m[1])), true
}

// netshBlocks calls fn for each (protocol, rule line index) pair: a dashed
// rule matching rule, preceded within three lines by a title naming the
// protocol.
func netshBlocks(lines []string, rule *regexp.Regexp, fn func(proto Protocol, at int) bool) {
	var proto Protocol
	protoAt := -10
	for i, line := range lines {
		if p, ok := lineProto(line); ok && !rule.MatchString(line) {
			proto, protoAt = p, i
			continue
		}
		if rule.MatchString(line) && i-protoAt <= 3 {
			if !fn(proto, i) {
				return
			}
		}
	}
}

func dynamicAt(lines []string, at int) (start, count int, ok bool) {
	var nums []int
	for _, line := range lines[at+1:] {
		if strings.TrimSpace(line) == "" {
			if len(nums) > 0 {
				break
			}
			continue
		}
		m := labelNumber.FindStringSubmatch(line)
		if m == nil {
			break
		}
		n, err := strconv.Atoi(m[1])
		if err != nil {
			break
		}
		if nums = append(nums, n); len(nums) == 2 {
			return nums[0], nums[1], true
		}
	}
	return 0, 0, false
}

func sniffNetshDynamic(lines []string) CaptureKind {
	found := false
	netshBlocks(lines, singleRule, func(_ Protocol, at int) bool {
		_, _, found = dynamicAt(lines, at)
		return !found
	})
	if found {
		return KindNetshDynamic
	}
	return KindUnknown
}

func parseNetshDynamic(l *loader, file string, lines []string) (int, CaptureKind) {
	n := 0
	netshBlocks(lines, singleRule, func(proto Protocol, at int) bool {
		start, count, ok := dynamicAt(lines, at)
		switch {
		case !ok:
			l.problemf(file, at+2, "dynamic port block without start and count")
		case start < 1 || count < 1 || start+count-1 > 65535:
			l.problemf(file, at+2, "impossible dynamic port range: start %d, %d ports", start, count)
		default:
			l.facts.Dynamic[proto] = PortRange{uint16(start), uint16(start + count - 1)}
			n++
		}
		return true
	})
	return n, KindNetshDynamic
}

func sniffNetshExcluded(lines []string) CaptureKind {
	found := false
	netshBlocks(lines, doubleRule, func(Protocol, int) bool {
		found = true
		return false
	})
	if found {
		return KindNetshExclude
	}
	return KindUnknown
}

func parseNetshExcluded(l *loader, file string, lines []string) (int, CaptureKind) {
	n := 0
	netshBlocks(lines, doubleRule, func(proto Protocol, at int) bool {
		list := l.facts.Excluded[proto]
		if list == nil {
			list = []ExcludedRange{}
		}
		for i := at + 1; i < len(lines); i++ {
			t := strings.TrimSpace(lines[i])
			if t == "" {
				break
			}
			m := excludedRow.FindStringSubmatch(t)
			if m == nil {
				break // the "* - Administered port exclusions." footnote or the next block
			}
			r, err := ParsePortRange(m[1] + "-" + m[2])
			if err != nil {
				l.problemf(file, i+1, "%v", err)
				continue
			}
			list = append(list, ExcludedRange{Range: r, Administered: m[3] == "*"})
			n++
		}
		l.facts.Excluded[proto] = list
		return true
	})
	return n, KindNetshExclude
}
