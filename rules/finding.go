package rules

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/rules/ports"
)

// Verdict says what the port table says about a failing service's port.
type Verdict string

// Verdicts.
const (
	// VerdictHeld: an unexpected process holds the port: the culprit.
	VerdictHeld Verdict = "held"
	// VerdictExpected: the port is held by its expected owner (recovered).
	VerdictExpected Verdict = "expected_owner"
	// VerdictFree: nobody holds the port now; the conflict was transient.
	VerdictFree Verdict = "free"
	// VerdictUnknown: no snapshot, or the port could not be worked out.
	VerdictUnknown Verdict = "unknown"
	// VerdictNotConflict: the events say the failure is not a port conflict
	// (e.g. DNS 10049 "address not available").
	VerdictNotConflict Verdict = "not_a_conflict"
)

// Culprit is the process found holding a needed port.
type Culprit struct {
	PID       int       `json:"pid"`
	Image     string    `json:"image,omitempty"`
	Path      string    `json:"path,omitempty"`
	Started   time.Time `json:"started,omitzero"`
	Services  []string  `json:"services,omitempty"`
	PortsHeld int       `json:"ports_held"`
	Pool      bool      `json:"pool"`
	// PoolKind names a known socket pool ("dns"), empty otherwise.
	PoolKind string `json:"pool_kind,omitempty"`
	// UDPPorts and TCPPorts split PortsHeld by protocol.
	UDPPorts int `json:"udp_ports"`
	TCPPorts int `json:"tcp_ports"`
}

// Cadence describes how regularly the failure repeats.
type Cadence struct {
	Median time.Duration `json:"median"`
	Min    time.Duration `json:"min"`
	Max    time.Duration `json:"max"`
}

// String says how often the failure repeats: "every 5–10 minutes (median
// 7m30s)", or "once".
func (c Cadence) String() string { return cadencePhrase(c) }

// cadenceJSON is Cadence on the wire: durations as Go duration strings
// ("7m30s") that people can read, plus the same in seconds for programs.
type cadenceJSON struct {
	Median        string  `json:"median"`
	Min           string  `json:"min"`
	Max           string  `json:"max"`
	MedianSeconds float64 `json:"median_seconds"`
	MinSeconds    float64 `json:"min_seconds"`
	MaxSeconds    float64 `json:"max_seconds"`
	Text          string  `json:"text"`
}

// MarshalJSON writes durations as strings and seconds.
func (c Cadence) MarshalJSON() ([]byte, error) {
	return json.Marshal(cadenceJSON{
		Median: c.Median.String(), Min: c.Min.String(), Max: c.Max.String(),
		MedianSeconds: c.Median.Seconds(), MinSeconds: c.Min.Seconds(), MaxSeconds: c.Max.Seconds(),
		Text: c.String(),
	})
}

// UnmarshalJSON reads what MarshalJSON writes, and also plain nanosecond
// numbers (the encoding/json default for time.Duration).
func (c *Cadence) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("cadence: %w", err)
	}
	get := func(key string) (time.Duration, error) {
		v, ok := raw[key]
		if !ok {
			return 0, nil
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			d, err := time.ParseDuration(s)
			if err != nil {
				return 0, fmt.Errorf("cadence %s: %w", key, err)
			}
			return d, nil
		}
		var n int64
		if err := json.Unmarshal(v, &n); err != nil {
			return 0, fmt.Errorf("cadence %s: %w", key, err)
		}
		return time.Duration(n), nil
	}
	var err error
	var out Cadence
	if out.Median, err = get("median"); err != nil {
		return err
	}
	if out.Min, err = get("min"); err != nil {
		return err
	}
	if out.Max, err = get("max"); err != nil {
		return err
	}
	*c = out
	return nil
}

// Finding is one repeating failure, with the port it needs and who holds it.
type Finding struct {
	Rule    string `json:"rule"`
	Title   string `json:"title"`
	Host    string `json:"host"`
	Service string `json:"service,omitempty"`
	// Key identifies the finding across runs (rule, host, protocol, port,
	// culprit image) for throttling and resolution.
	Key      string           `json:"key"`
	First    time.Time        `json:"first"`
	Last     time.Time        `json:"last"`
	Count    int              `json:"count"`
	Cadence  Cadence          `json:"cadence"`
	Protocol ports.Protocol   `json:"protocol,omitempty"`
	Port     uint16           `json:"port,omitempty"`
	Verdict  Verdict          `json:"verdict"`
	Culprit  *Culprit         `json:"culprit,omitempty"`
	Advice   string           `json:"advice,omitempty"`
	Evidence []evtx.Event     `json:"evidence,omitempty"`
	Snapshot *SnapshotSummary `json:"snapshot,omitempty"`

	// Summary is the finding in one line, culprit first when there is one
	// ("dns.exe (PID 1692, service DNS) holds UDP 2883: the DNS socket
	// pool; ...").
	Summary string `json:"summary"`
	// Source is the event source (legacy name) or provider of the failures.
	Source string `json:"source,omitempty"`
	// PortSource says how the port was worked out ("message \"UDP port
	// [2883]\"", "service table: IAS needs ...", "field Address = ...").
	PortSource string `json:"port_source,omitempty"`
	// Error is the failure's error code when the events carry one
	// ("10048 (WSAEADDRINUSE)").
	Error string `json:"error,omitempty"`
	// Ports has the verdict for every port the service needs (IAS needs
	// four); Protocol/Port above is the one that decided the verdict.
	Ports []PortCheck `json:"ports,omitempty"`
	// Note qualifies the verdict, e.g. why a port table was not used.
	Note string `json:"note,omitempty"`
}

// PortCheck is the snapshot's answer for one needed port.
type PortCheck struct {
	Protocol ports.Protocol `json:"protocol"`
	Port     uint16         `json:"port"`
	Verdict  Verdict        `json:"verdict"`
	// Owner is who holds the port (the culprit or the expected owner).
	Owner *Culprit `json:"owner,omitempty"`
}

// SnapshotSummary says which port table a verdict was based on.
type SnapshotSummary struct {
	Taken  time.Time `json:"taken"`
	Source string    `json:"source"`
}
