package pdb

import (
	"bytes"
	"encoding/binary"
)

// This file holds a small MSF 7.00 writer and a PDB builder for tests: just
// enough of the format (pdb-rs docs/pdb/msf.md, llvm docs/PDB) to produce
// files with chosen block sizes, layouts, OMAP and damage.

// msfWriter lays out streams in an MSF 7.00 container.
type msfWriter struct {
	bs       int
	streams  [][]byte // nil entry = nil stream
	nilMask  []bool
	scramble bool // hand out each stream's blocks in descending order
}

func (w *msfWriter) add(b []byte) int {
	w.streams = append(w.streams, b)
	w.nilMask = append(w.nilMask, false)
	return len(w.streams) - 1
}

func (w *msfWriter) addNil() int {
	w.streams = append(w.streams, nil)
	w.nilMask = append(w.nilMask, true)
	return len(w.streams) - 1
}

// set replaces stream i's contents (used to patch streams whose content
// depends on later stream numbers).
func (w *msfWriter) set(i int, b []byte) { w.streams[i] = b }

func (w *msfWriter) bytes() []byte {
	bs := w.bs
	next := 3 // block 0 superblock, 1-2 FPM
	alloc := func() int {
		for next%bs == 1 || next%bs == 2 { // FPM blocks of every interval
			next++
		}
		b := next
		next++
		return b
	}
	nblocks := func(n int) int { return (n + bs - 1) / bs }
	type placed struct{ blocks []int }
	pl := make([]placed, len(w.streams))
	for i, s := range w.streams {
		if w.nilMask[i] {
			continue
		}
		for k := 0; k < nblocks(len(s)); k++ {
			pl[i].blocks = append(pl[i].blocks, alloc())
		}
		if w.scramble {
			b := pl[i].blocks
			for l, r := 0, len(b)-1; l < r; l, r = l+1, r-1 {
				b[l], b[r] = b[r], b[l]
			}
		}
	}
	var dir bytes.Buffer
	le := binary.LittleEndian
	put := func(v uint32) { binary.Write(&dir, le, v) }
	put(uint32(len(w.streams)))
	for i, s := range w.streams {
		if w.nilMask[i] {
			put(nilStreamSize)
		} else {
			put(uint32(len(s)))
		}
	}
	for i := range w.streams {
		for _, b := range pl[i].blocks {
			put(uint32(b))
		}
	}
	dirBytes := dir.Bytes()
	dirBlocks := make([]int, nblocks(len(dirBytes)))
	for i := range dirBlocks {
		dirBlocks[i] = alloc()
	}
	mapBlocks := make([]int, nblocks(4*len(dirBlocks)))
	for i := range mapBlocks {
		mapBlocks[i] = alloc()
	}
	total := next
	out := make([]byte, total*bs)
	copy(out, magicMSF7)
	le.PutUint32(out[32:], uint32(bs))
	le.PutUint32(out[36:], 1)
	le.PutUint32(out[40:], uint32(total))
	le.PutUint32(out[44:], uint32(len(dirBytes)))
	for i, b := range mapBlocks {
		le.PutUint32(out[superblockSize+4*i:], uint32(b))
	}
	for i, s := range w.streams {
		for k, b := range pl[i].blocks {
			copy(out[b*bs:(b+1)*bs], s[k*bs:min((k+1)*bs, len(s))])
		}
	}
	for k, b := range dirBlocks {
		copy(out[b*bs:(b+1)*bs], dirBytes[k*bs:min((k+1)*bs, len(dirBytes))])
	}
	for i, db := range dirBlocks {
		mb := mapBlocks[i/(bs/4)]
		le.PutUint32(out[mb*bs+4*(i%(bs/4)):], uint32(db))
	}
	return out
}

// buf appends little-endian fields.
type buf struct{ bytes.Buffer }

func (b *buf) u8(v uint8)   { b.WriteByte(v) }
func (b *buf) u16(v uint16) { binary.Write(b, binary.LittleEndian, v) }
func (b *buf) u32(v uint32) { binary.Write(b, binary.LittleEndian, v) }
func (b *buf) cstr(s string) {
	b.WriteString(s)
	b.WriteByte(0)
}
func (b *buf) align4() {
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
}

