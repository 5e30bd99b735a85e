package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// expandInputs turns file and folder arguments into a sorted list of files,
// walking folders recursively. Arguments that are files are kept even when
// they do not exist, so the error names them later.
//
// Inside folders only regular files are listed: a named pipe, socket or
// device there is never a log, and opening a pipe would block for ever.
// Symbolic links are followed (a link to a folder is walked once, so link
// loops end), and a subfolder that cannot be read is listed as if it were
// a file, so that opening it fails with an error naming it and the run is
// partial rather than aborted.
func expandInputs(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil || !st.IsDir() {
			out = append(out, a)
			continue
		}
		w := dirWalker{seen: map[string]bool{}}
		w.walk(a)
		sort.Strings(w.files)
		out = append(out, w.files...)
	}
	return out, nil
}

type dirWalker struct {
	files []string
	// seen holds the resolved folders already walked.
	seen map[string]bool
}

// resolved is path with its symbolic links resolved, made absolute; "" if
// that fails.
func resolved(path string) string {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return ""
	}
	if abs, err := filepath.Abs(real); err == nil {
		real = abs
	}
	return real
}

// walk lists the files under the folder root (which may be a link to one),
// naming them under root as given.
func (w *dirWalker) walk(root string) {
	real := resolved(root)
	if real != "" {
		if w.seen[real] {
			return
		}
		w.seen[real] = true
	}
	// WalkDir does not descend into a root that is a link: walk its target
	// and give the paths back under the name the user wrote.
	start := root
	if st, err := os.Lstat(root); err == nil && st.Mode()&fs.ModeSymlink != 0 && real != "" {
		start = real
	}
	name := func(p string) string {
		if start == root {
			return p
		}
		rel, err := filepath.Rel(start, p)
		if err != nil {
			return p
		}
		return filepath.Join(root, rel)
	}
	_ = filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			// Unreadable folder (or one that vanished): list it, so that
			// opening it reports the error with its name.
			w.files = append(w.files, name(p))
			if d != nil && d.IsDir() && p != start {
				return fs.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case d.IsDir():
			if p == start {
				return nil
			}
			if r := resolved(p); r != "" {
				if w.seen[r] {
					return fs.SkipDir
				}
				w.seen[r] = true
			}
		case t.IsRegular():
			w.files = append(w.files, name(p))
		case t&fs.ModeSymlink != 0:
			st, err := os.Stat(p)
			switch {
			case err != nil:
				// A dangling link: opening it says so, with its name.
				w.files = append(w.files, name(p))
			case st.IsDir():
				w.walk(name(p))
			case st.Mode().IsRegular():
				w.files = append(w.files, name(p))
			}
		}
		// Anything else (pipe, socket, device) is skipped.
		return nil
	})
}
