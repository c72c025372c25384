package items_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/proxy-dev/proxy/pkg/items"
	"github.com/proxy-dev/proxy/pkg/jsonscan"
)

const samplesDir = "../../testdata/codex-samples"

// sampleBody is the body of a captured Codex request, as it was sent.
func sampleBody(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(samplesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Body json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s.Body
}

// elems are the raw elements of a body's input.
func elems(t testing.TB, body []byte) [][]byte {
	t.Helper()
	var out [][]byte
	if err := jsonscan.ArrayElems(jsonscan.Member(body, "input"), func(v []byte) bool {
		out = append(out, v)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestScanCodexSamples(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		want    []items.Item // Sum checked separately
		blobs   []string
		trigger bool
	}{
		{name: "turn one carries no bound item", file: "request-turn1-default-model.json"},
		{name: "a plain resume carries none either", file: "request-turn2-resume.json"},
		{
			name: "0.171 replays the reasoning item", file: "request-0.171-turn2-reasoning-replay.json",
			want: []items.Item{{Kind: items.Reasoning, ID: "rs_1", Elem: 4}}, blobs: []string{"RSBLOB1"},
		},
		{
			name: "the compaction request ends with its trigger", file: "request-0.171-compaction-trigger.json",
			want:  []items.Item{{Kind: items.Reasoning, ID: "rs_1", Elem: 4}, {Kind: items.Reasoning, ID: "rs_2", Elem: 7}},
			blobs: []string{"RSBLOB1", "RSBLOB2"}, trigger: true,
		},
		{
			name: "after the compaction, its item", file: "request-0.171-after-compaction.json",
			want: []items.Item{{Kind: items.Compaction, ID: "cmp_3", Elem: 5}}, blobs: []string{"CMPBLOB3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := sampleBody(t, tt.file)
			in, err := items.Scan(body)
			if err != nil {
				t.Fatal(err)
			}
			if in.Trigger != tt.trigger {
				t.Errorf("Trigger = %v, want %v", in.Trigger, tt.trigger)
			}
			if in.Elems != len(elems(t, body)) {
				t.Errorf("Elems = %d, want %d", in.Elems, len(elems(t, body)))
			}
			if len(in.Items) != len(tt.want) {
				t.Fatalf("Items = %+v, want %+v", in.Items, tt.want)
			}
			for i, it := range in.Items {
				w := tt.want[i]
				w.Sum = items.SumOf([]byte(tt.blobs[i]))
				if it != w {
					t.Errorf("Items[%d] = %+v, want %+v", i, it, w)
				}
				if !bytes.Equal(in.Raw(it.Elem), elems(t, body)[it.Elem]) {
					t.Errorf("Raw(%d) is not the element's bytes", it.Elem)
				}
			}
			if got := items.MayHold(body); got != (len(tt.blobs) > 0) {
				t.Errorf("MayHold = %v with %d blobs", got, len(tt.blobs))
			}
		})
	}
}

func TestScanShapes(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []items.Item
	}{
		{name: "a string input", body: `{"input":"hi"}`},
		{name: "no input", body: `{"model":"gpt-5"}`},
		{name: "the last input wins, as encoding/json reads it",
			body: `{"input":[{"type":"reasoning","id":"rs_x","encrypted_content":"A"}],"input":[{"type":"message"}]}`},
		{name: "type after id", body: `{"input":[{"id":"rs_y","type":"reasoning","encrypted_content":"B"}]}`,
			want: []items.Item{{Kind: items.Reasoning, ID: "rs_y", Sum: items.SumOf([]byte("B"))}}},
		{name: "escaped content is read as its value",
			body: `{"input":[{"type":"compaction_summary","encrypted_content":"a\/b"}]}`,
			want: []items.Item{{Kind: items.Compaction, Sum: items.SumOf([]byte("a/b"))}}},
		{name: "a reasoning item without content", body: `{"input":[{"type":"reasoning","id":"rs_z","summary":[]}]}`,
			want: []items.Item{{Kind: items.Reasoning, ID: "rs_z"}}},
		{name: "null content", body: `{"input":[{"type":"reasoning","id":"rs_n","encrypted_content":null}]}`,
			want: []items.Item{{Kind: items.Reasoning, ID: "rs_n"}}},
		{name: "non-object elements", body: `{"input":[1,"x",null,{"type":"message"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := items.Scan([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if len(in.Items) != len(tt.want) {
				t.Fatalf("Items = %+v, want %+v", in.Items, tt.want)
			}
			for i := range tt.want {
				got := in.Items[i]
				got.Elem = 0
				if got != tt.want[i] {
					t.Errorf("Items[%d] = %+v, want %+v", i, got, tt.want[i])
				}
			}
		})
	}
	if _, err := items.Scan([]byte(`{"input":[`)); err == nil {
		t.Error("Scan of a malformed body: no error")
	}
}

// TestCleanCodexSamples checks the cleaning of captured Codex requests:
// only the foreign items go, and every byte kept is the client's.
func TestCleanCodexSamples(t *testing.T) {
	a := items.Record{Account: "acct-a"}
	rs1, rs2, cmp3 := items.SumOf([]byte("RSBLOB1")), items.SumOf([]byte("RSBLOB2")), items.SumOf([]byte("CMPBLOB3"))
	tests := []struct {
		name    string
		file    string
		recs    map[items.Sum]items.Record
		target  items.Target
		want    []items.Verdict
		removed []int // elements left out
	}{
		{name: "its own reasoning goes back to the minter", file: "request-0.171-turn2-reasoning-replay.json",
			recs: map[items.Sum]items.Record{rs1: a}, target: items.Target{Account: "acct-a"}, want: []items.Verdict{items.Keep}},
		{name: "another account's reasoning is removed", file: "request-0.171-turn2-reasoning-replay.json",
			recs: map[items.Sum]items.Record{rs1: a}, target: items.Target{Account: "acct-b", Own: true},
			want: []items.Verdict{items.Remove}, removed: []int{4}},
		{name: "unknown origin goes to the conversation's own account", file: "request-0.171-turn2-reasoning-replay.json",
			target: items.Target{Account: "acct-a", Own: true}, want: []items.Verdict{items.Keep}},
		{name: "unknown origin is foreign elsewhere", file: "request-0.171-turn2-reasoning-replay.json",
			target: items.Target{Account: "acct-b"}, want: []items.Verdict{items.Remove}, removed: []int{4}},
		{name: "a refused kind of unknown origin is foreign on its own account too", file: "request-0.171-turn2-reasoning-replay.json",
			target: items.Target{Account: "acct-a", Own: true, Refused: items.Reasoning}, want: []items.Verdict{items.Remove}, removed: []int{4}},
		{name: "a refused kind the account is known to have minted stays", file: "request-0.171-turn2-reasoning-replay.json",
			recs: map[items.Sum]items.Record{rs1: a}, target: items.Target{Account: "acct-a", Own: true, Refused: items.Reasoning},
			want: []items.Verdict{items.Keep}},
		{name: "a mix: only the other account's item goes", file: "request-0.171-compaction-trigger.json",
			recs: map[items.Sum]items.Record{rs1: a, rs2: {Account: "acct-b"}}, target: items.Target{Account: "acct-b", Own: true},
			want: []items.Verdict{items.Remove, items.Keep}, removed: []int{4}},
		{name: "a foreign compaction is to be replaced", file: "request-0.171-after-compaction.json",
			recs: map[items.Sum]items.Record{cmp3: a}, target: items.Target{Account: "acct-b", Own: true},
			want: []items.Verdict{items.Replace}, removed: []int{5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := sampleBody(t, tt.file)
			orig := bytes.Clone(body)
			in, err := items.Scan(body)
			if err != nil {
				t.Fatal(err)
			}
			got := items.Decide(in, tt.recs, tt.target)
			if len(got) != len(tt.want) {
				t.Fatalf("Decide = %v, want %v", got, tt.want)
			}
			edits := map[int][]byte{}
			for i, v := range got {
				if v != tt.want[i] {
					t.Errorf("verdict %d = %v, want %v", i, v, tt.want[i])
				}
				if v != items.Keep {
					edits[in.Items[i].Elem] = nil
				}
			}
			if items.Foreign(got) != (len(tt.removed) > 0) {
				t.Errorf("Foreign = %v", items.Foreign(got))
			}
			out := in.Rewrite(edits)
			if !bytes.Equal(body, orig) {
				t.Fatal("Rewrite changed the client's body")
			}
			if len(edits) == 0 && &out[0] != &body[0] {
				t.Error("Rewrite without edits copied the body")
			}
			assertKept(t, orig, out, tt.removed, nil)
		})
	}
}

// assertKept checks that out is orig with the elements removed left out
// and those replaced swapped for their bytes, each kept element byte for
// byte, and every other member of the body unchanged.
func assertKept(t *testing.T, orig, out []byte, removed []int, replaced map[int][]byte) {
	t.Helper()
	if !json.Valid(out) {
		t.Fatalf("the cleaned body is not JSON: %.200s", out)
	}
	was, now := elems(t, orig), elems(t, out)
	var want [][]byte
	gone := map[int]bool{}
	for _, i := range removed {
		gone[i] = true
	}
	for i, e := range was {
		if r, ok := replaced[i]; ok {
			want = append(want, r)
			continue
		}
		if !gone[i] {
			want = append(want, e)
		}
	}
	if len(now) != len(want) {
		t.Fatalf("the cleaned input has %d elements, want %d", len(now), len(want))
	}
	for i := range want {
		if !bytes.Equal(now[i], want[i]) {
			t.Errorf("element %d changed:\n got %.120s\nwant %.120s", i, now[i], want[i])
		}
	}
	// Everything but the input: the same members, byte for byte.
	members := func(b []byte) map[string]string {
		m := map[string]string{}
		_ = jsonscan.ObjectFields(b, func(k, v []byte) bool {
			if string(k) != "input" {
				m[string(k)] = string(v)
			}
			return true
		})
		return m
	}
	mo, mn := members(orig), members(out)
	if len(mo) != len(mn) {
		t.Errorf("members: %d, want %d", len(mn), len(mo))
	}
	for k, v := range mo {
		if mn[k] != v {
			t.Errorf("member %s changed", k)
		}
	}
}

func TestRewriteReplaces(t *testing.T) {
	body := sampleBody(t, "request-0.171-after-compaction.json")
	in, err := items.Scan(body)
	if err != nil {
		t.Fatal(err)
	}
	mine := []byte(`{"id":"cmp_b1","type":"compaction","encrypted_content":"B-OWN"}`)
	out := in.Rewrite(map[int][]byte{5: mine})
	assertKept(t, body, out, nil, map[int][]byte{5: mine})

	first := []byte(`{"input":[ {"type":"reasoning","encrypted_content":"X"} , {"type":"message"} ],"model":"m"}`)
	in, _ = items.Scan(first)
	if got := string(in.Rewrite(map[int][]byte{0: nil})); got != `{"input":[{"type":"message"}],"model":"m"}` {
		t.Errorf("removing the first element = %s", got)
	}
	if got := string(in.Rewrite(map[int][]byte{0: nil, 1: nil})); got != `{"input":[],"model":"m"}` {
		t.Errorf("removing every element = %s", got)
	}
}

func TestRefused(t *testing.T) {
	tests := []struct {
		name, code, msg string
		kind            items.Kind
		ok              bool
	}{
		{"code and reasoning item", "invalid_encrypted_content",
			"The encrypted content for item rs_mock_1 could not be verified. Reason: Encrypted content could not be decrypted or parsed.", items.Reasoning, true},
		{"null code", "",
			"The encrypted content for item rs_0a1b could not be verified. Reason: Encrypted content could not be decrypted or parsed.", items.Reasoning, true},
		{"a compaction item", "",
			"The encrypted content for item cmp_77 could not be verified. Reason: Encrypted content could not be decrypted or parsed.", items.Compaction, true},
		{"replayed without content", "",
			"Item with id 'rs_abc' not found. Items are not persisted when `store` is set to false.", items.Reasoning, true},
		{"in a stream's failure", "", "Encrypted reasoning content could not be decrypted", items.Reasoning | items.Compaction, true},
		{"the code alone", "invalid_encrypted_content", "bad", items.Reasoning | items.Compaction, true},
		{"another item not found", "", "Item with id 'msg_1' not found.", 0, false},
		{"a plain bad request", "invalid_value", "Invalid value for 'model': 'gpt-9'.", 0, false},
		{"context too long", "context_length_exceeded", "Your input exceeds the context window of this model.", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, _, ok := items.Refused(tt.code, tt.msg)
			if ok != tt.ok || kind != tt.kind {
				t.Errorf("Refused = %v, %v; want %v, %v", kind, ok, tt.kind, tt.ok)
			}
		})
	}
}

func TestWatch(t *testing.T) {
	rs := `{"id":"rs_1","type":"reasoning","summary":[{"type":"summary_text","text":"t"}],"encrypted_content":"R1"}`
	cmp := `{"id":"cmp_1","type":"compaction","encrypted_content":"C1"}`
	msg := `{"id":"msg_1","type":"message","role":"assistant","content":[]}`
	t.Run("output items, then the completed output is not read again", func(t *testing.T) {
		var w items.Watch
		for _, ev := range []string{
			`{"type":"response.output_item.added","item":{"id":"rs_1","type":"reasoning","summary":[]}}`,
			`{"type":"response.output_item.done","output_index":0,"item":` + rs + `}`,
			`{"type":"response.output_item.done","output_index":1,"item":` + msg + `}`,
			`{"type":"response.completed","response":{"id":"r","output":[` + rs + `,` + cmp + `]}}`,
		} {
			typ, _ := jsonscan.String(jsonscan.Member([]byte(ev), "type"))
			if items.Watched(typ) {
				w.Event(typ, []byte(ev))
			}
		}
		got := w.Minted()
		if len(got) != 1 || got[0].Kind != items.Reasoning || got[0].Sum != items.SumOf([]byte("R1")) || got[0].Raw != nil {
			t.Errorf("Minted = %+v, want the reasoning item alone", got)
		}
	})
	t.Run("the completed output when no item came", func(t *testing.T) {
		var w items.Watch
		w.Event("response.completed", []byte(`{"type":"response.completed","response":{"output":[`+cmp+`,`+rs+`,`+rs+`]}}`))
		m, ok := w.Compaction()
		if !ok || string(m.Raw) != cmp || len(w.Minted()) != 2 {
			t.Errorf("Compaction = %+v, %v; Minted = %+v", m, ok, w.Minted())
		}
	})
	t.Run("a non-streaming answer", func(t *testing.T) {
		var w items.Watch
		w.Response([]byte(`{"id":"r","output":[` + msg + `,` + rs + `]}`))
		if len(w.Minted()) != 1 {
			t.Errorf("Minted = %+v", w.Minted())
		}
	})
}

func TestNotes(t *testing.T) {
	notes := []string{"acct-a", "refused:reasoning:acct-b", "refused:compaction:acct-b", "refused:bad"}
	if k := items.RefusedBy(notes, "acct-b"); k != items.Reasoning|items.Compaction {
		t.Errorf("RefusedBy(acct-b) = %v", k)
	}
	if k := items.RefusedBy(notes, "acct-a"); k != 0 {
		t.Errorf("RefusedBy(acct-a) = %v", k)
	}
	tests := []struct {
		name    string
		notes   []string
		account string
		want    bool
	}{
		{"only its own", []string{"acct-a"}, "acct-a", true},
		{"none", nil, "acct-a", true},
		{"another minter", []string{"acct-a", "acct-b"}, "acct-a", false},
		{"a refusal", []string{"acct-a", "refused:reasoning:acct-a"}, "acct-a", false},
		{"someone else's refusal still means a closer look", []string{"acct-a", "refused:reasoning:acct-b"}, "acct-a", false},
	}
	for _, tt := range tests {
		if got := items.OnlyBy(tt.notes, tt.account); got != tt.want {
			t.Errorf("%s: OnlyBy = %v, want %v", tt.name, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { items.OnlyBy([]string{"acct-a"}, "acct-a") }); n != 0 {
		t.Errorf("OnlyBy allocates %v times", n)
	}
}
