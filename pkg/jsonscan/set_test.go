package jsonscan

import (
	"encoding/json"
	"testing"
)

func TestSet(t *testing.T) {
	tests := []struct {
		name, in, key, value, want string
	}{
		{"replace", `{"model":"x","stream":false,"input":"hi"}`, "stream", "true", `{"model":"x","stream":true,"input":"hi"}`},
		{"replace keeps spacing", "{ \"stream\" : false , \"a\":1}", "stream", "true", "{ \"stream\" : true , \"a\":1}"},
		{"add to object", `{"model":"x"}`, "stream", "true", `{"stream":true,"model":"x"}`},
		{"add to empty object", ` { } `, "stream", "true", ` {"stream":true } `},
		{"nested keys untouched", `{"a":{"stream":false},"stream":null}`, "stream", "true", `{"a":{"stream":false},"stream":true}`},
		{"duplicates all replaced", `{"store":true,"store":true}`, "store", "false", `{"store":false,"store":false}`},
		{"escaped key matches", `{"str\u0065am":false}`, "stream", "true", `{"str\u0065am":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Set([]byte(tt.in), tt.key, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want || !json.Valid(got) {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
	if _, err := Set([]byte(`[1]`), "a", "1"); err == nil {
		t.Fatal("Set on an array succeeded")
	}
}
