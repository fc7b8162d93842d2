package expr

import "strings"

type tokKind int

const (
	tokEOL   tokKind = iota // end of input, ';', or the " L" of a range
	tokValue                // number, symbol, register: val holds its value
	tokErr                  // cannot be lexed or resolved; raised only when consumed
	tokLParen
	tokRParen
	tokLBrack
	tokRBrack
	tokComma
	tokFunc // $vvalid, $iment, $scmp, $sicmp, $spat; val holds which
	// unary operators
	tokNot
	tokHi
	tokLow
	tokBy
	tokWo
	tokDwo
	tokQwo
	tokPoi
	// binary operators; + and - are unary too
	tokAdd
	tokSub
	tokMul
	tokDiv
	tokMod
	tokShl
	tokShr // logical
	tokSar // arithmetic
	tokEq
	tokNe
	tokLt
	tokGt
	tokLe
	tokGe
	tokAnd
	tokXor
	tokOr
)

const (
	funcVvalid = iota
	funcIment
	funcScmp
	funcSicmp
	funcSpat
)

type token struct {
	kind       tokKind
	val        uint64
	start, end int
	err        ErrorKind // for tokErr
}

// reserved are MASM's operator words; they win over symbols of the same name.
var reserved = map[string]tokKind{
	"or": tokOr, "xor": tokXor, "and": tokAnd, "mod": tokMod,
	"not": tokNot, "hi": tokHi, "low": tokLow,
	"by": tokBy, "wo": tokWo, "dwo": tokDwo, "qwo": tokQwo, "poi": tokPoi,
}

// x86Reserved are the registers dbgeng resolves before symbols, so "eax" is
// the register even if a symbol eax exists. Other registers (rax, r8, ...)
// are tried after symbols.
var x86Reserved = map[string]bool{
	"eax": true, "ebx": true, "ecx": true, "edx": true, "esi": true,
	"edi": true, "ebp": true, "esp": true, "eip": true, "efl": true,
}

