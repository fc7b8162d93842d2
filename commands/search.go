package commands

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"
	"unicode/utf16"

	"wdb/commands/scan"
	"wdb/dump"
	"wdb/expr"
)

// s (search memory), windbg-commands.md §4:
//
//	s [-[Flags]Type] Range Pattern
//	s -[Flags]sa Range        s -[Flags]su Range
//
// Only memory captured in the dump is searched, through zero-copy chunks of
// the mapping and the scan package's tuned core. Hits print as WinDbg does:
// the address followed by one d*-style line of memory at the hit.

func init() {
	Register(&Command{
		Name:    "s",
		Usage:   "s [-[flags]type] range pattern",
		Summary: "search memory",
		Help: "Types: -b bytes (default), -w words, -d dwords, -q qwords (only naturally\n" +
			"aligned hits), -a \"ASCII text\", -u \"Unicode text\", -sa / -su any printable\n" +
			"string (no pattern).\n" +
			"Flags in brackets before the type: -[1] print addresses only, -[w] writable\n" +
			"memory only, -[l N] minimum length for -sa/-su (default 3).\n" +
			"Pattern: numbers in the current radix separated by spaces, 'c' characters\n" +
			"('VUTS' is the dword 56555453), or a quoted string for -a/-u.\n" +
			"Range: start end, start L length (bytes), start L?length beyond 256 MB:\n" +
			"  s -d 0 L?7fffffff 12345678\n" +
			"  s -a 0 L?80000000 \"text\"\n" +
			"  s -[1]q 0 L?7fffffffffff 00007ff6`12340000\n" +
			"Ctrl-C stops the search and keeps the hits found so far.",
		Run: runSearch,
	})
}

// searchSpec is a parsed s command.
type searchSpec struct {
	typ       string // b w d q a u sa su
	addrsOnly bool   // -[1]
	writable  bool   // -[w]
	minLen    int    // -[l N]
	start     uint64
	end       uint64 // exclusive
	pattern   []byte
}

// searchUnit is the element size of each type, which is also the alignment
// required of hits for w/d/q.
func searchUnit(typ string) int {
	switch typ {
	case "w", "u", "su":
		return 2
	case "d":
		return 4
	case "q":
		return 8
	}
	return 1
}

func runSearch(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	sp, err := parseSearch(s, inv)
	if err != nil {
		return nil, err
	}
	res := &SearchResult{Type: sp.typ, AddressesOnly: sp.addrsOnly, f: s.Target, ptr: s.PointerSize()}
	if sp.pattern != nil {
		res.Pattern = hex.EncodeToString(sp.pattern)
	}
	chunks, total := searchChunks(s.Target, sp)
	prog := newSearchProgress(s, total)
	check := func(scanned uint64) bool {
		prog.update(scanned)
		return !s.Cancelled()
	}
	var complete bool
	switch sp.typ {
	case "sa", "su":
		opt := scan.StringOptions{MinLen: sp.minLen, Unicode: sp.typ == "su", Check: check}
		res.Scanned, complete = scan.Strings(chunks, opt, func(addr uint64, str string) bool {
			res.Hits = append(res.Hits, SearchHit{Address: addr, String: str})
			return len(res.Hits) < searchMaxHits
		})
	default:
		align := 1
		if sp.typ == "w" || sp.typ == "d" || sp.typ == "q" {
			align = searchUnit(sp.typ)
		}
		sc := scan.Scanner{Pattern: sp.pattern, Align: align, Check: check}
		res.Scanned, complete = sc.Scan(chunks, func(addr uint64) bool {
			res.Hits = append(res.Hits, SearchHit{Address: addr})
			return len(res.Hits) < searchMaxHits
		})
	}
	prog.clear()
	if !complete && len(res.Hits) >= searchMaxHits {
		res.Truncated = true
		return res, nil
	}
	if !complete {
		res.Interrupted = true
		return res, searchInterrupted(s, inv)
	}
	return res, nil
}

// searchMaxHits bounds the hits one search keeps (and prints): past that,
// the pattern is too common to be worth listing and the list would exhaust
// memory (searching for 0 in a 4 GB dump). WinDbg has no such limit.
const searchMaxHits = 1 << 22

