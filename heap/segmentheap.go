package heap

import "fmt"

// SegmentHeapInfo describes a segment heap (signature 0xDDEEDDEE,
// nt-heap.md §4). The package lists it and its page segments; Walk walks
// its blocks on the builds whose layouts §4.3 gives (segheap_walk.go) and
// reports an Unsupported problem naming the build elsewhere.
type SegmentHeapInfo struct {
	GlobalFlags          uint32
	ProcessHeapListIndex uint16
	LargeReservedPages   uint64
	LargeCommittedPages  uint64
	// SegContexts is where the two _HEAP_SEG_CONTEXTs were found (0 when
	// no candidate offset had a context pointing back at the heap).
	SegContexts uint64
	// Segments lists the _HEAP_PAGE_SEGMENTs of both contexts.
	Segments []PageSegment
}

// PageSegment is one _HEAP_PAGE_SEGMENT of a segment heap.
type PageSegment struct {
	Context int // 0 or 1: which _HEAP_SEG_CONTEXT lists it
	Address uint64
	Size    uint64 // SegmentMask + 1
}

// segHeapLayout is the part of _SEGMENT_HEAP and _HEAP_SEG_CONTEXT the
// listing reads (§4.3).
type segHeapLayout struct {
	ptr                                                     int
	globalFlags, listIndex, largeReserved, largeCommitted   int
	segContexts                                             []int // candidates: 19041, Windows 11
	ctxSize, ctxMask, ctxHeap, ctxListHead, ctxSegmentCount int
}

var (
	segHeap64 = segHeapLayout{ptr: 8, globalFlags: 0x14, listIndex: 0x1c, largeReserved: 0x58, largeCommitted: 0x60,
		segContexts: []int{0x100, 0x140}, ctxSize: 0xc0, ctxMask: 0x00, ctxHeap: 0x38, ctxListHead: 0x48, ctxSegmentCount: 0x58}
	segHeap32 = segHeapLayout{ptr: 4, globalFlags: 0x0c, listIndex: 0x14, largeReserved: 0x4c, largeCommitted: 0x50,
		segContexts: []int{0x100}, ctxSize: 0x80, ctxMask: 0x00, ctxHeap: 0x24, ctxListHead: 0x44, ctxSegmentCount: 0x4c}
)

func (p *Process) readSegmentHeap(r *reader, h *Heap) {
	sl := &segHeap64
	if p.Bits == 32 {
		sl = &segHeap32
	}
	a := h.Address
	info := &SegmentHeapInfo{}
	h.Seg = info
	v, _ := r.u32(a + uint64(sl.globalFlags))
	info.GlobalFlags = v
	idx, _ := r.u16(a + uint64(sl.listIndex))
	info.ProcessHeapListIndex = idx
	info.LargeReservedPages, _ = r.ptr(a+uint64(sl.largeReserved), sl.ptr)
	info.LargeCommittedPages, _ = r.ptr(a+uint64(sl.largeCommitted), sl.ptr)
	// Pick the SegContexts offset whose contexts point back at the heap;
	// the Windows 11 x64 offset is from secondary sources (§4.3).
	for _, off := range sl.segContexts {
		back, ok := r.ptr(a+uint64(off+sl.ctxHeap), sl.ptr)
		if ok && back == a {
			info.SegContexts = a + uint64(off)
			break
		}
	}
	if info.SegContexts == 0 {
		h.problem(Unsupported, 0, a, 0, "segment heap: no _HEAP_SEG_CONTEXT points back at the heap at the known offsets; segments not listed")
		return
	}
	for c := 0; c < 2; c++ {
		ctx := info.SegContexts + uint64(c*sl.ctxSize)
		mask, _ := r.ptr(ctx+uint64(sl.ctxMask), sl.ptr)
		head := ctx + uint64(sl.ctxListHead)
		seen := map[uint64]bool{}
		at := head
		link, ok := r.ptr(at, sl.ptr)
		for ok && link != head {
			if seen[link] || len(seen) >= maxSegments {
				h.problem(BadList, ctx, link, 0, fmt.Sprintf("segment heap context %d: SegmentListHead has a cycle", c))
				break
			}
			seen[link] = true
			size := ^mask + 1
			if sl.ptr == 4 {
				size &= 0xffffffff
			}
			info.Segments = append(info.Segments, PageSegment{Context: c, Address: link, Size: size})
			at = link
			link, ok = r.ptr(at, sl.ptr)
		}
		if !ok {
			h.problem(NotCaptured, ctx, at, 0, fmt.Sprintf("segment heap context %d: segment list link at %#x %s", c, at, r.missingWhy(at)))
		}
	}
}

// segmentHeap is Walk on a segment heap (segheap_walk.go).
func (w *walker) segmentHeap() {
	w.walkSegmentHeap()
}
