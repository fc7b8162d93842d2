package heap

import (
	"context"
	"sort"
)

// segLarge is a segment heap large block in the lookup index.
type segLarge struct {
	b Block
	h *Heap
}

// segmentLargeIndex collects the large blocks of every walkable segment
// heap, sorted by address.
func (p *Process) segmentLargeIndex() []segLarge {
	if !segWalkBuilds(p.Build) {
		return nil
	}
	var out []segLarge
	for _, h := range p.Heaps {
		if h.Kind != SegmentHeap {
			continue
		}
		sw := newSegWalker(&walker{h: h, r: newReader(p.File), v: &Visitor{}, ctx: context.Background()})
		sw.largeBlocks(func(b Block) bool {
			out = append(out, segLarge{b, h})
			return true
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].b.Entry < out[j].b.Entry })
	return out
}

// findSegmentHeap looks addr up in the segment heaps: the large blocks
// from the index, else the page segment holding it, walking only the page
// range that holds it and keeping the innermost block (a chunk rather
// than its subsegment).
func (p *Process) findSegmentHeap(addr uint64) (Block, *Heap, bool) {
	if ls := p.index.large; len(ls) > 0 {
		i := sort.Search(len(ls), func(i int) bool { return ls[i].b.Entry > addr }) - 1
		if i >= 0 && ls[i].b.Contains(addr) {
			return ls[i].b, ls[i].h, true
		}
	}
	if !segWalkBuilds(p.Build) {
		return Block{}, nil, false
	}
	for _, h := range p.Heaps {
		if h.Kind != SegmentHeap || h.Seg == nil || h.Seg.SegContexts == 0 {
			continue
		}
		for _, ps := range h.Seg.Segments {
			if addr < ps.Address || addr-ps.Address >= ps.Size {
				continue
			}
			var found Block
			ok := false
			w := &walker{h: h, r: newReader(p.File), ctx: context.Background()}
			w.v = &Visitor{Block: func(b Block) bool {
				if b.Contains(addr) {
					found, ok = b, true
				}
				return true
			}}
			sw := newSegWalker(w)
			if !sw.keys.heapOK {
				return Block{}, nil, false
			}
			sw.only = addr
			sw.pageSegment(ps)
			return found, h, ok
		}
	}
	return Block{}, nil, false
}
