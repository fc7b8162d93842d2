package undname

import (
	"strconv"
	"strings"
)

// printer renders parsed names. With ms unset it reproduces llvm-undname's
// output byte for byte; with ms set it uses Microsoft's spelling for the
// parts WinDbg shows (no class/struct keywords, "," lists, "> >", long
// names of compiler-generated functions, name-only nested symbols).
type printer struct {
	b  []byte
	ms bool
}

func (w *printer) str(s string) {
	if len(w.b)+len(s) > maxOutput {
		panic(bailout{})
	}
	w.b = append(w.b, s...)
}

func (w *printer) last() byte {
	if len(w.b) == 0 {
		return 0
	}
	return w.b[len(w.b)-1]
}

// sep is the list separator: ", " (LLVM) or "," (Microsoft).
func (w *printer) sep() string {
	if w.ms {
		return ","
	}
	return ", "
}

func (w *printer) int(v int64)   { w.str(strconv.FormatInt(v, 10)) }
func (w *printer) uint(v uint64) { w.str(strconv.FormatUint(v, 10)) }

// space writes a space if the output ends in an identifier character or '>'.
func (w *printer) space() {
	c := w.last()
	if c == '>' || isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		w.str(" ")
	}
}

// quals writes const/volatile/__restrict.
func (w *printer) quals(q quals, before, after bool) {
	wrote := false
	for _, x := range []struct {
		q    quals
		name string
	}{{qConst, "const"}, {qVolatile, "volatile"}, {qRestrict, "__restrict"}} {
		if q&x.q == 0 {
			continue
		}
		if before {
			w.str(" ")
		}
		w.str(x.name)
		before, wrote = true, true
	}
	if after && wrote {
		w.str(" ")
	}
}

func (w *printer) conv(cc string) {
	w.space()
	w.str(cc)
}

// symbol writes the complete declaration of s.
func (w *printer) symbol(s symbol) {
	switch s := s.(type) {
	case *md5Sym:
		w.str(s.raw)
	case *funcSym:
		w.funcPre(s.sig)
		w.space()
		w.qname(s.name)
		w.funcPost(s.sig)
	case *varSym:
		if s.sc >= '0' && s.sc <= '2' {
			w.str([]string{"private: ", "protected: ", "public: "}[s.sc-'0'])
			w.str("static ")
		}
		if s.t != nil {
			w.pre(s.t)
		}
		w.space()
		w.qname(s.name)
		if s.t != nil {
			w.post(s.t)
		}
	case *typeDescSym:
		w.pre(s.t)
		w.space()
		w.str(s.what)
		w.post(s.t)
	case *tableSym:
		w.quals(s.quals, false, true)
		w.qname(s.name)
		w.targets(s.targets)
	case *guardSym:
		w.qname(s.name)
	case *strSym:
		w.str(s.prefix)
		w.str(s.text)
		w.str(`"`)
		if s.truncated {
			w.str("...")
		}
	}
}

// nameOnly writes what WinDbg shows for s (UNDNAME_NAME_ONLY-like).
func (w *printer) nameOnly(s symbol) {
	switch s := s.(type) {
	case *md5Sym:
		w.str(s.raw)
	case *funcSym:
		w.qname(s.name)
		w.adjustor(s.sig)
	case *typeDescSym:
		w.typ(s.t)
		w.str(" ")
		w.str(s.what)
	case *tableSym:
		w.qname(s.name)
		w.targets(s.targets)
	case *strSym:
		w.str("`string'")
	default:
		w.qname(s.qn())
	}
}

// targets writes the {for `A's `B'} suffix of a vftable.
func (w *printer) targets(ts []*qname) {
	if len(ts) == 0 {
		return
	}
	w.str("{for `")
	for i, t := range ts {
		if i > 0 {
			w.str("'s `")
		}
		w.qname(t)
	}
	w.str("'}")
}

func (w *printer) qname(q *qname) {
	for i, id := range q.parts {
		if i > 0 {
			w.str("::")
		}
		w.ident(id)
	}
}

