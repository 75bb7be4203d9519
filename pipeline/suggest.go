package pipeline

import "strings"

// suggest returns the candidate that name most likely misspells, or "". It compares
// case-insensitively with "-" and " " read as "_" (so keyField and key-field find
// key_field), allows one edit in short names and two in longer ones (a swap of two
// neighbouring letters is one edit), and takes a prefix of five letters or more
// (max_out_of_order finds max_out_of_orderness).
func suggest(name string, candidates []string) string {
	const longest = 64 // nobody misspells a field name into more than this
	if name == "" || len(name) > longest {
		return ""
	}
	n := normalize(name)
	best, bestDist := "", 0
	for _, c := range candidates {
		nc := normalize(c)
		d := editDistance(n, nc)
		if d > maxEdits(nc) {
			if len(n) < 5 || !strings.HasPrefix(nc, n) {
				continue
			}
			d = maxEdits(nc) // a prefix is a weak match: any close spelling wins over it
		}
		if best == "" || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

func normalize(s string) string {
	return strings.NewReplacer("-", "_", " ", "_").Replace(strings.ToLower(s))
}

func maxEdits(s string) int {
	switch {
	case len(s) <= 3:
		return 0
	case len(s) <= 5:
		return 1
	}
	return 2
}

// editDistance is the optimal string alignment distance between a and b: insertions,
// deletions, substitutions and swaps of neighbouring characters each count one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// prev2, prev and cur are rows i-2, i-1 and i of the distance matrix.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
