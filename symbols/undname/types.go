package undname

// node is a template argument: typ, *intLit, *tmplRef or *qname.
type node interface{}

// quals are cv and MS-specific qualifiers.
type quals uint8

const (
	qConst quals = 1 << iota
	qVolatile
	qUnaligned
	qRestrict
	qPtr64
)

// typ is a parsed type.
type typ interface {
	q() *quals
}

type tbase struct{ quals quals }

func (b *tbase) q() *quals { return &b.quals }

// primType is a builtin type spelled as name.
type primType struct {
	tbase
	name string
}

// tagType is a class, struct, union or enum.
type tagType struct {
	tbase
	tag  string // "class", "struct", "union", "enum"
	name *qname
}

// ptrType is a pointer, reference or pointer to member.
type ptrType struct {
	tbase
	aff     string // "*", "&", "&&"
	class   *qname // set for pointers to members
	pointee typ
}

// arrType is an array with dimensions dims (0 = unknown bound).
type arrType struct {
	tbase
	dims []uint64
	elem typ
}

// customType is ?<name>@, a type given by name only.
type customType struct {
	tbase
	id ident
}

// funcClass describes a function: access, static/virtual, thunk kind.
type funcClass uint16

const (
	fcPublic funcClass = 1 << iota
	fcProtected
	fcPrivate
	fcGlobal
	fcStatic
	fcVirtual
	fcFar
	fcExternC
	fcNoParams // extern "C" without a mangled signature
	fcVirtualAdj
	fcVirtualAdjEx
	fcStaticAdj
)

// thunkAdj is the this-adjustment of an adjustor/vtordisp thunk.
// Widths follow the 32-bit fields of the MSVC/LLVM representation.
type thunkAdj struct {
	static                 uint32
	vtordisp, vbptr, vboff int32
}

// funcType is a function signature; thunk is set for thunks.
type funcType struct {
	tbase
	fc       funcClass
	conv     string
	ret      typ // nil for structors
	params   []typ
	void     bool // parameter list was 'X' (void)
	variadic bool
	noexcept bool
	ref      string // "&" or "&&" ref-qualifier
	thunk    *thunkAdj
}

// Qualifier handling of typ.
const (
	modeDrop   = iota // no qualifier letter
	modeMangle        // a qualifier letter precedes the type
	modeResult        // ?<qualifier> may precede the type (return types)
)

// typ parses a type.
func (p *parser) typ(mode int) typ {
	p.enter()
	defer p.leave()
	var q quals
	switch mode {
	case modeMangle:
		q, _ = p.qualifiers()
	case modeResult:
		if p.eatByte('?') {
			q, _ = p.qualifiers()
		}
	}
	if p.empty() {
		p.fail()
	}
	var t typ
	switch c := p.s[0]; {
	case c == 'T' || c == 'U' || c == 'V' || c == 'W':
		t = p.tagType()
	case p.has("$$Q") || c == 'A' || c == 'P' || c == 'Q' || c == 'R' || c == 'S':
		if p.isMemberPointer() {
			t = p.memberPointer()
		} else {
			t = p.pointer()
		}
	case c == 'Y':
		t = p.array()
	case p.eat("$$A8@@"):
		t = p.functionType(true)
	case p.eat("$$A6"):
		t = p.functionType(false)
	case c == '?':
		p.s = p.s[1:]
		id := p.unqualifiedTypeName()
		if !p.eatByte('@') {
			p.fail()
		}
		t = &customType{id: id}
	default:
		t = p.primitive()
	}
	*t.q() |= q
	return t
}

// isMemberPointer looks ahead at a pointer type to see whether it points to
// a member.
func (p *parser) isMemberPointer() bool {
	switch p.s[0] {
	case '$', 'A':
		return false // rvalue references and references
	}
	s := p.s[1:]
	if len(s) > 0 && isDigit(s[0]) {
		if s[0] != '6' && s[0] != '8' {
			p.fail()
		}
		return s[0] == '8'
	}
	for _, c := range []byte("EIF") {
		if len(s) > 0 && s[0] == c {
			s = s[1:]
		}
	}
	if len(s) == 0 {
		p.fail()
	}
	switch s[0] {
	case 'A', 'B', 'C', 'D':
		return false
	case 'Q', 'R', 'S', 'T':
		return true
	}
	p.fail()
	return false
}

// pointerCV reads the pointer kind letter and the pointer's own cv-qualifiers.
func (p *parser) pointerCV() (quals, string) {
	if p.eat("$$Q") {
		return 0, "&&"
	}
	switch p.next() {
	case 'A':
		return 0, "&"
	case 'P':
		return 0, "*"
	case 'Q':
		return qConst, "*"
	case 'R':
		return qVolatile, "*"
	case 'S':
		return qConst | qVolatile, "*"
	}
	p.fail()
	return 0, ""
}

