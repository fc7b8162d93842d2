package dumpbuild

import (
	"fmt"
	"sort"
)

// This file writes segment heaps (nt-heap.md §4) byte for byte with the
// Windows 10 2004 (19041) layouts, x64 and x86: the _SEGMENT_HEAP with its
// two _HEAP_SEG_CONTEXTs, 1 MiB page segments of context 0 with their
// signatures and page range descriptors, segment-allocator blocks, VS
// subsegments whose chunk headers are encoded with HeapKey, LFH
// subsegments whose BlockOffsets are encoded with LfhKey and whose bitmaps
// hold two bits per block, large blocks under an unencoded
// LargeAllocMetadata tree, and RtlpHpHeapGlobals in a captured ntdll page.
// As in ntheap.go the offsets are typed in here independently of the
// walker's tables. Facts §4.3 leaves out are taken from the parsers it
// cites (MemProcFS, DbgHelpUtils): the context address in the segment
// signature, the first-descriptor flag values, the first VS chunk offset,
// the unused-bytes word at the end of VS and LFH blocks.

// SegHeap describes one segment heap for HeapProcess.SegHeaps.
type SegHeap struct {
	Address  uint64 // 64 KiB aligned; 0 allocates one
	Segments []SegSegment
	Large    []uint64 // requested sizes of large blocks
	// EncodedTree sets the Encoded bit of LargeAllocMetadata, which a
	// walker cannot follow.
	EncodedTree bool
}

// SegSegment is one 1 MiB page segment of context 0: its page ranges in
// order from the first descriptor; the rest of the segment is one free
// range.
type SegSegment struct {
	Address   uint64 // 1 MiB aligned; 0 allocates one
	Ranges    []SegRange
	DropPages []int // page indexes within the segment left out of the dump
}

// SegRangeKind is what a page range holds.
type SegRangeKind int

const (
	SegFree  SegRangeKind = iota // a free (uncommitted) range
	SegAlloc                     // a segment-allocator block
	SegVS                        // a VS subsegment
	SegLFH                       // an LFH subsegment
)

// SegRange is one page range.
type SegRange struct {
	Kind SegRangeKind
	// Pages is the size in pages; 0 picks what the request, chunks or
	// blocks need (a free range needs it).
	Pages int
	// Request is the requested size of a SegAlloc block (0: all of it).
	Request uint64
	// VS lists the chunks of a VS subsegment; a free chunk fills the rest.
	VS []VSChunk
	// LFHBlockSize and LFH describe an LFH subsegment: one requested size
	// per block, 0 for a free block.
	LFHBlockSize uint16
	LFH          []uint64
}

// VSChunk is one VS chunk: busy with Request bytes, or a free chunk of
// Free bytes, header included.
type VSChunk struct {
	Request uint64
	Free    uint64
	// Internal sets SkipDuringWalk on a busy chunk.
	Internal bool
}

// Segment heap block kinds of PlacedBlock.Kind.
const (
	SegBackEndBlock BlockKind = iota + 16 // a page range: header, free range, segment-allocator block, subsegment
	SegVSBlock                            // a VS chunk
	SegLFHBlock                           // an LFH block
	SegLargeBlock                         // a large block
)

// segOff is the segment heap layout the writer fills for one bitness.
type segOff struct {
	ptr                                          int
	gran, descSize, vsHdr, vsFreeHdr             uint64
	sigConst                                     uint64
	sig, flags, listIndex, largeTree, largePages uint64
	ctxSize, ctxShift, ctxPPUShift, ctxFirst     uint64
	ctxHeap, ctxList, ctxCount                   uint64
	segSig, descUnused, descFlags, descUnits     uint64
	vsBitmap, vsSize, vsSig, vsFirst             uint64
	lfhOwner, lfhFree, lfhCount, lfhOffsets      uint64
	lfhBitmap                                    uint64
	laVA, laPages, laNode                        uint64
	firstDesc                                    uint64 // FirstDescriptorIndex of context 0
}

