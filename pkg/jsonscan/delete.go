package jsonscan

// Delete returns a copy of the JSON object b without its top-level members
// named in keys (every occurrence), the rest byte for byte; b itself is not
// modified. An object with none of them comes back as b itself.
func Delete(b []byte, keys ...string) ([]byte, error) {
	type span struct{ start, end int }
	var kept []span
	dropped := false
	prevEnd := -1
	err := ObjectFields(b, func(k, v []byte) bool {
		// The member starts at its key's quote: the first byte after the
		// previous member (or the brace) that is neither space nor comma.
		start := prevEnd + 1
		if prevEnd < 0 {
			start = skipSpace(b, 0) + 1
		}
		for start < len(b) && (b[start] == ',' || isSpace(b[start])) {
			start++
		}
		end := cap(b) - cap(v) + len(v)
		prevEnd = end - 1
		for _, key := range keys {
			if string(k) == key {
				dropped = true
				return true
			}
		}
		kept = append(kept, span{start, end})
		return true
	})
	if err != nil || !dropped {
		return b, err
	}
	out := make([]byte, 0, len(b))
	out = append(out, '{')
	for i, s := range kept {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, b[s.start:s.end]...)
	}
	return append(out, '}'), nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