// symRec appends a CodeView record padded to 4 bytes.
func symRec(out *buf, kind uint16, payload []byte) {
	n := 2 + len(payload)
	pad := (4 - (n+2)%4) % 4
	out.u16(uint16(n + pad))
	out.u16(kind)
	out.Write(payload)
	for i := 0; i < pad; i++ {
		out.u8(0xF1 + uint8(i))
	}
}

type synPub struct {
	name  string
	seg   uint16
	off   uint32
	flags uint32
}

type synProc struct {
	name      string
	seg       uint16
	off, size uint32
	local     bool
	labels    []synPub // S_LABEL32 inside the procedure
	block     bool     // add an S_BLOCK32 scope inside
}

type synLines struct {
	seg        uint16
	off, cb    uint32
	file       string
	entries    [][2]uint32 // offset from off, line
	hasColumns bool
}

type synModule struct {
	name, obj string
	procs     []synProc
	data      []synPub // module-level S_LDATA32
	lines     []synLines
	noStream  bool
}

// synPDB describes a PDB to build.
type synPDB struct {
	bs        int
	scramble  bool
	guid      [16]byte
	infoAge   uint32
	dbiAge    uint32
	machine   uint16
	sections  []SectionHeader
	orig      []SectionHeader // OMAP'd images only
	omapTo    []omapEntry
	omapFrom  []omapEntry
	publics   []synPub
	globals   []synPub // S_GDATA32
	modules   []synModule
	noContrib bool
	padding   int // bytes of an extra filler stream
	gssHook   func(*buf)
}

type synLayout struct {
	info, dbi, names, gss, secHdr, omapTo, omapFrom, orig int
	mods                                                  []int
	procOffs                                              [][]uint32 // per module, offset of each proc record
}

