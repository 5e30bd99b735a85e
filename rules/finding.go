package rules

import (
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
}

// Cadence describes how regularly the failure repeats.
type Cadence struct {
	Median time.Duration `json:"median"`
	Min    time.Duration `json:"min"`
	Max    time.Duration `json:"max"`
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
}

// SnapshotSummary says which port table a verdict was based on.
type SnapshotSummary struct {
	Taken  time.Time `json:"taken"`
	Source string    `json:"source"`
}
