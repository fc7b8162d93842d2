package expr

// Range is an address range argument: "addr", "addr L count", "addr L?count",
// "addr L-count" or "addr end" (inclusive end).
//
// With an L count, Length counts items of the command's unit (dd L2 is 8
// bytes), so only the caller can size it: use Items. With an end address,
// ByteLength is set, End holds the inclusive end and Length = End-Start+1
// bytes.
type Range struct {
	Start      uint64
	Length     uint64 // item count (L forms) or byte count (ByteLength)
	HasLength  bool   // an L count or an end address was given
	ByteLength bool   // "start end" form: End is set, Length is in bytes
	End        uint64 // inclusive end address when ByteLength
	NoLimit    bool   // L?: no 256 MB sanity limit
	Backward   bool   // L-count: the Length items end just before Start

	text string // the parsed text and the caret column for a Range error
	pos  int
}

// RangeLimit is WinDbg's sanity limit on a range size; "L?" lifts it.
const RangeLimit = 256 << 20

// ParseRange parses a range at the start of s and returns the rest.
func ParseRange(s string, env Env) (r Range, rest string, err error) {
	return Evaluator{Env: env}.ParseRange(s)
}

// ParseRange parses a range with the evaluator's radix.
//
// Like dbgeng, a length is recognised by a space followed by 'L' or 'l'
// anywhere before ';' (so "esp L10" and "poi(x) l0n10" work and a symbol
// cannot start with l after a space); the scan also stops at a '"' so that a
// search pattern cannot hold the L. After the start address, anything that
// can begin an expression is read as the end address; other text (such as a
// quoted pattern) is left in rest. On 32-bit targets addresses are truncated
// to 32 bits.
func (ev Evaluator) ParseRange(s string) (Range, string, error) {
	i := skipSpace(s, 0, len(s))
	lpos := -1
	for k, space := i, false; k < len(s); k++ {
		c := s[k]
		if (c == 'L' || c == 'l') && space {
			lpos = k
			break
		}
		if c == ';' || c == '"' {
			break
		}
		space = c == ' ' || c == '\t'
	}
	limit := len(s)
	if lpos >= 0 {
		limit = lpos
	}
	p := ev.newParser(s, limit, ErrAddressMissing)
	start, err := p.parse(i)
	if err != nil {
		return Range{}, s, err
	}
	r := Range{Start: p.address(start), text: s}
	j := skipSpace(s, p.consumed, limit)

	if lpos >= 0 {
		if j < limit {
			// dbgeng silently skips text between the start and the L
			// ("10 20 L4" dumps from 10); reporting it is kinder.
			return Range{}, s, &Error{Kind: ErrExtraCharacter, At: s, Pos: j}
		}
		k := lpos + 1
		if k < len(s) && s[k] == '-' {
			r.Backward = true
			k++
		}
		if k < len(s) && s[k] == '?' {
			r.NoLimit = true
			k++
		}
		q := ev.newParser(s, len(s), ErrLengthMissing)
		n, err := q.parse(k)
		if err != nil {
			return Range{}, s, err
		}
		r.Length, r.HasLength, r.pos = n, true, q.consumed-1
		return r, s[skipSpace(s, q.consumed, len(s)):], nil
	}

	if j < len(s) && beginsExpr(s[j]) {
		q := ev.newParser(s, len(s), ErrAddressMissing)
		end, err := q.parse(j)
		if err != nil {
			return Range{}, s, err
		}
		end = q.address(end)
		r.pos = q.consumed - 1
		if end < r.Start {
			return Range{}, s, &Error{Kind: ErrRange, At: s, Pos: r.pos}
		}
		r.End, r.Length, r.HasLength, r.ByteLength = end, end-r.Start+1, true, true
		return r, s[skipSpace(s, q.consumed, len(s)):], nil
	}
	return r, s[j:], nil
}

// beginsExpr tells whether c can start an expression (for the end address).
func beginsExpr(c byte) bool {
	if isIdentStart(c) {
		return true
	}
	switch c {
	case '@', '!', '(', '[', '.', '`', '\'', '+', '-', '~', '%', '&', '#':
		return true
	}
	return false
}

// Items resolves the range for a command whose unit is itemSize bytes: the
// first address and the number of items, defaultCount when no length was
// given. A range over RangeLimit bytes without L? is a Range error, as is an
// L- range reaching below address 0.
func (r Range) Items(itemSize, defaultCount uint64) (start, count uint64, err error) {
	if itemSize == 0 {
		itemSize = 1
	}
	start, count = r.Start, defaultCount
	switch {
	case !r.HasLength:
		return start, count, nil
	case r.ByteLength:
		count = (r.End-r.Start)/itemSize + 1
	default:
		count = r.Length
	}
	if !r.NoLimit && count > RangeLimit/itemSize {
		return 0, 0, &Error{Kind: ErrRange, At: r.text, Pos: r.pos}
	}
	if r.Backward {
		back := count * itemSize
		if count > ^uint64(0)/itemSize || back > start {
			return 0, 0, &Error{Kind: ErrRange, At: r.text, Pos: r.pos}
		}
		start -= back
	}
	return start, count, nil
}
