package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/evtwatch/evtwatch/evtx"
)

// Version is the state format this build writes and reads.
const Version = 1

// State is the whole state file.
type State struct {
	Version int       `json:"version"`
	Saved   time.Time `json:"saved,omitzero"`
	// Sources maps a source key ("file:<path>", "channel:<name>") to its
	// position.
	Sources map[string]*Source `json:"sources,omitempty"`
	// Rules is the rule engine's open correlation windows.
	Rules json.RawMessage `json:"rules,omitempty"`
	// Notify is notify's throttle history and outbox.
	Notify json.RawMessage `json:"notify,omitempty"`
}

// Source is one source's position.
type Source struct {
	// File is set for file sources: identity, last record, count.
	File *evtx.FilePosition `json:"file,omitempty"`
	// Last is a live channel's last evaluated record.
	Last evtx.Position `json:"last,omitzero"`
	// Bookmark is a live channel's bookmark XML, as Windows rendered it.
	Bookmark string `json:"bookmark,omitempty"`
	// Reported are the offsets of damage in a file already reported, so a
	// bad chunk the reader cannot skip is reported once, not on every run.
	Reported []int64   `json:"reported,omitempty"`
	Updated  time.Time `json:"updated,omitzero"`
}

// New returns an empty state (a first run).
func New() *State { return &State{Version: Version, Sources: map[string]*Source{}} }

// Source returns the position for key, nil when there is none.
func (s *State) Source(key string) *Source {
	if s.Sources == nil {
		return nil
	}
	return s.Sources[key]
}

// SetSource records the position for key.
func (s *State) SetSource(key string, src *Source) {
	if s.Sources == nil {
		s.Sources = map[string]*Source{}
	}
	s.Sources[key] = src
}

// Clone returns a deep copy, so a run can build the next state while the
// loaded one stays untouched until it commits.
func (s *State) Clone() *State {
	c := &State{
		Version: s.Version,
		Saved:   s.Saved,
		Sources: make(map[string]*Source, len(s.Sources)),
		Rules:   bytes.Clone(s.Rules),
		Notify:  bytes.Clone(s.Notify),
	}
	for k, v := range s.Sources {
		if v == nil {
			continue
		}
		src := *v
		src.Reported = slices.Clone(v.Reported)
		if v.File != nil {
			fp := *v.File
			src.File = &fp
		}
		c.Sources[k] = &src
	}
	return c
}

// Options configure a Store.
type Options struct {
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Store is an open, locked state file.
type Store struct {
	path     string
	readOnly bool
	lock     *os.File
	log      *slog.Logger
	now      func() time.Time
}

// LoadResult says how the state was found.
type LoadResult struct {
	// Fresh: there was no state file (first run) or it was moved aside.
	Fresh bool
	// MovedAside is where an undecodable state file was moved, "" if none.
	MovedAside string
}

// Open takes the lock beside path (path + ".lock") and loads the state. When
// another process holds the lock, the error wraps ErrLocked and says who.
func Open(path string, opts Options) (*Store, *State, LoadResult, error) {
	s := &Store{path: path, log: opts.Logger, now: opts.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, LoadResult{}, fmt.Errorf("create state directory: %w", err)
	}
	lock, err := acquireLock(path+".lock", s.now())
	if err != nil {
		return nil, nil, LoadResult{}, err
	}
	s.lock = lock
	st, res, err := s.load()
	if err != nil {
		s.Close()
		return nil, nil, LoadResult{}, err
	}
	return s, st, res, nil
}

func (s *Store) load() (*State, LoadResult, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return New(), LoadResult{Fresh: true}, nil
	}
	if err != nil {
		return nil, LoadResult{}, fmt.Errorf("read state: %w", err)
	}
	st, derr := decode(b)
	if derr == nil {
		return st, LoadResult{}, nil
	}
	aside := fmt.Sprintf("%s.corrupt-%s", s.path, s.now().UTC().Format("20060102T150405Z"))
	if err := os.Rename(s.path, aside); err != nil {
		return nil, LoadResult{}, fmt.Errorf("state file %s is unusable (%v) and could not be moved aside: %w", s.path, derr, err)
	}
	s.log.Warn("state file unusable: moved aside, starting over from the first-run look-back; alerts queued in it are not retried",
		"path", s.path, "moved_to", aside, "err", derr)
	return New(), LoadResult{Fresh: true, MovedAside: aside}, nil
}

func decode(b []byte) (*State, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("empty file")
	}
	st := &State{}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(st); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode: trailing data after the state document")
	}
	switch {
	case st.Version == 0:
		return nil, errors.New("no version: not an evtwatch state file")
	case st.Version > Version:
		return nil, fmt.Errorf("state version %d is newer than this evtwatch understands (%d)", st.Version, Version)
	}
	if st.Sources == nil {
		st.Sources = map[string]*Source{}
	}
	return st, nil
}

// Save replaces the state file atomically and durably: temp file in the
// same directory, fsync, rename over the old one, fsync of the directory.
func (s *Store) Save(st *State) error {
	if s.readOnly {
		return nil
	}
	st.Version = Version
	st.Saved = s.now().UTC()
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	b = append(b, '\n')
	dir := filepath.Dir(s.path)
	tmp, err := os.CreateTemp(dir, filepath.Base(s.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // after a successful rename there is nothing to remove
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("save state: write %s: %w", tmpName, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save state: sync %s: %w", tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save state: close %s: %w", tmpName, err)
	}
	if err := replaceFile(tmpName, s.path); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("save state: sync directory %s: %w", dir, err)
	}
	return nil
}

// Peek reads the state file without locking or changing anything (dry
// runs). A missing file gives an empty state.
func Peek(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return New(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	st, err := decode(b)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return st, nil
}

// ReadOnly returns a Store whose Save does nothing, for dry runs.
func ReadOnly(path string) *Store {
	return &Store{path: path, readOnly: true, log: slog.New(slog.DiscardHandler), now: time.Now}
}

// Close releases the lock. It is safe to call more than once.
func (s *Store) Close() error {
	if s.lock == nil {
		return nil
	}
	err := releaseLock(s.lock)
	s.lock = nil
	return err
}
