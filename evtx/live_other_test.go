//go:build !windows

package evtx

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLiveUnsupportedElsewhere(t *testing.T) {
	_, err := OpenLive(LiveOptions{Query: Query{Channel: "System"}})
	require.ErrorIs(t, err, ErrUnsupportedPlatform)
	require.ErrorContains(t, err, "channel System")
	require.ErrorContains(t, err, "wevtutil epl")
	_, err = LiveLogRange("System")
	require.ErrorIs(t, err, ErrUnsupportedPlatform)
	_, _, err = LiveRecordTime("System", 1)
	require.ErrorIs(t, err, ErrUnsupportedPlatform)
}
