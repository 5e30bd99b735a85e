package evtx

import (
	"errors"
	"os"
)

// openEVT is replaced by the .evt reader (issue #2, in progress).
func openEVT(f *os.File, path string, opts Options) (Reader, error) {
	return nil, errors.New(".evt reader not built yet")
}