func (w *printer) ident(id ident) {
	switch id := id.(type) {
	case *namedIdent:
		w.str(id.name)
	case *backrefIdent:
		if w.ms {
			w.ident(id.ref.id)
		} else {
			w.str(id.ref.key)
		}
	case *opIdent:
		if w.ms {
			w.str(id.ms)
		} else {
			w.str(id.full)
		}
	case *structorIdent:
		if id.dtor {
			w.str("~")
		}
		w.ident(id.class)
	case *convIdent:
		w.str("operator")
		w.targs(&id.tmplArgs)
		w.str(" ")
		if id.target == nil {
			panic(bailout{})
		}
		w.typ(id.target)
		return
	case *literalIdent:
		w.str(`operator ""`)
		w.str(id.name)
	case *dynIdent:
		if id.dtor {
			w.str("`dynamic atexit destructor for ")
		} else {
			w.str("`dynamic initializer for ")
		}
		switch {
		case w.ms && id.v != nil:
			w.str("'")
			w.qname(id.v.name)
		case id.v != nil:
			w.str("`")
			w.symbol(id.v)
		default:
			w.str("'")
			w.qname(id.name)
		}
		w.str("''")
	case *guardIdent:
		if id.thread {
			w.str("`local static thread guard'")
		} else {
			w.str("`local static guard'")
		}
		if id.index > 0 {
			w.str("{")
			w.uint(uint64(id.index))
			w.str("}")
		}
	case *vcallIdent:
		w.str("`vcall'{")
		w.uint(id.off)
		w.str(w.sep())
		w.str("{flat}}")
	case *bcdIdent:
		w.str("`RTTI Base Class Descriptor at (")
		w.uint(uint64(id.nv))
		w.str(w.sep())
		w.int(int64(id.vbptr))
		w.str(w.sep())
		w.uint(uint64(id.vbtable))
		w.str(w.sep())
		w.uint(uint64(id.flags))
		w.str(")'")
	case *localIdent:
		w.str("`")
		if w.ms {
			w.nameOnly(id.scope)
		} else {
			w.symbol(id.scope)
		}
		w.str("'::`")
		w.uint(id.n)
		w.str("'")
	}
	w.targs(id.targs())
}

// targs writes <args>, or nothing if the identifier is not a template.
func (w *printer) targs(t *tmplArgs) {
	if !t.set {
		return
	}
	w.str("<")
	for i, a := range t.args {
		if i > 0 {
			w.str(w.sep())
		}
		w.arg(a)
	}
	if w.ms && w.last() == '>' {
		w.str(" ")
	}
	w.str(">")
}

func (w *printer) arg(a node) {
	switch a := a.(type) {
	case typ:
		w.typ(a)
	case *intLit:
		if a.neg {
			w.str("-")
		}
		w.uint(a.v)
	case *qname:
		w.qname(a)
	case *tmplRef:
		if len(a.offs) > 0 {
			w.str("{")
		} else if a.aff == '*' {
			w.str("&")
		}
		if a.sym != nil {
			if w.ms {
				w.nameOnly(a.sym)
			} else {
				w.symbol(a.sym)
			}
			if len(a.offs) > 0 {
				w.str(w.sep())
			}
		}
		for i, o := range a.offs {
			if i > 0 {
				w.str(w.sep())
			}
			w.int(o)
		}
		if len(a.offs) > 0 {
			w.str("}")
		}
	}
}

func (w *printer) typ(t typ) {
	w.pre(t)
	w.post(t)
}

// pre writes the part of a type before the declarator name.
func (w *printer) pre(t typ) {
	switch t := t.(type) {
	case *primType:
		w.str(t.name)
		w.quals(t.quals, true, false)
	case *tagType:
		if !w.ms {
			w.str(t.tag)
			w.str(" ")
		}
		w.qname(t.name)
		w.quals(t.quals, true, false)
	case *arrType:
		w.pre(t.elem)
		w.quals(t.quals, true, false)
	case *customType:
		w.ident(t.id)
	case *funcType:
		w.funcPre(t)
	case *ptrType:
		fn, isFn := t.pointee.(*funcType)
		if isFn {
			w.funcPreSig(fn)
		} else {
			w.pre(t.pointee)
		}
		w.space()
		if t.quals&qUnaligned != 0 {
			w.str("__unaligned ")
		}
		if _, isArr := t.pointee.(*arrType); isArr {
			w.str("(")
		} else if isFn {
			w.str("(")
			w.conv(fn.conv)
			w.str(" ")
		}
		if t.class != nil {
			w.qname(t.class)
			w.str("::")
		}
		w.str(t.aff)
		w.quals(t.quals, false, false)
	}
}

