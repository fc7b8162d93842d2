package undname

import (
	"math"
	"strings"
)

// Limits that keep hostile input cheap: nesting depth of the recursive
// descent and size of any rendered string.
const (
	maxDepth    = 200
	maxOutput   = 1 << 16
	maxBackrefs = 10 // MSVC back-references are single digits
)

// bailout is the panic value used to abandon a parse or a rendering.
type bailout struct{}

// strictPanics lets tests see genuine bugs instead of ErrInvalid.
var strictPanics = false

// catch turns a bailout (or, outside tests, any panic) into ErrInvalid.
func catch(err *error) {
	if r := recover(); r != nil {
		if _, ok := r.(bailout); !ok && strictPanics {
			panic(r)
		}
		*err = ErrInvalid
	}
}

// nameRef is a memorized name for the digit back-references 0-9.
type nameRef struct {
	key string // LLVM rendering: identity for de-duplication, and Full output
	id  ident  // the identifier itself, rendered again for Name
}

// backrefs is the back-reference state; template argument lists get a fresh one.
type backrefs struct {
	names  []*nameRef
	params []typ
}

// parser is a recursive-descent parser over the remaining input s.
type parser struct {
	s     string
	refs  backrefs
	depth int
}

func (p *parser) fail() { panic(bailout{}) }

// enter/leave bound the recursion depth.
func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		p.fail()
	}
}

func (p *parser) leave() { p.depth-- }

func (p *parser) empty() bool { return len(p.s) == 0 }

func (p *parser) has(prefix string) bool { return strings.HasPrefix(p.s, prefix) }

func (p *parser) hasByte(c byte) bool { return len(p.s) > 0 && p.s[0] == c }

func (p *parser) hasDigit() bool { return len(p.s) > 0 && isDigit(p.s[0]) }

func (p *parser) eat(prefix string) bool {
	if strings.HasPrefix(p.s, prefix) {
		p.s = p.s[len(prefix):]
		return true
	}
	return false
}

func (p *parser) eatByte(c byte) bool {
	if len(p.s) > 0 && p.s[0] == c {
		p.s = p.s[1:]
		return true
	}
	return false
}

