package undname

import "strings"

// symbol is a parsed decorated name.
type symbol interface {
	qn() *qname // nil for string literals
}

// md5Sym is a hashed name (??@<md5>@), kept verbatim.
type md5Sym struct{ raw string }

// funcSym is a function (or thunk).
type funcSym struct {
	name *qname
	sig  *funcType
}

// varSym is a variable or an untyped compiler-generated datum (t == nil).
type varSym struct {
	name *qname
	t    typ
	sc   byte // storage class '0'-'4', 0 for none
}

// typeDescSym is "<type> `RTTI Type Descriptor'" (??_R0) or a type name
// string (".?AV...").
type typeDescSym struct {
	t    typ
	what string
}

// tableSym is a vftable, vbtable, local vftable or complete object locator.
type tableSym struct {
	name    *qname
	quals   quals
	targets []*qname // {for `A's `B'}
}

// guardSym is a local static guard variable.
type guardSym struct{ name *qname }

// strSym is a string literal (??_C@_...).
type strSym struct {
	prefix    string // `"`, `L"`, `u"` or `U"`
	text      string // escaped, without the terminating NUL
	truncated bool
}

func (s *md5Sym) qn() *qname {
	return &qname{parts: []ident{&namedIdent{name: s.raw}}}
}
func (s *funcSym) qn() *qname     { return s.name }
func (s *varSym) qn() *qname      { return s.name }
func (s *typeDescSym) qn() *qname { return &qname{parts: []ident{&namedIdent{name: s.what}}} }
func (s *tableSym) qn() *qname    { return s.name }
func (s *guardSym) qn() *qname    { return s.name }
func (s *strSym) qn() *qname      { return nil }

// specialIntrinsic parses the ??_X forms that are not plain functions, or
// returns nil when the name is an ordinary declarator.
func (p *parser) specialIntrinsic() symbol {
	switch {
	case p.eat("?_7"):
		return p.table("`vftable'")
	case p.eat("?_8"):
		return p.table("`vbtable'")
	case p.eat("?_9"):
		return p.vcallThunk()
	case p.eat("?_A"), p.eat("?_P"):
		p.fail() // typeof, udt returning: never seen in practice
	case p.eat("?_B"):
		return p.localStaticGuard(false)
	case p.eat("?_C"):
		return p.stringLiteral()
	case p.eat("?_R0"):
		t := p.typ(modeResult)
		if !p.eat("@8") || !p.empty() {
			p.fail()
		}
		return &typeDescSym{t: t, what: "`RTTI Type Descriptor'"}
	case p.eat("?_R1"):
		id := &bcdIdent{nv: uint32(p.unsigned()), vbptr: int32(p.signed()), vbtable: uint32(p.unsigned()), flags: uint32(p.unsigned())}
		v := &varSym{name: p.scopeChain(id)}
		p.eatByte('8')
		return v
	case p.eat("?_R2"):
		return p.untypedVariable("`RTTI Base Class Array'")
	case p.eat("?_R3"):
		return p.untypedVariable("`RTTI Class Hierarchy Descriptor'")
	case p.eat("?_R4"):
		return p.table("`RTTI Complete Object Locator'")
	case p.eat("?_S"):
		return p.table("`local vftable'")
	case p.eat("?__E"):
		return p.initFini(false)
	case p.eat("?__F"):
		return p.initFini(true)
	case p.eat("?__J"):
		return p.localStaticGuard(true)
	}
	return nil
}

// table parses <scope>@ 6|7 <quals> [<target names>] @. llvm-undname 14
// reads at most one target and ignores what follows it; we also print
// further well-formed targets ({for `A's `B'}) as newer LLVM and undname do.
func (p *parser) table(name string) symbol {
	t := &tableSym{name: p.scopeChain(&namedIdent{name: name})}
	if c := p.next(); c != '6' && c != '7' {
		p.fail()
	}
	t.quals, _ = p.qualifiers()
	if p.eatByte('@') {
		return t
	}
	t.targets = append(t.targets, p.qualifiedTypeName())
	for !p.empty() && !p.eatByte('@') {
		q, ok := p.tryQualifiedTypeName()
		if !ok {
			break
		}
		t.targets = append(t.targets, q)
	}
	return t
}

// tryQualifiedTypeName parses a qualified type name, or restores the parser
// and reports false if there is none.
func (p *parser) tryQualifiedTypeName() (q *qname, ok bool) {
	saved := *p
	defer func() {
		if r := recover(); r != nil {
			if _, bail := r.(bailout); !bail {
				panic(r)
			}
			*p = saved
			q, ok = nil, false
		}
	}()
	return p.qualifiedTypeName(), true
}

func (p *parser) untypedVariable(name string) symbol {
	v := &varSym{name: p.scopeChain(&namedIdent{name: name})}
	if !p.eatByte('8') {
		p.fail()
	}
	return v
}

func (p *parser) localStaticGuard(thread bool) symbol {
	id := &guardIdent{thread: thread}
	g := &guardSym{name: p.scopeChain(id)}
	if !p.eat("4IA") && !p.eat("5") {
		p.fail()
	}
	if !p.empty() {
		id.index = uint32(p.unsigned())
	}
	return g
}

