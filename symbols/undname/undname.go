// Package undname undecorates MSVC C++ decorated names ("?Open@CMMFSerializer@@QEAAHPEBD@Z").
//
// Full gives the complete declaration exactly as llvm-undname (LLVM 14) prints
// it. Name gives what WinDbg shows for a public symbol in x, ln, k and dqs: the
// qualified name only, spelled like Microsoft's undname (template arguments
// without class/struct keywords, "," without a space, "> >", `scalar deleting
// destructor'). Display applies the x86 C-name rules on top.
//
// The parser never panics on bad input, bounds its recursion and its output
// size, and reports anything it cannot parse as ErrInvalid.
package undname

import "errors"

// ErrInvalid is returned for names that are not well-formed MSVC decorations
// (or exceed the recursion/output limits).
var ErrInvalid = errors.New("undname: invalid mangled name")

// ErrNotDecorated is returned by Full and Name for names without the leading
// '?' of a C++ decoration (C names such as "main" or "_CreateFileW@28").
var ErrNotDecorated = errors.New("undname: not an MSVC C++ decorated name")

// IsDecorated reports whether s is an MSVC C++ decorated name, i.e. starts
// with '?'. This includes MD5-hashed names ("??@...@"). x86 C decorations
// (_name, _name@N, @name@N) are not C++ decorations: see StripC.
func IsDecorated(s string) bool {
	return len(s) > 1 && s[0] == '?'
}

// Full undecorates like llvm-undname / UnDecorateSymbolName(UNDNAME_COMPLETE),
// e.g. "public: int __cdecl CMMFSerializer::Open(char const *)".
// MD5-hashed names are returned unchanged. Like llvm-undname it also accepts
// the ".?AVFoo@@" type names stored in RTTI type descriptors.
func Full(mangled string) (string, error) {
	if !IsDecorated(mangled) && !isTypeName(mangled) {
		return "", ErrNotDecorated
	}
	return run(mangled, func(w *printer, s symbol) { w.symbol(s) }, false)
}

// Name returns what WinDbg shows for a public symbol: the qualified name
// without return type, parameters, calling convention and access specifiers
// (UNDNAME_NAME_ONLY-like), e.g. "CMMFSerializer::Open",
// "CMMFSerializer::`vftable'", "`string'",
// "std::vector<int,std::allocator<int> >::push_back",
// "`anonymous namespace'::Helper". MD5-hashed names are returned unchanged.
func Name(mangled string) (string, error) {
	if !IsDecorated(mangled) && !isTypeName(mangled) {
		return "", ErrNotDecorated
	}
	return run(mangled, func(w *printer, s symbol) { w.nameOnly(s) }, true)
}

// isTypeName reports whether s looks like an RTTI type name (".?AVFoo@@").
func isTypeName(s string) bool {
	return len(s) > 1 && s[0] == '.'
}

// Display is the name WinDbg shows for a public symbol named raw: Name for C++
// decorations (raw itself if it does not parse), StripC for x86 C names, and
// raw unchanged otherwise (x64 C names are not decorated).
func Display(raw string, x86 bool) string {
	if IsDecorated(raw) {
		if n, err := Name(raw); err == nil {
			return n
		}
		return raw
	}
	if x86 {
		return StripC(raw)
	}
	return raw
}

// run parses mangled and renders it with out, turning every failure
// (including internal limits) into ErrInvalid.
func run(mangled string, out func(*printer, symbol), ms bool) (res string, err error) {
	defer catch(&err)
	p := &parser{s: mangled}
	sym := p.symbol()
	w := &printer{ms: ms}
	out(w, sym)
	return string(w.b), nil
}
