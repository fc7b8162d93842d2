// Package symbols turns addresses into names and names into addresses.
//
// The Resolver interface is what every command uses (dds, ln, u, k, and
// module!symbol in expressions). This first implementation knows modules
// only: an address inside a module prints as "module+0xoff", and a module
// name evaluates to its base. Export tables and PDBs plug in behind the same
// interface.
package symbols

import (
	"sort"
	"strings"

	"wdb/dump"
)

// Symbol is a named address.
type Symbol struct {
	Module string // WinDbg module name ("ntdll", "KERNELBASE")
	Name   string // symbol name without the module; empty for a bare module
	Addr   uint64
	Size   uint64 // 0 when unknown
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

// ModuleResolver knows the module list of a dump and nothing finer.
type ModuleResolver struct {
	mods  []*dump.Module // sorted by base
	names map[*dump.Module]string
}

// NewModuleResolver indexes the modules of f under their WinDbg names.
func NewModuleResolver(f *dump.File) *ModuleResolver {
	r := &ModuleResolver{names: map[*dump.Module]string{}}
	for i, n := range ModuleNames(f) {
		if n != "" {
			r.mods = append(r.mods, &f.Modules[i])
			r.names[&f.Modules[i]] = n
		}
	}
	sort.SliceStable(r.mods, func(i, j int) bool { return r.mods[i].Base < r.mods[j].Base })
	return r
}

// Name is the WinDbg name of a module.
func (r *ModuleResolver) Name(m *dump.Module) string {
	if n, ok := r.names[m]; ok {
		return n
	}
	return m.ModuleName()
}

// Module returns the module that contains addr.
func (r *ModuleResolver) Module(addr uint64) (*dump.Module, bool) {
	i := sort.Search(len(r.mods), func(i int) bool { return r.mods[i].Base > addr }) - 1
	if i >= 0 && addr < r.mods[i].End() {
		return r.mods[i], true
	}
	return nil, false
}

// Nearest names the module that contains addr.
func (r *ModuleResolver) Nearest(addr uint64) (Symbol, uint64, bool) {
	m, ok := r.Module(addr)
	if !ok {
		return Symbol{}, 0, false
	}
	return Symbol{Module: r.Name(m), Addr: m.Base, Size: uint64(m.Size)}, addr - m.Base, true
}

// Lookup resolves a module name (case-insensitive) to its base.
func (r *ModuleResolver) Lookup(name string) (uint64, bool) {
	if i := strings.IndexByte(name, '!'); i >= 0 {
		if name[i+1:] != "" {
			return 0, false
		}
		name = name[:i]
	}
	for _, m := range r.mods {
		if strings.EqualFold(r.Name(m), name) {
			return m.Base, true
		}
	}
	return 0, false
}

// Match returns no symbols: a module list has none.
func (r *ModuleResolver) Match(pattern string) []Symbol { return nil }
