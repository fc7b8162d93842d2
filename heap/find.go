package heap

import (
	"context"
	"sort"
)

// checkpointEvery is how many back-end blocks lie between two entries of
// the lookup index: a lookup decodes at most that many headers.
const checkpointEvery = 32

// checkpoint is a block start the lookup may resume a walk from.
type checkpoint struct {
	addr, stop uint64 // the block, and the end of its committed run
	heap       *Heap
	seg        int
}

// index is the per-process lookup table, built on the first Find: segment
// and virtual-block intervals plus checkpoints into every segment.
type index struct {
	cps   []checkpoint
	large []segLarge // segment heap large blocks, by address (segheap_find.go)
}

// Find returns the block that holds addr and its heap (!heap -x): a
// back-end block, an LFH chunk when addr is inside a chunk of a UserBlocks
// (the UserBlocks itself when addr is in its header), or a virtual block;
// in a segment heap, a VS chunk or LFH block (the subsegment when addr is
// in its header), a page range or a large block. The first call walks
// every NT heap once to build an index; later calls decode at most a few
// dozen headers (a segment heap lookup walks one page range).
func (p *Process) Find(addr uint64) (Block, *Heap, bool) {
	p.findOnce.Do(p.buildIndex)
	if b, h, ok := p.findSegmentHeap(addr); ok {
		return b, h, true
	}
	for _, h := range p.Heaps {
		for i := range h.VirtualBlocks {
			if vb := &h.VirtualBlocks[i]; vb.OK && vb.Block.Contains(addr) {
				return vb.Block, h, true
			}
		}
	}
	cps := p.index.cps
	i := sort.Search(len(cps), func(i int) bool { return cps[i].addr > addr }) - 1
	if i < 0 || addr >= cps[i].stop {
		return Block{}, nil, false
	}
	cp := cps[i]
	h := cp.heap
	w := &walker{h: h, l: h.Layout, r: newReader(p.File), ctx: context.Background()}
	var found Block
	ok := false
	w.v = &Visitor{NoLFH: true, Block: func(b Block) bool {
		if b.Contains(addr) {
			found, ok = b, true
			return false
		}
		return b.Entry <= addr
	}}
	s := &h.Segments[cp.seg]
	if cp.addr == s.Address {
		w.segmentHeader(s)
	} else {
		w.run(s, cp.addr, cp.stop, 0, false)
	}
	if !ok {
		return Block{}, nil, false
	}
	if found.State == Internal {
		if u := w.userBlocks(&found); u != nil {
			off := addr - u.ub
			if off >= u.first && (off-u.first)/u.stride < uint64(u.count) {
				return w.chunk(u, int((off-u.first)/u.stride)), h, true
			}
		}
	}
	return found, h, true
}

// buildIndex walks the back end of every NT heap and records the segment
// headers, the start of every committed run and every checkpointEvery-th
// block.
func (p *Process) buildIndex() {
	ix := &index{}
	for _, h := range p.Heaps {
		if h.Kind != NTHeap {
			continue
		}
		for si := range h.Segments {
			s := &h.Segments[si]
			w := &walker{h: h, l: h.Layout, r: newReader(p.File), ctx: context.Background()}
			n := 0
			var stop uint64
			w.v = &Visitor{NoLFH: true, Block: func(b Block) bool {
				if n%checkpointEvery == 0 {
					ix.cps = append(ix.cps, checkpoint{addr: b.Entry, stop: stop, heap: h, seg: si})
				}
				n++
				return true
			}}
			ix.cps = append(ix.cps, checkpoint{addr: s.Address, stop: s.FirstEntry, heap: h, seg: si})
			w.forRuns(s, func(start, end uint64) bool {
				stop, n = end, 0
				return w.run(s, start, end, 0, false)
			})
		}
	}
	ix.large = p.segmentLargeIndex()
	sort.SliceStable(ix.cps, func(i, j int) bool { return ix.cps[i].addr < ix.cps[j].addr })
	// A checkpoint ends where the next one begins, so a stale or bad
	// entry cannot make a lookup run into another segment.
	for i := 0; i+1 < len(ix.cps); i++ {
		ix.cps[i].stop = min(ix.cps[i].stop, ix.cps[i+1].addr)
	}
	p.index = ix
}
