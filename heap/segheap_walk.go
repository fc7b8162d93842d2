package heap

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// segWalker walks one segment heap (nt-heap.md §4.3): each page segment's
// header, then its page ranges in descriptor order — free ranges,
// segment-allocator blocks, and VS and LFH subsegments (as internal
// blocks followed by their chunks) — then the large blocks in address
// order. Every structure is checked before it is believed: the page
// segment signature against HeapKey, the VS subsegment signature, every VS
// chunk header (size, previous size, page offset), the LFH geometry against
// its page range, the large-allocation tree for cycles.
type segWalker struct {
	*walker
	sl   *segWalkLayout
	hl   *segHeapLayout
	keys *segKeys
	// only, when nonzero, limits pageSegment to the range holding it (Find).
	only uint64
}

func newSegWalker(w *walker) *segWalker {
	p := w.h.p
	hl := &segHeap64
	if p.Bits == 32 {
		hl = &segHeap32
	}
	return &segWalker{walker: w, sl: segLayoutFor(p.Bits), hl: hl, keys: p.segmentKeys(w.r)}
}

// walkSegmentHeap is Walk on a segment heap.
func (w *walker) walkSegmentHeap() {
	p := w.h.p
	if !segWalkBuilds(p.Build) {
		build := fmt.Sprintf("build %d", p.Build)
		if p.Build == 0 {
			build = "an unknown build"
		}
		w.report(Unsupported, 0, w.h.Address, 0, "segment heap: blocks are not walked on %s: nt-heap.md §4.3 has the segment heap layouts of builds 19041–22631 only (24H2 and later: Low confidence)", build)
		return
	}
	sw := newSegWalker(w)
	if !sw.pageSegments() || w.v.NoVirtual {
		return
	}
	sw.largeBlocks(w.block)
}

// pageSegments walks the page segments of both contexts in address order.
func (sw *segWalker) pageSegments() bool {
	info := sw.h.Seg
	if info == nil || info.SegContexts == 0 {
		return true // the listing reported why
	}
	if len(info.Segments) == 0 {
		return true
	}
	if !sw.keys.heapOK {
		return sw.report(Unsupported, 0, sw.h.Address, 0, "segment heap: blocks are not walked in its page segments: %s", sw.keys.heapWhy)
	}
	segs := append([]PageSegment(nil), info.Segments...)
	sort.SliceStable(segs, func(i, j int) bool { return segs[i].Address < segs[j].Address })
	for _, ps := range segs {
		if err := sw.ctx.Err(); err != nil {
			sw.err, sw.stopped = err, true
			return false
		}
		if !sw.pageSegment(ps) {
			return false
		}
	}
	return true
}

// pageSegment walks one _HEAP_PAGE_SEGMENT: its header (the descriptor
// array, up to FirstDescriptorIndex) and its page ranges. A descriptor
// that does not start a range, or whose size leaves the segment, ends the
// segment's walk: where the next range starts would be a guess.
func (sw *segWalker) pageSegment(ps PageSegment) bool {
	sl, r := sw.sl, sw.r
	seg := ps.Address
	ctx := sw.h.Seg.SegContexts + uint64(ps.Context*sw.hl.ctxSize)
	shift, first, ok := segContextGeometry(r, sl, ctx, ps)
	if !ok {
		return sw.report(BadHeader, seg, seg, ps.Size, "page segment %#x: context %d's UnitShift and FirstDescriptorIndex do not describe a %#x-byte segment of %d descriptors (or are not captured)", seg, ps.Context, ps.Size, segDescriptors)
	}
	sig, ok := r.ptr(seg+uint64(sl.segSig), sl.ptr)
	if !ok {
		return sw.report(NotCaptured, seg, seg, ps.Size, "page segment header %s", r.missingWhy(seg+uint64(sl.segSig)))
	}
	if c := sl.mask(sig ^ seg ^ ctx ^ sl.sigConst); c != sw.keys.heapKey {
		return sw.report(BadHeader, seg, seg+uint64(sl.segSig), ps.Size, "page segment %#x: signature %#x does not match HeapKey %#x", seg, sig, sw.keys.heapKey)
	}
	hdr := uint64(first) << shift
	if sw.only == 0 || sw.only < seg+hdr {
		b := Block{Entry: seg, User: seg, Size: hdr, Granules: hdr / sl.gran, UserSize: hdr, Flags: FlagBusy,
			State: Internal, Kind: SegBackEnd, Attr: AttrSegmentHeader, Heap: sw.h.Address, Segment: seg}
		if !sw.block(b) || sw.only != 0 {
			return !sw.stopped
		}
	}
	for i := uint64(first); i < segDescriptors; {
		d := seg + i*sl.descSize
		start := seg + i<<shift
		rest := ps.Size - i<<shift
		fl, ok1 := r.u8(d + uint64(sl.descFlags))
		units, ok2 := r.u8(d + uint64(sl.descUnits))
		if !ok1 || !ok2 {
			return sw.report(NotCaptured, seg, start, rest, "page range descriptor %d at %#x %s", i, d, r.missingWhy(d))
		}
		fl &= sl.flagsMask
		if fl&rangeFirst == 0 {
			return sw.report(BadHeader, seg, start, rest, "page range descriptor %d at %#x (flags %#x) does not start a range", i, d, fl)
		}
		if units == 0 || i+uint64(units) > segDescriptors {
			return sw.report(BadHeader, seg, start, rest, "page range descriptor %d at %#x has %d units; %d are left in the segment", i, d, units, segDescriptors-i)
		}
		size := uint64(units) << shift
		i += uint64(units)
		if sw.only != 0 && (sw.only < start || sw.only >= start+size) {
			continue
		}
		if !sw.pageRange(seg, d, start, size, fl) {
			return false
		}
		if sw.only != 0 {
			return true
		}
	}
	return true
}

