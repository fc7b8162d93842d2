package pdb

import (
	"fmt"
	"sort"
)

const cvSignatureC13 = 4

// moduleSyms is one module stream's address-bearing symbols.
type moduleSyms struct {
	syms     []Symbol
	procOffs []uint32 // stream offsets of procedure records, ascending
	procSyms []int32  // index into syms for each procOffs entry
	ranges   []codeRange
	maxLen   uint32
	err      error
}

// codeRange is a sized procedure or thunk in internal RVA space.
type codeRange struct {
	start, end uint32
	sym        int32
}

// ModuleSymbols returns the procedures, thunks, labels and module-level data
// of module i, in stream order, loading the module if needed.
func (f *File) ModuleSymbols(i int) ([]Symbol, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ms := f.loadModuleLocked(i)
	return append([]Symbol(nil), ms.syms...), ms.err
}

// loadModuleLocked reads and caches module i's symbol substream. Errors are
// kept in the result (and in Warnings) with whatever was read before them.
func (f *File) loadModuleLocked(i int) *moduleSyms {
	if ms, ok := f.mods[i]; ok {
		return ms
	}
	if f.mods == nil {
		f.mods = make(map[int]*moduleSyms)
	}
	ms := &moduleSyms{}
	f.mods[i] = ms
	if f.dbi == nil || i < 0 || i >= len(f.dbi.modules) {
		ms.err = fmt.Errorf("pdb %s: no module %d", f.name, i)
		return ms
	}
	m := f.dbi.modules[i]
	if m.Stream < 0 || m.SymByteSize == 0 {
		return ms
	}
	// Modules sharing one stream (only in damaged files) are read once.
	if f.modByStream == nil {
		f.modByStream = make(map[int]*moduleSyms)
	}
	if other, ok := f.modByStream[m.Stream]; ok {
		*ms = *other
		return ms
	}
	f.modByStream[m.Stream] = ms
	ms.err = f.readModuleSyms(m, ms)
	if ms.err != nil {
		f.warn(ms.err)
	}
	return ms
}

func (f *File) readModuleSyms(m Module, ms *moduleSyms) error {
	st, err := f.Stream(m.Stream)
	if err != nil {
		return err
	}
	n := int64(m.SymByteSize)
	if n > st.size {
		f.warn(f.streamErr(m.Stream, 0, fmt.Sprintf("module symbols size %d exceeds the %d-byte stream; reading what is there", n, st.size)))
		n = st.size
	}
	b, err := f.readStreamRange(m.Stream, 0, n)
	if err != nil {
		return err
	}
	if len(b) < 4 {
		return f.streamErr(m.Stream, 0, "module symbol substream truncated before its signature")
	}
	s := string(b)
	if sig := u32s(s, 0); sig != cvSignatureC13 {
		return &FormatError{File: f.name, Stream: m.Stream, What: f.streamLabel(m.Stream), Err: ErrUnsupported,
			Msg: fmt.Sprintf("module symbol signature %d is not C13 (4); older CodeView symbols are not supported", sig)}
	}
	depth := 0
	var walkErr error
	for off := 4; off < len(s); {
		r, next, msg := nextRecord(s, off)
		if msg != "" {
			walkErr = f.streamErr(m.Stream, int64(off), msg)
			break
		}
		off = next
		if closesScope(r.kind) {
			if depth > 0 {
				depth--
			}
			continue
		}
		top := depth == 0
		if opensScope(r.kind) {
			depth++
		}
		switch {
		case isProc(r.kind):
			p, ok := parseProc(r)
			if !ok {
				continue
			}
			if idx := f.addModuleSym(ms, m.Index, p.name, p.seg, p.off, p.size, Function); idx >= 0 {
				ms.procOffs = append(ms.procOffs, uint32(r.off))
				ms.procSyms = append(ms.procSyms, int32(idx))
			}
		case r.kind == sThunk32:
			t, ok := parseThunk(r)
			if ok && t.name != "" {
				f.addModuleSym(ms, m.Index, t.name, t.seg, t.off, uint32(t.size), Thunk)
			}
		case r.kind == sLabel32:
			l, ok := parseLabel(r)
			if ok && l.name != "" {
				f.addModuleSym(ms, m.Index, l.name, l.seg, l.off, 0, Label)
			}
		case top && (r.kind == sGData32 || r.kind == sLData32 || r.kind == sGData32ST || r.kind == sLData32ST):
			// Function-level statics (nested) are skipped: their names are
			// only meaningful inside the function's scope.
			d, ok := parseData(r)
			if ok && d.name != "" {
				f.addModuleSym(ms, m.Index, d.name, d.seg, d.off, 0, Data)
			}
		}
	}
	sort.Slice(ms.ranges, func(i, j int) bool { return ms.ranges[i].start < ms.ranges[j].start })
	return walkErr
}

// addModuleSym converts seg:off and appends a symbol; -1 when the address
// does not map to the image.
func (f *File) addModuleSym(ms *moduleSyms, mod int, name string, seg uint16, off, size uint32, kind SymKind) int {
	in, ok := f.addr.internalRVA(seg, off)
	if !ok {
		return -1
	}
	rva, ok := f.addr.toRVA(in)
	if !ok {
		return -1
	}
	idx := len(ms.syms)
	ms.syms = append(ms.syms, Symbol{Name: name, RVA: rva, Size: size, Kind: kind, Module: mod})
	if size > 0 && in+size > in {
		ms.ranges = append(ms.ranges, codeRange{in, in + size, int32(idx)})
		ms.maxLen = max(ms.maxLen, size)
	}
	return idx
}

// containing returns the innermost sized code symbol covering internal
// address a.
func (ms *moduleSyms) containing(a uint32) (Symbol, bool) {
	rs := ms.ranges
	i := sort.Search(len(rs), func(i int) bool { return rs[i].start > a })
	for j := i - 1; j >= 0 && uint64(rs[j].start)+uint64(ms.maxLen) > uint64(a); j-- {
		if a < rs[j].end {
			return ms.syms[rs[j].sym], true
		}
	}
	return Symbol{}, false
}

// procAt returns the procedure whose record starts at stream offset off.
func (ms *moduleSyms) procAt(off uint32) (Symbol, bool) {
	i := sort.Search(len(ms.procOffs), func(i int) bool { return ms.procOffs[i] >= off })
	if i < len(ms.procOffs) && ms.procOffs[i] == off {
		return ms.syms[ms.procSyms[i]], true
	}
	return Symbol{}, false
}