func segOffsets(bits int) *segOff {
	if bits == 32 {
		return &segOff{ptr: 4, gran: 8, descSize: 0x10, vsHdr: 8, vsFreeHdr: 0x10, sigConst: 0xa2e64ead,
			sig: 0x08, flags: 0x0c, listIndex: 0x14, largeTree: 0x44, largePages: 0x4c,
			ctxSize: 0x80, ctxShift: 0x04, ctxPPUShift: 0x05, ctxFirst: 0x06, ctxHeap: 0x24, ctxList: 0x44, ctxCount: 0x4c,
			segSig: 0x08, descUnused: 0x04, descFlags: 0x0c, descUnits: 0x0f,
			vsBitmap: 0x08, vsSize: 0x14, vsSig: 0x16, vsFirst: 0x18,
			lfhOwner: 0x08, lfhFree: 0x10, lfhCount: 0x12, lfhOffsets: 0x18, lfhBitmap: 0x20,
			laVA: 0x0c, laPages: 0x10, laNode: 0x18, firstDesc: 1}
	}
	return &segOff{ptr: 8, gran: 16, descSize: 0x20, vsHdr: 0x10, vsFreeHdr: 0x20, sigConst: 0xa2e64eada2e64ead,
		sig: 0x10, flags: 0x14, listIndex: 0x1c, largeTree: 0x48, largePages: 0x58,
		ctxSize: 0xc0, ctxShift: 0x08, ctxPPUShift: 0x09, ctxFirst: 0x0a, ctxHeap: 0x38, ctxList: 0x48, ctxCount: 0x58,
		segSig: 0x10, descUnused: 0x04, descFlags: 0x18, descUnits: 0x1f,
		vsBitmap: 0x10, vsSize: 0x20, vsSig: 0x22, vsFirst: 0x30,
		lfhOwner: 0x10, lfhFree: 0x20, lfhCount: 0x22, lfhOffsets: 0x28, lfhBitmap: 0x30,
		laVA: 0x18, laPages: 0x20, laNode: 0x30, firstDesc: 2}
}

// First-descriptor flag values and other constants (see the walker).
const (
	segRangeFree  = 0x02
	segRangeBlock = 0x03
	segRangeLFH   = 0x0b
	segRangeVS    = 0x0f
	segMiB        = 0x100000
	segUnits      = 256
	// Defaults of HeapProcess.HeapKey and SegLFHKey.
	defaultHeapKey   = 0x6a3f1c2d9e5b7a41
	defaultSegLFHKey = 0x3c9a51e7
)

// segWriter writes the segment heaps of one process.
type segWriter struct {
	*heapWriter
	o       *segOff
	bits    int
	heapKey uint64
	lfhKey  uint32
}

// segmentHeaps writes p.SegHeaps and, unless p.NoHeapGlobals,
// RtlpHpHeapGlobals inside ntdll's image, and records the keys in t.
func (w *heapWriter) segmentHeaps(p *HeapProcess, bits, index int, t *HeapTruth, ntdll uint64) []PlacedHeap {
	sw := &segWriter{heapWriter: w, o: segOffsets(bits), bits: bits, heapKey: p.HeapKey, lfhKey: p.SegLFHKey}
	if sw.heapKey == 0 {
		sw.heapKey = defaultHeapKey
	}
	if bits == 32 {
		sw.heapKey &= 0xffffffff
	}
	if sw.lfhKey == 0 {
		sw.lfhKey = defaultSegLFHKey
	}
	t.HeapKey, t.SegLFHKey = sw.heapKey, sw.lfhKey
	var out []PlacedHeap
	for i := range p.SegHeaps {
		out = append(out, sw.heap(&p.SegHeaps[i], index+i))
	}
	if !p.NoHeapGlobals {
		g := ntdll + 0x150000
		r := w.sp.reserve(g, heapPage)
		r.commit = [][2]uint64{{g, g + heapPage}}
		g += 0x40
		w.sp.ptr(g, sw.heapKey, sw.o.ptr)
		w.sp.u32(g+uint64(sw.o.ptr), sw.lfhKey)
		t.HeapGlobals = g
	}
	return out
}

