package scheduler

import "hash/fnv"

// stableHash hashes a session key with an account name. It must give the
// same value in every process and version, so that instances agree: hence
// FNV-1a, not the randomly seeded maphash.
func stableHash(key, name string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(name))
	// FNV's low bits mix poorly; fold the high half in.
	v := h.Sum64()
	v ^= v >> 33
	v *= 0xff51afd7ed558ccd
	v ^= v >> 33
	v *= 0xc4ceb9fe1a85ec53
	v ^= v >> 33
	return v
}
