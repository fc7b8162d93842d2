package expr

import "strings"

// parser is a recursive-descent MASM evaluator with one token of lookahead,
// shaped like dbgeng's so that errors quote the same position: the start of
// the most recently lexed token, peeked or not ("Memory access error at ')'"
// for "dwo(1)").
type parser struct {
	src      string
	limit    int // lexing stops here: len(src), or the " L" of a range
	env      Env
	radix    int
	ptrSize  int
	missing  ErrorKind // reported when an operand is missing
	pos      int       // where the next token is lexed
	consumed int       // end of the last consumed token
	peeked   bool
	next     token
	lexStart int
	depth    int
}

// maxDepth bounds nesting of parentheses and unary operators so hostile
// input cannot exhaust the stack.
const maxDepth = 256

// parse evaluates one expression starting at start. Errors travel as panics
// of *Error (like dbgeng's exceptions) and are recovered here.
func (p *parser) parse(start int) (v uint64, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*Error)
			if !ok {
				panic(r)
			}
			err = e
		}
	}()
	i := skipSpace(p.src, start, p.limit)
	// Address-mode prefixes (% flat, & V86, # 16-bit) are accepted and
	// ignored: minidump addresses are always flat.
	if i < p.limit && (p.src[i] == '%' || p.src[i] == '&' || p.src[i] == '#') {
		i++
	}
	p.pos, p.consumed, p.peeked = i, i, false
	return p.orExpr(), nil
}

func (p *parser) peek() token {
	if !p.peeked {
		p.next = p.lex(p.pos)
		p.peeked = true
	}
	return p.next
}

// get consumes the next token, raising its error if it is one.
func (p *parser) get() token {
	t := p.peek()
	p.peeked = false
	p.pos = t.end
	if t.kind == tokErr {
		p.failAt(t.err, t.start)
	}
	p.consumed = t.end
	return t
}

func (p *parser) fail(k ErrorKind) { p.failAt(k, p.lexStart) }

func (p *parser) failAt(k ErrorKind, at int) {
	panic(&Error{Kind: k, At: p.src[at:p.limit], Pos: at})
}

func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		p.fail(ErrOverflow)
	}
}

// Binary operators, lowest precedence first: or, xor, and, comparisons,
// shifts, + -, * / mod. The and/xor/or levels follow the documented table
// (masm-numbers-and-operators.md); dbgeng's 2002 source parsed the three at
// one level, left to right.

func (p *parser) orExpr() uint64 {
	v := p.xorExpr()
	for p.peek().kind == tokOr {
		p.get()
		v |= p.xorExpr()
	}
	return v
}

func (p *parser) xorExpr() uint64 {
	v := p.andExpr()
	for p.peek().kind == tokXor {
		p.get()
		v ^= p.andExpr()
	}
	return v
}

func (p *parser) andExpr() uint64 {
	v := p.relExpr()
	for p.peek().kind == tokAnd {
		p.get()
		v &= p.relExpr()
	}
	return v
}

// relExpr compares as signed 64-bit numbers, as dbgeng does (LONG64), so
// "-1 < 1" is 1.
func (p *parser) relExpr() uint64 {
	v := p.shiftExpr()
	for {
		k := p.peek().kind
		if k < tokEq || k > tokGe {
			return v
		}
		p.get()
		a, b := int64(v), int64(p.shiftExpr())
		var r bool
		switch k {
		case tokEq:
			r = a == b
		case tokNe:
			r = a != b
		case tokLt:
			r = a < b
		case tokGt:
			r = a > b
		case tokLe:
			r = a <= b
		case tokGe:
			r = a >= b
		}
		v = 0
		if r {
			v = 1
		}
	}
}

// shiftExpr: << and >> are logical, >>> arithmetic. The count is taken
// modulo 64 like the x64 shift instructions dbgeng compiles to
// (UNCONFIRMED for counts of 64 and more).
func (p *parser) shiftExpr() uint64 {
	v := p.addExpr()
	for {
		k := p.peek().kind
		if k != tokShl && k != tokShr && k != tokSar {
			return v
		}
		p.get()
		n := p.addExpr() & 63
		switch k {
		case tokShl:
			v <<= n
		case tokShr:
			v >>= n
		case tokSar:
			v = uint64(int64(v) >> n)
		}
	}
}

func (p *parser) addExpr() uint64 {
	v := p.mulExpr()
	for {
		k := p.peek().kind
		if k != tokAdd && k != tokSub {
			return v
		}
		p.get()
		w := p.mulExpr()
		if k == tokAdd {
			v += w
		} else {
			v -= w
		}
	}
}

// mulExpr divides as signed numbers (dbgeng uses LONG64: "-4/2" is -2);
// dividing by zero is dbgeng's "Operand error".
func (p *parser) mulExpr() uint64 {
	v := p.unary()
	for {
		k := p.peek().kind
		if k != tokMul && k != tokDiv && k != tokMod {
			return v
		}
		p.get()
		w := p.unary()
		switch {
		case k == tokMul:
			v *= w
		case w == 0:
			p.fail(ErrOperand)
		case k == tokDiv:
			v = uint64(int64(v) / int64(w))
		default:
			v = uint64(int64(v) % int64(w))
		}
	}
}

