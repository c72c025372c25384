package config

import "strings"

// suggest returns the candidate closest to an unknown key when it is close
// enough to be a typo (wieght, baseurl, Listen), else "".
func suggest(key string, candidates []string) string {
	best, bestDist := "", 3 // at most two edits away
	for _, c := range candidates {
		d := editDistance(strings.ToLower(key), c)
		if d < bestDist && d < len(key) {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Suggest returns the candidate closest to word, case aside, when it is
// close enough to be a typo of it (at most two edits: chatgtp for chatgpt),
// else "". Commands use it for names the user typed, such as an account's.
func Suggest(word string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		d := editDistance(strings.ToLower(word), strings.ToLower(c))
		if d < bestDist && d < len(word) {
			best, bestDist = c, d
		}
	}
	return best
}
