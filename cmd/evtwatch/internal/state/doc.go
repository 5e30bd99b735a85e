// Package state owns evtwatch's state file: one versioned JSON document
// holding each source's read position (file identity and last record, or a
// live channel's bookmark), the rule engine's open correlation windows and
// notify's throttle history and outbox, the last two as opaque JSON owned by
// those packages.
//
// The file is replaced atomically (temp file, fsync, rename, fsync of the
// directory), so a crash leaves either the old or the new state, never a
// mix. A lock beside it (flock on Unix, LockFileEx on Windows) keeps two
// overlapping runs from both working; the operating system releases it when
// its holder dies, so a killed run never leaves a stale lock behind. A state
// file that cannot be decoded is moved aside, with a warning, and the run
// starts over from the first-run look-back.
package state