// searchInterrupted is WinDbg's error line for a search stopped by Ctrl-C
// (§0.4): the caret under the column the parser stopped at and the command
// lower-cased and cut there. The sample shows that for a quoted pattern
// (cut before the closing quote); for other patterns the cut is at the end
// of the command (UNCONFIRMED).
func searchInterrupted(s *Session, inv *Invocation) error {
	line := inv.Line
	pos := len(line)
	if strings.HasSuffix(line, "\"") && len(line) > 1 {
		pos = len(line) - 1
	}
	return fmt.Errorf("%s^ User interrupted operation error in '%s'",
		strings.Repeat(" ", len(s.Prompt())+pos), strings.ToLower(line[:pos]))
}

// parseSearch reads options, range and pattern.
func parseSearch(s *Session, inv *Invocation) (*searchSpec, error) {
	args := strings.TrimSpace(inv.Args)
	sp := &searchSpec{typ: "b", minLen: 3}
	if strings.HasPrefix(args, "-") {
		end := strings.IndexAny(args, " \t")
		if end < 0 {
			end = len(args)
		}
		opt := args[1:end]
		if strings.HasPrefix(opt, "[") {
			close := strings.IndexByte(args, ']')
			if close < 0 {
				return nil, fmt.Errorf("Syntax error at '%s'", args)
			}
			if err := parseSearchFlags(s, sp, args[2:close]); err != nil {
				return nil, err
			}
			end = close + 1
			for end < len(args) && args[end] != ' ' && args[end] != '\t' {
				end++
			}
			opt = args[close+1 : end]
			if opt == "" {
				return nil, fmt.Errorf("Syntax error at '%s': a type must follow the flags (-[flags]type)", args)
			}
		}
		switch t := strings.ToLower(opt); t {
		case "b", "w", "d", "q", "a", "u", "sa", "su":
			sp.typ = t
		case "v":
			return nil, fmt.Errorf("s -v (search for objects of a type) is not supported")
		default:
			return nil, fmt.Errorf("Syntax error at '%s'", args)
		}
		args = strings.TrimSpace(args[end:])
	}
	if args == "" {
		return nil, fmt.Errorf("Range error in '%s': a range is required (start L length or start end)", inv.Line)
	}
	r, rest, err := s.ParseRange(args)
	if err != nil {
		return nil, exprError(s, inv, args, err)
	}
	if !r.HasLength {
		return nil, fmt.Errorf("Range error in '%s': give a length (L) or an end address", inv.Line)
	}
	start, count, err := r.Items(1, 0)
	if err != nil {
		return nil, exprError(s, inv, args, err)
	}
	sp.start, sp.end = start, start+count
	if sp.end < start { // L?ffffffffffffffff from a nonzero start
		sp.end = ^uint64(0)
	}
	if sp.typ == "sa" || sp.typ == "su" {
		if rest != "" {
			pos := len(args) - len(rest)
			return nil, exprError(s, inv, args, &expr.Error{Kind: expr.ErrExtraCharacter, At: args, Pos: pos})
		}
		return sp, nil
	}
	if rest == "" {
		return nil, fmt.Errorf("No search pattern in '%s'", inv.Line)
	}
	if sp.pattern, err = parsePattern(s, sp.typ, rest); err != nil {
		return nil, err
	}
	return sp, nil
}

// parseSearchFlags reads the bracketed flags: 1, w and "l N"; s, r and n
// (saved result lists) are not supported.
func parseSearchFlags(s *Session, sp *searchSpec, flags string) error {
	for i := 0; i < len(flags); i++ {
		switch c := flags[i]; c {
		case '1':
			sp.addrsOnly = true
		case 'w', 'W':
			sp.writable = true
		case ' ', '\t':
		case 'l', 'L':
			j := i + 1
			for j < len(flags) && (flags[j] == ' ' || flags[j] == '\t') {
				j++
			}
			k := j
			for k < len(flags) && flags[k] != ' ' && flags[k] != '\t' {
				k++
			}
			n, err := s.Eval(flags[j:k])
			if err != nil || n == 0 || n > 1<<20 {
				return fmt.Errorf("Syntax error at '%s': -[l length] needs a length", flags[i:])
			}
			sp.minLen = int(n)
			i = k - 1
		case 's', 'r', 'n':
			return fmt.Errorf("s -[%c]: saved search results are not supported", c)
		default:
			return fmt.Errorf("Syntax error at '%s'", flags[i:])
		}
	}
	return nil
}