// vcallThunk parses ??_9<class>@$B<offset>A<calling convention>.
func (p *parser) vcallThunk() symbol {
	id := &vcallIdent{}
	f := &funcSym{name: p.scopeChain(id), sig: &funcType{fc: fcNoParams, thunk: &thunkAdj{}}}
	if !p.eat("$B") {
		p.fail()
	}
	id.off = p.unsigned()
	if !p.eatByte('A') {
		p.fail()
	}
	f.sig.conv = p.callingConvention()
	return f
}

// initFini parses the dynamic initializer/atexit destructor of a variable
// (??__E?x@C@@2HA@@YAXXZ) or the stub named after one (??__Ex@@YAXXZ).
func (p *parser) initFini(dtor bool) symbol {
	id := &dynIdent{dtor: dtor}
	static := p.eatByte('?')
	switch s := p.declarator().(type) {
	case *varSym:
		id.v = s
		ats := 1
		if static {
			ats = 2
		}
		for i := 0; i < ats; i++ {
			if !p.eatByte('@') {
				p.fail()
			}
		}
		f := p.functionEncoding()
		f.name = &qname{parts: []ident{id}}
		return f
	case *funcSym:
		if static {
			p.fail()
		}
		id.name = s.name
		s.name = &qname{parts: []ident{id}}
		return s
	}
	p.fail()
	return nil
}

// md5 parses ??@<hash>@ and the ??_R4@ suffix of hashed locators.
func (p *parser) md5() symbol {
	i := strings.IndexByte(p.s[3:], '@')
	if i < 0 {
		p.fail()
	}
	start := p.s
	p.s = p.s[3+i+1:]
	p.eat("??_R4@")
	return &md5Sym{raw: start[:len(start)-len(p.s)]}
}

// typeinfoName parses the .?AVFoo@@ strings of type_info objects.
func (p *parser) typeinfoName() symbol {
	p.s = p.s[1:]
	t := p.typ(modeResult)
	if !p.empty() {
		p.fail()
	}
	return &typeDescSym{t: t, what: "`RTTI Type Descriptor Name'"}
}

// stringLiteral parses @_<0|1><length><crc>@<chars>@ after ??_C.
func (p *parser) stringLiteral() symbol {
	if !p.eat("@_") {
		p.fail()
	}
	wide := false
	switch p.next() {
	case '1':
		wide = true
	case '0':
	default:
		p.fail()
	}
	size, neg := p.number()
	if neg || size < 1 || (wide && size < 2) {
		p.fail()
	}
	i := strings.IndexByte(p.s, '@') // CRC
	if i < 0 {
		p.fail()
	}
	p.s = p.s[i+1:]
	if p.empty() {
		p.fail()
	}
	w := &printer{}
	lit := &strSym{}
	if wide {
		lit.prefix = `L"`
		lit.truncated = size > 64
		for !p.eatByte('@') {
			if len(p.s) < 2 {
				p.fail()
			}
			hi := p.charLit()
			if p.empty() {
				p.fail()
			}
			c := uint32(hi)<<8 | uint32(p.charLit())
			if size != 2 || lit.truncated {
				w.escaped(c)
			}
			size -= 2 // may wrap on malformed input; llvm-undname then prints every char
		}
	} else {
		const maxBytes = 32 * 4
		var b []byte
		for !p.eatByte('@') {
			if p.empty() || len(b) >= maxBytes {
				p.fail()
			}
			b = append(b, p.charLit())
		}
		lit.truncated = size > uint64(len(b))
		width := charWidth(b, size)
		lit.prefix = map[int]string{1: `"`, 2: `u"`, 4: `U"`}[width]
		n := len(b) / width
		for i := 0; i < n; i++ {
			var c uint32
			for j := 0; j < width; j++ {
				c |= uint32(b[i*width+j]) << (8 * j)
			}
			if i+1 < n || lit.truncated {
				w.escaped(c)
			}
		}
	}
	lit.text = string(w.b)
	return lit
}

// charLit decodes one byte of a mangled string literal.
func (p *parser) charLit() byte {
	c := p.next()
	if c != '?' {
		return c
	}
	c = p.next()
	switch {
	case c == '$':
		if len(p.s) < 2 || !isRebasedHex(p.s[0]) || !isRebasedHex(p.s[1]) {
			p.fail()
		}
		v := (p.s[0]-'A')<<4 | (p.s[1] - 'A')
		p.s = p.s[2:]
		return v
	case isDigit(c):
		return ",/\\:. \n\t'-"[c-'0']
	case c >= 'a' && c <= 'z':
		return 0xE1 + (c - 'a')
	case c >= 'A' && c <= 'Z':
		return 0xC1 + (c - 'A')
	}
	p.fail()
	return 0
}

func isRebasedHex(c byte) bool { return c >= 'A' && c <= 'P' }

// charWidth guesses the character size (1, 2 or 4) of a narrow-mangled
// literal of size bytes whose first bytes are b, as llvm-undname does.
func charWidth(b []byte, size uint64) int {
	if size%2 == 1 {
		return 1
	}
	if size < 32 {
		trailing := 0
		for i := len(b) - 1; i >= 0 && b[i] == 0; i-- {
			trailing++
		}
		if trailing >= 4 && size%4 == 0 {
			return 4
		}
		if trailing >= 2 {
			return 2
		}
		return 1
	}
	nulls := 0
	for _, c := range b {
		if c == 0 {
			nulls++
		}
	}
	if nulls >= 2*len(b)/3 && size%4 == 0 {
		return 4
	}
	if nulls >= len(b)/3 {
		return 2
	}
	return 1
}
