package undname

import "strings"

// ident is one component of a qualified name.
type ident interface {
	targs() *tmplArgs
}

// tmplArgs are an identifier's template arguments; set distinguishes "f<>"
// from "f".
type tmplArgs struct {
	set  bool
	args []node // typ, *intLit, *tmplRef or *qname
}

func (t *tmplArgs) targs() *tmplArgs { return t }

// qname is a qualified name, outermost scope first.
type qname struct {
	parts []ident
}

func (q *qname) last() ident { return q.parts[len(q.parts)-1] }

// namedIdent is a plain name, `anonymous namespace' or a compiler name like
// `vftable'.
type namedIdent struct {
	tmplArgs
	name string
}

// backrefIdent is a digit back-reference to a memorized name.
type backrefIdent struct {
	tmplArgs
	ref *nameRef
}

// opIdent is an operator or compiler-generated function (?2, ?_G, ...).
type opIdent struct {
	tmplArgs
	full string // llvm-undname spelling
	ms   string // Microsoft undname spelling
}

// structorIdent is a constructor (?0) or destructor (?1).
type structorIdent struct {
	tmplArgs
	dtor  bool
	class ident
}

// convIdent is a conversion operator (?B); target is the function's return type.
type convIdent struct {
	tmplArgs
	target typ
}

// literalIdent is a user-defined literal operator (?__K).
type literalIdent struct {
	tmplArgs
	name string
}

// dynIdent is `dynamic initializer for ...' (?__E) or `dynamic atexit
// destructor for ...' (?__F), naming either a variable or a function.
type dynIdent struct {
	tmplArgs
	dtor bool
	v    *varSym
	name *qname
}

// guardIdent is `local static guard' (?_B) or its thread-safe form (?__J).
type guardIdent struct {
	tmplArgs
	thread bool
	index  uint32
}

// vcallIdent is a `vcall' thunk (?_9).
type vcallIdent struct {
	tmplArgs
	off uint64
}

// bcdIdent is `RTTI Base Class Descriptor at (...)' (?_R1).
type bcdIdent struct {
	tmplArgs
	nv      uint32
	vbptr   int32
	vbtable uint32
	flags   uint32
}

// localIdent is the `function'::`N' scope of a function-local entity.
type localIdent struct {
	tmplArgs
	n     uint64
	scope symbol
}

// Name back-reference behaviour.
const (
	nbbSimple   = 1 // memorize simple names
	nbbTemplate = 2 // memorize template instantiations
)

// qualifiedTypeName parses A@B@C@@ (C::B::A) in a type.
func (p *parser) qualifiedTypeName() *qname {
	return p.scopeChain(p.unqualifiedTypeName())
}

// qualifiedSymbolName parses the symbol's own qualified name.
func (p *parser) qualifiedSymbolName() *qname {
	id := p.unqualifiedSymbolName(nbbSimple)
	qn := p.scopeChain(id)
	if s, ok := id.(*structorIdent); ok {
		if len(qn.parts) < 2 {
			p.fail()
		}
		s.class = qn.parts[len(qn.parts)-2]
	}
	return qn
}

func (p *parser) unqualifiedTypeName() ident {
	switch {
	case p.hasDigit():
		return p.backref()
	case p.has("?$"):
		return p.template(nbbTemplate)
	}
	return p.simpleName(true)
}

func (p *parser) unqualifiedSymbolName(nbb int) ident {
	switch {
	case p.hasDigit():
		return p.backref()
	case p.has("?$"):
		return p.template(nbb)
	case p.has("?"):
		return p.operatorName()
	}
	return p.simpleName(nbb&nbbSimple != 0)
}

