package main

import (
	"io/fs"
	"path/filepath"
	"sort"
)

// expandInputs turns file and folder arguments into a sorted list of files,
// walking folders recursively. Arguments that are files are kept even when
// they do not exist, so the error names them later.
func expandInputs(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		var files []string
		err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == a {
					files = append(files, a)
					return nil
				}
				return err
			}
			if d.IsDir() {
				return nil
			}
			files = append(files, p)
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		out = append(out, files...)
	}
	return out, nil
}
