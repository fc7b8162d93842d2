package unwind

import (
	"encoding/binary"
	"sort"
)

// peBuilder lays out a small x64 PE image, in the loader's mapped layout,
// with code, UNWIND_INFO records and a .pdata table, for walks whose every
// byte is known.
type peBuilder struct {
	base  uint64
	img   []byte
	text  uint32 // next free code RVA
	xdata uint32 // next free .rdata RVA
	fns   []RuntimeFunction
}

// Image layout: headers, .text, .rdata (unwind info), .pdata.
const (
	peSize      = 0x8000
	peTextRVA   = 0x1000
	peTextSize  = 0x4000
	peRdataRVA  = 0x5000
	peRdataSize = 0x1000
	pePdataRVA  = 0x6000
	pePdataSize = 0x1000
	peHdrSize   = 0x400
	peFileAlign = 0x200
	peTimestamp = 0x5eadbeef
)

func newPE(base uint64) *peBuilder {
	return &peBuilder{base: base, img: make([]byte, peSize), text: peTextRVA, xdata: peRdataRVA}
}

// code places a function's bytes at the next 16-byte boundary and returns
// its RVA.
func (b *peBuilder) code(c []byte) uint32 {
	b.text = (b.text + 15) &^ 15
	rva := b.text
	copy(b.img[rva:], c)
	b.text += uint32(len(c))
	return rva
}

// unwindSpec describes one UNWIND_INFO.
type unwindSpec struct {
	version, flags, prolog, freg, foff uint8
	codes                              []uint16 // raw slots, in unwind order
	chain                              *RuntimeFunction
}

// uc packs an UNWIND_CODE slot.
func uc(offset, op, info uint8) uint16 { return uint16(offset) | uint16(op)<<8 | uint16(info)<<12 }

// unwind writes an UNWIND_INFO (DWORD aligned) and returns its RVA.
func (b *peBuilder) unwind(u unwindSpec) uint32 {
	if u.version == 0 {
		u.version = 1
	}
	if u.chain != nil {
		u.flags |= UnwFlagChainInfo
	}
	b.xdata = (b.xdata + 3) &^ 3
	rva := b.xdata
	p := b.img[rva:]
	p[0] = u.version | u.flags<<3
	p[1] = u.prolog
	p[2] = uint8(len(u.codes))
	p[3] = u.freg | u.foff<<4
	for i, c := range u.codes {
		binary.LittleEndian.PutUint16(p[4+2*i:], c)
	}
	n := 4 + 2*((len(u.codes)+1)&^1)
	if u.chain != nil {
		b.putFn(rva+uint32(n), *u.chain)
		n += 12
	}
	b.xdata += uint32(n)
	return rva
}

func (b *peBuilder) putFn(rva uint32, f RuntimeFunction) {
	le := binary.LittleEndian
	le.PutUint32(b.img[rva:], f.Begin)
	le.PutUint32(b.img[rva+4:], f.End)
	le.PutUint32(b.img[rva+8:], f.UnwindData)
}

// runtimeFunction writes a RUNTIME_FUNCTION outside .pdata (the target of an
// indirect entry) and returns its RVA.
func (b *peBuilder) runtimeFunction(f RuntimeFunction) uint32 {
	b.xdata = (b.xdata + 3) &^ 3
	rva := b.xdata
	b.putFn(rva, f)
	b.xdata += 12
	return rva
}

// function adds a .pdata entry.
func (b *peBuilder) function(begin, end, unwind uint32) RuntimeFunction {
	f := RuntimeFunction{Begin: begin, End: end, UnwindData: unwind}
	b.fns = append(b.fns, f)
	return f
}

// finish writes headers and .pdata and returns the mapped image.
func (b *peBuilder) finish() []byte {
	le := binary.LittleEndian
	sort.Slice(b.fns, func(i, j int) bool { return b.fns[i].Begin < b.fns[j].Begin })
	for i, f := range b.fns {
		b.putFn(pePdataRVA+uint32(12*i), f)
	}
	h := b.img
	clear(h[:peHdrSize])
	h[0], h[1] = 'M', 'Z'
	le.PutUint32(h[0x3c:], 0x80)
	copy(h[0x80:], "PE\x00\x00")
	coff := h[0x84:]
	le.PutUint16(coff[0:], 0x8664)
	le.PutUint16(coff[2:], 3)
	le.PutUint32(coff[4:], peTimestamp)
	le.PutUint16(coff[16:], 0xf0)
	le.PutUint16(coff[18:], 0x2022)
	opt := h[0x98:]
	le.PutUint16(opt[0:], 0x20b)
	le.PutUint32(opt[4:], peTextSize)
	le.PutUint32(opt[20:], peTextRVA)
	le.PutUint64(opt[24:], b.base)
	le.PutUint32(opt[32:], 0x1000)
	le.PutUint32(opt[36:], peFileAlign)
	le.PutUint16(opt[40:], 6)
	le.PutUint16(opt[48:], 6)
	le.PutUint32(opt[56:], peSize)
	le.PutUint32(opt[60:], peHdrSize)
	le.PutUint16(opt[68:], 3)
	le.PutUint64(opt[72:], 0x100000)
	le.PutUint64(opt[80:], 0x1000)
	le.PutUint64(opt[88:], 0x100000)
	le.PutUint64(opt[96:], 0x1000)
	le.PutUint32(opt[108:], 16)
	le.PutUint32(opt[112+3*8:], pePdataRVA)
	le.PutUint32(opt[112+3*8+4:], uint32(12*len(b.fns)))
	sec := h[0x98+0xf0:]
	off := uint32(peHdrSize)
	for i, s := range []struct {
		name      string
		rva, size uint32
		flags     uint32
	}{
		{".text", peTextRVA, peTextSize, 0x60000020},
		{".rdata", peRdataRVA, peRdataSize, 0x40000040},
		{".pdata", pePdataRVA, pePdataSize, 0x40000040},
	} {
		e := sec[40*i:]
		copy(e, s.name)
		le.PutUint32(e[8:], s.size)
		le.PutUint32(e[12:], s.rva)
		le.PutUint32(e[16:], s.size)
		le.PutUint32(e[20:], off)
		le.PutUint32(e[36:], s.flags)
		off += s.size
	}
	return b.img
}

// fileLayout returns the image as an image file (sections at their file
// offsets).
func (b *peBuilder) fileLayout() []byte {
	out := make([]byte, peHdrSize+peTextSize+peRdataSize+pePdataSize)
	copy(out, b.img[:peHdrSize])
	copy(out[peHdrSize:], b.img[peTextRVA:peTextRVA+peTextSize])
	copy(out[peHdrSize+peTextSize:], b.img[peRdataRVA:peRdataRVA+peRdataSize])
	copy(out[peHdrSize+peTextSize+peRdataSize:], b.img[pePdataRVA:pePdataRVA+pePdataSize])
	return out
}

// stack is thread stack memory under construction.
type stack struct {
	start uint64
	b     []byte
}

func newStack(start uint64, size int) *stack { return &stack{start: start, b: make([]byte, size)} }

func (s *stack) put64(addr, v uint64) { binary.LittleEndian.PutUint64(s.b[addr-s.start:], v) }
func (s *stack) put32(addr uint64, v uint32) {
	binary.LittleEndian.PutUint32(s.b[addr-s.start:], v)
}
func (s *stack) end() uint64 { return s.start + uint64(len(s.b)) }
