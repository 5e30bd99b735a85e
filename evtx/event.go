package evtx

import (
	"strconv"
	"strings"
	"time"
)

// Event is one Windows event, whatever format it was read from.
type Event struct {
	// Provider is the manifest provider name (EVTX Provider/@Name), or the
	// legacy source name for formats that carry only that (.evt, text).
	Provider string `json:"provider"`
	// Source is the classic event source name (EVTX Provider/@EventSourceName)
	// when it differs from Provider, e.g. "DNS" for
	// "Microsoft-Windows-DNS-Server-Service". Empty when they are the same.
	Source       string `json:"source,omitempty"`
	ProviderGUID string `json:"provider_guid,omitempty"`
	// EventID is the low 16 bits of the event identifier; Qualifiers keeps the
	// high 16 bits (severity, customer and facility bits in .evt files).
	EventID    uint16 `json:"event_id"`
	Qualifiers uint16 `json:"qualifiers,omitempty"`
	Version    uint8  `json:"version,omitempty"`
	Level      Level  `json:"level"`
	Task       uint16 `json:"task,omitempty"`
	Opcode     uint8  `json:"opcode,omitempty"`
	Keywords   uint64 `json:"keywords,omitempty"`
	// Channel is the log the event was written to ("System", "Application",
	// "DNS Server").
	Channel  string    `json:"channel,omitempty"`
	Computer string    `json:"computer,omitempty"`
	RecordID uint64    `json:"record_id"`
	Time     time.Time `json:"time"`
	UserSID  string    `json:"user_sid,omitempty"`
	// User is the account name as Event Viewer rendered it in a text export
	// ("NT AUTHORITY\SYSTEM"); formats that store a SID set UserSID instead.
	User string `json:"user,omitempty"`
	// ActivityID and RelatedActivityID are EVTX System/Correlation, which
	// ties together the events of one operation.
	ActivityID        string `json:"activity_id,omitempty"`
	RelatedActivityID string `json:"related_activity_id,omitempty"`
	ProcessID         uint32 `json:"process_id,omitempty"`
	ThreadID          uint32 `json:"thread_id,omitempty"`
	// Data is the event data in stored order. Classic events carry unnamed
	// insertion strings (position N is %N); manifest events carry named fields.
	Data []Data `json:"data"`
	// Binary is the raw binary data section, where Winsock and NTSTATUS error
	// codes often live.
	Binary []byte `json:"binary,omitempty"`
	// Message is the rendered text when the source carries one (XML
	// RenderingInfo, Event Viewer exports, live rendering). Binary logs hold
	// only insertion strings, so it is usually empty for .evt and .evtx.
	Message string `json:"message,omitempty"`

	// Origin says where the event was read from.
	Origin Origin `json:"origin"`
	// Recovered marks a record found outside the live part of the log
	// (deleted but still present in the file).
	Recovered bool `json:"recovered,omitempty"`
	// Err is set when the record could only be partly decoded: the event then
	// carries what its header gives (record ID, time) and nothing else is
	// trusted.
	Err string `json:"error,omitempty"`
}

// Data is one event data item: a named field, or an unnamed insertion string.
type Data struct {
	Name  string `json:"name,omitempty"`
	Value string `json:"value"`
}

// Origin locates an event in its input.
type Origin struct {
	Path   string `json:"path,omitempty"`
	Format Format `json:"format,omitempty"`
	// Offset is the byte offset of the record in the file, -1 when unknown.
	Offset int64 `json:"offset"`
}

// Field returns the value of the named data field (case-insensitive).
func (e *Event) Field(name string) (string, bool) {
	for _, d := range e.Data {
		if strings.EqualFold(d.Name, name) {
			return d.Value, true
		}
	}
	return "", false
}

// Insertion returns insertion string %n (1-based), i.e. the n-th data item in
// stored order, named or not.
func (e *Event) Insertion(n int) (string, bool) {
	if n < 1 || n > len(e.Data) {
		return "", false
	}
	return e.Data[n-1].Value, true
}

// SourceName is the classic source name: Source when set, else Provider.
func (e *Event) SourceName() string {
	if e.Source != "" {
		return e.Source
	}
	return e.Provider
}

// FromProvider reports whether name is the event's provider or its classic
// source name, ignoring case, so rules can use either form.
func (e *Event) FromProvider(name string) bool {
	return strings.EqualFold(e.Provider, name) || (e.Source != "" && strings.EqualFold(e.Source, name))
}

// FullEventID is the 32-bit identifier as stored in .evt files.
func (e *Event) FullEventID() uint32 {
	return uint32(e.Qualifiers)<<16 | uint32(e.EventID)
}

// Level is the event severity as written in EVTX System/Level.
type Level uint8

// Levels defined by Windows.
const (
	LevelLogAlways   Level = 0
	LevelCritical    Level = 1
	LevelError       Level = 2
	LevelWarning     Level = 3
	LevelInformation Level = 4
	LevelVerbose     Level = 5
)

func (l Level) String() string {
	switch l {
	case LevelLogAlways:
		return "LogAlways"
	case LevelCritical:
		return "Critical"
	case LevelError:
		return "Error"
	case LevelWarning:
		return "Warning"
	case LevelInformation:
		return "Information"
	case LevelVerbose:
		return "Verbose"
	}
	return "Level" + strconv.Itoa(int(l))
}

// ParseLevel accepts a level name (as Event Viewer and rules write it, any
// case; "Info" and "Informational" too) or its number.
func ParseLevel(s string) (Level, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "logalways", "log always", "always":
		return LevelLogAlways, true
	case "critical":
		return LevelCritical, true
	case "error":
		return LevelError, true
	case "warning", "warn":
		return LevelWarning, true
	case "information", "informational", "info":
		return LevelInformation, true
	case "verbose":
		return LevelVerbose, true
	}
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 8)
	if err != nil {
		return 0, false
	}
	return Level(n), true
}

// Classic EVENTLOGRECORD event types (.evt, Event Viewer exports).
const (
	EventTypeSuccess      uint16 = 0x0000
	EventTypeError        uint16 = 0x0001
	EventTypeWarning      uint16 = 0x0002
	EventTypeInformation  uint16 = 0x0004
	EventTypeAuditSuccess uint16 = 0x0008
	EventTypeAuditFailure uint16 = 0x0010
)

// Audit keywords, which is how EVTX expresses classic audit event types.
const (
	KeywordAuditFailure uint64 = 0x0010000000000000
	KeywordAuditSuccess uint64 = 0x0020000000000000
	KeywordClassic      uint64 = 0x0080000000000000
)

// LevelFromEventType maps a classic event type to the level and keywords
// Windows uses when it shows the same event through the modern API.
func LevelFromEventType(t uint16) (Level, uint64) {
	switch t {
	case EventTypeError:
		return LevelError, KeywordClassic
	case EventTypeWarning:
		return LevelWarning, KeywordClassic
	case EventTypeInformation, EventTypeSuccess:
		return LevelInformation, KeywordClassic
	case EventTypeAuditSuccess:
		return LevelLogAlways, KeywordClassic | KeywordAuditSuccess
	case EventTypeAuditFailure:
		return LevelLogAlways, KeywordClassic | KeywordAuditFailure
	}
	return LevelInformation, KeywordClassic
}
