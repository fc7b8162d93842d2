// Package symbols turns addresses into names and names into addresses.
//
// The Resolver interface is what every command uses (dds, ln, u, k, and
// module!symbol in expressions). Table implements it over the modules of a
// dump: exports of the images captured in the dump at once, PDBs found
// through the symbol path, each module loaded the first time it is needed;
// an address in a module without symbols prints as "module+0xoff".
package symbols

import (
	"strings"

	"wdb/dump"
)

// Symbol is a named address.
type Symbol struct {
	Module string // WinDbg module name ("ntdll", "KERNELBASE")
	Name   string // symbol name without the module, as WinDbg shows it; empty for a bare module
	Addr   uint64
	Size   uint64 // 0 when unknown
	Kind   Kind
	Code   bool // names code (a function), not data
}

// FullName is "module!name", or "module" when Name is empty.
func (s Symbol) FullName() string {
	if s.Name == "" {
		return s.Module
	}
	return s.Module + "!" + s.Name
}

// Resolver maps addresses to symbols and back.
type Resolver interface {
	// Nearest returns the symbol at or below addr that best describes it,
	// and the displacement of addr from it.
	Nearest(addr uint64) (sym Symbol, disp uint64, ok bool)
	// Lookup resolves "module!name", "module" or a bare name.
	Lookup(name string) (uint64, bool)
	// Match lists the symbols whose "module!name" matches a WinDbg wildcard
	// pattern (x command).
	Match(pattern string) []Symbol
}

// Format prints addr as WinDbg does in dps and k: "module!name+0xoff",
// "module!name" at displacement 0, or "" when nothing is known.
func Format(r Resolver, addr uint64) string {
	if r == nil {
		return ""
	}
	s, d, ok := r.Nearest(addr)
	if !ok {
		return ""
	}
	if d == 0 {
		return s.FullName()
	}
	return s.FullName() + "+0x" + hex(d)
}

func hex(v uint64) string {
	const digits = "0123456789abcdef"
	if v == 0 {
		return "0"
	}
	var b [16]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b[i:])
}

// ModuleNames gives each module of f the name WinDbg uses for it (the file
// name without extension), in module-list order. A later module whose name is
// taken gets "_<base>" appended ("ntdll_77cf0000", the 32-bit ntdll of a
// WOW64 process); a second record at the same base (some writers list the
// main image twice) gets "" and is not a module of its own.
func ModuleNames(f *dump.File) []string {
	names := make([]string, len(f.Modules))
	bases := map[uint64]bool{}
	taken := map[string]bool{}
	for i := range f.Modules {
		m := &f.Modules[i]
		if bases[m.Base] {
			continue
		}
		bases[m.Base] = true
		n := m.ModuleName()
		if taken[strings.ToLower(n)] {
			n = n + "_" + hex(m.Base)
		}
		taken[strings.ToLower(n)] = true
		names[i] = n
	}
	return names
}
