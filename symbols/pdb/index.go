package pdb

import (
	"hash/maphash"
	"slices"
	"sort"
	"strings"
)

// SymKind says where a symbol came from and what it names.
type SymKind uint8

const (
	Public   SymKind = iota // S_PUB32: linker name, decorated, no size
	Function                // S_GPROC32/S_LPROC32 (+_ID): private name with a code size
	Data                    // S_GDATA32/S_LDATA32
	Label                   // S_LABEL32: code label without a size
	Thunk                   // S_THUNK32: thunk with a size
)

func (k SymKind) String() string {
	switch k {
	case Public:
		return "public"
	case Function:
		return "function"
	case Data:
		return "data"
	case Label:
		return "label"
	case Thunk:
		return "thunk"
	}
	return "unknown"
}

// PublicFlags are the CV_PUBSYMFLAGS of an S_PUB32 record.
type PublicFlags uint32

const (
	PubCode     PublicFlags = 1 // points into code
	PubFunction PublicFlags = 2 // a function
	PubManaged  PublicFlags = 4 // managed code or data
	PubMSIL     PublicFlags = 8 // MSIL code
)

// Symbol is a named RVA from the PDB. Name is raw: decorated for publics.
type Symbol struct {
	Name   string
	RVA    uint32
	Size   uint32 // code size for functions and thunks, else 0
	Kind   SymKind
	Flags  PublicFlags // publics only
	Module int         // defining module index, -1 for symbol-record-stream entries
}

// Symbols returns the address index sorted by RVA: publics and global data
// from the symbol record stream, plus every module's procedures, thunks,
// labels and data once LoadProcs has run.
func (f *File) Symbols() []Symbol {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loadPublicsLocked()
	out := make([]Symbol, len(f.tab.ents))
	for i := range out {
		out[i] = f.tab.sym(i)
	}
	return out
}

// LoadProcs loads every module's symbols and merges them into the address
// and name indexes. Without it, module symbols are still used per module
// where a query needs them (Nearest, Lookup via S_PROCREF). It returns the
// first error; the rest are in Warnings.
func (f *File) LoadProcs() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.procsLoaded {
		return f.procsErr
	}
	f.procsLoaded = true
	err := f.loadPublicsLocked()
	if f.dbi == nil {
		f.procsErr = err
		return err
	}
	t := &f.tab
	ents := t.ents
	hashes := t.hashes
	var names strings.Builder
	for i := range f.dbi.modules {
		ms := f.loadModuleLocked(i)
		if ms.err != nil && err == nil {
			err = ms.err
		}
		for _, s := range ms.syms {
			off := names.Len()
			names.WriteString(s.Name)
			ents = append(ents, entFor(s, 1, off))
			hashes = append(hashes, nameHash(s.Name))
		}
	}
	blobs := []string{t.blob(0), names.String()}
	nt := sortedTable(blobs, ents, hashes)
	// Module data often repeats an S_LDATA32/S_GDATA32 of the record stream.
	out, outH := nt.ents[:0], nt.hashes[:0]
	for i := range nt.ents {
		if n := len(out); n > 0 && nt.cmp(&out[n-1], &nt.ents[i]) == 0 {
			if out[n-1].mod < 0 {
				out[n-1] = nt.ents[i]
			}
			continue
		}
		out, outH = append(out, nt.ents[i]), append(outH, nt.hashes[i])
	}
	f.tab = symTable{blobs: blobs, ents: out, hashes: outH}
	f.funcs = nil
	for i := range out {
		if e := &out[i]; e.size > 0 && (e.kind == Function || e.kind == Thunk) {
			f.funcs = append(f.funcs, f.tab.sym(i))
		}
	}
	f.procsErr = err
	return err
}

// Nearest describes rva: the function (or thunk) whose code range contains
// it when private symbols know one, else the closest symbol at or below it.
func (f *File) Nearest(rva uint32) (Symbol, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loadPublicsLocked()
	if s, ok := f.containingLocked(rva); ok {
		return s, true
	}
	ents := f.tab.ents
	i := sort.Search(len(ents), func(i int) bool { return ents[i].rva > rva }) - 1
	if i < 0 {
		return Symbol{}, false
	}
	// Ties are sorted best-first; step back to the first of the group.
	for i > 0 && ents[i-1].rva == ents[i].rva {
		i--
	}
	return f.tab.sym(i), true
}

