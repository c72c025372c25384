package jsonscan

import (
	"encoding/json"
	"testing"
)

func TestDelete(t *testing.T) {
	tests := []struct {
		name, in, want string
		keys           []string
	}{
		{"first", `{"a":1,"b":2,"c":3}`, `{"b":2,"c":3}`, []string{"a"}},
		{"middle", `{"a":1,"b":2,"c":3}`, `{"a":1,"c":3}`, []string{"b"}},
		{"last", `{"a":1,"b":2,"c":3}`, `{"a":1,"b":2}`, []string{"c"}},
		{"all", `{"a":1,"b":2}`, `{}`, []string{"a", "b"}},
		{"every occurrence", `{"a":1,"b":2,"a":3}`, `{"b":2}`, []string{"a"}},
		{"spaces kept inside members", ` { "a" : [1, 2] , "b" : {"x": "y"} } `, `{"a" : [1, 2]}`, []string{"b"}},
		{"escaped key", `{"m\u0061x":1,"b":2}`, `{"b":2}`, []string{"max"}},
		{"nested members untouched", `{"o":{"a":1},"a":2}`, `{"o":{"a":1}}`, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Delete([]byte(tt.in), tt.keys...)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Delete = %s, want %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("Delete gave invalid JSON %s", got)
			}
		})
	}
	in := []byte(`{"a":1}`)
	if got, _ := Delete(in, "z"); &got[0] != &in[0] {
		t.Error("an object without the keys was copied")
	}
	if _, err := Delete([]byte(`[1]`), "a"); err == nil {
		t.Error("Delete of an array: no error")
	}
}
