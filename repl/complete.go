package repl

import (
	"sort"
	"strings"
	"unicode"

	"wdb/commands"
)

// maxCandidates bounds what one Tab lists (a symbol pattern can match
// thousands of names).
const maxCandidates = 500

// completer is readline's AutoCompleter. The first word of a command
// completes to command names; later words ask the command's own Complete
// func (so commands add completion without touching the REPL), and fall back
// to module names and module!symbol names, which most commands accept as
// addresses.
//
// Complete may return candidates for everything after the command name
// ("-f:Image,MEM_MAPPED" for "-f:Image,MEM_M"), for the last
// whitespace-separated token, or for the part of that token after its last
// ':' ',' or '=' ("MEM_MAPPED"); the first form that matches is used.
type completer struct {
	s *commands.Session
}

// Do returns the suffixes that complete the text before pos and the length
// of the prefix they complete (readline only inserts, it never replaces).
func (c *completer) Do(line []rune, pos int) ([][]rune, int) {
	sufs, n := c.complete(string(line[:pos]))
	out := make([][]rune, len(sufs))
	for i, s := range sufs {
		out[i] = []rune(s)
	}
	return out, n
}

// complete is Do on strings: suffixes and the rune length of the prefix.
func (c *completer) complete(text string) ([]string, int) {
	cmd := strings.TrimLeft(currentCommand(text), " \t")
	i := strings.IndexAny(cmd, " \t")
	if i < 0 {
		sufs, n := matchWords(cmd, commands.Names())
		for k := range sufs {
			sufs[k] += " "
		}
		return sufs, n
	}
	name, args := cmd[:i], strings.TrimLeft(cmd[i:], " \t")
	tok := args
	if j := strings.LastIndexAny(args, " \t"); j >= 0 {
		tok = args[j+1:]
	}
	if cmdc, ok := commands.Lookup(name); ok && cmdc.Complete != nil {
		cands := cmdc.Complete(c.s, args)
		prefixes := []string{args, tok}
		if k := strings.LastIndexAny(tok, ":,="); k >= 0 {
			prefixes = append(prefixes, tok[k+1:])
		}
		for _, p := range prefixes {
			if sufs, n := matchWords(p, cands); len(sufs) > 0 {
				return sufs, n
			}
		}
	}
	word := symbolWord(tok)
	return matchWords(word, c.symbolNames(word))
}

// currentCommand is the command the cursor is in: the text after the last
// ';' outside double quotes.
func currentCommand(text string) string {
	start, inQuote := 0, false
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '\\':
			if inQuote {
				i++
			}
		case '"':
			inQuote = !inQuote
		case ';':
			if !inQuote {
				start = i + 1
			}
		}
	}
	return text[start:]
}

// symbolWord is the trailing part of tok that can be a module or
// module!symbol name, so "poi(ntd" completes "ntd".
func symbolWord(tok string) string {
	i := strings.LastIndexFunc(tok, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("_.!:?@$<>`~-", r))
	})
	w := tok[i+1:]
	if strings.HasPrefix(w, "@") || strings.HasPrefix(w, "$") { // registers, pseudo-registers
		return ""
	}
	return w
}

// symbolNames lists the module names, or module!symbol names once a '!' is
// typed, that could complete word.
func (c *completer) symbolNames(word string) []string {
	s := c.s
	if s == nil || s.Target == nil || word == "" {
		return nil
	}
	if strings.Contains(word, "!") {
		if s.Symbols == nil {
			return nil
		}
		var out []string
		for _, sym := range s.Symbols.Match(word + "*") {
			out = append(out, sym.FullName())
			if len(out) >= maxCandidates {
				break
			}
		}
		return out
	}
	var out []string
	for i := range s.Target.Modules {
		out = append(out, s.Target.Modules[i].ModuleName())
	}
	return out
}

// matchWords returns the completions of prefix among words, compared
// without regard to case as WinDbg compares names, and the rune length of
// prefix. Suffixes follow the case the user is typing in when it is all
// lower or all upper case ("mem_" + "mapped", "MEM_" + "MAPPED").
func matchWords(prefix string, words []string) ([]string, int) {
	seen := map[string]bool{}
	var out []string
	lp := strings.ToLower(prefix)
	for _, w := range words {
		if len(w) < len(prefix) || strings.ToLower(w[:len(prefix)]) != lp {
			continue
		}
		suf := adaptCase(prefix, w[len(prefix):])
		if seen[suf] {
			continue
		}
		seen[suf] = true
		out = append(out, suf)
		if len(out) >= maxCandidates {
			break
		}
	}
	sort.Strings(out)
	return out, len([]rune(prefix))
}

// adaptCase writes suf in the case of typed when typed is uniformly lower
// or upper case.
func adaptCase(typed, suf string) string {
	hasLower := strings.IndexFunc(typed, unicode.IsLower) >= 0
	hasUpper := strings.IndexFunc(typed, unicode.IsUpper) >= 0
	switch {
	case hasLower && !hasUpper:
		return strings.ToLower(suf)
	case hasUpper && !hasLower:
		return strings.ToUpper(suf)
	}
	return suf
}
