package ports

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// PortRange is an inclusive range of ports, First <= Last.
type PortRange struct {
	First uint16 `json:"first"`
	Last  uint16 `json:"last"`
}

// Len is the number of ports in the range.
func (r PortRange) Len() int { return int(r.Last) - int(r.First) + 1 }

// Contains reports whether p is in the range.
func (r PortRange) Contains(p uint16) bool { return p >= r.First && p <= r.Last }

// String renders the range the way Windows settings want it: "1645-1646",
// a single port as "2883-2883" (ReservedPorts and SocketPoolExcludedPortRanges
// both take start-end pairs).
func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.First, r.Last) }

// Display renders the range for people: "2883" or "1025–65529".
func (r PortRange) Display() string {
	if r.First == r.Last {
		return strconv.Itoa(int(r.First))
	}
	return fmt.Sprintf("%d–%d", r.First, r.Last)
}

// MarshalText renders the range as "2883" or "1645-1646", which keeps
// JSON of a 2,500-port pool short.
func (r PortRange) MarshalText() ([]byte, error) {
	if r.First == r.Last {
		return strconv.AppendUint(nil, uint64(r.First), 10), nil
	}
	return []byte(r.String()), nil
}

// UnmarshalText reads what MarshalText writes.
func (r *PortRange) UnmarshalText(b []byte) error {
	x, err := ParsePortRange(string(b))
	if err != nil {
		return err
	}
	*r = x
	return nil
}

// ParsePortRange parses "1645-1646", "2883" or "4000 - 5000".
func ParsePortRange(s string) (PortRange, error) {
	s = strings.TrimSpace(s)
	a, b, found := strings.Cut(s, "-")
	first, err := parsePort(a)
	if err != nil {
		return PortRange{}, fmt.Errorf("port range %q: %w", s, err)
	}
	last := first
	if found {
		if last, err = parsePort(b); err != nil {
			return PortRange{}, fmt.Errorf("port range %q: %w", s, err)
		}
	}
	if last < first {
		return PortRange{}, fmt.Errorf("port range %q: end before start", s)
	}
	return PortRange{first, last}, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil {
		return 0, fmt.Errorf("bad port %q", strings.TrimSpace(s))
	}
	return uint16(n), nil
}

// CollapsePorts turns a list of ports (any order, duplicates allowed) into
// sorted ranges of consecutive ports.
func CollapsePorts(ports []uint16) []PortRange {
	if len(ports) == 0 {
		return nil
	}
	s := slices.Clone(ports)
	slices.Sort(s)
	s = slices.Compact(s)
	out := []PortRange{{s[0], s[0]}}
	for _, p := range s[1:] {
		last := &out[len(out)-1]
		if p == last.Last+1 {
			last.Last = p
			continue
		}
		out = append(out, PortRange{p, p})
	}
	return out
}

// MergeRanges sorts ranges and merges overlapping and adjacent ones, so that
// a ReservedPorts value keeps contiguous ports on one line (KB 812873 warns
// that adjacent ports listed separately may be reserved wrongly).
func MergeRanges(rs []PortRange) []PortRange {
	if len(rs) == 0 {
		return nil
	}
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b PortRange) int { return int(a.First) - int(b.First) })
	out := []PortRange{s[0]}
	for _, r := range s[1:] {
		last := &out[len(out)-1]
		if int(r.First) <= int(last.Last)+1 {
			last.Last = max(last.Last, r.Last)
			continue
		}
		out = append(out, r)
	}
	return out
}

// InRanges reports whether p lies in any of rs.
func InRanges(rs []PortRange, p uint16) bool {
	for _, r := range rs {
		if r.Contains(p) {
			return true
		}
	}
	return false
}

// CountInRanges counts the ports of rs (merged first) that fall inside span.
func CountInRanges(rs []PortRange, span PortRange) int {
	n := 0
	for _, r := range MergeRanges(rs) {
		lo, hi := max(r.First, span.First), min(r.Last, span.Last)
		if lo <= hi {
			n += int(hi) - int(lo) + 1
		}
	}
	return n
}

// FormatCount renders n with thousands separators: 2500 → "2,500".
func FormatCount(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// maxListed is how many port items a summary prints one by one before it
// folds the high ports into "N ports in A–B".
const maxListed = 16

// PortSummary describes a set of ports compactly: "53, 135, 1025–1030" when
// short; otherwise ports below 1024 are listed and the rest collapsed,
// "53, 2,500 ports in 1025–65529". The second result holds the folded
// ports (nil when nothing was folded), so callers can name notable ports
// hidden in the fold.
func PortSummary(ports []uint16) (string, []uint16) {
	ranges := CollapsePorts(ports)
	if len(ranges) <= maxListed {
		return joinRanges(ranges), nil
	}
	var low []PortRange
	var folded []uint16
	for _, r := range ranges {
		if r.Last < DynamicRangeStart && len(low) < maxListed {
			low = append(low, r)
			continue
		}
		for p := int(r.First); p <= int(r.Last); p++ {
			folded = append(folded, uint16(p))
		}
	}
	fold := fmt.Sprintf("%s ports in %d–%d", FormatCount(len(folded)), folded[0], folded[len(folded)-1])
	if len(folded) == 1 {
		fold = strconv.Itoa(int(folded[0]))
	}
	if len(low) == 0 {
		return fold, folded
	}
	return joinRanges(low) + ", " + fold, folded
}

func joinRanges(rs []PortRange) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Display()
	}
	return strings.Join(parts, ", ")
}
