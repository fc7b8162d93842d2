package expr

import "strings"

// MatchWildcard reports whether s matches pattern in WinDbg's string wildcard
// syntax (string-wildcard-syntax.md), case-insensitively: * any run, ? one
// character, [a-z7] one of a set, # zero or more and + one or more of the
// preceding item, \ makes the next character literal. It is $spat's matcher
// and fits x/lm patterns too.
func MatchWildcard(pattern, s string) bool {
	items := compileWildcard(strings.ToLower(pattern))
	s = strings.ToLower(s)
	// next[j] holds whether items[i+1:] match s[j:]; cur is row i. Dynamic
	// programming keeps hostile patterns like "*a*a*a*b" linear per row.
	n := len(s)
	next := make([]bool, n+1)
	cur := make([]bool, n+1)
	next[n] = true
	for i := len(items) - 1; i >= 0; i-- {
		it := items[i]
		for j := n; j >= 0; j-- {
			ok := j < n && it.match(s[j])
			if it.many {
				cur[j] = next[j] || (ok && cur[j+1])
			} else {
				cur[j] = ok && next[j+1]
			}
		}
		next, cur = cur, next
	}
	return next[0]
}

// wildItem matches one character (any, a literal or a set), or with many a
// run of zero or more of them.
type wildItem struct {
	any  bool
	lit  byte
	set  string // pairs lo,hi of inclusive ranges when non-empty
	many bool
}

func (w wildItem) match(c byte) bool {
	switch {
	case w.any:
		return true
	case w.set != "":
		for k := 0; k+1 < len(w.set); k += 2 {
			if c >= w.set[k] && c <= w.set[k+1] {
				return true
			}
		}
		return false
	}
	return c == w.lit
}

func compileWildcard(p string) []wildItem {
	var items []wildItem
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '*':
			items = append(items, wildItem{any: true, many: true})
		case c == '?':
			items = append(items, wildItem{any: true})
		case (c == '#' || c == '+') && len(items) > 0 && !items[len(items)-1].many:
			last := items[len(items)-1]
			if c == '#' {
				items[len(items)-1].many = true
			} else {
				last.many = true
				items = append(items, last)
			}
		case c == '\\' && i+1 < len(p):
			i++
			items = append(items, wildItem{lit: p[i]})
		case c == '[' && strings.IndexByte(p[i+1:], ']') > 0:
			end := i + 1 + strings.IndexByte(p[i+1:], ']')
			var set []byte
			for k := i + 1; k < end; k++ {
				if k+2 < end && p[k+1] == '-' {
					set = append(set, p[k], p[k+2])
					k += 2
				} else {
					set = append(set, p[k], p[k])
				}
			}
			items = append(items, wildItem{set: string(set)})
			i = end
		default:
			items = append(items, wildItem{lit: c})
		}
	}
	return items
}