// containingLocked finds a sized function covering rva, loading only the
// module whose section contribution covers it.
func (f *File) containingLocked(rva uint32) (Symbol, bool) {
	a, ok := f.addr.toInternal(rva)
	if ok && f.dbi != nil {
		for _, mi := range f.modulesAtLocked(a) {
			if s, ok := f.loadModuleLocked(mi).containing(a); ok {
				return s, true
			}
		}
	}
	if f.procsLoaded {
		// All modules are loaded: covers PDBs without section contributions.
		i := sort.Search(len(f.funcs), func(i int) bool { return f.funcs[i].RVA > rva }) - 1
		for j := i; j >= 0 && j > i-64; j-- {
			if rva-f.funcs[j].RVA < f.funcs[j].Size {
				return f.funcs[j], true
			}
		}
	}
	return Symbol{}, false
}

// Lookup returns the symbols named exactly name (case-sensitive, raw:
// decorated names match publics, undecorated ones match private symbols),
// sorted by RVA.
func (f *File) Lookup(name string) []Symbol {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loadPublicsLocked()
	var out []Symbol
	for _, i := range f.tab.lookup(name) {
		out = append(out, f.tab.sym(int(i)))
	}
	if !f.procsLoaded {
		if f.refIdx == nil {
			f.refIdx = make(map[string][]int32, len(f.procRefs))
			for i, r := range f.procRefs {
				f.refIdx[r.name] = append(f.refIdx[r.name], int32(i))
			}
		}
		for _, ri := range f.refIdx[name] {
			r := f.procRefs[ri]
			s, ok := f.loadModuleLocked(r.module).procAt(r.off)
			if ok && s.Name == name && !slices.ContainsFunc(out, func(o Symbol) bool { return cmpSymbol(o, s) == 0 }) {
				out = append(out, s)
			}
		}
	}
	slices.SortFunc(out, cmpSymbol)
	return out
}

// kindRank orders symbols that share an address: private (undecorated)
// functions and data before the linker's public name, as dbghelp prefers
// private symbols (pdb-symbols.md §3.6); labels, often compiler-local, last.
func kindRank(k SymKind) int {
	switch k {
	case Function:
		return 0
	case Data:
		return 1
	case Public:
		return 2
	case Thunk:
		return 3
	}
	return 4
}

func cmpSymbol(a, b Symbol) int {
	if a.RVA != b.RVA {
		if a.RVA < b.RVA {
			return -1
		}
		return 1
	}
	if ra, rb := kindRank(a.Kind), kindRank(b.Kind); ra != rb {
		return ra - rb
	}
	return strings.Compare(a.Name, b.Name)
}

var nameSeed = maphash.MakeSeed()

func nameHash(s string) uint32 { return uint32(maphash.String(nameSeed, s)) }

// symEnt is one indexed symbol without pointers, so a million of them cost
// the garbage collector nothing; the name lives in one of the table's blobs
// (the symbol record stream for publics).
type symEnt struct {
	off, n uint32 // name = blobs[blob][off:off+n]
	rva    uint32
	size   uint32
	mod    int32
	kind   SymKind
	flags  uint8
	blob   uint8
}

func entFor(s Symbol, blob uint8, off int) symEnt {
	return symEnt{off: uint32(off), n: uint32(len(s.Name)), rva: s.RVA, size: s.Size, mod: int32(s.Module), kind: s.Kind, flags: uint8(s.Flags), blob: blob}
}

// symTable is the address-sorted index plus a name hash table built on
// the first Lookup. The hash table is open-addressed on 32-bit hashes
// computed while the names were read in stream order, so building it for
// a million publics touches no names.
type symTable struct {
	blobs  []string
	ents   []symEnt
	hashes []uint32 // nameHash of each entry
	slots  []uint64 // hash<<32 | index+1 of a chain head; nil until needed
	next   []int32  // next entry with the same name, -1 ends
}

func (t *symTable) blob(i int) string {
	if i < len(t.blobs) {
		return t.blobs[i]
	}
	return ""
}

func (t *symTable) name(e *symEnt) string { return t.blobs[e.blob][e.off : e.off+e.n] }

