// Package atomicfile writes files so that a reader sees the old content or
// the new, never half of either: config edits and rotated OAuth tokens must
// survive a crash mid-write, or a user loses a config or a login.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Staged is new content written beside its destination and synced, not yet
// in place: the caller may check it (load a config from it) before Commit
// renames it over the destination, or Abort throws it away.
type Staged struct {
	// Name is the temporary file's path.
	Name string
	dest string
}

// Stage writes data with mode to a temporary file in path's directory.
func Stage(path string, data []byte, mode os.FileMode) (s *Staged, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(mode); err != nil {
		return nil, err
	}
	if _, err := tmp.Write(data); err != nil {
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	return &Staged{Name: tmp.Name(), dest: path}, nil
}

// Commit renames the staged file over its destination and makes the rename
// durable.
func (s *Staged) Commit() error {
	if err := os.Rename(s.Name, s.dest); err != nil {
		_ = os.Remove(s.Name)
		return fmt.Errorf("replacing %s: %w", s.dest, err)
	}
	syncDir(filepath.Dir(s.dest))
	return nil
}

// Abort removes the staged file.
func (s *Staged) Abort() { _ = os.Remove(s.Name) }

// Write replaces path with data, mode and all, atomically.
func Write(path string, data []byte, mode os.FileMode) error {
	s, err := Stage(path, data, mode)
	if err != nil {
		return err
	}
	return s.Commit()
}

// syncDir makes a rename durable. It is best effort: some systems (Windows)
// cannot open a directory for syncing, and the data is already safe.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