// post writes the part of a type after the declarator name.
func (w *printer) post(t typ) {
	switch t := t.(type) {
	case *arrType:
		w.str("[")
		for i, d := range t.dims {
			if i > 0 {
				w.str("][")
			}
			if d != 0 {
				w.uint(d)
			}
		}
		w.str("]")
		w.post(t.elem)
	case *funcType:
		w.funcPost(t)
	case *ptrType:
		_, isArr := t.pointee.(*arrType)
		_, isFn := t.pointee.(*funcType)
		if isArr || isFn {
			w.str(")")
		}
		w.post(t.pointee)
	}
}

// funcPreSig writes access, static/virtual/extern "C" and the return type.
func (w *printer) funcPreSig(f *funcType) {
	switch {
	case f.fc&fcPublic != 0:
		w.str("public: ")
	case f.fc&fcProtected != 0:
		w.str("protected: ")
	case f.fc&fcPrivate != 0:
		w.str("private: ")
	}
	if f.fc&fcGlobal == 0 && f.fc&fcStatic != 0 {
		w.str("static ")
	}
	if f.fc&fcVirtual != 0 {
		w.str("virtual ")
	}
	if f.fc&fcExternC != 0 {
		w.str(`extern "C" `)
	}
	if f.ret != nil {
		w.pre(f.ret)
		w.str(" ")
	}
}

func (w *printer) funcPre(f *funcType) {
	if f.thunk != nil {
		w.str("[thunk]: ")
	}
	w.funcPreSig(f)
	w.conv(f.conv)
}

func (w *printer) funcPost(f *funcType) {
	w.adjustor(f)
	if f.fc&fcNoParams == 0 {
		w.str("(")
		switch {
		case f.void:
			w.str("void")
		default:
			for i, p := range f.params {
				if i > 0 {
					w.str(w.sep())
				}
				w.typ(p)
			}
		}
		if f.variadic {
			if w.last() != '(' {
				w.str(w.sep())
			}
			w.str("...")
		}
		w.str(")")
	}
	for _, x := range []struct {
		q    quals
		name string
	}{{qConst, " const"}, {qVolatile, " volatile"}, {qRestrict, " __restrict"}, {qUnaligned, " __unaligned"}} {
		if f.quals&x.q != 0 {
			w.str(x.name)
		}
	}
	if f.noexcept {
		w.str(" noexcept")
	}
	if f.ref != "" {
		w.str(" ")
		w.str(f.ref)
	}
	if f.ret != nil {
		w.post(f.ret)
	}
}

// adjustor writes a thunk's `adjustor{N}' / `vtordisp{...}' suffix.
func (w *printer) adjustor(f *funcType) {
	if f.thunk == nil {
		return
	}
	a := f.thunk
	switch {
	case f.fc&fcStaticAdj != 0:
		w.str("`adjustor{")
		w.uint(uint64(a.static))
		w.str("}'")
	case f.fc&fcVirtualAdjEx != 0:
		w.str("`vtordispex{")
		for i, v := range []int64{int64(a.vbptr), int64(a.vboff), int64(a.vtordisp), int64(a.static)} {
			if i > 0 {
				w.str(w.sep())
			}
			w.int(v)
		}
		w.str("}'")
	case f.fc&fcVirtualAdj != 0:
		w.str("`vtordisp{")
		w.int(int64(a.vtordisp))
		w.str(w.sep())
		w.uint(uint64(a.static))
		w.str("}'")
	}
}

// escaped writes a string-literal character as llvm-undname escapes it.
func (w *printer) escaped(c uint32) {
	switch c {
	case 0:
		w.str(`\0`)
	case '\'':
		w.str(`\'`)
	case '"':
		w.str(`\"`)
	case '\\':
		w.str(`\\`)
	case '\a':
		w.str(`\a`)
	case '\b':
		w.str(`\b`)
	case '\f':
		w.str(`\f`)
	case '\n':
		w.str(`\n`)
	case '\r':
		w.str(`\r`)
	case '\t':
		w.str(`\t`)
	case '\v':
		w.str(`\v`)
	default:
		if c > 0x1f && c < 0x7f {
			w.str(string(rune(c)))
			return
		}
		h := strconv.FormatUint(uint64(c), 16)
		if len(h)%2 == 1 {
			h = "0" + h
		}
		w.str(`\x`)
		w.str(strings.ToUpper(h))
	}
}