// scopeChain parses the enclosing scopes of id up to the terminating '@'.
func (p *parser) scopeChain(id ident) *qname {
	parts := []ident{id}
	for !p.eatByte('@') {
		if p.empty() {
			p.fail()
		}
		parts = append(parts, p.scopePiece())
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return &qname{parts: parts}
}

func (p *parser) scopePiece() ident {
	switch {
	case p.hasDigit():
		return p.backref()
	case p.has("?$"):
		return p.template(nbbTemplate)
	case p.has("?A"):
		return p.anonymousNamespace()
	case isLocalScope(p.s):
		return p.localScope()
	}
	return p.simpleName(true)
}

// simpleName reads a non-empty name terminated by '@'.
func (p *parser) simpleName(memorize bool) ident {
	i := strings.IndexByte(p.s, '@')
	if i <= 0 {
		p.fail()
	}
	name := p.s[:i]
	p.s = p.s[i+1:]
	if memorize {
		// A copy: the caller may give the returned node template arguments
		// that mention this very back-reference.
		p.memorize(name, &namedIdent{name: name})
	}
	return &namedIdent{name: name}
}

// memorize records a name for later digit back-references (first 10 distinct).
func (p *parser) memorize(key string, id ident) {
	if len(p.refs.names) >= maxBackrefs {
		return
	}
	for _, r := range p.refs.names {
		if r.key == key {
			return
		}
	}
	p.refs.names = append(p.refs.names, &nameRef{key: key, id: id})
}

// memorizeIdent memorizes an identifier under its LLVM rendering.
func (p *parser) memorizeIdent(id ident) {
	w := &printer{}
	w.ident(id)
	p.memorize(string(w.b), id)
}

func (p *parser) backref() ident {
	i := int(p.s[0] - '0')
	if i >= len(p.refs.names) {
		p.fail()
	}
	p.s = p.s[1:]
	return &backrefIdent{ref: p.refs.names[i]}
}

// anonymousNamespace parses ?A<key>@. The key (e.g. 0x1234abcd) is what a
// later back-reference to it names.
func (p *parser) anonymousNamespace() ident {
	p.s = p.s[2:]
	i := strings.IndexByte(p.s, '@')
	if i < 0 {
		p.fail()
	}
	key := p.s[:i]
	p.s = p.s[i+1:]
	p.memorize(key, &namedIdent{name: anonNamespace})
	return &namedIdent{name: anonNamespace}
}

const anonNamespace = "`anonymous namespace'"

// isLocalScope reports whether s starts with ?<number>? (a function-local scope).
func isLocalScope(s string) bool {
	if len(s) < 2 || s[0] != '?' {
		return false
	}
	s = s[1:]
	end := strings.IndexByte(s, '?')
	if end <= 0 {
		return false
	}
	c := s[:end]
	if len(c) == 1 {
		return c[0] == '@' || isDigit(c[0])
	}
	if c[len(c)-1] != '@' {
		return false
	}
	c = c[:len(c)-1]
	if c[0] < 'B' || c[0] > 'P' {
		return false
	}
	for i := 1; i < len(c); i++ {
		if c[i] < 'A' || c[i] > 'P' {
			return false
		}
	}
	return true
}

// localScope parses ?<number>?<symbol>, rendered `symbol'::`number'.
func (p *parser) localScope() ident {
	p.s = p.s[1:]
	n, _ := p.number()
	p.eatByte('?')
	return &localIdent{n: n, scope: p.symbol()}
}

// template parses ?$<name><template-args>@.
func (p *parser) template(nbb int) ident {
	p.enter()
	defer p.leave()
	p.s = p.s[2:]
	outer := p.refs
	p.refs = backrefs{}
	id := p.unqualifiedSymbolName(nbbSimple)
	*id.targs() = tmplArgs{set: true, args: p.templateArgs()}
	p.refs = outer
	if nbb&nbbTemplate != 0 {
		switch id.(type) {
		case *convIdent, *structorIdent:
			p.fail()
		}
		p.memorizeIdent(id)
	}
	return id
}

// intLit is an integer template argument.
type intLit struct {
	v   uint64
	neg bool
}

// tmplRef is a template argument referring to a symbol (&x, x) or a member
// pointer with its offsets ({C::f, 4}).
type tmplRef struct {
	sym  symbol
	aff  byte // '*' pointer, '&' reference, 0 none
	offs []int64
}

// templateArgs parses template arguments up to the terminating '@'.
func (p *parser) templateArgs() []node {
	args := []node{}
	for !p.hasByte('@') {
		if p.eat("$S") || p.eat("$$V") || p.eat("$$$V") || p.eat("$$Z") {
			continue // parameter pack separators
		}
		var arg node
		switch {
		case p.eat("$$Y"):
			arg = p.qualifiedTypeName() // alias template
		case p.eat("$$B"):
			arg = p.typ(modeDrop) // array
		case p.eat("$$C"):
			arg = p.typ(modeMangle) // qualified type
		case p.has("$1"), p.has("$H"), p.has("$I"), p.has("$J"):
			p.s = p.s[1:]
			spec := p.next()
			r := &tmplRef{aff: '*'}
			if p.hasByte('?') {
				r.sym = p.symbol()
				qn := r.sym.qn()
				if qn == nil {
					p.fail()
				}
				p.memorizeIdent(qn.last())
			}
			n := strings.IndexByte("1HIJ", spec) // offsets that follow the symbol
			for i := 0; i < n; i++ {
				r.offs = append(r.offs, p.signed())
			}
			arg = r
		case p.has("$E?"):
			p.s = p.s[2:]
			arg = &tmplRef{sym: p.symbol(), aff: '&'}
		case p.has("$F"), p.has("$G"):
			p.s = p.s[1:]
			n := 2
			if p.next() == 'G' {
				n = 3
			}
			r := &tmplRef{}
			for i := 0; i < n; i++ {
				r.offs = append(r.offs, p.signed())
			}
			arg = r
		case p.eat("$0"):
			v, neg := p.number()
			arg = &intLit{v: v, neg: neg}
		default:
			arg = p.typ(modeDrop)
		}
		args = append(args, arg)
	}
	p.s = p.s[1:]
	return args
}

// operatorName parses ?<code>: structors, operators and compiler-generated
// functions.
func (p *parser) operatorName() ident {
	p.s = p.s[1:]
	group := 0
	if p.eat("__") {
		group = 2
	} else if p.eat("_") {
		group = 1
	}
	c := p.next()
	switch {
	case group == 0 && (c == '0' || c == '1'):
		return &structorIdent{dtor: c == '1'}
	case group == 0 && c == 'B':
		return &convIdent{}
	case group == 2 && c == 'K':
		i := strings.IndexByte(p.s, '@')
		if i <= 0 {
			p.fail()
		}
		name := p.s[:i]
		p.s = p.s[i+1:]
		return &literalIdent{name: name}
	}
	if !isDigit(c) && (c < 'A' || c > 'Z') {
		p.fail()
	}
	names := operatorNames[group][c]
	return &opIdent{full: names[0], ms: names[1]}
}

// operatorNames maps [group][code] to the llvm-undname and Microsoft
// spellings. Group 0 is ?X, 1 is ?_X, 2 is ?__X. Codes not listed print as "".
var operatorNames = [3]map[byte][2]string{
	{
		'2': {"operator new", "operator new"},
		'3': {"operator delete", "operator delete"},
		'4': {"operator=", "operator="},
		'5': {"operator>>", "operator>>"},
		'6': {"operator<<", "operator<<"},
		'7': {"operator!", "operator!"},
		'8': {"operator==", "operator=="},
		'9': {"operator!=", "operator!="},
		'A': {"operator[]", "operator[]"},
		'C': {"operator->", "operator->"},
		'D': {"operator*", "operator*"},
		'E': {"operator++", "operator++"},
		'F': {"operator--", "operator--"},
		'G': {"operator-", "operator-"},
		'H': {"operator+", "operator+"},
		'I': {"operator&", "operator&"},
		'J': {"operator->*", "operator->*"},
		'K': {"operator/", "operator/"},
		'L': {"operator%", "operator%"},
		'M': {"operator<", "operator<"},
		'N': {"operator<=", "operator<="},
		'O': {"operator>", "operator>"},
		'P': {"operator>=", "operator>="},
		'Q': {"operator,", "operator,"},
		'R': {"operator()", "operator()"},
		'S': {"operator~", "operator~"},
		'T': {"operator^", "operator^"},
		'U': {"operator|", "operator|"},
		'V': {"operator&&", "operator&&"},
		'W': {"operator||", "operator||"},
		'X': {"operator*=", "operator*="},
		'Y': {"operator+=", "operator+="},
		'Z': {"operator-=", "operator-="},
	},
	{
		'0': {"operator/=", "operator/="},
		'1': {"operator%=", "operator%="},
		'2': {"operator>>=", "operator>>="},
		'3': {"operator<<=", "operator<<="},
		'4': {"operator&=", "operator&="},
		'5': {"operator|=", "operator|="},
		'6': {"operator^=", "operator^="},
		'D': {"`vbase dtor'", "`vbase destructor'"},
		'E': {"`vector deleting dtor'", "`vector deleting destructor'"},
		'F': {"`default ctor closure'", "`default constructor closure'"},
		'G': {"`scalar deleting dtor'", "`scalar deleting destructor'"},
		'H': {"`vector ctor iterator'", "`vector constructor iterator'"},
		'I': {"`vector dtor iterator'", "`vector destructor iterator'"},
		'J': {"`vector vbase ctor iterator'", "`vector vbase constructor iterator'"},
		'K': {"`virtual displacement map'", "`virtual displacement map'"},
		'L': {"`eh vector ctor iterator'", "`eh vector constructor iterator'"},
		'M': {"`eh vector dtor iterator'", "`eh vector destructor iterator'"},
		'N': {"`eh vector vbase ctor iterator'", "`eh vector vbase constructor iterator'"},
		'O': {"`copy ctor closure'", "`copy constructor closure'"},
		'T': {"`local vftable ctor closure'", "`local vftable constructor closure'"},
		'U': {"operator new[]", "operator new[]"},
		'V': {"operator delete[]", "operator delete[]"},
		'X': {"", "`placement delete closure'"},
		'Y': {"", "`placement delete[] closure'"},
	},
	{
		'A': {"`managed vector ctor iterator'", "`managed vector constructor iterator'"},
		'B': {"`managed vector dtor iterator'", "`managed vector destructor iterator'"},
		'C': {"`EH vector copy ctor iterator'", "`eh vector copy constructor iterator'"},
		'D': {"`EH vector vbase copy ctor iterator'", "`eh vector vbase copy constructor iterator'"},
		'G': {"`vector copy ctor iterator'", "`vector copy constructor iterator'"},
		'H': {"`vector vbase copy constructor iterator'", "`vector vbase copy constructor iterator'"},
		'I': {"`managed vector vbase copy constructor iterator'", "`managed vector vbase copy constructor iterator'"},
		'L': {"operator co_await", "operator co_await"},
		'M': {"operator<=>", "operator<=>"},
	},
}