// heap writes one segment heap.
func (sw *segWriter) heap(spec *SegHeap, index int) PlacedHeap {
	sp, o := sw.sp, sw.o
	a := spec.Address
	if a == 0 || a%heapAlign != 0 {
		if a != 0 {
			sp.fail(fmt.Errorf("dumpbuild: segment heap address %#x is not 64 KiB aligned", a))
		}
		a = sp.alloc(0x10000)
	}
	hr := sp.reserve(a, 0x10000)
	hr.commit = [][2]uint64{{a, a + 0x3000}}
	ph := PlacedHeap{Address: a, Bits: sw.bits, Segment: true}
	ctx0 := uint64(0x100)
	if sw.bits == 64 && sw.build >= 22000 {
		ctx0 = 0x140
	}
	ctx0 += a
	ctx1 := ctx0 + o.ctxSize
	sp.u32(a+o.sig, segHeapSignature)
	sp.u32(a+o.flags, 0x2)
	sp.u16(a+o.listIndex, uint16(index+1))
	// Context 0: 1 MiB segments of 4 KiB units; context 1: 16 MiB of 64 KiB.
	for i, c := range []struct {
		at, size uint64
		shift    uint8
		first    uint8
	}{{ctx0, segMiB, 12, uint8(o.firstDesc)}, {ctx1, 16 * segMiB, 16, 1}} {
		sp.ptr(c.at, ^(c.size - 1), o.ptr)
		sp.u8(c.at+o.ctxShift, c.shift)
		sp.u8(c.at+o.ctxPPUShift, c.shift-12)
		sp.u8(c.at+o.ctxFirst, c.first)
		sp.ptr(c.at+o.ctxHeap, a, o.ptr)
		if i == 1 {
			sp.link(c.at+o.ctxList, nil, o.ptr)
		}
	}
	var segs []uint64
	for i := range spec.Segments {
		s := &spec.Segments[i]
		addr := s.Address
		if addr == 0 || addr%segMiB != 0 {
			if addr != 0 {
				sp.fail(fmt.Errorf("dumpbuild: page segment address %#x is not 1 MiB aligned", addr))
			}
			addr = alignUp(sp.next, segMiB)
		}
		segs = append(segs, addr)
		ph.Blocks = append(ph.Blocks, sw.pageSegment(s, addr, a, ctx0)...)
	}
	sp.link(ctx0+o.ctxList, segs, o.ptr)
	sp.ptr(ctx0+o.ctxCount, uint64(len(segs)), o.ptr)
	ph.PageSegments = segs
	large, pages := sw.large(spec, a)
	sp.ptr(a+o.largePages, pages, o.ptr)
	sp.ptr(a+o.largePages+uint64(o.ptr), pages, o.ptr)
	ph.Blocks = append(ph.Blocks, large...)
	return ph
}