// pageRange emits one page range by the flags of its first descriptor d.
func (sw *segWalker) pageRange(seg, d, start, size uint64, fl uint8) bool {
	b := Block{Entry: start, User: start, Size: size, Granules: size / sw.sl.gran, UserSize: size,
		Kind: SegBackEnd, Heap: sw.h.Address, Segment: seg}
	switch fl {
	case rangeFree:
		b.State = Free
		return sw.block(b)
	case rangeBlock:
		b.State, b.Flags = Busy, FlagBusy
		unused, ok := sw.r.u32(d + uint64(sw.sl.descUnused))
		switch {
		case !ok:
			sw.report(NotCaptured, seg, d, 0, "unused bytes of the page range at %#x %s; its user size is unknown", start, sw.r.missingWhy(d))
		case uint64(unused) >= size:
			sw.report(BadHeader, seg, d, 0, "page range at %#x of %#x bytes records %#x unused bytes", start, size, unused)
		default:
			b.Unused, b.UserSize = uint64(unused), size-uint64(unused)
		}
		return sw.block(b)
	case rangeLFH, rangeVS:
		b.State, b.Flags, b.Attr = Internal, FlagBusy, AttrSubsegment
		if !sw.block(b) {
			return false
		}
		if fl == rangeVS {
			return sw.vs(start, size)
		}
		if sw.v.NoLFH {
			return true
		}
		return sw.lfh(start, size)
	}
	return sw.report(Unsupported, seg, start, size, "page range at %#x: first-descriptor flags %#x are none of free (0x02), block (0x03), LFH (0x0b) or VS (0x0f)", start, fl)
}

// vsChunk is a decoded _HEAP_VS_CHUNK_HEADER.
type vsChunk struct {
	size, prev, cost uint64 // in VS units (16 bytes x64, 8 x86)
	alloc            uint8
	pageOff          uint8 // pages from the subsegment to the chunk (allocated chunks)
	unused, skip     bool  // UnusedBytes, SkipDuringWalk (allocated chunks)
}

// decodeVS decodes the header at at: Sizes.HeaderBits XOR the chunk
// address XOR HeapKey; EncodedSegmentPageOffset XOR their low bytes. The
// x64 Sizes are MemoryCost:16 UnsafeSize:16 UnsafePrevSize:16 Allocated:8;
// the x86 ones MemoryCost:1 UnsafeSize:15 UnsafePrevSize:15 Allocated:1.
func decodeVS(sl *segWalkLayout, raw []byte, at, key uint64) vsChunk {
	var c vsChunk
	if sl.bits == 64 {
		v := binary.LittleEndian.Uint64(raw) ^ at ^ key
		c.cost, c.size, c.prev, c.alloc = v&0xffff, v>>16&0xffff, v>>32&0xffff, uint8(v>>48)
		c.pageOff, c.unused, c.skip = raw[8]^uint8(at)^uint8(key), raw[9]&1 != 0, raw[9]&2 != 0
		return c
	}
	v := binary.LittleEndian.Uint32(raw) ^ uint32(at) ^ uint32(key)
	c.cost, c.size, c.prev, c.alloc = uint64(v&1), uint64(v>>1&0x7fff), uint64(v>>16&0x7fff), uint8(v>>31)
	c.pageOff, c.unused, c.skip = raw[4]^uint8(at)^uint8(key), raw[5]&1 != 0, raw[5]&2 != 0
	return c
}

