package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/evtwatch/evtwatch/rules"
)

// StateVersion is the version of State's JSON layout.
const StateVersion = 1

// State is everything notify must remember between runs: the outbox of
// undelivered messages and the open incidents (throttle and resolution
// history). It is plain JSON so the scan's state file can embed it; Save
// and LoadState persist it on its own.
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

// ErrCorruptState is returned (wrapped) by LoadState for a state file that
// exists but cannot be decoded.
var ErrCorruptState = errors.New("corrupt notify state")

// LoadState reads a state file written by Save. A missing file gives an
// empty state. A file that cannot be decoded gives an empty state and an
// error wrapping ErrCorruptState, so the caller can move it aside (see
// MoveAside), warn, and go on.
func LoadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return NewState(), nil
	}
	if err != nil {
		return NewState(), fmt.Errorf("read notify state: %w", err)
	}
	s, err := DecodeState(b)
	if err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// DecodeState decodes a State from its JSON (what Save writes, or what a
// scan's state file embeds). Like LoadState it gives an empty state and an
// error wrapping ErrCorruptState for JSON it cannot use, and never a State
// with a nil Incidents map.
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

// Save writes the state atomically (see WriteFileAtomic).
func (s *State) Save(path string) error {
	b, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return fmt.Errorf("encode notify state: %w", err)
	}
	return WriteFileAtomic(path, b, 0o600)
}

// MoveAside renames a corrupt file to path.corrupt-<time> so it can be
// looked at later, and returns the new name.
func MoveAside(path string, now time.Time) (string, error) {
	dst := fmt.Sprintf("%s.corrupt-%s", path, now.UTC().Format("20060102T150405Z"))
	if err := os.Rename(path, dst); err != nil {
		return "", fmt.Errorf("move aside %s: %w", path, err)
	}
	return dst, nil
}

// WriteFileAtomic replaces path with data so that a crash at any moment
// leaves either the old or the new content, never a mix: it writes a
// temporary file in the same folder, fsyncs it, renames it over path and
// fsyncs the folder. Temporary files left by a crash are removed by the
// next successful write.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmpName := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmpName)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil && runtime.GOOS != "windows" {
		return fail(err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := renameReplacing(tmpName, path); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("write %s: %w", path, err)
	}
	syncDir(dir)
	removeStaleTemps(dir, base, tmpName)
	return nil
}

// renameReplacing renames over an existing file. On Windows a virus
// scanner or backup agent that has the target open briefly makes the
// replace fail with "access denied"; a few short retries ride that out.
func renameReplacing(from, to string) error {
	err := os.Rename(from, to)
	if err == nil || runtime.GOOS != "windows" {
		return err
	}
	for i := range 5 {
		time.Sleep(time.Duration(20<<i) * time.Millisecond)
		if err = os.Rename(from, to); err == nil {
			return nil
		}
	}
	return err
}

// syncDir makes the rename durable. Windows cannot fsync a folder; NTFS
// journals the rename itself.
func syncDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

func removeStaleTemps(dir, base, keep string) {
	matches, _ := filepath.Glob(filepath.Join(dir, base+".tmp-*"))
	for _, m := range matches {
		if m != keep && strings.HasPrefix(filepath.Base(m), base+".tmp-") {
			os.Remove(m)
		}
	}
}
