package rules

import (
	"embed"
	"io"
	"io/fs"
	"path"
	"sort"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

// Builtin returns the built-in rule pack (rules/builtin/*.yaml, embedded
// in the binary). Its validity is a test, so an error here means a broken
// build.
func Builtin() (*RuleSet, error) {
	names, err := fs.Glob(builtinFS, "builtin/*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	return loadFiles(names, func(p string) (io.ReadCloser, error) { return builtinFS.Open(path.Clean(p)) })
}
