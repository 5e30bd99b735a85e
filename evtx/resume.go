package evtx

import (
	"fmt"
	"time"
)

// Position is how far a source has been read: the last record evaluated and
// its creation time. The time lets a resume tell "record 123 of this log"
// from "record 123 of a log that was cleared and has filled up again".
type Position struct {
	RecordID uint64    `json:"record_id"`
	Time     time.Time `json:"time,omitzero"`
}

// IsZero reports whether nothing has been read yet.
func (p Position) IsZero() bool { return p.RecordID == 0 && p.Time.IsZero() }

// After reports whether an event lies beyond the position, ordering by record
// ID when both have one and by time otherwise.
func (p Position) After(ev *Event) bool {
	if p.IsZero() {
		return true
	}
	if p.RecordID != 0 && ev.RecordID != 0 {
		return ev.RecordID > p.RecordID
	}
	return ev.Time.After(p.Time)
}

// LogRange is what a live log holds now (EvtGetLogInfo): the oldest record
// and the number of records. Record IDs in a channel are consecutive.
type LogRange struct {
	Oldest uint64
	Count  uint64
}

// Newest is the ID of the newest record, 0 for an empty log.
func (r LogRange) Newest() uint64 {
	if r.Count == 0 {
		return 0
	}
	return r.Oldest + r.Count - 1
}

// ResumeKind says how reading continues from a saved position.
type ResumeKind int

const (
	// ResumeFresh: nothing saved; start from the look-back.
	ResumeFresh ResumeKind = iota
	// ResumeContinue: the saved record is still there; continue after it.
	ResumeContinue
	// ResumeRolledOver: the log wrapped and overwrote records after the
	// saved one; continue from the oldest record, Missed records are gone.
	ResumeRolledOver
	// ResumeCleared: the log was cleared (record IDs restarted) or replaced;
	// what was written between the saved record and the clear is gone, in a
	// number nobody can know. Continue from the oldest record written after
	// the saved time.
	ResumeCleared
)

func (k ResumeKind) String() string {
	switch k {
	case ResumeFresh:
		return "fresh"
	case ResumeContinue:
		return "continue"
	case ResumeRolledOver:
		return "rolled_over"
	case ResumeCleared:
		return "cleared"
	}
	return fmt.Sprintf("ResumeKind(%d)", int(k))
}

// Resume is the plan for reading a log again.
type Resume struct {
	Kind ResumeKind
	// AfterRecordID: read records with a higher ID (0: from the oldest).
	AfterRecordID uint64
	// Since: read only events created at or after this time (zero: any).
	Since time.Time
	// Missed is how many records were lost for certain (rolled over). They
	// were records of any kind, so fewer of them may have mattered.
	Missed uint64
	// MissedUnknown is set when records may have been lost in an unknown
	// number (cleared log).
	MissedUnknown bool
}

// Warning is the message to log for a resume that lost something, empty
// when nothing was lost.
func (r Resume) Warning(source string, saved Position) string {
	switch r.Kind {
	case ResumeRolledOver:
		return fmt.Sprintf("%s: the log rolled over since the last run (saved record %d is gone): up to %d record(s) were overwritten before they could be read; continuing from record %d", source, saved.RecordID, r.Missed, r.AfterRecordID+1)
	case ResumeCleared:
		return fmt.Sprintf("%s: the log was cleared or replaced since the last run (saved record %d of %s is gone): records written between then and the clear were lost, their number is unknown; continuing with everything written since", source, saved.RecordID, saved.Time.UTC().Format(time.RFC3339))
	}
	return ""
}

// timeTolerance absorbs rounding between time renderings of one record.
const timeTolerance = time.Second

// PlanResume decides where to continue reading a live log. savedNow is the
// creation time of the record that has the saved ID in the log now, with ok
// false when there is no such record (the caller looks it up).
//
// A log that wrapped keeps counting (its oldest ID moved past ours); a
// cleared log restarts at 1 (our ID is past its newest, or the record with
// our ID now has another time). Either way reading goes on — never a crash
// loop — and the Resume says what may have been missed.
func PlanResume(saved Position, lookback time.Time, now LogRange, savedNow time.Time, ok bool) Resume {
	if saved.RecordID == 0 {
		return Resume{Kind: ResumeFresh, Since: lookback}
	}
	if saved.RecordID > now.Newest() || (ok && !saved.Time.IsZero() && absDuration(savedNow.Sub(saved.Time)) > timeTolerance) {
		return Resume{Kind: ResumeCleared, Since: saved.Time, MissedUnknown: true}
	}
	if now.Count > 0 && saved.RecordID+1 < now.Oldest {
		return Resume{Kind: ResumeRolledOver, AfterRecordID: now.Oldest - 1, Missed: now.Oldest - saved.RecordID - 1}
	}
	return Resume{Kind: ResumeContinue, AfterRecordID: saved.RecordID}
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