// vsBounds checks a VS subsegment's signature and returns where its
// chunks end: Size (16-byte units) rounded up to a page.
func vsBounds(r *reader, sl *segWalkLayout, sub, size uint64) (uint64, string, bool) {
	n, ok1 := r.u16(sub + uint64(sl.vsSize))
	sig, ok2 := r.u16(sub + uint64(sl.vsSig))
	if !ok1 || !ok2 {
		return 0, "header " + r.missingWhy(sub), false
	}
	if sig&0x7fff != (n^vsSignatureXor)&0x7fff {
		return 0, fmt.Sprintf("signature %#x does not match its size %#x", sig&0x7fff, n), false
	}
	end := sub + (uint64(n)*16+pageSize-1)&^(pageSize-1)
	if end > sub+size || end <= sub+uint64(sl.vsFirst)+sl.vsHdr {
		return 0, fmt.Sprintf("size %#x does not fit its %#x-byte page range", uint64(n)*16, size), false
	}
	return end, "", true
}

// vsChainOK reports whether every chunk of the VS subsegment decodes with
// key and the chunks tile it exactly (HeapKey confirmation).
func vsChainOK(r *reader, sl *segWalkLayout, sub, size, key uint64) bool {
	end, _, ok := vsBounds(r, sl, sub, size)
	if !ok {
		return false
	}
	var prev uint64
	for p, n := sub+uint64(sl.vsFirst), 0; p < end; n++ {
		raw := r.bytes(p, int(sl.vsHdr))
		if raw == nil {
			return false
		}
		c := decodeVS(sl, raw, p, key)
		sz := c.size * sl.gran
		if c.size == 0 || sz < sl.vsHdr || sz > end-p || c.alloc > 1 || n > 0 && c.prev != prev ||
			c.alloc == 1 && uint64(c.pageOff) != (p-sub)>>12&0xff {
			return false
		}
		prev = c.size
		p += sz
	}
	return true
}

// vs walks the chunks of the VS subsegment at sub.
func (sw *segWalker) vs(sub, size uint64) bool {
	sl, r := sw.sl, sw.r
	end, why, ok := vsBounds(r, sl, sub, size)
	if !ok {
		k := BadHeader
		if r.bytes(sub+uint64(sl.vsSize), 4) == nil {
			k = NotCaptured
		}
		return sw.report(k, sub, sub, size, "VS subsegment at %#x: %s", sub, why)
	}
	key := sw.keys.heapKey
	var prev uint64
	known := false
	for p := sub + uint64(sl.vsFirst); p < end; {
		if sw.only != 0 && p > sw.only {
			return true
		}
		raw := r.bytes(p, int(sl.vsHdr))
		if raw == nil {
			return sw.report(NotCaptured, sub, p, end-p, "VS chunk header %s", r.missingWhy(p))
		}
		c := decodeVS(sl, raw, p, key)
		sz := c.size * sl.gran
		switch {
		case c.size == 0:
			return sw.report(BadHeader, sub, p, end-p, "VS chunk header %x decodes to size 0", raw)
		case sz < sl.vsHdr || sz > end-p:
			return sw.report(BadHeader, sub, p, end-p, "VS chunk of %#x bytes does not fit the subsegment ending at %#x", sz, end)
		case c.alloc > 1:
			return sw.report(BadHeader, sub, p, end-p, "VS chunk header %x decodes to Allocated %#x", raw, c.alloc)
		}
		if known && c.prev != prev {
			if !sw.report(BadPrevSize, sub, p, 0, "VS chunk UnsafePrevSize %#x, but the previous chunk has %#x units", c.prev, prev) {
				return false
			}
		}
		b := Block{Entry: p, User: p + sl.vsHdr, Size: sz, Granules: c.size, PrevSize: c.prev, Kind: SegVS,
			Heap: sw.h.Address, Segment: sub, UserSize: sz - sl.vsHdr, Unused: sl.vsHdr}
		if c.alloc == 1 {
			b.State, b.Flags = Busy, FlagBusy
			if c.skip {
				b.State = Internal
			}
			if want := uint8((p - sub) >> 12); c.pageOff != want {
				if !sw.report(BadHeader, sub, p, 0, "VS chunk page offset decodes to %#x, want %#x", c.pageOff, want) {
					return false
				}
			}
			if c.unused {
				if u, ok := sw.unusedWord(sub, b.User, sz-sl.vsHdr); ok {
					b.Unused, b.UserSize = sl.vsHdr+u, sz-sl.vsHdr-u
				}
			}
		} else {
			b.State = Free
		}
		if !sw.block(b) {
			return false
		}
		prev, known = c.size, true
		p += sz
	}
	return true
}