// pageSegment writes one page segment at seg of context ctx and returns
// its blocks in walk order.
func (sw *segWriter) pageSegment(s *SegSegment, seg, heap, ctx uint64) []PlacedBlock {
	sp, o := sw.sp, sw.o
	r := sp.reserve(seg, segMiB)
	sp.ptr(seg+o.segSig, seg^ctx^sw.heapKey^o.sigConst, o.ptr)
	hdr := o.firstDesc * heapPage
	out := []PlacedBlock{{Entry: seg, User: seg, Size: hdr, Granules: hdr / o.gran, UserSize: hdr, Flags: 1, Busy: true,
		Internal: true, Kind: SegBackEndBlock, Heap: heap, Segment: seg, SegmentHeader: true}}
	commit := [][2]uint64{{seg, seg + hdr}}
	unit := o.firstDesc
	desc := func(first, units uint64, flags uint8) {
		for j := uint64(0); j < units; j++ {
			d := seg + (first+j)*o.descSize
			if j == 0 {
				sp.u8(d+o.descFlags, flags)
				sp.u8(d+o.descUnits, uint8(units))
			} else {
				sp.u8(d+o.descFlags, flags&^0x02)
				sp.u8(d+o.descUnits, uint8(j))
			}
		}
	}
	for i := range s.Ranges {
		rg := &s.Ranges[i]
		start := seg + unit*heapPage
		var blocks []PlacedBlock
		var pages uint64
		var flags uint8
		switch rg.Kind {
		case SegFree:
			pages, flags = uint64(rg.Pages), segRangeFree
			blocks = []PlacedBlock{{Entry: start, User: start, Size: pages * heapPage, Granules: pages * heapPage / o.gran,
				UserSize: pages * heapPage, Kind: SegBackEndBlock, Heap: heap, Segment: seg}}
		case SegAlloc:
			pages, flags = uint64(rg.Pages), segRangeBlock
			if pages == 0 {
				pages = (rg.Request + heapPage - 1) / heapPage
			}
			req := rg.Request
			if req == 0 {
				req = pages * heapPage
			}
			sz := pages * heapPage
			if req > sz {
				sp.fail(fmt.Errorf("dumpbuild: a %#x-byte request does not fit %d pages", req, pages))
				return nil
			}
			sp.u32(seg+unit*o.descSize+o.descUnused, uint32(sz-req))
			blocks = []PlacedBlock{{Entry: start, User: start, Size: sz, Granules: sz / o.gran, UserSize: req, Unused: sz - req,
				Flags: 1, Busy: true, Kind: SegBackEndBlock, Heap: heap, Segment: seg, RequestedFromCaller: true}}
		case SegVS:
			flags = segRangeVS
			pages, blocks = sw.vs(rg, start, heap)
		case SegLFH:
			flags = segRangeLFH
			pages, blocks = sw.lfh(rg, start, heap)
		}
		if pages == 0 || unit+pages > segUnits {
			sp.fail(fmt.Errorf("dumpbuild: page range %d of %d pages does not fit the segment at %#x", i, pages, seg))
			return nil
		}
		desc(unit, pages, flags)
		if rg.Kind != SegFree {
			if last := &commit[len(commit)-1]; last[1] == start {
				last[1] = start + pages*heapPage
			} else {
				commit = append(commit, [2]uint64{start, start + pages*heapPage})
			}
		}
		if rg.Kind == SegVS || rg.Kind == SegLFH {
			out = append(out, PlacedBlock{Entry: start, User: start, Size: pages * heapPage, Granules: pages * heapPage / o.gran,
				UserSize: pages * heapPage, Flags: 1, Busy: true, Internal: true, Kind: SegBackEndBlock, Heap: heap, Segment: seg})
		}
		out = append(out, blocks...)
		unit += pages
	}
	if unit < segUnits {
		start := seg + unit*heapPage
		desc(unit, segUnits-unit, segRangeFree)
		n := (segUnits - unit) * heapPage
		out = append(out, PlacedBlock{Entry: start, User: start, Size: n, Granules: n / o.gran, UserSize: n,
			Kind: SegBackEndBlock, Heap: heap, Segment: seg})
	}
	r.commit = commit
	if len(s.DropPages) > 0 {
		r.drop = map[uint64]bool{}
		for _, pg := range s.DropPages {
			pa := seg + uint64(pg)*heapPage
			r.drop[pa] = true
			for i := range out {
				if b := &out[i]; b.Kind == SegVSBlock && b.Entry >= pa && b.Entry < pa+heapPage {
					b.Dropped = true
				}
			}
		}
	}
	return out
}

// putUnused writes the unused-bytes word at the end of a block of n bytes
// at a: one byte 0x80 for one unused byte, else the count in a u16.
func (sw *segWriter) putUnused(a, n, unused uint64) {
	if unused == 1 {
		sw.sp.u8(a+n-1, 0x80)
		return
	}
	sw.sp.u16(a+n-2, uint16(unused))
}

