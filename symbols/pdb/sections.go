package pdb

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
)

// SectionHeader is an IMAGE_SECTION_HEADER as copied into the PDB.
type SectionHeader struct {
	Name             string
	VirtualSize      uint32
	VirtualAddress   uint32
	SizeOfRawData    uint32
	PointerToRawData uint32
	Characteristics  uint32
}

// omapEntry maps one address range start: {from, to}; to == 0 = unmapped.
type omapEntry struct{ from, to uint32 }

// addrMap converts segment:offset pairs to RVAs. With OMAP (binaries
// rearranged after linking), symbols and line tables live in an "internal"
// address space that OMAP_FROM_SRC maps to real RVAs and OMAP_TO_SRC back.
type addrMap struct {
	sections []SectionHeader // final image layout (slot 5)
	orig     []SectionHeader // pre-OMAP layout (slot 10), nil without OMAP
	fromSrc  []omapEntry     // internal RVA → RVA
	toSrc    []omapEntry     // RVA → internal RVA
}

// readSections loads the section headers and OMAP tables named by the DBI
// optional debug header.
func (f *File) readSections() {
	if f.dbi == nil {
		return
	}
	m := &f.addr
	load := func(slot int) []byte {
		i := f.dbi.dbg[slot]
		if i < 0 {
			return nil
		}
		b, err := f.readStream(i)
		if err != nil {
			f.warn(err)
			return nil
		}
		return b
	}
	m.sections = parseSectionHeaders(load(dbgSectionHdr))
	m.orig = parseSectionHeaders(load(dbgSectionHdrOrig))
	m.fromSrc = parseOMAP(load(dbgOmapFromSrc))
	m.toSrc = parseOMAP(load(dbgOmapToSrc))
	if m.sections == nil {
		f.warn(&FormatError{File: f.name, Stream: 3, What: "DBI", Offset: 0,
			Msg: "no section header stream in the optional debug header; symbols cannot be given RVAs", Err: ErrNoStream})
	}
}

func parseSectionHeaders(b []byte) []SectionHeader {
	if len(b) < 40 {
		return nil
	}
	le := binary.LittleEndian
	out := make([]SectionHeader, len(b)/40)
	for i := range out {
		h := b[40*i:]
		out[i] = SectionHeader{
			Name:             strings.TrimRight(string(h[:8]), "\x00"),
			VirtualSize:      le.Uint32(h[8:]),
			VirtualAddress:   le.Uint32(h[12:]),
			SizeOfRawData:    le.Uint32(h[16:]),
			PointerToRawData: le.Uint32(h[20:]),
			Characteristics:  le.Uint32(h[36:]),
		}
	}
	return out
}

func parseOMAP(b []byte) []omapEntry {
	if len(b) < 8 {
		return nil
	}
	le := binary.LittleEndian
	out := make([]omapEntry, len(b)/8)
	for i := range out {
		out[i] = omapEntry{le.Uint32(b[8*i:]), le.Uint32(b[8*i+4:])}
	}
	// Lookups need sorted tables; writers sort them, damaged files may not.
	if !sort.SliceIsSorted(out, func(i, j int) bool { return out[i].from < out[j].from }) {
		sort.SliceStable(out, func(i, j int) bool { return out[i].from < out[j].from })
	}
	return out
}

// omapLookup translates x through table t (last entry with from <= x).
func omapLookup(t []omapEntry, x uint32) (uint32, bool) {
	i := sort.Search(len(t), func(i int) bool { return t[i].from > x }) - 1
	if i < 0 || t[i].to == 0 {
		return 0, false
	}
	return t[i].to + (x - t[i].from), true
}

// internalRVA converts seg:off with the pre-OMAP section layout.
func (m *addrMap) internalRVA(seg uint16, off uint32) (uint32, bool) {
	hs := m.sections
	if m.orig != nil {
		hs = m.orig
	}
	if seg == 0 || int(seg) > len(hs) {
		return 0, false
	}
	va := hs[seg-1].VirtualAddress
	r := va + off
	if r < va {
		return 0, false
	}
	return r, true
}