// unary applies prefix operators, which bind tighter than any binary one:
// "poi x+8" is poi(x)+8.
func (p *parser) unary() uint64 {
	t := p.peek()
	switch t.kind {
	case tokAdd, tokSub, tokNot, tokHi, tokLow, tokBy, tokWo, tokDwo, tokQwo, tokPoi:
	default:
		return p.term()
	}
	p.get()
	p.enter()
	v := p.unary()
	p.depth--
	switch t.kind {
	case tokSub:
		return -v
	case tokNot:
		if v == 0 {
			return 1
		}
		return 0
	case tokHi:
		return uint64(uint32(v) >> 16)
	case tokLow:
		return v & 0xffff
	case tokBy:
		return p.read(v, 1)
	case tokWo:
		return p.read(v, 2)
	case tokDwo:
		return p.read(v, 4)
	case tokQwo:
		return p.read(v, 8)
	case tokPoi:
		if p.ptrSize == 4 {
			// dbgeng reads pointers with ReadPointer, which sign extends
			// 32-bit pointers.
			return uint64(int64(int32(uint32(p.read(v, 4)))))
		}
		return p.read(v, 8)
	}
	return v // unary +
}

func (p *parser) term() uint64 {
	t := p.get()
	switch t.kind {
	case tokValue:
		return t.val
	case tokLParen, tokLBrack:
		p.enter()
		v := p.orExpr()
		p.depth--
		want := tokRParen
		if t.kind == tokLBrack {
			want = tokRBrack
		}
		if p.get().kind != want {
			p.fail(ErrSyntax)
		}
		return v
	case tokFunc:
		return p.call(t.val)
	}
	p.fail(p.missing)
	return 0
}

// call evaluates $vvalid(Address, Length), $iment(Address) and the string
// functions.
func (p *parser) call(fn uint64) uint64 {
	if p.get().kind != tokLParen {
		p.fail(ErrSyntax)
	}
	if fn >= funcScmp {
		return p.callStrings(fn)
	}
	p.enter()
	defer func() { p.depth-- }()
	a := p.orExpr()
	var n uint64
	if fn == funcVvalid {
		if p.get().kind != tokComma {
			p.fail(ErrSyntax)
		}
		n = p.orExpr()
	}
	if p.get().kind != tokRParen {
		p.fail(ErrSyntax)
	}
	if fn == funcIment {
		// Entry point = base + OptionalHeader.AddressOfEntryPoint.
		lfanew := p.read(a+0x3c, 4)
		return a + p.read(a+lfanew+0x28, 4)
	}
	return p.valid(a, n)
}

// valid is $vvalid: 1 when all n bytes from addr are readable.
func (p *parser) valid(addr, n uint64) uint64 {
	addr = p.address(addr)
	if addr+n < addr {
		return 0
	}
	const chunk = 64 << 10
	for n > 0 {
		size := min(n, chunk)
		if b, err := p.env.ReadMemory(addr, int(size)); err != nil || uint64(len(b)) < size {
			return 0
		}
		addr += size
		n -= size
	}
	return 1
}

// read is by/wo/dwo/qwo: size bytes, little-endian, zero extended.
func (p *parser) read(addr uint64, size int) uint64 {
	b, err := p.env.ReadMemory(p.address(addr), size)
	if err != nil || len(b) < size {
		p.fail(ErrMemoryAccess)
	}
	var v uint64
	for i := size - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// address makes v a target address: 32-bit targets see only the low half
// (registers and poi values may arrive sign extended).
func (p *parser) address(v uint64) uint64 {
	if p.ptrSize == 4 {
		return uint64(uint32(v))
	}
	return v
}

// callStrings evaluates $scmp, $sicmp and $spat("String", "Pattern"). The
// arguments are read without the lexer, so any error in them is reported at
// the '(' as WinDbg does:
//
//	? $spat( "c:\dir\", "*filename*" )
//	Syntax error at '( "c:\dir\", "*filename*" )'
func (p *parser) callStrings(fn uint64) uint64 {
	a, i, ok := p.stringLit(p.pos)
	if i = skipSpace(p.src, i, p.limit); !ok || i >= p.limit || p.src[i] != ',' {
		p.fail(ErrSyntax)
	}
	b, i, ok := p.stringLit(i + 1)
	if i = skipSpace(p.src, i, p.limit); !ok || i >= p.limit || p.src[i] != ')' {
		p.fail(ErrSyntax)
	}
	p.pos, p.consumed = i+1, i+1
	switch fn {
	case funcSpat:
		if MatchWildcard(b, a) {
			return 1
		}
		return 0
	case funcSicmp:
		a, b = strings.ToLower(a), strings.ToLower(b)
	}
	return uint64(int64(strings.Compare(a, b)))
}

// stringLit reads "text" with C escapes (\n, \", \\ ...) or @"text", taken
// literally.
func (p *parser) stringLit(i int) (string, int, bool) {
	s, lim := p.src, p.limit
	i = skipSpace(s, i, lim)
	raw := i+1 < lim && s[i] == '@' && s[i+1] == '"'
	if raw {
		i++
	}
	if i >= lim || s[i] != '"' {
		return "", i, false
	}
	var b strings.Builder
	for i++; i < lim; i++ {
		c := s[i]
		switch {
		case c == '"':
			return b.String(), i + 1, true
		case c == '\\' && !raw && i+1 < lim:
			i++
			c = unescape(s[i])
		}
		b.WriteByte(c)
	}
	return "", i, false
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 't':
		return '\t'
	case 'r':
		return '\r'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	case 'f':
		return '\f'
	case 'v':
		return '\v'
	case '0':
		return 0
	}
	return c
}