// vs writes a VS subsegment at sub and returns its pages and chunks.
func (sw *segWriter) vs(rg *SegRange, sub, heap uint64) (uint64, []PlacedBlock) {
	sp, o := sw.sp, sw.o
	type plan struct {
		size, req  uint64
		free, skip bool
	}
	var chunks []plan
	need := o.vsFirst
	for _, c := range rg.VS {
		var pl plan
		if c.Free != 0 {
			if c.Free%o.gran != 0 || c.Free < o.vsFreeHdr {
				sp.fail(fmt.Errorf("dumpbuild: free VS chunk of %#x bytes", c.Free))
				return 0, nil
			}
			pl = plan{size: c.Free, free: true}
		} else {
			if c.Request == 0 {
				sp.fail(fmt.Errorf("dumpbuild: busy VS chunk with no request"))
				return 0, nil
			}
			pl = plan{size: alignUp(c.Request+o.vsHdr, o.gran), req: c.Request, skip: c.Internal}
		}
		chunks = append(chunks, pl)
		need += pl.size
	}
	pages := uint64(rg.Pages)
	if pages == 0 {
		pages = (need + heapPage - 1) / heapPage
		if rem := pages*heapPage - need; rem > 0 && rem < o.vsFreeHdr {
			pages++
		}
	}
	end := sub + pages*heapPage
	if rem := pages*heapPage - need; need > pages*heapPage || rem > 0 && rem < o.vsFreeHdr {
		sp.fail(fmt.Errorf("dumpbuild: VS chunks of %#x bytes do not fit %d pages", need, pages))
		return 0, nil
	} else if rem > 0 {
		chunks = append(chunks, plan{size: rem, free: true})
	}
	size16 := pages * heapPage / 16
	sp.link(sub, nil, o.ptr)
	sp.ptr(sub+o.vsBitmap, 1<<min(pages, uint64(o.ptr*8-1))-1, o.ptr)
	sp.u16(sub+o.vsSize, uint16(size16))
	sp.u16(sub+o.vsSig, uint16((size16^0x2bed)&0x7fff|0x8000))
	var out []PlacedBlock
	var prev uint64
	p := sub + o.vsFirst
	for _, c := range chunks {
		units := c.size / o.gran
		alloc := uint64(0)
		cost := (c.size + heapPage - 1) / heapPage
		if !c.free {
			alloc, cost = 1, 0
		}
		if sw.bits == 64 {
			v := cost | units<<16 | prev<<32 | alloc<<48
			sp.u64(p, v^p^sw.heapKey)
		} else {
			v := uint32(cost&1) | uint32(units)<<1 | uint32(prev)<<16 | uint32(alloc)<<31
			sp.u32(p, v^uint32(p)^uint32(sw.heapKey))
		}
		pb := PlacedBlock{Entry: p, User: p + o.vsHdr, Size: c.size, Granules: units, PrevSize: prev, Kind: SegVSBlock,
			Heap: heap, Segment: sub}
		if c.free {
			pb.UserSize, pb.Unused = c.size-o.vsHdr, o.vsHdr
		} else {
			off := o.vsHdr / 2 // EncodedSegmentPageOffset follows Sizes
			sp.u8(p+off, uint8((p-sub)>>12)^uint8(p)^uint8(sw.heapKey))
			unused := c.size - o.vsHdr - c.req
			var bits uint8
			if unused > 0 {
				bits = 1
				sw.putUnused(p+o.vsHdr, c.size-o.vsHdr, unused)
			}
			if c.skip {
				bits |= 2
			}
			sp.u8(p+off+1, bits)
			pb.Busy, pb.Internal, pb.Flags, pb.UserSize, pb.Unused, pb.RequestedFromCaller = true, c.skip, 1, c.req, c.size-c.req, !c.skip
		}
		out = append(out, pb)
		prev = units
		p += c.size
	}
	if p != end {
		sp.fail(fmt.Errorf("dumpbuild: VS chunks end at %#x, not %#x", p, end))
	}
	return pages, out
}

