package translate

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The -update flag rewrites the golden files under testdata/front. The
// account half of the package may register a flag of the same name: the
// package's variable initialisers all run before init, so registering it
// here only when it is missing never collides.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/")
	}
}

func frontUpdate() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// frontGolden compares got with the golden file path, or rewrites it with
// -update.
func frontGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if frontUpdate() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it)\n got: %s\nwant: %s", path, got, want)
	}
}

// frontIndent pretty-prints JSON for a golden file a reviewer reads.
func frontIndent(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// frontGlob lists testdata files matching pattern, failing when none do.
func frontGlob(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "front", pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata matches %s: %v", pattern, err)
	}
	return files
}

// frontChunks decodes the data of every chat SSE event in out; [DONE] is
// returned as nil.
func frontChunks(t *testing.T, out []byte) []map[string]any {
	t.Helper()
	var chunks []map[string]any
	for _, ev := range strings.Split(strings.TrimSuffix(string(out), "\n\n"), "\n\n") {
		data, ok := strings.CutPrefix(ev, "data: ")
		if !ok {
			t.Fatalf("chat event without data: %q", ev)
		}
		if data == "[DONE]" {
			chunks = append(chunks, nil)
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(data), &m); err != nil {
			t.Fatalf("chat chunk is not JSON: %v\n%s", err, data)
		}
		chunks = append(chunks, m)
	}
	return chunks
}
