package jsonscan

// ObjectFields calls fn for each member of the JSON object b, in order, with
// the member's name (escapes decoded; aliasing b unless the raw name holds a
// backslash) and its raw value (whitespace trimmed, aliasing b). fn returns
// false to stop early; the rest of b is then left unvalidated. Otherwise the
// whole of b must be one object with nothing but whitespace around it.
// Duplicate names are all reported, so a caller that keeps the last one
// agrees with encoding/json.
func ObjectFields(b []byte, fn func(key, value []byte) bool) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return syntaxError(i, "not an object")
	}
	end, err := members(b, i, 1, fn)
	if err != nil || end < 0 {
		return err
	}
	return trailing(b, end)
}

// ArrayElems calls fn for each element of the JSON array b with its raw value.
// fn returns false to stop early; otherwise the whole of b must be one array
// with nothing but whitespace around it.
func ArrayElems(b []byte, fn func(value []byte) bool) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return syntaxError(i, "not an array")
	}
	end, err := elems(b, i, 1, fn)
	if err != nil || end < 0 {
		return err
	}
	return trailing(b, end)
}

func trailing(b []byte, end int) error {
	if i := skipSpace(b, end); i != len(b) {
		return syntaxError(i, "data after the top-level value")
	}
	return nil
}

// members walks the object at b[i] == '{'. With fn nil it only skips. It
// returns -1 when fn stopped the walk.
func members(b []byte, i, depth int, fn func(key, value []byte) bool) (int, error) {
	if depth > maxDepth {
		return i, syntaxError(i, "exceeded max depth")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, syntaxError(i, "expected a string for an object key")
		}
		ks := i
		ke, escaped, err := skipString(b, i)
		if err != nil {
			return ke, err
		}
		i = skipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return i, syntaxError(i, "expected ':' after object key")
		}
		vs := skipSpace(b, i+1)
		ve, err := skipValue(b, vs, depth+1)
		if err != nil {
			return ve, err
		}
		if fn != nil {
			key := b[ks+1 : ke-1]
			if escaped {
				// Already validated, so unquoting cannot fail.
				key, _ = unquote(b[ks:ke], true)
			}
			if !fn(key, b[vs:ve]) {
				return -1, nil
			}
		}
		i = skipSpace(b, ve)
		if i >= len(b) {
			return i, syntaxError(i, "unterminated object")
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return i, syntaxError(i, "expected ',' or '}' in object")
		}
	}
}

// elems walks the array at b[i] == '['; see members.
func elems(b []byte, i, depth int, fn func(value []byte) bool) (int, error) {
	if depth > maxDepth {
		return i, syntaxError(i, "exceeded max depth")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		vs := i
		ve, err := skipValue(b, vs, depth+1)
		if err != nil {
			return ve, err
		}
		if fn != nil && !fn(b[vs:ve]) {
			return -1, nil
		}
		i = skipSpace(b, ve)
		if i >= len(b) {
			return i, syntaxError(i, "unterminated array")
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return i, syntaxError(i, "expected ',' or ']' in array")
		}
	}
}