// parsePattern turns the pattern text into the bytes to find.
func parsePattern(s *Session, typ, text string) ([]byte, error) {
	switch typ {
	case "a", "u":
		str := text
		if strings.HasPrefix(text, "\"") {
			end := strings.IndexByte(text[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("Syntax error at '%s': missing closing quote", text)
			}
			str = text[1 : 1+end]
			if extra := strings.TrimSpace(text[2+end:]); extra != "" {
				return nil, fmt.Errorf("Extra character error at '%s'", extra)
			}
		}
		if str == "" {
			return nil, fmt.Errorf("No search pattern in '%s'", text)
		}
		if typ == "a" {
			return []byte(str), nil
		}
		var b []byte
		for _, u := range utf16.Encode([]rune(str)) {
			b = append(b, byte(u), byte(u>>8))
		}
		return b, nil
	}
	unit := searchUnit(typ)
	var out []byte
	for _, tok := range patternTokens(text) {
		v, err := s.Eval(tok)
		if err != nil {
			return nil, err
		}
		if unit < 8 && v>>(8*unit) != 0 {
			return nil, fmt.Errorf("Search pattern value '%s' (%x) does not fit in %s", tok, v, map[int]string{1: "a byte", 2: "a word", 4: "a dword"}[unit])
		}
		for k := 0; k < unit; k++ {
			out = append(out, byte(v>>(8*k)))
		}
	}
	return out, nil
}

// patternTokens splits a pattern at blanks outside quotes and parentheses,
// so that ' ' and poi(x + 4) stay one value each.
func patternTokens(text string) []string {
	var toks []string
	depth, quote, start := 0, byte(0), -1
	for i := 0; i <= len(text); i++ {
		var c byte = ' '
		if i < len(text) {
			c = text[i]
		}
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
			continue
		case c == '\'' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case (c == ' ' || c == '\t') && depth <= 0:
			if start >= 0 {
				toks = append(toks, text[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 && start < len(text) {
		toks = append(toks, text[start:])
	}
	return toks
}

// searchChunks yields the captured memory of the search range (only the
// writable regions for -[w]) and its size, for the progress line.
func searchChunks(f *dump.File, sp *searchSpec) (iter.Seq2[uint64, []byte], uint64) {
	type span struct{ lo, hi uint64 }
	spans := []span{{sp.start, sp.end}}
	if sp.writable && f.HasMemoryInfo {
		// Without a memory info list the protection is unknown and every
		// captured byte is searched.
		spans = spans[:0]
		for _, r := range f.Regions() {
			const writable = dump.PageReadWrite | dump.PageWriteCopy | dump.PageExecuteReadWrite | dump.PageExecuteWriteCopy
			if r.State != dump.MemCommit || r.Protect&writable == 0 || r.Protect&dump.PageGuard != 0 {
				continue
			}
			lo, hi := max(r.Base, sp.start), min(r.End(), sp.end)
			if lo >= hi {
				continue
			}
			if n := len(spans); n > 0 && spans[n-1].hi == lo {
				spans[n-1].hi = hi
			} else {
				spans = append(spans, span{lo, hi})
			}
		}
	}
	// Captured bytes inside the spans (both lists are sorted), for the
	// progress line.
	var total uint64
	rs := f.MemoryRanges()
	for i, j := 0, 0; i < len(spans) && j < len(rs); {
		if lo, hi := max(rs[j].Start, spans[i].lo), min(rs[j].End(), spans[i].hi); lo < hi {
			total += hi - lo
		}
		if rs[j].End() < spans[i].hi {
			j++
		} else {
			i++
		}
	}
	return func(yield func(uint64, []byte) bool) {
		for _, sp := range spans {
			for a, b := range f.Chunks(sp.lo, sp.hi) {
				if !yield(a, b) {
					return
				}
			}
		}
	}, total
}

// searchProgress draws "Searching... 45% (1.2 GB of 2.7 GB)" on stderr for
// interactive scans that take more than a second.
type searchProgress struct {
	s       *Session
	total   uint64
	started time.Time
	last    time.Time
	width   int
}

func newSearchProgress(s *Session, total uint64) *searchProgress {
	return &searchProgress{s: s, total: total, started: time.Now()}
}

func (p *searchProgress) update(scanned uint64) {
	if !p.s.Interactive || p.total == 0 {
		return
	}
	now := time.Now()
	if now.Sub(p.started) < time.Second || now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	line := fmt.Sprintf("Searching... %d%% (%s of %s)", scanned*100/p.total, searchSize(scanned), searchSize(p.total))
	pad := max(0, p.width-len(line))
	p.width = len(line)
	fmt.Fprintf(p.s.Stderr(), "\r%s%s", line, strings.Repeat(" ", pad))
}

// clear erases the progress line, if one was drawn.
func (p *searchProgress) clear() {
	if p.width > 0 {
		fmt.Fprintf(p.s.Stderr(), "\r%s\r", strings.Repeat(" ", p.width))
		p.width = 0
	}
}

// searchSize prints 1.2 GB / 340.0 MB / 12.0 KB.
func searchSize(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
}

// SearchResult is the outcome of s: the hits in address order.
type SearchResult struct {
	Type          string      `json:"type"`              // b w d q a u sa su
	Pattern       string      `json:"pattern,omitempty"` // the bytes searched for, hex
	AddressesOnly bool        `json:"addresses_only,omitempty"`
	Hits          []SearchHit `json:"hits"`
	Scanned       uint64      `json:"scanned"` // bytes of captured memory searched
	Interrupted   bool        `json:"interrupted,omitempty"`
	Truncated     bool        `json:"truncated,omitempty"` // stopped at the hit limit

	f   *dump.File
	ptr int
}

// SearchHit is one match. Values and ASCII (the memory line WinDbg prints
// after the address) are filled in when the result is printed or encoded.
type SearchHit struct {
	Address uint64    `json:"address"`
	Values  []*uint64 `json:"values,omitempty"` // null where the dump lacks the bytes
	ASCII   string    `json:"ascii,omitempty"`
	String  string    `json:"string,omitempty"` // -sa / -su
}

// hitLayout is the d* line printed after a hit address: -d like dc (4
// dwords and characters), -q like dq, -b and -a like db, -u like dW (8 words
// and characters), per the samples in §4.2. -w has no sample: dW like -u,
// by analogy (UNCONFIRMED).
func (r *SearchResult) hitLayout() dispLayout {
	var name string
	switch r.Type {
	case "d":
		name = "dc"
	case "q":
		name = "dq"
	case "w", "u":
		name = "dW"
	default:
		name = "db"
	}
	lay, _ := dispLayoutFor(name, r.ptr)
	return lay
}

// fill reads the memory line of a hit.
func (r *SearchResult) fill(h *SearchHit) (*MemoryDisplay, DisplayRow, []byte, []bool) {
	lay := r.hitLayout()
	md := &MemoryDisplay{lay: lay, f: r.f, ptr: r.ptr, Start: h.Address, Count: uint64(lay.perLine)}
	var row DisplayRow
	var b []byte
	var ok []bool
	md.eachRow(func(rw DisplayRow, bb []byte, kk []bool) bool {
		row, b, ok = rw, bb, kk
		return false
	})
	return md, row, b, ok
}

// WriteText prints one line per hit: "0x<address>" for -[1], the address
// and the quoted string for -sa/-su, else the address and its memory line.
func (r *SearchResult) WriteText(w io.Writer) {
	var line []byte
	for i := range r.Hits {
		h := &r.Hits[i]
		switch {
		case r.AddressesOnly:
			fmt.Fprintf(w, "0x%s\n", FormatAddr(r.ptr, h.Address))
		case r.Type == "sa" || r.Type == "su":
			fmt.Fprintf(w, "%s  \"%s\"\n", FormatAddr(r.ptr, h.Address), h.String)
		default:
			md, row, b, ok := r.fill(h)
			line = md.formatRow(line[:0], row, b, ok)
			w.Write(line)
		}
	}
	if r.Truncated {
		fmt.Fprintf(w, "Search stopped after %d hits\n", len(r.Hits))
	}
}

// MarshalJSON fills each hit's memory line, then encodes the result.
func (r *SearchResult) MarshalJSON() ([]byte, error) {
	type plain SearchResult
	cp := *r
	if !r.AddressesOnly && r.Type != "sa" && r.Type != "su" {
		cp.Hits = make([]SearchHit, len(r.Hits))
		for i, h := range r.Hits {
			_, row, _, _ := r.fill(&h)
			h.Values, h.ASCII = row.Values, row.ASCII
			cp.Hits[i] = h
		}
	}
	if cp.Hits == nil {
		cp.Hits = []SearchHit{}
	}
	return json.Marshal((*plain)(&cp))
}