// next consumes and returns one byte; running out of input is an error.
func (p *parser) next() byte {
	if len(p.s) == 0 {
		p.fail()
	}
	c := p.s[0]
	p.s = p.s[1:]
	return c
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number reads <number> ::= [?] (digit | [A-P]+ @); a digit d means d+1.
func (p *parser) number() (v uint64, neg bool) {
	neg = p.eatByte('?')
	if p.hasDigit() {
		v = uint64(p.s[0]-'0') + 1
		p.s = p.s[1:]
		return v, neg
	}
	for i := 0; i < len(p.s); i++ {
		c := p.s[i]
		if c == '@' {
			p.s = p.s[i+1:]
			return v, neg
		}
		if c < 'A' || c > 'P' {
			break
		}
		v = v<<4 + uint64(c-'A')
	}
	p.fail()
	return 0, false
}

func (p *parser) unsigned() uint64 {
	v, neg := p.number()
	if neg {
		p.fail()
	}
	return v
}

func (p *parser) signed() int64 {
	v, neg := p.number()
	if v > math.MaxInt64 {
		p.fail()
	}
	if neg {
		return -int64(v)
	}
	return int64(v)
}

// symbol parses a complete decorated name (also used for nested symbols in
// template arguments and local scopes).
func (p *parser) symbol() symbol {
	p.enter()
	defer p.leave()
	if p.has(".") {
		return p.typeinfoName()
	}
	if p.has("??@") {
		return p.md5()
	}
	if !p.eatByte('?') {
		p.fail()
	}
	if s := p.specialIntrinsic(); s != nil {
		return s
	}
	return p.declarator()
}

// declarator parses <qualified name> <encoding>.
func (p *parser) declarator() symbol {
	qn := p.qualifiedSymbolName()
	conv, isConv := qn.last().(*convIdent)
	if c := p.peek(); c >= '0' && c <= '4' {
		p.s = p.s[1:]
		v := p.variableEncoding(c)
		v.name = qn
		if isConv {
			p.fail() // a conversion operator needs the function's return type
		}
		return v
	}
	f := p.functionEncoding()
	f.name = qn
	if isConv {
		if f.sig.ret == nil {
			p.fail()
		}
		conv.target = f.sig.ret
	}
	return f
}

// peek returns the next byte, or 0 at the end of the input.
func (p *parser) peek() byte {
	if len(p.s) == 0 {
		return 0
	}
	return p.s[0]
}

// variableEncoding parses <variable-type> after the storage class sc
// ('0'-'2' static members, '3' global, '4' function-local static).
func (p *parser) variableEncoding(sc byte) *varSym {
	v := &varSym{sc: sc}
	v.t = p.typ(modeDrop)
	if pt, ok := v.t.(*ptrType); ok {
		pt.quals |= p.pointerExtQuals()
		extra, _ := p.qualifiers()
		if pt.class != nil {
			p.qualifiedTypeName() // repeated class of a member pointer; not printed
		}
		*pt.pointee.q() |= extra
	} else {
		q, _ := p.qualifiers()
		*v.t.q() = q
	}
	return v
}

// functionEncoding parses the function class, optional this-adjustments and
// the function type.
func (p *parser) functionEncoding() *funcSym {
	var extra funcClass
	if p.eat("$$J0") {
		extra = fcExternC
	}
	if p.empty() {
		p.fail()
	}
	fc := p.functionClass() | extra
	var adj *thunkAdj
	switch {
	case fc&fcStaticAdj != 0:
		adj = &thunkAdj{static: uint32(p.signed())}
	case fc&fcVirtualAdj != 0:
		adj = &thunkAdj{}
		if fc&fcVirtualAdjEx != 0 {
			adj.vbptr = int32(p.signed())
			adj.vboff = int32(p.signed())
		}
		adj.vtordisp = int32(p.signed())
		adj.static = uint32(p.signed())
	}
	var sig *funcType
	if fc&fcNoParams != 0 {
		sig = &funcType{}
	} else {
		sig = p.functionType(fc&(fcGlobal|fcStatic) == 0)
	}
	sig.thunk = adj
	sig.fc = fc
	return &funcSym{sig: sig}
}

// functionClass decodes the access/kind letter of a function.
func (p *parser) functionClass() funcClass {
	c := p.next()
	switch {
	case c == '9':
		return fcExternC | fcNoParams
	case c >= 'A' && c <= 'X':
		i := c - 'A'
		access := [3]funcClass{fcPrivate, fcProtected, fcPublic}[i/8]
		kind := [4]funcClass{0, fcStatic, fcVirtual, fcStaticAdj}[(i%8)/2]
		if kind == fcStaticAdj {
			kind |= fcVirtual
			if access == fcPrivate {
				kind = fcStaticAdj // private adjustor thunks are not marked virtual
			}
		}
		fc := access | kind
		if i%2 == 1 {
			fc |= fcFar
		}
		return fc
	case c == 'Y':
		return fcGlobal
	case c == 'Z':
		return fcGlobal | fcFar
	case c == '$':
		v := fcVirtualAdj
		if p.eatByte('R') {
			v |= fcVirtualAdjEx
		}
		d := p.next()
		if d < '0' || d > '5' {
			p.fail()
		}
		access := [3]funcClass{fcPrivate, fcProtected, fcPublic}[(d-'0')/2]
		fc := access | fcVirtual | v
		if (d-'0')%2 == 1 {
			fc |= fcFar
		}
		return fc
	}
	p.fail()
	return 0
}

// callingConvention decodes a calling-convention letter; unknown letters
// print nothing (as LLVM does).
func (p *parser) callingConvention() string {
	switch p.next() {
	case 'A', 'B':
		return "__cdecl"
	case 'C', 'D':
		return "__pascal"
	case 'E', 'F':
		return "__thiscall"
	case 'G', 'H':
		return "__stdcall"
	case 'I', 'J':
		return "__fastcall"
	case 'M', 'N':
		return "__clrcall"
	case 'O', 'P':
		return "__eabi"
	case 'Q':
		return "__vectorcall"
	case 'S':
		return "__attribute__((__swiftcall__)) "
	case 'W':
		return "__attribute__((__swiftasynccall__)) "
	}
	return ""
}

// qualifiers decodes a cv-qualifier letter and whether it is a member's.
func (p *parser) qualifiers() (quals, bool) {
	switch p.next() {
	case 'Q':
		return 0, true
	case 'R':
		return qConst, true
	case 'S':
		return qVolatile, true
	case 'T':
		return qConst | qVolatile, true
	case 'A':
		return 0, false
	case 'B':
		return qConst, false
	case 'C':
		return qVolatile, false
	case 'D':
		return qConst | qVolatile, false
	}
	p.fail()
	return 0, false
}

// pointerExtQuals reads the optional E (__ptr64), I (__restrict), F (__unaligned).
func (p *parser) pointerExtQuals() quals {
	var q quals
	if p.eatByte('E') {
		q |= qPtr64
	}
	if p.eatByte('I') {
		q |= qRestrict
	}
	if p.eatByte('F') {
		q |= qUnaligned
	}
	return q
}