func (t *symTable) sym(i int) Symbol {
	e := &t.ents[i]
	return Symbol{Name: t.name(e), RVA: e.rva, Size: e.size, Kind: e.kind, Flags: PublicFlags(e.flags), Module: int(e.mod)}
}

func (t *symTable) cmp(a, b *symEnt) int {
	if a.rva != b.rva {
		if a.rva < b.rva {
			return -1
		}
		return 1
	}
	if ra, rb := kindRank(a.kind), kindRank(b.kind); ra != rb {
		return ra - rb
	}
	return strings.Compare(t.name(a), t.name(b))
}

// sortedTable orders entries by (RVA, kind rank, name) with a radix sort
// of (RVA, position) keys: linear time, and stable for equal addresses.
func sortedTable(blobs []string, ents []symEnt, hashes []uint32) symTable {
	t := symTable{blobs: blobs, ents: ents, hashes: hashes}
	n := len(ents)
	keys := make([]uint64, n)
	for i := range ents {
		keys[i] = uint64(ents[i].rva)<<32 | uint64(i)
	}
	radixSortHigh32(keys)
	idx := make([]int32, n)
	for i, k := range keys {
		idx[i] = int32(uint32(k))
	}
	keys = nil
	// Equal addresses: most descriptive kind first, then by name.
	for a := 0; a < n; {
		b := a + 1
		for b < n && ents[idx[b]].rva == ents[idx[a]].rva {
			b++
		}
		if b-a > 1 {
			slices.SortStableFunc(idx[a:b], func(x, y int32) int { return t.cmp(&ents[x], &ents[y]) })
		}
		a = b
	}
	t.ents = make([]symEnt, n)
	t.hashes = make([]uint32, n)
	for i, j := range idx {
		t.ents[i], t.hashes[i] = ents[j], hashes[j]
	}
	return t
}

// radixSortHigh32 sorts keys by their upper 32 bits, two 16-bit LSD passes.
// Small inputs use a comparison sort: the keys are unique, so ordering them
// whole keeps equal addresses in input order just the same.
func radixSortHigh32(keys []uint64) {
	if len(keys) < 1<<14 {
		slices.Sort(keys)
		return
	}
	tmp := make([]uint64, len(keys))
	src, dst := keys, tmp
	count := make([]int, 1<<16)
	for shift := uint(32); shift < 64; shift += 16 {
		clear(count)
		for _, k := range src {
			count[(k>>shift)&0xffff]++
		}
		if count[(src[0]>>shift)&0xffff] == len(src) {
			continue // every key has the same digit
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, k := range src {
			d := (k >> shift) & 0xffff
			dst[count[d]] = k
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
}

func (t *symTable) buildNames() {
	n := len(t.ents)
	size := 2
	for size < 2*n {
		size <<= 1
	}
	mask := uint32(size - 1)
	t.slots = make([]uint64, size)
	t.next = make([]int32, n)
	for i := n - 1; i >= 0; i-- { // backwards, so chains run in address order
		h := t.hashes[i]
		for j := h & mask; ; j = (j + 1) & mask {
			s := t.slots[j]
			if s == 0 {
				t.next[i] = -1
				t.slots[j] = uint64(h)<<32 | uint64(i+1)
				break
			}
			if uint32(s>>32) == h && t.name(&t.ents[uint32(s)-1]) == t.name(&t.ents[i]) {
				t.next[i] = int32(uint32(s) - 1)
				t.slots[j] = uint64(h)<<32 | uint64(i+1)
				break
			}
		}
	}
}

// lookup returns the indexes of the entries named name.
func (t *symTable) lookup(name string) []int32 {
	if len(t.ents) == 0 {
		return nil
	}
	if t.slots == nil {
		t.buildNames()
	}
	h := nameHash(name)
	mask := uint32(len(t.slots) - 1)
	for j := h & mask; ; j = (j + 1) & mask {
		s := t.slots[j]
		if s == 0 {
			return nil
		}
		if uint32(s>>32) == h && t.name(&t.ents[uint32(s)-1]) == name {
			var out []int32
			for i := int32(uint32(s) - 1); i >= 0; i = t.next[i] {
				out = append(out, i)
			}
			return out
		}
	}
}