// signExtended are 32-bit registers, which MASM always sign extends
// (sign-extension.md: "A 32-bit register is sign extended in both modes").
var signExtended = map[string]bool{
	"eax": true, "ebx": true, "ecx": true, "edx": true, "esi": true,
	"edi": true, "ebp": true, "esp": true, "eip": true, "efl": true,
	"r8d": true, "r9d": true, "r10d": true, "r11d": true,
	"r12d": true, "r13d": true, "r14d": true, "r15d": true,
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func skipSpace(s string, i, limit int) int {
	for i < limit && isSpace(s[i]) {
		i++
	}
	return i
}

// isIdentStart: characters a name can begin with (digits begin numbers).
func isIdentStart(c byte) bool { return isLetter(c) || isDigit(c) || c == '_' || c == '$' }

// isIdentChar: characters that continue any word ('~' for destructors).
func isIdentChar(c byte) bool { return isIdentStart(c) || c == '~' }

// lex reads the token at i without consuming it; symbols and registers are
// resolved here, as dbgeng does, so that "abc" can fall back from number to
// symbol to register.
func (p *parser) lex(i int) token {
	s, lim := p.src, p.limit
	i = skipSpace(s, i, lim)
	p.lexStart = i
	if i >= lim || s[i] == ';' {
		return token{kind: tokEOL, start: i, end: i}
	}
	op := func(k tokKind, n int) token { return token{kind: k, start: i, end: i + n} }
	next := byte(0)
	if i+1 < lim {
		next = s[i+1]
	}
	switch c := s[i]; c {
	case '+':
		return op(tokAdd, 1)
	case '-':
		return op(tokSub, 1)
	case '*':
		return op(tokMul, 1)
	case '/':
		return op(tokDiv, 1)
	case '%':
		return op(tokMod, 1)
	case '&':
		return op(tokAnd, 1)
	case '|':
		return op(tokOr, 1)
	case '^':
		return op(tokXor, 1)
	case '(':
		return op(tokLParen, 1)
	case ')':
		return op(tokRParen, 1)
	case '[':
		return op(tokLBrack, 1)
	case ']':
		return op(tokRBrack, 1)
	case ',':
		return op(tokComma, 1)
	case '~':
		// dbgeng lexes ~ as UNOP_NOT, the logical not (1 if zero), not a
		// bitwise complement.
		return op(tokNot, 1)
	case '=':
		if next == '=' {
			return op(tokEq, 2)
		}
		return op(tokEq, 1)
	case '<':
		switch next {
		case '<':
			return op(tokShl, 2)
		case '=':
			return op(tokLe, 2)
		}
		return op(tokLt, 1)
	case '>':
		switch {
		case next == '>' && i+2 < lim && s[i+2] == '>':
			return op(tokSar, 3)
		case next == '>':
			return op(tokShr, 2)
		case next == '=':
			return op(tokGe, 2)
		}
		return op(tokGt, 1)
	case '!':
		if next == '=' {
			return op(tokNe, 2)
		}
		// '!' is not a unary operator in MASM: it forces a symbol ("!1" is
		// a symbol named 1).
		return p.lexWord(i, i+1, true)
	case '.':
		// The current instruction pointer.
		if v, ok := p.register("$ip"); ok {
			return token{kind: tokValue, val: v, start: i, end: i + 1}
		}
		return token{kind: tokErr, err: ErrBadRegister, start: i, end: i + 1}
	case '`':
		return p.lexSourceLine(i)
	case '\'':
		return p.lexChars(i)
	case '@':
		switch next {
		case '@':
			return p.lexEvaluator(i)
		case '!':
			if i+2 < lim && s[i+2] == '"' {
				return p.lexQuotedSymbol(i)
			}
		}
		return p.lexRegister(i)
	}
	if isIdentStart(s[i]) {
		return p.lexWord(i, i, false)
	}
	return token{kind: tokErr, err: ErrSyntax, start: i, end: i + 1}
}

// lexRegister reads "@name": a register, or a pseudo-register for "@$name".
func (p *parser) lexRegister(i int) token {
	j := i + 1
	for j < p.limit && isIdentChar(p.src[j]) {
		j++
	}
	if j > i+1 {
		if v, ok := p.register(strings.ToLower(p.src[i+1 : j])); ok {
			return token{kind: tokValue, val: v, start: i, end: j}
		}
	}
	return token{kind: tokErr, err: ErrBadRegister, start: i, end: j}
}

// lexWord reads a name or number starting at w (the token starts at i, before
// a '!' prefix when forced). Resolution order is dbgeng's: number in the
// current radix, operator word, x86 register, module!symbol, symbol,
// register; "!name" resolves only as a symbol.
func (p *parser) lexWord(i, w int, forced bool) token {
	s, lim := p.src, p.limit
	digitStart := w < lim && isDigit(s[w])
	j := w
	plain := true // no "::" or '.', so it may be a number or operator word
scan:
	for j < lim {
		c := s[j]
		switch {
		case isIdentChar(c):
			j++
		case c == ':' && j+1 < lim && s[j+1] == ':':
			j += 2
			plain = false
		case c == '`' && (forced || (j > w && isHexDigit(s[j-1])) || (j == w+2 && s[w] == '0' && s[w+1]|0x20 == 'x')):
			j++
		case c == '\'' && forced:
			j++
		case c == '.' && !digitStart && j > w && j+1 < lim && isIdentStart(s[j+1]):
			// Extension: module or symbol names with dots ("foo.bar",
			// Go's "main.main"); dbgeng would read '.' as $ip here.
			j++
			plain = false
		default:
			break scan
		}
	}
	word := s[w:j]
	if word == "" {
		return token{kind: tokErr, err: ErrSyntax, start: i, end: j}
	}
	if j < lim && s[j] == '!' && !(j+1 < lim && s[j+1] == '=') {
		return p.lexQualified(i, word, j+1)
	}
	tok := token{start: i, end: j, kind: tokValue}
	fail := func(k ErrorKind) token { return token{kind: tokErr, err: k, start: i, end: j} }
	if forced {
		if v, ok := p.env.Symbol(word); ok {
			tok.val = v
			return tok
		}
		return fail(ErrCouldntResolve)
	}
	status := numInvalid
	lower := strings.ToLower(word)
	if plain {
		var v uint64
		if v, status = parseNumber(word, p.radix); status == numOK {
			tok.val = v
			return tok
		}
		if k, ok := reserved[lower]; ok {
			tok.kind = k
			return tok
		}
		if x86Reserved[lower] {
			if v, ok := p.register(lower); ok {
				tok.val = v
				return tok
			}
		}
	}
	if !digitStart {
		if fn, ok := functions[lower]; ok && p.peekParen(j) {
			return token{kind: tokFunc, val: fn, start: i, end: j}
		}
		if v, ok := p.env.Symbol(word); ok {
			tok.val = v
			return tok
		}
	}
	if plain {
		if v, ok := p.register(lower); ok {
			tok.val = v
			return tok
		}
	}
	switch {
	case status == numOverflow:
		return fail(ErrOverflow)
	case digitStart:
		return fail(ErrSyntax)
	}
	return fail(ErrCouldntResolve)
}

var functions = map[string]uint64{
	"$vvalid": funcVvalid, "$iment": funcIment,
	"$scmp": funcScmp, "$sicmp": funcSicmp, "$spat": funcSpat,
}

func (p *parser) peekParen(j int) bool {
	j = skipSpace(p.src, j, p.limit)
	return j < p.limit && p.src[j] == '('
}

// lexQualified reads the symbol after "module!" (k indexes its first
// character). Besides name characters it takes "::", "::~", and the ` and '
// of names like CFoo::`vftable'; '?', '@' and inner '.' are accepted too so
// that decorated names (_func@8, ??_7CFoo@@6B@) can be typed.
func (p *parser) lexQualified(i int, module string, k int) token {
	s, lim := p.src, p.limit
	j := k
scan:
	for j < lim {
		c := s[j]
		switch {
		case isIdentStart(c) || c == '`' || c == '\'' || c == '?' || c == '@':
			j++
		case c == ':' && j+1 < lim && s[j+1] == ':':
			j += 2
			if j < lim && s[j] == '~' {
				j++
			}
		case c == '.' && j > k && j+1 < lim && isIdentStart(s[j+1]):
			j++
		default:
			break scan
		}
	}
	if j == k {
		return token{kind: tokErr, err: ErrSyntax, start: i, end: j}
	}
	if v, ok := p.env.Symbol(module + "!" + s[k:j]); ok {
		return token{kind: tokValue, val: v, start: i, end: j}
	}
	return token{kind: tokErr, err: ErrCouldntResolve, start: i, end: j}
}

// lexQuotedSymbol reads @!"name", which takes any characters up to the
// closing quote ("app!operator<" cannot be typed otherwise).
func (p *parser) lexQuotedSymbol(i int) token {
	k := i + 3
	j := strings.IndexByte(p.src[k:p.limit], '"')
	if j < 0 {
		return token{kind: tokErr, err: ErrSyntax, start: i, end: p.limit}
	}
	end := k + j + 1
	if v, ok := p.env.Symbol(p.src[k : k+j]); ok && j > 0 {
		return token{kind: tokValue, val: v, start: i, end: end}
	}
	return token{kind: tokErr, err: ErrCouldntResolve, start: i, end: end}
}

// lexSourceLine reads `file.c:43`. UNCONFIRMED: the text when the line is
// unknown; dbgeng's NOTFOUND is assumed to read like an unknown symbol.
func (p *parser) lexSourceLine(i int) token {
	j := i + 1
	for j < p.limit && p.src[j] != '`' && p.src[j] != ';' {
		j++
	}
	if j >= p.limit || p.src[j] != '`' {
		return token{kind: tokErr, err: ErrSyntax, start: i, end: j}
	}
	if le, ok := p.env.(LineEnv); ok {
		if v, ok := le.SourceLine(p.src[i+1 : j]); ok {
			return token{kind: tokValue, val: v, start: i, end: j + 1}
		}
	}
	return token{kind: tokErr, err: ErrCouldntResolve, start: i, end: j + 1}
}

// lexChars reads a character constant: 'abcd' is 0x61626364; \x takes x
// literally and ” is a quote.
func (p *parser) lexChars(i int) token {
	var v uint64
	j := i + 1
	for {
		if j >= p.limit {
			return token{kind: tokErr, err: ErrSyntax, start: i, end: j}
		}
		c := p.src[j]
		j++
		if c == '\'' {
			if j >= p.limit || p.src[j] != '\'' {
				break
			}
			j++
		} else if c == '\\' && j < p.limit {
			c = p.src[j]
			j++
		}
		v = v<<8 | uint64(c)
	}
	return token{kind: tokValue, val: v, start: i, end: j}
}

// lexEvaluator reads "@@masm(" (and "@@(", "@@c++(") and returns it as an
// opening parenthesis: a nested MASM expression is just a parenthesised one.
// The C++ evaluator is not implemented; its sub-expressions are a syntax
// error.
func (p *parser) lexEvaluator(i int) token {
	j := i + 2
	for j < p.limit && p.src[j] != '(' && p.src[j] != ';' {
		j++
	}
	if j >= p.limit || p.src[j] != '(' || !strings.EqualFold(p.src[i+2:j], "masm") {
		return token{kind: tokErr, err: ErrSyntax, start: i, end: j}
	}
	return token{kind: tokLParen, start: i, end: j + 1}
}

// register reads a register ("eax") or pseudo-register ("$t0") by its
// lower-case name, sign extending 32-bit registers as MASM does.
func (p *parser) register(name string) (uint64, bool) {
	if strings.HasPrefix(name, "$") {
		if v, ok := p.env.PseudoRegister(name); ok {
			return v, true
		}
		if name == "$ptrsize" {
			return uint64(p.ptrSize), true
		}
		return 0, false
	}
	v, ok := p.env.Register(name)
	if ok && signExtended[name] {
		v = uint64(int64(int32(uint32(v))))
	}
	return v, ok
}
