//go:build !windows && !linux

package ports

import (
	"context"
	"fmt"
	"runtime"
)

// Live is available on Windows and Linux only.
func Live(context.Context) (*Snapshot, error) {
	return nil, fmt.Errorf("live port table on %s: %w (use captures)", runtime.GOOS, ErrUnsupported)
}

// LiveFacts is available on Windows only.
func LiveFacts(context.Context) (*Facts, error) {
	return nil, fmt.Errorf("live port settings on %s: %w (use captures)", runtime.GOOS, ErrUnsupported)
}
