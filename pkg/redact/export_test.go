package redact

import "strings"

// SlowString is String as it was before the one-pass matcher: each held
// secret searched for in turn. The fuzz test holds the matcher to it.
func SlowString(s *Set, str string) string {
	var spans []span
	if l := s.load(); l != nil && l.min > 0 && len(str) >= l.min {
		for i, sec := range l.strs {
			for off := 0; ; {
				j := strings.Index(str[off:], sec)
				if j < 0 {
					break
				}
				spans = append(spans, span{off + j, off + j + len(sec), i})
				off += j + len(sec)
			}
		}
	}
	return maskString(str, merge(shapes(str, spans)))
}