func (p *parser) pointer() typ {
	pt := &ptrType{}
	pt.quals, pt.aff = p.pointerCV()
	if p.eatByte('6') {
		pt.pointee = p.functionType(false)
		return pt
	}
	pt.quals |= p.pointerExtQuals()
	pt.pointee = p.typ(modeMangle)
	return pt
}

func (p *parser) memberPointer() typ {
	pt := &ptrType{}
	pt.quals, pt.aff = p.pointerCV()
	pt.quals |= p.pointerExtQuals()
	if p.eatByte('8') {
		pt.class = p.qualifiedTypeName()
		pt.pointee = p.functionType(true)
		return pt
	}
	pq, _ := p.qualifiers()
	pt.class = p.qualifiedTypeName()
	pt.pointee = p.typ(modeDrop)
	*pt.pointee.q() = pq
	return pt
}

func (p *parser) array() typ {
	p.s = p.s[1:]
	rank, neg := p.number()
	if neg || rank == 0 {
		p.fail()
	}
	at := &arrType{}
	for i := uint64(0); i < rank; i++ {
		d, neg := p.number()
		if neg {
			p.fail()
		}
		at.dims = append(at.dims, d)
	}
	if p.eat("$$C") {
		q, member := p.qualifiers()
		if member {
			p.fail()
		}
		at.quals = q
	}
	at.elem = p.typ(modeDrop)
	return at
}

func (p *parser) tagType() typ {
	t := &tagType{}
	switch p.next() {
	case 'T':
		t.tag = "union"
	case 'U':
		t.tag = "struct"
	case 'V':
		t.tag = "class"
	case 'W':
		if !p.eatByte('4') {
			p.fail()
		}
		t.tag = "enum"
	}
	t.name = p.qualifiedTypeName()
	return t
}

// primitive parses a builtin type.
func (p *parser) primitive() typ {
	if p.eat("$$T") {
		return &primType{name: "std::nullptr_t"}
	}
	c := p.next()
	var name string
	if c == '_' {
		name = extPrimitives[p.next()]
	} else {
		name = primitives[c]
	}
	if name == "" {
		p.fail()
	}
	return &primType{name: name}
}

var primitives = map[byte]string{
	'X': "void", 'D': "char", 'C': "signed char", 'E': "unsigned char",
	'F': "short", 'G': "unsigned short", 'H': "int", 'I': "unsigned int",
	'J': "long", 'K': "unsigned long", 'M': "float", 'N': "double", 'O': "long double",
}

var extPrimitives = map[byte]string{
	'N': "bool", 'J': "__int64", 'K': "unsigned __int64", 'W': "wchar_t",
	'Q': "char8_t", 'S': "char16_t", 'U': "char32_t",
	'P': "auto", 'T': "decltype(auto)",
}

// functionType parses [this-quals] <calling-convention> <return-type>
// <parameters> <throw-spec>.
func (p *parser) functionType(hasThis bool) *funcType {
	p.enter()
	defer p.leave()
	f := &funcType{}
	if hasThis {
		f.quals = p.pointerExtQuals()
		if p.eatByte('G') {
			f.ref = "&"
		} else if p.eatByte('H') {
			f.ref = "&&"
		}
		q, _ := p.qualifiers()
		f.quals |= q
	}
	f.conv = p.callingConvention()
	if !p.eatByte('@') {
		f.ret = p.typ(modeResult)
	}
	p.params(f)
	switch {
	case p.eat("_E"):
		f.noexcept = true
	case p.eatByte('Z'):
	default:
		p.fail()
	}
	return f
}

// params parses a parameter list: 'X' (void), or types ended by '@' or by
// 'Z' (variadic). Multi-character types are memorized for the digit
// back-references 0-9.
func (p *parser) params(f *funcType) {
	if p.eatByte('X') {
		f.void = true
		return
	}
	f.params = []typ{}
	for !p.hasByte('@') && !p.hasByte('Z') {
		if p.hasDigit() {
			i := int(p.s[0] - '0')
			if i >= len(p.refs.params) {
				p.fail()
			}
			p.s = p.s[1:]
			f.params = append(f.params, p.refs.params[i])
			continue
		}
		before := len(p.s)
		t := p.typ(modeDrop)
		if len(p.refs.params) < maxBackrefs && before-len(p.s) > 1 {
			p.refs.params = append(p.refs.params, t)
		}
		f.params = append(f.params, t)
	}
	if p.eatByte('Z') {
		f.variadic = true
		return
	}
	p.s = p.s[1:]
}
