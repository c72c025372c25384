package translate

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/sse"
)

// The -update flag rewrites the golden files. The front door half's tests
// share the package and may define it too: whoever comes first defines it,
// and both read it by name.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata")
	}
}

func acctUpdating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

const acctTestdata = "testdata/account"

// acctGolden compares got with the golden file name, or rewrites it under -update.
func acctGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(acctTestdata, name)
	if acctUpdating() {
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
		t.Errorf("%s differs from the golden file (run go test -update after checking):\n got: %s\nwant: %s", name, got, want)
	}
}

func acctRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(acctTestdata, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// acctFixedIDs makes the ids of rebuilt answers the same on every run.
func acctFixedIDs(t testing.TB) {
	old := acctRandRead
	acctRandRead = func(b []byte) (int, error) {
		for i := range b {
			b[i] = byte(i + 1)
		}
		return len(b), nil
	}
	t.Cleanup(func() { acctRandRead = old })
}

var acctNow = func() time.Time { return time.Unix(1795642238, 0) }

// acctRebuild runs Rebuild over body to its end.
func acctRebuild(t testing.TB, body []byte, contentType string, plan *Plan, o RebuildOptions) []byte {
	t.Helper()
	if o.Now == nil {
		o.Now = acctNow
	}
	rc := Rebuild(io.NopCloser(bytes.NewReader(body)), contentType, plan, o)
	defer rc.Close()
	out, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading the rebuilt stream: %v", err)
	}
	return out
}

// acctEvent is a rebuilt event, decoded for assertions.
type acctEvent struct {
	Type string
	Data map[string]any
	Raw  []byte
}

// acctEvents splits a rebuilt stream into events and checks what every
// event must have: an event line matching its JSON type, and sequence
// numbers counting up from 0 (PassthroughEvent events aside).
func acctEvents(t testing.TB, stream []byte) []acctEvent {
	t.Helper()
	rd := sse.NewReader(bytes.NewReader(stream))
	var evs []acctEvent
	seq := 0
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		typ := sse.Type(ev)
		data := sse.Data(ev)
		e := acctEvent{Type: typ, Raw: append([]byte(nil), data...)}
		if typ != PassthroughEvent {
			if err := json.Unmarshal(data, &e.Data); err != nil {
				t.Fatalf("event %s: %v: %s", typ, err, data)
			}
			if e.Data["type"] != typ {
				t.Fatalf("event line %q, JSON type %v", typ, e.Data["type"])
			}
			if n, _ := e.Data["sequence_number"].(float64); int(n) != seq {
				t.Fatalf("event %s: sequence_number %v, want %d", typ, e.Data["sequence_number"], seq)
			}
			seq++
		}
		evs = append(evs, e)
	}
	return evs
}

func acctTypes(evs []acctEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// acctPlan translates a request file and returns its plan.
func acctPlan(t testing.TB, name string) *Plan {
	t.Helper()
	_, plan, err := ResponsesToChat(acctRead(t, name), ChatOptions{Model: "deepseek-chat"})
	if err != nil {
		t.Fatal(err)
	}
	return plan
}
