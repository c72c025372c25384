package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/proxy-dev/proxy/pkg/bound"
)

// FuzzParse checks that Parse never panics, accepts exactly the JSON objects
// encoding/json accepts, and reads model, stream and prompt_cache_key as
// encoding/json decodes them (exact names, last duplicate wins).
// The seeds are 40-70 KB Codex bodies, which the fuzzer minimises slowly:
// run it with -fuzzminimizetime=2s or it seems to stall.
func FuzzParse(f *testing.F) {
	for _, s := range loadSamples(f) {
		if s.body != nil {
			f.Add([]byte(s.body))
		}
	}
	for _, s := range []string{
		`{"model":"m","stream":true,"prompt_cache_key":"p"}`,
		`{"instructions":"i","input":[{"role":"user","content":[{"type":"input_text","text":"u"}]}]}`,
		`{"input":"hello"}`,
		`{"mod\u0065l":"x\ud800","model":"y","Model":"z"}`,
		`{"prompt_cache_key":"\u00e9","prompt_cache_key":""}`,
		"{\"model\":\"\xff\"}",
		`{"model":"gpt\u001b[2J"}`, `{"model":"a\u0085b"}`,
		`{"input":[{"type":"additional_tools"},{"role":"developer","content":"d"},{"role":"user","content":"u"}]}`,
		` {} `, `[]`, `{"a":1,}`, `{"a":01}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := Parse(nil, body)
		var m map[string]json.RawMessage
		stdErr := json.Unmarshal(body, &m)
		isObject := stdErr == nil && bytes.TrimLeft(body, " \t\r\n")[0] == '{'
		if errors.Is(err, ErrModelTooLong) || errors.Is(err, ErrModelControl) {
			var model string
			if json.Unmarshal(m["model"], &model) != nil || (len(model) <= bound.Model && !bound.HasControl(model)) {
				t.Fatalf("Parse refuses model %q: %v", model, err)
			}
			return
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if isObject {
				t.Fatalf("Parse rejects a JSON object encoding/json accepts: %v", err)
			}
			return
		}
		if !isObject {
			t.Fatalf("Parse accepts %q, which encoding/json rejects as an object (%v)", body, stdErr)
		}
		var model, pck string
		var stream bool
		_ = json.Unmarshal(m["model"], &model)
		_ = json.Unmarshal(m["stream"], &stream)
		_ = json.Unmarshal(m["prompt_cache_key"], &pck)
		if !isJSONString(m["model"]) {
			model = ""
		}
		if len(model) > bound.Model || bound.HasControl(model) {
			t.Fatalf("Parse accepts model %q", model)
		}
		if req.Model != model || req.Stream != stream {
			t.Fatalf("Model, Stream = %q, %v; encoding/json: %q, %v", req.Model, req.Stream, model, stream)
		}
		if isJSONString(m["prompt_cache_key"]) && pck != "" {
			if req.Key != (Key{Hash: sha(pck), Source: SourcePromptCacheKey}) {
				t.Fatalf("Key = %+v, want prompt_cache_key %q", req.Key, pck)
			}
		} else if req.Key.Source == SourcePromptCacheKey {
			t.Fatalf("Key from prompt_cache_key, but encoding/json sees none usable")
		}
		if (req.Key.Source == SourceNone) != (req.Key.Hash == "") {
			t.Fatalf("Key %+v: hash and source disagree", req.Key)
		}
	})
}

func isJSONString(raw json.RawMessage) bool { return len(raw) > 0 && raw[0] == '"' }
