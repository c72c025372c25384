package redact

// The exact secrets of a list are found in one pass over the text, however
// many the list holds (rotated tokens pile up to MaxSecrets): checking each
// secret in turn cost a scan of the text per secret, which every event of a
// stream would pay.
//
// The pass reads the text's 4-byte grams at every gramStep-th offset only.
// Every secret is at least MinSecret (8) bytes, so wherever one occurs, one
// of those sampled grams lies within the last 8 bytes of the occurrence,
// at one of its gramStep offsets there. Each secret is anchored by those
// gramStep grams of its tail: a token's tail is its most distinct part
// (JWTs share their header, keys their prefix). A gram is first tested
// against a bitmap that fits in L1 cache; most text never gets further.
// Only a gram that passes is looked up, and only a gram found names the
// secrets that may start at a given offset, each then compared in full.

const (
	gramLen  = 4
	gramStep = MinSecret - gramLen + 1 // 5: one sampled gram within any 8 bytes
	bloomLog = 16                      // 2^16 bits, 8 KiB
)

// anchor says: the gram occurs in secret at off, so an occurrence of the
// secret would start off bytes before where the gram was seen.
type anchor struct {
	secret int // index in list.strs
	off    int
}

// matcher is built once per list, immutable after.
type matcher struct {
	bloom [1 << bloomLog / 64]uint64
	grams map[uint32][]anchor
}

// newMatcher anchors each secret (all at least MinSecret long) by the grams
// of its last MinSecret bytes.
func newMatcher(secrets []string) *matcher {
	if len(secrets) == 0 {
		return nil
	}
	m := &matcher{grams: make(map[uint32][]anchor, gramStep*len(secrets))}
	for i, sec := range secrets {
		base := len(sec) - MinSecret
		// Descending offsets: an occurrence seen through a later anchor
		// starts later, so each secret's occurrences come out in order.
		for k := gramStep - 1; k >= 0; k-- {
			g := gram(sec, base+k)
			m.bloom[bloomHash(g)/64] |= 1 << (bloomHash(g) % 64)
			m.grams[g] = append(m.grams[g], anchor{secret: i, off: base + k})
		}
	}
	return m
}

// exact appends the occurrences of l's secrets in t: for each secret,
// leftmost first and not overlapping each other, as repeated searches
// would find them.
func exact[T text](l *list, t T, spans []span) []span {
	m := l.match
	if m == nil || len(t) < l.min {
		return spans
	}
	for j := 0; j+gramLen <= len(t); j += gramStep {
		g := gram(t, j)
		if h := bloomHash(g); m.bloom[h/64]&(1<<(h%64)) == 0 {
			continue
		}
		for _, a := range m.grams[g] {
			sec := l.strs[a.secret]
			p := j - a.off
			if p < 0 || p+len(sec) > len(t) || string(t[p:p+len(sec)]) != sec {
				continue
			}
			if overlapsLast(spans, a.secret, p) {
				continue
			}
			spans = append(spans, span{start: p, end: p + len(sec), secret: a.secret})
		}
	}
	return spans
}

// overlapsLast reports whether the last occurrence kept of secret ends
// after p.
func overlapsLast(spans []span, secret, p int) bool {
	for i := len(spans) - 1; i >= 0; i-- {
		if spans[i].secret == secret {
			return spans[i].end > p
		}
	}
	return false
}

func gram[T text](t T, i int) uint32 {
	_ = t[i+3]
	return uint32(t[i]) | uint32(t[i+1])<<8 | uint32(t[i+2])<<16 | uint32(t[i+3])<<24
}

func bloomHash(g uint32) uint32 { return (g * 0x9E3779B1) >> (32 - bloomLog) }