// toRVA maps an internal RVA to the image's RVA.
func (m *addrMap) toRVA(internal uint32) (uint32, bool) {
	if m.fromSrc == nil {
		return internal, true
	}
	return omapLookup(m.fromSrc, internal)
}

// toInternal maps an image RVA to the PDB's internal address space.
func (m *addrMap) toInternal(rva uint32) (uint32, bool) {
	if m.toSrc == nil {
		return rva, true
	}
	return omapLookup(m.toSrc, rva)
}

func (m *addrMap) segOffToRVA(seg uint16, off uint32) (uint32, bool) {
	r, ok := m.internalRVA(seg, off)
	if !ok {
		return 0, false
	}
	return m.toRVA(r)
}

// SegOffToRVA converts a 1-based section number and offset to an image RVA,
// applying OMAP when the PDB has it. False for absolute or unknown sections.
func (f *File) SegOffToRVA(seg uint16, off uint32) (uint32, bool) {
	return f.addr.segOffToRVA(seg, off)
}

// Sections returns the image section headers stored in the PDB.
func (f *File) Sections() []SectionHeader { return append([]SectionHeader(nil), f.addr.sections...) }

// OriginalSections returns the pre-OMAP section headers, nil without OMAP.
func (f *File) OriginalSections() []SectionHeader {
	return append([]SectionHeader(nil), f.addr.orig...)
}

// HasOMAP reports whether addresses go through OMAP tables.
func (f *File) HasOMAP() bool { return f.addr.fromSrc != nil || f.addr.toSrc != nil }

// contribRange is a section contribution placed in internal RVA space.
type contribRange struct {
	start, end uint32
	module     int
}

// contribRanges sorts the section contributions by internal RVA (built once).
func (f *File) contribRangesLocked() []contribRange {
	if f.contribsBuilt || f.dbi == nil {
		return f.contribs
	}
	f.contribsBuilt = true
	for _, c := range f.dbi.contribs {
		if c.Size == 0 || c.Module >= len(f.dbi.modules) {
			continue
		}
		s, ok := f.addr.internalRVA(c.Section, c.Offset)
		if !ok || s+c.Size < s {
			continue
		}
		f.contribs = append(f.contribs, contribRange{s, s + c.Size, c.Module})
		f.contribMax = max(f.contribMax, c.Size)
	}
	sort.Slice(f.contribs, func(i, j int) bool { return f.contribs[i].start < f.contribs[j].start })
	return f.contribs
}

// modulesAtLocked returns the modules whose contributions cover internal
// address a (normally one).
func (f *File) modulesAtLocked(a uint32) []int {
	cs := f.contribRangesLocked()
	i := sort.Search(len(cs), func(i int) bool { return cs[i].start > a })
	var out []int
	for j := i - 1; j >= 0 && uint64(cs[j].start)+uint64(f.contribMax) > uint64(a); j-- {
		if a < cs[j].end && !containsInt(out, cs[j].module) {
			out = append(out, cs[j].module)
		}
	}
	return out
}

// modulesInLocked returns the modules whose contributions overlap [a, b).
func (f *File) modulesInLocked(a, b uint32) []int {
	cs := f.contribRangesLocked()
	var out []int
	i := sort.Search(len(cs), func(i int) bool { return cs[i].start >= b })
	for j := i - 1; j >= 0 && uint64(cs[j].start)+uint64(f.contribMax) > uint64(a); j-- {
		if cs[j].end > a && !containsInt(out, cs[j].module) {
			out = append(out, cs[j].module)
		}
	}
	return out
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (h SectionHeader) String() string {
	return fmt.Sprintf("%s va=0x%x size=0x%x", h.Name, h.VirtualAddress, h.VirtualSize)
}
