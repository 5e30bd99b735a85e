//go:build !windows

package evtx

import "time"

// OpenLive is only available on Windows; elsewhere it returns an error
// wrapping ErrUnsupportedPlatform.
func OpenLive(opts LiveOptions) (LiveReader, error) {
	return nil, unsupportedLive("channel " + opts.Query.Channel)
}

// LiveLogRange is only available on Windows.
func LiveLogRange(channel string) (LogRange, error) {
	return LogRange{}, unsupportedLive("channel " + channel)
}

// LiveRecordTime is only available on Windows.
func LiveRecordTime(channel string, recordID uint64) (time.Time, bool, error) {
	return time.Time{}, false, unsupportedLive("channel " + channel)
}
