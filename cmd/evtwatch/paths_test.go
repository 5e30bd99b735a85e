package main

import (
	"path/filepath"
	"regexp"
	"strings"
)

// testdataPath matches a path under testdata/ as the CLI prints it on
// Windows: joined with backslashes, doubled inside JSON strings.
var testdataPath = regexp.MustCompile(`testdata(?:\\{1,2}[\w.\-]+)+`)

// slashPaths rewrites the paths under testdata/ in CLI output to forward
// slashes, so golden files written on Linux hold on Windows (and under
// Wine in CI). Other backslashes, such as registry keys in advice, stay.
// Elsewhere it returns s unchanged.
func slashPaths(s string) string {
	if filepath.Separator == '/' {
		return s
	}
	return testdataPath.ReplaceAllStringFunc(s, func(p string) string {
		return strings.ReplaceAll(strings.ReplaceAll(p, `\\`, "/"), `\`, "/")
	})
}