// unusedWord reads the unused-byte count a segment heap keeps in the last
// two bytes of a VS or LFH block of n bytes at a (DbgHelpUtils): 0x8000 set
// means one unused byte; 0x4000 set means a stack-trace record follows and
// the count is the low 14 bits; otherwise the word is the count.
func (sw *segWalker) unusedWord(seg, a, n uint64) (uint64, bool) {
	if n < 2 {
		return 0, false
	}
	at := a + n - 2
	v, ok := sw.r.u16(at)
	if !ok {
		sw.report(NotCaptured, seg, at, 0, "unused-size word of the block at %#x %s; its user size is unknown", a, sw.r.missingWhy(at))
		return 0, false
	}
	u := uint64(v)
	switch {
	case v&0x8000 != 0:
		u = 1
	case v&0x4000 != 0:
		u = uint64(v & 0x3fff)
	}
	if u > n {
		sw.report(BadHeader, seg, at, 0, "block at %#x of %#x bytes records %#x unused bytes", a, n, u)
		return 0, false
	}
	return u, true
}

// lfhGeometry decodes an LFH subsegment's BlockOffsets with LfhKey
// (EncodedData ^ LfhKey ^ (u32)(subsegment >> 12)) and checks them against
// its page range: blocks of at least the granularity, after the bitmap,
// inside the range.
func lfhGeometry(r *reader, sl *segWalkLayout, sub, size uint64, key uint32) (bs, first uint64, count, free int, why string, ok bool) {
	cnt, ok1 := r.u16(sub + uint64(sl.lfhCount))
	fr, ok2 := r.u16(sub + uint64(sl.lfhFree))
	enc, ok3 := r.u32(sub + uint64(sl.lfhOffsets))
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, 0, 0, "header " + r.missingWhy(sub), false
	}
	d := enc ^ key ^ uint32(sub>>12)
	bs, first, count, free = uint64(d&0xffff), uint64(d>>16), int(cnt), int(fr)
	bitmapEnd := uint64(sl.lfhBlock) + (2*uint64(count)+7)/8
	if count == 0 || bs < sl.gran || bs%sl.gran != 0 || first < bitmapEnd || first+uint64(count)*bs > size {
		return bs, first, count, free, fmt.Sprintf("BlockOffsets decode to %d blocks of %#x bytes from offset %#x, which do not fit its %#x-byte range after the bitmap", count, bs, first, size), false
	}
	return bs, first, count, free, "", true
}

// lfh walks the blocks of the LFH subsegment at sub: BlockBitmap has two
// bits per block, busy and unused-bytes-present.
func (sw *segWalker) lfh(sub, size uint64) bool {
	sl, r := sw.sl, sw.r
	if !sw.keys.lfhOK {
		return sw.report(Unsupported, sub, sub, size, "LFH subsegment at %#x: blocks not walked: %s", sub, sw.keys.lfhWhy)
	}
	bs, first, count, free, why, ok := lfhGeometry(r, sl, sub, size, sw.keys.lfhKey)
	if !ok {
		k := LFHMismatch
		if r.bytes(sub+uint64(sl.lfhFree), 4) == nil {
			k = NotCaptured
		}
		return sw.report(k, sub, sub, size, "LFH subsegment at %#x: %s", sub, why)
	}
	if free > count {
		if !sw.report(LFHMismatch, sub, sub, 0, "LFH subsegment at %#x: FreeCount %d exceeds BlockCount %d", sub, free, count) {
			return false
		}
	}
	for i := range count {
		a := sub + first + uint64(i)*bs
		if sw.only != 0 && a > sw.only {
			return true
		}
		bm := sub + uint64(sl.lfhBlock) + uint64(i/4)
		v, ok := r.u8(bm)
		if !ok {
			return sw.report(NotCaptured, sub, a, sub+first+uint64(count)*bs-a, "LFH block bitmap at %#x %s", bm, r.missingWhy(bm))
		}
		bits := v >> (uint(i%4) * 2) & 3
		b := Block{Entry: a, User: a, Size: bs, Granules: bs / sl.gran, UserSize: bs, Kind: SegLFH, Attr: AttrNoChecksum,
			Heap: sw.h.Address, Segment: sub, Index: i}
		if bits&1 != 0 {
			b.State, b.Flags = Busy, FlagBusy
			if bits&2 != 0 {
				if u, ok := sw.unusedWord(sub, a, bs); ok {
					b.Unused, b.UserSize = u, bs-u
				}
			}
		}
		if !sw.block(b) {
			return false
		}
	}
	return true
}