func (p *synPDB) build() ([]byte, synLayout) {
	var lay synLayout
	w := &msfWriter{bs: p.bs, scramble: p.scramble}
	w.add(nil)              // 0 old directory (empty)
	lay.info = w.add(nil)   // 1 patched below
	w.add(tpiHeader())      // 2 TPI: header, no records
	lay.dbi = w.add(nil)    // 3 patched below
	w.add(tpiHeader())      // 4 IPI
	lay.names = w.add(nil)  // 5
	gsi := w.add([]byte{})  // 6 globals hash (unused by the reader)
	psi := w.add([]byte{})  // 7 publics hash
	lay.gss = w.add(nil)    // 8
	lay.secHdr = w.add(nil) // 9
	lay.omapTo, lay.omapFrom, lay.orig = -1, -1, -1
	if p.omapTo != nil {
		lay.omapTo = w.add(omapBytes(p.omapTo))
	}
	if p.omapFrom != nil {
		lay.omapFrom = w.add(omapBytes(p.omapFrom))
	}
	if p.orig != nil {
		lay.orig = w.add(sectionBytes(p.orig))
	}
	w.set(lay.secHdr, sectionBytes(p.sections))

	// /names: offset 0 is the empty string.
	var names buf
	names.u8(0)
	nameOff := map[string]uint32{}
	nameOf := func(s string) uint32 {
		if o, ok := nameOff[s]; ok {
			return o
		}
		o := uint32(names.Len())
		names.cstr(s)
		nameOff[s] = o
		return o
	}

	// Module streams.
	symSizes := make([][2]uint32, len(p.modules))
	for mi, m := range p.modules {
		if m.noStream {
			lay.mods = append(lay.mods, -1)
			lay.procOffs = append(lay.procOffs, nil)
			continue
		}
		var sym buf
		sym.u32(cvSignatureC13)
		var offs []uint32
		for _, pr := range m.procs {
			start := sym.Len()
			offs = append(offs, uint32(start))
			var body buf
			for _, l := range pr.labels {
				var lb buf
				lb.u32(l.off)
				lb.u16(l.seg)
				lb.u8(0)
				lb.cstr(l.name)
				symRec(&body, sLabel32, lb.Bytes())
			}
			if pr.block {
				var bb buf
				bb.u32(0)
				bb.u32(0)
				bb.u32(pr.size / 2)
				bb.u32(pr.off + 1)
				bb.u16(pr.seg)
				bb.u8(0)
				symRec(&body, sBlock32, bb.Bytes())
				symRec(&body, sEnd, nil)
			}
			var pb buf
			pb.u32(0) // parent
			pb.u32(0) // end, patched
			pb.u32(0) // next
			pb.u32(pr.size)
			pb.u32(0)
			pb.u32(pr.size)
			pb.u32(0x1000)
			pb.u32(pr.off)
			pb.u16(pr.seg)
			pb.u8(0)
			pb.cstr(pr.name)
			kind := uint16(sGProc32)
			if pr.local {
				kind = sLProc32
			}
			var rec buf
			symRec(&rec, kind, pb.Bytes())
			endOff := start + rec.Len() + body.Len()
			rb := rec.Bytes()
			binary.LittleEndian.PutUint32(rb[8:], uint32(endOff))
			sym.Write(rb)
			sym.Write(body.Bytes())
			symRec(&sym, sEnd, nil)
		}
		for _, d := range m.data {
			var db buf
			db.u32(0x74)
			db.u32(d.off)
			db.u16(d.seg)
			db.cstr(d.name)
			symRec(&sym, sLData32, db.Bytes())
		}
		// C13: checksums then lines.
		var c13 buf
		var chk buf
		fileID := map[string]uint32{}
		for _, l := range m.lines {
			if _, ok := fileID[l.file]; ok {
				continue
			}
			fileID[l.file] = uint32(chk.Len())
			chk.u32(nameOf(l.file))
			chk.u8(0) // no checksum
			chk.u8(0)
			chk.align4()
		}
		if chk.Len() > 0 {
			c13.u32(debugSFileChksm)
			c13.u32(uint32(chk.Len()))
			c13.Write(chk.Bytes())
		}
		for _, l := range m.lines {
			var lb buf
			lb.u32(l.off)
			lb.u16(l.seg)
			flags := uint16(0)
			per := 8
			if l.hasColumns {
				flags, per = linesHaveCols, 12
			}
			lb.u16(flags)
			lb.u32(l.cb)
			lb.u32(fileID[l.file])
			lb.u32(uint32(len(l.entries)))
			lb.u32(uint32(12 + per*len(l.entries)))
			for _, e := range l.entries {
				lb.u32(e[0])
				lb.u32(e[1] | 1<<31)
			}
			if l.hasColumns {
				for range l.entries {
					lb.u16(1)
					lb.u16(2)
				}
			}
			c13.u32(debugSLines)
			c13.u32(uint32(lb.Len()))
			c13.Write(lb.Bytes())
			c13.align4()
		}
		st := append(append([]byte{}, sym.Bytes()...), c13.Bytes()...)
		st = append(st, 0, 0, 0, 0) // global refs size 0
		lay.mods = append(lay.mods, w.add(st))
		lay.procOffs = append(lay.procOffs, offs)
		symSizes[mi] = [2]uint32{uint32(sym.Len()), uint32(c13.Len())}
	}

	// Symbol record stream: publics, globals, procrefs. The GSI/PSI hash
	// streams get hash records (no bucket bits), enough for llvm-pdbutil.
	var gss buf
	var pubOffs, globOffs []uint32
	for _, pb := range p.publics {
		pubOffs = append(pubOffs, uint32(gss.Len()))
		var b buf
		b.u32(pb.flags)
		b.u32(pb.off)
		b.u16(pb.seg)
		b.cstr(pb.name)
		symRec(&gss, sPub32, b.Bytes())
	}
	for _, g := range p.globals {
		globOffs = append(globOffs, uint32(gss.Len()))
		var b buf
		b.u32(0x74)
		b.u32(g.off)
		b.u16(g.seg)
		b.cstr(g.name)
		symRec(&gss, sGData32, b.Bytes())
	}
	for mi, m := range p.modules {
		for pi, pr := range m.procs {
			if m.noStream {
				continue
			}
			globOffs = append(globOffs, uint32(gss.Len()))
			var b buf
			b.u32(0)
			b.u32(lay.procOffs[mi][pi])
			b.u16(uint16(mi + 1))
			b.cstr(pr.name)
			kind := uint16(sProcRef)
			if pr.local {
				kind = sLProcRef
			}
			symRec(&gss, kind, b.Bytes())
		}
	}
	if p.gssHook != nil {
		p.gssHook(&gss)
	}
	w.set(lay.gss, gss.Bytes())
	w.set(gsi, gsiHash(globOffs))
	var ps buf
	h := gsiHash(pubOffs)
	ps.u32(uint32(len(h)))
	ps.u32(0) // address map size
	ps.u32(0)
	ps.u32(0)
	ps.u16(0)
	ps.u16(0)
	ps.u32(0)
	ps.u32(0)
	ps.Write(h)
	w.set(psi, ps.Bytes())

	// DBI.
	var modi buf
	for mi, m := range p.modules {
		modi.u32(0)
		writeContrib(&modi, SectionContrib{Section: 1, Module: mi})
		modi.u16(0)
		stream := uint16(0xFFFF)
		if lay.mods[mi] >= 0 {
			stream = uint16(lay.mods[mi])
		}
		modi.u16(stream)
		sz := symSizes[mi]
		modi.u32(sz[0])
		modi.u32(0)
		modi.u32(sz[1])
		modi.u16(1)
		modi.u16(0)
		modi.u32(0)
		modi.u32(0)
		modi.u32(0)
		modi.cstr(m.name)
		modi.cstr(m.obj)
		modi.align4()
	}
	var sc buf
	if !p.noContrib {
		sc.u32(scVer60)
		for mi, m := range p.modules {
			for _, pr := range m.procs {
				writeContrib(&sc, SectionContrib{Section: pr.seg, Offset: pr.off, Size: pr.size, Characteristics: 0x60000020, Module: mi})
			}
		}
	}
	var sm buf
	sm.u16(uint16(len(p.sections)))
	sm.u16(uint16(len(p.sections)))
	for i, s := range p.sections {
		sm.u16(0x10d)
		sm.u16(0)
		sm.u16(0)
		sm.u16(uint16(i + 1))
		sm.u16(0xFFFF)
		sm.u16(0xFFFF)
		sm.u32(0)
		sm.u32(s.VirtualSize)
	}
	var fi buf
	fi.u16(uint16(len(p.modules)))
	fi.u16(uint16(len(p.modules)))
	for i := range p.modules {
		fi.u16(uint16(i))
	}
	for range p.modules {
		fi.u16(1)
	}
	var fnames buf
	for _, m := range p.modules {
		fi.u32(uint32(fnames.Len()))
		fnames.cstr(m.name + ".cpp")
	}
	fi.Write(fnames.Bytes())
	fi.align4()
	var dbg buf
	slots := [dbgCount]int{-1, -1, -1, lay.omapTo, lay.omapFrom, lay.secHdr, -1, -1, -1, -1, lay.orig}
	for _, s := range slots {
		if s < 0 {
			dbg.u16(0xFFFF)
		} else {
			dbg.u16(uint16(s))
		}
	}
	// EC substream: an empty string table (llvm-pdbutil reads it).
	var ec buf
	ec.u32(namesSignature)
	ec.u32(1)
	ec.u32(1)
	ec.u8(0)
	ec.u32(1)
	ec.u32(0)
	ec.u32(0)
	var d buf
	d.u32(0xFFFFFFFF)
	d.u32(19990903)
	d.u32(p.dbiAge)
	d.u16(uint16(gsi))
	d.u16(0x8E0F)
	d.u16(uint16(psi))
	d.u16(0)
	d.u16(uint16(lay.gss))
	d.u16(0)
	d.u32(uint32(modi.Len()))
	d.u32(uint32(sc.Len()))
	d.u32(uint32(sm.Len()))
	d.u32(uint32(fi.Len()))
	d.u32(0) // type server map
	d.u32(0) // MFC
	d.u32(uint32(dbg.Len()))
	d.u32(uint32(ec.Len()))
	d.u16(0)
	d.u16(p.machine)
	d.u32(0)
	d.Write(modi.Bytes())
	d.Write(sc.Bytes())
	d.Write(sm.Bytes())
	d.Write(fi.Bytes())
	d.Write(ec.Bytes())
	d.Write(dbg.Bytes())
	w.set(lay.dbi, d.Bytes())

	// /names, after every name was interned.
	var ns buf
	ns.u32(namesSignature)
	ns.u32(1)
	ns.u32(uint32(names.Len()))
	ns.Write(names.Bytes())
	ns.u32(1) // bucket count
	ns.u32(0)
	ns.u32(0) // name count
	w.set(lay.names, ns.Bytes())

	// Info stream with a named stream map holding "/names".
	var in buf
	in.u32(InfoVersionVC70)
	in.u32(0x5AB38077)
	in.u32(p.infoAge)
	in.Write(p.guid[:])
	keys := "/names\x00"
	in.u32(uint32(len(keys)))
	in.WriteString(keys)
	in.u32(1) // size
	in.u32(2) // capacity
	in.u32(1) // present words
	in.u32(1 << (uint16(hashV1("/names")) % 2))
	in.u32(0) // deleted words
	in.u32(0) // key offset
	in.u32(uint32(lay.names))
	in.u32(0)
	in.u32(20140508)
	w.set(lay.info, in.Bytes())

	if p.padding > 0 {
		w.add(make([]byte, p.padding))
	}
	return w.bytes(), lay
}

