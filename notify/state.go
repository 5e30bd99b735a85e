package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/evtwatch/evtwatch/rules"
)

// StateVersion is the version of State's JSON layout.
const StateVersion = 1

// State is everything notify must remember between runs: the outbox of
// undelivered messages and the open incidents (throttle and resolution
// history). It is plain JSON so the scan's state file embeds it (and
// persists it atomically); DecodeState reads it back.
type State struct {
	Version int    `json:"version"`
	Outbox  Outbox `json:"outbox"`
	// Incidents are the alerted incidents by throttle key: open ones, and
	// recently resolved ones.
	Incidents map[string]*Incident `json:"incidents"`
}

// NewState returns an empty state.
func NewState() *State {
	return &State{Version: StateVersion, Incidents: map[string]*Incident{}}
}

// Incident is the alerting history of one throttle key.
type Incident struct {
	ID  string `json:"id"`
	Key string `json:"key"`
	// Finding is the latest report (evidence trimmed).
	Finding       rules.Finding `json:"finding"`
	FirstNotified time.Time     `json:"first_notified"`
	// LastNotified is when the last message was queued.
	LastNotified time.Time `json:"last_notified"`
	Sequence     int       `json:"sequence"`
	// LastEvent is the latest event time reported for the incident; it
	// drives resolution when the events stop.
	LastEvent time.Time `json:"last_event"`
	// Suppressed counts reports held back since SuppressedSince.
	Suppressed      int       `json:"suppressed,omitempty"`
	SuppressedSince time.Time `json:"suppressed_since,omitzero"`
	// ResolvedAt is set once the resolved notice is queued; the record is
	// kept a while so a stale report does not reopen the incident.
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
}

// Outbox is the queue of messages not yet delivered, one entry per alert
// and channel, in the order they were queued.
type Outbox struct {
	Entries []Entry `json:"entries"`
	// Seq numbers entries; it only grows.
	Seq uint64 `json:"seq"`
}

// Entry is one alert waiting for one channel.
type Entry struct {
	ID       string    `json:"id"`
	Channel  string    `json:"channel"`
	Alert    Alert     `json:"alert"`
	Enqueued time.Time `json:"enqueued"`
	// Attempts counts the flushes that tried and failed to deliver it
	// (each flush may retry a few times within itself).
	Attempts int `json:"attempts,omitempty"`
	// LastAttempt and LastError describe the last failure (error text is
	// already free of secrets).
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	// Permanent marks a failure the channel said retrying would not fix
	// (bad recipient, revoked token, untrusted certificate). The entry is
	// still kept until MaxAge, because fixing the config fixes it, but
	// held back (NotBefore) longer after each rejection in a row (see
	// RejectionHold), so a scan every few minutes, or watch every 30s,
	// does not log the same error each time. A change to the channel's
	// configuration ends the hold.
	Permanent bool `json:"permanent,omitempty"`
	// Rejections counts the permanent failures in a row (a temporary
	// failure resets it); ChannelConfig identifies the channel's
	// configuration at the last one (see Dispatcher).
	Rejections    int    `json:"rejections,omitempty"`
	ChannelConfig string `json:"channel_config,omitempty"`
	// NotBefore holds the entry back until a server's Retry-After passed,
	// or after a rejection (Permanent).
	NotBefore time.Time `json:"not_before,omitzero"`
}

// Hold-back after permanent failures: the first rejection waits
// FirstRejectionHold, each further one in a row twice as long, up to
// MaxRejectionHold.
const (
	FirstRejectionHold = time.Hour
	MaxRejectionHold   = 24 * time.Hour
)

// RejectionHold is how long an entry rejected n times in a row waits
// before it is tried again.
func RejectionHold(n int) time.Duration {
	d := FirstRejectionHold
	for i := 1; i < n && d < MaxRejectionHold; i++ {
		d *= 2
	}
	return min(d, MaxRejectionHold)
}

// Add queues alert for channel and returns the new entry's ID.
func (o *Outbox) Add(channel string, a Alert, now time.Time) string {
	o.Seq++
	id := fmt.Sprintf("%s-%s-%d", a.ID, channel, o.Seq)
	o.Entries = append(o.Entries, Entry{ID: id, Channel: channel, Alert: a, Enqueued: now})
	return id
}

// Due returns the IDs of channel's entries that may be tried at now, in
// queue order.
func (o *Outbox) Due(channel string, now time.Time) []string {
	var ids []string
	for _, e := range o.Entries {
		if e.Channel == channel && !now.Before(e.NotBefore) {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// Get returns the entry with the given ID.
func (o *Outbox) Get(id string) (*Entry, bool) {
	for i := range o.Entries {
		if o.Entries[i].ID == id {
			return &o.Entries[i], true
		}
	}
	return nil, false
}

// Remove deletes the entries with the given IDs.
func (o *Outbox) Remove(ids ...string) {
	o.Entries = slices.DeleteFunc(o.Entries, func(e Entry) bool { return slices.Contains(ids, e.ID) })
}

// Expire removes and returns entries queued more than maxAge before now.
func (o *Outbox) Expire(now time.Time, maxAge time.Duration) []Entry {
	var dropped []Entry
	o.Entries = slices.DeleteFunc(o.Entries, func(e Entry) bool {
		if now.Sub(e.Enqueued) > maxAge {
			dropped = append(dropped, e)
			return true
		}
		return false
	})
	return dropped
}

// Len is the number of queued entries.
func (o *Outbox) Len() int { return len(o.Entries) }

// ErrCorruptState is returned (wrapped) by DecodeState for a state it
// cannot use.
var ErrCorruptState = errors.New("corrupt notify state")

// DecodeState decodes a State from its JSON, as the scan's state file
// embeds it. JSON it cannot use (or a newer layout) gives an empty state and
// an error wrapping ErrCorruptState; the State never has a nil Incidents map.
func DecodeState(b []byte) (*State, error) {
	s := NewState()
	if err := json.Unmarshal(b, s); err != nil {
		return NewState(), fmt.Errorf("%w: %v", ErrCorruptState, err)
	}
	if s.Version > StateVersion {
		return NewState(), fmt.Errorf("%w: version %d is newer than this evtwatch (%d)", ErrCorruptState, s.Version, StateVersion)
	}
	s.Version = StateVersion
	if s.Incidents == nil {
		s.Incidents = map[string]*Incident{}
	}
	return s, nil
}