// largeBlocks follows _SEGMENT_HEAP.LargeAllocMetadata, a red-black tree
// of _HEAP_LARGE_ALLOC_DATA, in order: VirtualAddress holds the block's
// 64 KiB-aligned base with UnusedBytes in its low 16 bits, AllocatedPages
// the size in pages (bits 12 and up). An encoded tree (Min bit 0) is not
// walked: how its links are encoded is not documented.
func (sw *segWalker) largeBlocks(emit func(Block) bool) bool {
	sl, r := sw.sl, sw.r
	t := sw.h.Address + uint64(sl.largeTree)
	root, ok1 := r.ptr(t, sl.ptr)
	mn, ok2 := r.ptr(t+uint64(sl.ptr), sl.ptr)
	if !ok1 || !ok2 {
		return sw.report(NotCaptured, 0, t, 0, "LargeAllocMetadata %s; large blocks not walked", r.missingWhy(t))
	}
	if root == 0 {
		return true
	}
	if mn&1 != 0 {
		return sw.report(Unsupported, 0, t, 0, "segment heap: the large-allocation tree is encoded, and nt-heap.md §4.3 does not say how its links are; large blocks not walked")
	}
	seen := map[uint64]bool{}
	var stack []uint64
	var prevEnd uint64
	cur := root
	for cur != 0 || len(stack) > 0 {
		for cur != 0 {
			if seen[cur] || len(seen) >= maxVirtualBlocks {
				return sw.report(BadList, 0, cur, 0, "large-allocation tree node %#x is reached twice (a cycle)", cur)
			}
			seen[cur] = true
			left, ok := r.ptr(cur, sl.ptr)
			if !ok {
				if !sw.report(NotCaptured, 0, cur, 0, "large-allocation tree node %#x %s", cur, r.missingWhy(cur)) {
					return false
				}
				break
			}
			stack = append(stack, cur)
			cur = left
		}
		if len(stack) == 0 {
			break
		}
		node := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		right, _ := r.ptr(node+uint64(sl.ptr), sl.ptr)
		cur = right
		va, ok1 := r.ptr(node+uint64(sl.laVA), sl.ptr)
		pg, ok2 := r.ptr(node+uint64(sl.laPages), sl.ptr)
		if !ok1 || !ok2 {
			if !sw.report(NotCaptured, 0, node, 0, "_HEAP_LARGE_ALLOC_DATA at %#x %s", node, r.missingWhy(node+uint64(sl.laVA))) {
				return false
			}
			continue
		}
		base, unused, size := va&^0xffff, va&0xffff, (pg>>12)*pageSize
		if base == 0 || size == 0 || unused > size || base+size < base || sl.ptr == 4 && base+size > 1<<32 {
			if !sw.report(BadHeader, 0, node, 0, "_HEAP_LARGE_ALLOC_DATA at %#x: address %#x, %#x pages, %#x unused bytes", node, base, pg>>12, unused) {
				return false
			}
			continue
		}
		if base < prevEnd {
			if !sw.report(BadList, 0, node, 0, "large block at %#x is out of order in the large-allocation tree", base) {
				return false
			}
		}
		prevEnd = base + size
		b := Block{Entry: base, User: base, Size: size, Granules: size / sl.gran, Unused: unused, UserSize: size - unused,
			Flags: FlagBusy, State: Busy, Kind: SegLarge, Heap: sw.h.Address, Segment: node}
		if !emit(b) {
			return false
		}
	}
	return true
}
