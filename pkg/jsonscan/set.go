package jsonscan

// Set returns a copy of the JSON object b with the top-level member key set
// to the raw JSON value: every existing occurrence's value is replaced in
// place (keeping the rest of the document byte for byte), or the member is
// added first when absent. b itself is not modified.
func Set(b []byte, key, value string) ([]byte, error) {
	type span struct{ start, end int }
	var spans []span
	err := ObjectFields(b, func(k, v []byte) bool {
		if string(k) == key {
			// v aliases b: its offset follows from the capacities.
			start := cap(b) - cap(v)
			spans = append(spans, span{start, start + len(v)})
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(b)+len(key)+len(value)+4)
	if len(spans) == 0 {
		open := skipSpace(b, 0) // b[open] == '{', checked by ObjectFields
		out = append(out, b[:open+1]...)
		out = append(out, '"')
		out = append(out, key...)
		out = append(out, '"', ':')
		out = append(out, value...)
		if next := skipSpace(b, open+1); b[next] != '}' {
			out = append(out, ',')
		}
		return append(out, b[open+1:]...), nil
	}
	last := 0
	for _, s := range spans {
		out = append(out, b[last:s.start]...)
		out = append(out, value...)
		last = s.end
	}
	return append(out, b[last:]...), nil
}
