package ports

import "errors"

// ErrUnsupported is returned by the live functions on systems they do not
// support; offline captures work everywhere.
var ErrUnsupported = errors.New("unsupported on this OS")
