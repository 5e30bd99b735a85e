package main

import (
	"context"
	"errors"
)

// runAnalyze is being built (see the issue tracker).
func runAnalyze(_ context.Context, _ []string, _ streams) (exitCode, error) {
	return exitError, errors.New("analyze: not built yet")
}
