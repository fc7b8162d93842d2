package pdb

import (
	"fmt"
	"sort"
)

// C13 debug subsection kinds (cvinfo.h DEBUG_S_SUBSECTION_TYPE).
const (
	debugSIgnore    = 0x80000000
	debugSLines     = 0xF2
	debugSFileChksm = 0xF4
	linesHaveCols   = 1
	namesSignature  = 0xEFFEEFFE
	unknownFile     = ^uint32(0)
)

// Line numbers the compiler uses as stepping markers rather than source
// lines (llvm include/llvm/DebugInfo/CodeView/Line.h). They are returned as
// stored: WinDbg prints them too ("stubhelpers.cpp @ 16707566").
const (
	LineAlwaysStepInto = 0xFEEFEE
	LineNeverStepInto  = 0xF00F00
)

// Line is one line-table entry: the code at [RVA, RVA+Size) came from Line
// of File.
type Line struct {
	RVA  uint32
	Size uint32
	File string
	Line int
}

type lineEntry struct {
	addr uint32 // internal RVA
	line uint32
	file uint32 // offset into /names, unknownFile when the checksum is bad
}

// lineBlock is one DEBUG_S_LINES subsection: a contribution's range and
// its entries from all files merged in address order.
type lineBlock struct {
	start, end uint32
	entries    []lineEntry
}

type moduleLines struct {
	blocks []lineBlock // sorted by start
	maxLen uint32
	err    error
}

// stringTable is the "/names" stream that line tables name files through.
type stringTable struct {
	buf string
	err error
}

func (f *File) stringsLocked() *stringTable {
	if f.strtab != nil {
		return f.strtab
	}
	t := &stringTable{}
	f.strtab = t
	i := f.namedStreamIndex("/names")
	if i < 0 {
		t.err = &FormatError{File: f.name, Stream: 1, What: "PDB info", Msg: `no "/names" stream: source file names are unknown`, Err: ErrNoStream}
		f.warn(t.err)
		return t
	}
	b, err := f.readStream(i)
	if err != nil {
		t.err = err
		f.warn(err)
		return t
	}
	c := &reader{f: f, stream: i, b: b}
	sig, _, size := c.u32(), c.u32(), c.u32()
	switch {
	case c.err != nil:
		t.err = c.failAt(0, "string table header truncated")
	case sig != namesSignature:
		t.err = c.failAt(0, fmt.Sprintf("string table signature 0x%x is not 0xEFFEEFFE", sig))
	case uint64(size) > uint64(len(b)-12):
		t.err = c.failAt(8, fmt.Sprintf("string table size %d runs past the end of the %d-byte stream", size, len(b)))
		t.buf = string(b[12:])
	default:
		t.buf = string(b[12 : 12+size])
	}
	if t.err != nil {
		f.warn(t.err)
	}
	return t
}

func (t *stringTable) at(off uint32) string {
	if off >= uint32(len(t.buf)) {
		return ""
	}
	s := t.buf[off:]
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return s[:i]
		}
	}
	return s
}

// loadLinesLocked reads and caches module i's C13 line information.
func (f *File) loadLinesLocked(i int) *moduleLines {
	if ml, ok := f.modLines[i]; ok {
		return ml
	}
	if f.modLines == nil {
		f.modLines = make(map[int]*moduleLines)
	}
	ml := &moduleLines{}
	f.modLines[i] = ml
	if f.dbi == nil || i < 0 || i >= len(f.dbi.modules) {
		return ml
	}
	m := f.dbi.modules[i]
	if m.Stream < 0 || m.C13ByteSize == 0 {
		return ml
	}
	// As for symbols, a stream shared by modules (damaged files) is read once.
	if f.linesByStream == nil {
		f.linesByStream = make(map[int]*moduleLines)
	}
	if other, ok := f.linesByStream[m.Stream]; ok {
		*ml = *other
		return ml
	}
	f.linesByStream[m.Stream] = ml
	ml.err = f.readLines(m, ml)
	if ml.err != nil {
		f.warn(ml.err)
	}
	return ml
}