// lfh writes an LFH subsegment at sub and returns its pages and blocks.
func (sw *segWriter) lfh(rg *SegRange, sub, heap uint64) (uint64, []PlacedBlock) {
	sp, o := sw.sp, sw.o
	bs, count := uint64(rg.LFHBlockSize), uint64(len(rg.LFH))
	if bs == 0 || bs%o.gran != 0 || count == 0 || count > 0xffff {
		sp.fail(fmt.Errorf("dumpbuild: LFH subsegment of %d blocks of %#x bytes", count, bs))
		return 0, nil
	}
	first := alignUp(o.lfhBitmap+alignUp((2*count+7)/8, 8), o.gran)
	pages := uint64(rg.Pages)
	if pages == 0 {
		pages = (first + count*bs + heapPage - 1) / heapPage
	}
	if first+count*bs > pages*heapPage {
		sp.fail(fmt.Errorf("dumpbuild: %d LFH blocks of %#x bytes do not fit %d pages", count, bs, pages))
		return 0, nil
	}
	sp.link(sub, nil, o.ptr)
	free := 0
	var out []PlacedBlock
	for i, req := range rg.LFH {
		a := sub + first + uint64(i)*bs
		pb := PlacedBlock{Entry: a, User: a, Size: bs, Granules: bs / o.gran, UserSize: bs, Kind: SegLFHBlock, Heap: heap,
			Segment: sub, Index: i}
		bits := uint8(0)
		if req == 0 {
			free++
		} else {
			if req > bs {
				sp.fail(fmt.Errorf("dumpbuild: LFH request %#x exceeds block size %#x", req, bs))
				return 0, nil
			}
			bits = 1
			if req < bs {
				bits |= 2
				sw.putUnused(a, bs, bs-req)
			}
			pb.Busy, pb.Flags, pb.UserSize, pb.Unused, pb.RequestedFromCaller = true, 1, req, bs-req, true
		}
		bm := sub + o.lfhBitmap + uint64(i/4)
		sp.u8(bm, sp.at(bm, 1)[0]|bits<<(uint(i%4)*2))
		out = append(out, pb)
	}
	sp.u16(sub+o.lfhFree, uint16(free))
	sp.u16(sub+o.lfhCount, uint16(count))
	sp.u32(sub+o.lfhOffsets, uint32(bs|first<<16)^sw.lfhKey^uint32(sub>>12))
	return pages, out
}

// large writes the large blocks and their LargeAllocMetadata tree, and
// returns the blocks in address order and the pages they hold.
func (sw *segWriter) large(spec *SegHeap, heap uint64) ([]PlacedBlock, uint64) {
	sp, o := sw.sp, sw.o
	type lb struct{ base, pages, req uint64 }
	var ls []lb
	var total uint64
	for _, req := range spec.Large {
		pages := (req + heapPage - 1) / heapPage
		if pages == 0 {
			sp.fail(fmt.Errorf("dumpbuild: large block of %#x bytes", req))
			return nil, 0
		}
		base := sp.alloc(pages * heapPage)
		r := sp.reserve(base, alignUp(pages*heapPage, heapAlign))
		r.commit = [][2]uint64{{base, base + pages*heapPage}}
		ls = append(ls, lb{base, pages, req})
		total += pages
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].base < ls[j].base })
	if uint64(len(ls))*o.laNode > 0x2000 {
		sp.fail(fmt.Errorf("dumpbuild: %d large blocks are too many", len(ls)))
		return nil, 0
	}
	node := func(i int) uint64 { return heap + 0x1000 + uint64(i)*o.laNode }
	var out []PlacedBlock
	for i, l := range ls {
		n := node(i)
		unused := l.pages*heapPage - l.req
		sp.ptr(n+o.laVA, l.base|unused, o.ptr)
		sp.ptr(n+o.laPages, l.pages<<12, o.ptr)
		sz := l.pages * heapPage
		out = append(out, PlacedBlock{Entry: l.base, User: l.base, Size: sz, Granules: sz / o.gran, UserSize: l.req,
			Unused: unused, Flags: 1, Busy: true, Kind: SegLargeBlock, Heap: heap, Segment: n, RequestedFromCaller: true})
	}
	// A balanced binary search tree by address: Left, Right, ParentValue.
	var build func(lo, hi int, parent uint64) uint64
	build = func(lo, hi int, parent uint64) uint64 {
		if lo >= hi {
			return 0
		}
		mid := (lo + hi) / 2
		n := node(mid)
		sp.ptr(n, build(lo, mid, n), o.ptr)
		sp.ptr(n+uint64(o.ptr), build(mid+1, hi, n), o.ptr)
		sp.ptr(n+2*uint64(o.ptr), parent, o.ptr)
		return n
	}
	t := heap + o.largeTree
	root := build(0, len(ls), 0)
	sp.ptr(t, root, o.ptr)
	if root != 0 {
		mn := node(0)
		if spec.EncodedTree {
			mn |= 1
		}
		sp.ptr(t+uint64(o.ptr), mn, o.ptr)
	}
	return out, total
}
