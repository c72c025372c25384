package jsonscan

// Member returns the raw value of the first top-level member of the JSON
// object b named name (aliasing b), or nil when b has none or is not an
// object. Only b up to that member is scanned.
func Member(b []byte, name string) []byte {
	var out []byte
	_ = ObjectFields(b, func(k, v []byte) bool {
		if string(k) == name {
			out = v
			return false
		}
		return true
	})
	return out
}