func (f *File) readLines(m Module, ml *moduleLines) error {
	st, err := f.Stream(m.Stream)
	if err != nil {
		return err
	}
	base := int64(m.SymByteSize) + int64(m.C11ByteSize)
	n := int64(m.C13ByteSize)
	if base > st.size || n > st.size-base {
		return f.streamErr(m.Stream, base, fmt.Sprintf("C13 line data (%d bytes at 0x%x) runs past the end of the %d-byte stream", n, base, st.size))
	}
	b, err := f.readStreamRange(m.Stream, base, n)
	if err != nil {
		return err
	}
	s := string(b)
	le32 := func(i int) uint32 { return u32s(s, i) }
	// Subsections: u32 kind, u32 size, data, padding to 4.
	type sub struct {
		kind     uint32
		at, size int
	}
	var subs []sub
	var firstErr error
	var chk string // DEBUG_S_FILECHKSMS data
	for off := 0; off+8 <= len(s); {
		kind, size := le32(off), le32(off+4)
		if uint64(size) > uint64(len(s)-off-8) {
			firstErr = f.streamErr(m.Stream, base+int64(off), fmt.Sprintf("C13 subsection 0x%x size %d runs past the end of the line data", kind, size))
			break
		}
		if kind&debugSIgnore == 0 {
			switch kind {
			case debugSFileChksm:
				chk = s[off+8 : off+8+int(size)]
			case debugSLines:
				subs = append(subs, sub{kind, off + 8, int(size)})
			}
		}
		off += 8 + (int(size)+3)&^3
	}
	fileName := func(id uint32) uint32 {
		if uint64(id)+4 > uint64(len(chk)) {
			return unknownFile
		}
		return u32s(chk, int(id))
	}
	for _, sb := range subs {
		d := s[sb.at : sb.at+sb.size]
		errAt := func(o int, msg string) error {
			return f.streamErr(m.Stream, base+int64(sb.at+o), msg)
		}
		if len(d) < 12 {
			firstErr = cmpErr(firstErr, errAt(0, "DEBUG_S_LINES header truncated"))
			continue
		}
		offCon, seg, flags, cbCon := u32s(d, 0), u16s(d, 4), u16s(d, 6), u32s(d, 8)
		start, ok := f.addr.internalRVA(seg, offCon)
		if !ok || start+cbCon < start {
			continue
		}
		blk := lineBlock{start: start, end: start + cbCon}
		per := 8
		if flags&linesHaveCols != 0 {
			per = 12
		}
		for o := 12; o < len(d); {
			if len(d)-o < 12 {
				firstErr = cmpErr(firstErr, errAt(o, "line block header truncated"))
				break
			}
			fileID, nLines, cb := u32s(d, o), u32s(d, o+4), u32s(d, o+8)
			if cb < 12 || uint64(cb) > uint64(len(d)-o) || uint64(nLines)*uint64(per) > uint64(cb-12) {
				firstErr = cmpErr(firstErr, errAt(o, fmt.Sprintf("line block of %d bytes with %d lines does not fit", cb, nLines)))
				break
			}
			file := fileName(fileID)
			for k := 0; k < int(nLines); k++ {
				e := o + 12 + 8*k
				a := start + u32s(d, e)
				if a < start {
					continue
				}
				blk.entries = append(blk.entries, lineEntry{addr: a, line: u32s(d, e+4) & 0xFFFFFF, file: file})
			}
			o += int(cb)
		}
		if len(blk.entries) == 0 {
			continue
		}
		sort.SliceStable(blk.entries, func(i, j int) bool { return blk.entries[i].addr < blk.entries[j].addr })
		ml.blocks = append(ml.blocks, blk)
		ml.maxLen = max(ml.maxLen, cbCon)
	}
	sort.SliceStable(ml.blocks, func(i, j int) bool { return ml.blocks[i].start < ml.blocks[j].start })
	return firstErr
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// blockAt finds the line block covering internal address a.
func (ml *moduleLines) blockAt(a uint32) *lineBlock {
	bs := ml.blocks
	i := sort.Search(len(bs), func(i int) bool { return bs[i].start > a })
	for j := i - 1; j >= 0 && uint64(bs[j].start)+uint64(ml.maxLen) > uint64(a); j-- {
		if a < bs[j].end {
			return &bs[j]
		}
	}
	return nil
}

// entryEnd is where entry k of b stops: the next entry's address (equal to
// its own when a later entry at the same address shadows it, as breakpad's
// dump_syms also reports) or the end of the contribution.
func (b *lineBlock) entryEnd(k int) uint32 {
	if k+1 < len(b.entries) {
		return b.entries[k+1].addr
	}
	return max(b.end, b.entries[k].addr)
}

// lineModulesLocked lists the modules to search for internal address a:
// the one whose section contribution covers it, or every module when the
// PDB has no contributions.
func (f *File) lineModulesLocked(a uint32) []int {
	if f.dbi == nil {
		return nil
	}
	if len(f.dbi.contribs) > 0 {
		return f.modulesAtLocked(a)
	}
	all := make([]int, len(f.dbi.modules))
	for i := range all {
		all[i] = i
	}
	return all
}

// LineAt returns the source file and line of the code at rva. Where several
// entries share an address the last one wins (the earlier ones are empty).
func (f *File) LineAt(rva uint32) (file string, line int, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.addr.toInternal(rva)
	if !ok {
		return "", 0, false
	}
	for _, mi := range f.lineModulesLocked(a) {
		b := f.loadLinesLocked(mi).blockAt(a)
		if b == nil {
			continue
		}
		k := sort.Search(len(b.entries), func(i int) bool { return b.entries[i].addr > a }) - 1
		if k < 0 {
			return "", 0, false
		}
		e := b.entries[k]
		return f.fileNameLocked(e.file), int(e.line), true
	}
	return "", 0, false
}

func (f *File) fileNameLocked(id uint32) string {
	if id == unknownFile {
		return ""
	}
	return f.stringsLocked().at(id)
}

// LinesForRange returns the line entries overlapping [rva, rva+size),
// sorted by RVA, for source-annotated disassembly. Entries shadowed by a
// later one at the same address are included with Size 0.
func (f *File) LinesForRange(rva, size uint32) []Line {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.addr.toInternal(rva)
	if !ok || size == 0 {
		return nil
	}
	end := a + size
	if end < a {
		end = ^uint32(0)
	}
	var mods []int
	if f.dbi != nil && len(f.dbi.contribs) > 0 {
		mods = f.modulesInLocked(a, end)
	} else {
		mods = f.lineModulesLocked(a)
	}
	var out []Line
	for _, mi := range mods {
		ml := f.loadLinesLocked(mi)
		for bi := range ml.blocks {
			b := &ml.blocks[bi]
			if b.end <= a || b.start >= end {
				continue
			}
			for k, e := range b.entries {
				ee := b.entryEnd(k)
				if e.addr >= end || (ee <= a && !(ee == e.addr && e.addr >= a)) {
					continue
				}
				r, ok := f.addr.toRVA(e.addr)
				if !ok {
					continue
				}
				out = append(out, Line{RVA: r, Size: ee - e.addr, File: f.fileNameLocked(e.file), Line: int(e.line)})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].RVA < out[j].RVA })
	return out
}
