// Package expr evaluates WinDbg MASM expressions: numbers in the current
// radix, registers, pseudo-registers, module!symbol names, poi/dwo/... memory
// reads and MASM operator precedence, with WinDbg's error texts.
//
// Semantics follow dbgeng's MASM evaluator: arithmetic is 64-bit, division,
// modulus and comparisons are signed, numeric constants are never sign
// extended (user mode) while 32-bit registers and 32-bit poi reads are.
package expr

// Env is what an expression can look at; the debugger session implements it.
type Env interface {
	PointerSize() int                                 // 4 or 8
	ReadMemory(addr uint64, size int) ([]byte, error) // for poi/dwo/qwo/wo/by; error when not readable
	Register(name string) (uint64, bool)              // lower-case name without '@': "eax", "rip", "r8d", "zf"
	PseudoRegister(name string) (uint64, bool)        // lower-case name with '$': "$ip", "$t0", ...
	Symbol(name string) (uint64, bool)                // "module!symbol", "module" (base) or bare symbol
}

// LineEnv is optionally implemented by an Env that knows source lines, for
// `file.c:43` expressions.
type LineEnv interface {
	SourceLine(spec string) (uint64, bool)
}

// Evaluator evaluates with a chosen default radix (the n command).
type Evaluator struct {
	Env   Env
	Radix int // default radix of unprefixed numbers: 16 (also when 0), 10, 8 or 2
}

// Eval evaluates s, which must hold exactly one expression.
func Eval(s string, env Env) (uint64, error) { return Evaluator{Env: env}.Eval(s) }

// ParseExpr evaluates the expression at the start of s, greedily (spaces may
// separate operators and operands: "1 + 2" is 3), stopping before the first
// token that cannot continue it. rest is the unparsed remainder without
// leading white space.
func ParseExpr(s string, env Env) (val uint64, rest string, err error) {
	return Evaluator{Env: env}.ParseExpr(s)
}

// ParseAddress is ParseExpr for an address argument: a missing operand is
// reported as "Address expression missing from" and 32-bit targets get the
// value truncated to 32 bits.
func ParseAddress(s string, env Env) (addr uint64, rest string, err error) {
	return Evaluator{Env: env}.ParseAddress(s)
}

// Eval evaluates s, which must hold exactly one expression; trailing text is
// an "Extra character" error.
func (ev Evaluator) Eval(s string) (uint64, error) {
	p := ev.newParser(s, len(s), ErrNumericMissing)
	v, err := p.parse(0)
	if err != nil {
		return 0, err
	}
	if i := skipSpace(s, p.consumed, len(s)); i < len(s) {
		return 0, &Error{Kind: ErrExtraCharacter, At: s, Pos: i}
	}
	return v, nil
}

// ParseExpr is the package-level ParseExpr with the evaluator's radix.
func (ev Evaluator) ParseExpr(s string) (uint64, string, error) {
	p := ev.newParser(s, len(s), ErrNumericMissing)
	v, err := p.parse(0)
	if err != nil {
		return 0, s, err
	}
	return v, s[skipSpace(s, p.consumed, len(s)):], nil
}

// ParseAddress is the package-level ParseAddress with the evaluator's radix.
func (ev Evaluator) ParseAddress(s string) (uint64, string, error) {
	p := ev.newParser(s, len(s), ErrAddressMissing)
	v, err := p.parse(0)
	if err != nil {
		return 0, s, err
	}
	return p.address(v), s[skipSpace(s, p.consumed, len(s)):], nil
}

func (ev Evaluator) newParser(s string, limit int, missing ErrorKind) *parser {
	radix := ev.Radix
	switch radix {
	case 2, 8, 10, 16:
	default:
		radix = 16
	}
	env := ev.Env
	if env == nil {
		env = noEnv{}
	}
	ptr := env.PointerSize()
	if ptr != 4 {
		ptr = 8
	}
	return &parser{src: s, limit: limit, env: env, radix: radix, ptrSize: ptr, missing: missing}
}

// noEnv stands in for a nil Env: nothing resolves and no memory is readable.
type noEnv struct{}

func (noEnv) PointerSize() int                       { return 8 }
func (noEnv) ReadMemory(uint64, int) ([]byte, error) { return nil, errNoMemory }
func (noEnv) Register(string) (uint64, bool)         { return 0, false }
func (noEnv) PseudoRegister(string) (uint64, bool)   { return 0, false }
func (noEnv) Symbol(string) (uint64, bool)           { return 0, false }

var errNoMemory = &Error{Kind: ErrMemoryAccess}
