package codexauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/proxy-dev/proxy/pkg/atomicfile"
	"io/fs"
	"maps"
	"path/filepath"
	"time"
)

// WriteAtomic writes f to path so that a reader (Codex itself, or another
// proxy) sees either the old file or the new one, never half of one: refresh
// tokens rotate, and a torn write would log the account out. It writes a
// temporary file in the same directory with mode 0600, syncs it and renames
// it over path. Fields of the original file that File does not model are
// written back unchanged.
func (f *File) WriteAtomic(path string) error {
	data, err := f.marshal()
	if err != nil {
		return fmt.Errorf("writing codex auth %s: %w", path, err)
	}
	// Replace the file a symlink points at, not the symlink: auth.json is
	// often linked from a dotfiles repository.
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("writing codex auth %s: %w", path, err)
	}
	// 0600: these are credentials.
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("writing codex auth %s: %w", path, err)
	}
	return nil
}

// marshal merges the typed fields into the document as read.
func (f *File) marshal() ([]byte, error) {
	doc, tokens := f.raw, f.rawTokens
	// Copy the key lists so a failed or repeated write never aliases f's.
	doc.keys = append([]string(nil), doc.keys...)
	doc.vals = maps.Clone(doc.vals)
	tokens.keys = append([]string(nil), tokens.keys...)
	tokens.vals = maps.Clone(tokens.vals)

	if _, ok := doc.get("auth_mode"); ok || f.AuthMode != "" {
		if err := doc.set("auth_mode", f.AuthMode); err != nil {
			return nil, err
		}
	}
	for _, kv := range []struct{ key, val string }{
		{"id_token", f.Tokens.IDToken},
		{"access_token", f.Tokens.AccessToken},
		{"refresh_token", f.Tokens.RefreshToken},
		{"account_id", f.Tokens.AccountID},
	} {
		if _, ok := tokens.get(kv.key); ok || kv.val != "" {
			if err := tokens.set(kv.key, kv.val); err != nil {
				return nil, err
			}
		}
	}
	if err := doc.set("tokens", tokens); err != nil {
		return nil, err
	}
	if !f.LastRefresh.IsZero() {
		if err := doc.set("last_refresh", f.LastRefresh.UTC().Format(time.RFC3339Nano)); err != nil {
			return nil, err
		}
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