func writeContrib(b *buf, c SectionContrib) {
	b.u16(c.Section)
	b.u16(0)
	b.u32(c.Offset)
	b.u32(c.Size)
	b.u32(c.Characteristics)
	b.u16(uint16(c.Module))
	b.u16(0)
	b.u32(c.DataCRC)
	b.u32(c.RelocCRC)
}

func omapBytes(t []omapEntry) []byte {
	var b buf
	for _, e := range t {
		b.u32(e.from)
		b.u32(e.to)
	}
	return b.Bytes()
}

func sectionBytes(hs []SectionHeader) []byte {
	var b buf
	for _, h := range hs {
		var name [8]byte
		copy(name[:], h.Name)
		b.Write(name[:])
		b.u32(h.VirtualSize)
		b.u32(h.VirtualAddress)
		b.u32(h.SizeOfRawData)
		b.u32(h.PointerToRawData)
		b.u32(0)
		b.u32(0)
		b.u16(0)
		b.u16(0)
		b.u32(h.Characteristics)
	}
	return b.Bytes()
}

// gsiHash builds a GSI hash table over the given record offsets with every
// record present and no bucket bits (the reader ignores the hash anyway).
func gsiHash(offs []uint32) []byte {
	var b buf
	b.u32(0xFFFFFFFF)
	b.u32(0xEFFE0000 + 19990810)
	b.u32(uint32(8 * len(offs)))
	bitmap := (4096 + 32) / 32 * 4
	b.u32(uint32(bitmap))
	for _, o := range offs {
		b.u32(o + 1)
		b.u32(1)
	}
	b.Write(make([]byte, bitmap))
	return b.Bytes()
}

// hashV1 is the PDB name hash (LHashPbCb) used for the named stream map.
func hashV1(s string) uint32 {
	var r uint32
	b := []byte(s)
	for len(b) >= 4 {
		r ^= binary.LittleEndian.Uint32(b)
		b = b[4:]
	}
	if len(b) >= 2 {
		r ^= uint32(binary.LittleEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		r ^= uint32(b[0])
	}
	r |= 0x20202020
	r ^= r >> 11
	return r ^ r>>16
}

// tpiHeader is an empty TPI/IPI stream (llvm docs/PDB/TpiStream.md).
func tpiHeader() []byte {
	var b buf
	b.u32(20040203)
	b.u32(56)
	b.u32(0x1000)
	b.u32(0x1000)
	b.u32(0)
	b.u16(0xFFFF)
	b.u16(0xFFFF)
	b.u32(4)
	b.u32(0x3FFFF)
	for i := 0; i < 6; i++ {
		b.u32(0)
	}
	return b.Bytes()
}
