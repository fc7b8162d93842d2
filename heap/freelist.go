package heap

import "fmt"

// maxFreeList bounds a free list walk on a corrupt heap.
const maxFreeList = 1 << 24

// FreeList follows _HEAP.FreeLists, the circular list through the
// _HEAP_FREE_ENTRY.FreeList links of the back end's free blocks (nt-heap.md
// §2.7), and returns the entry addresses in list order: what !heap -s
// counts as "List length" and !heap -f lists. A cycle that does not close
// on the head, or an unreadable link, ends the list with a Problem.
func (h *Heap) FreeList() ([]uint64, []Problem) {
	if h.Kind != NTHeap {
		return nil, nil
	}
	l := h.Layout
	r := newReader(h.p.File)
	var out []uint64
	var probs []Problem
	limit := min(h.CommittedBytes()/l.Gran+1, maxFreeList)
	seen := map[uint64]bool{}
	head := h.FreeLists
	at := head
	link, ok := r.ptr(at, l.Ptr)
	for ok && link != head {
		if seen[link] || uint64(len(out)) >= limit {
			probs = append(probs, Problem{Kind: BadList, Heap: h.Address, Addr: link, What: "FreeLists has a cycle"})
			return out, probs
		}
		seen[link] = true
		out = append(out, link-uint64(l.FreeListEntry))
		at = link
		link, ok = r.ptr(at, l.Ptr)
	}
	if !ok {
		probs = append(probs, Problem{Kind: NotCaptured, Heap: h.Address, Addr: at, What: fmt.Sprintf("FreeLists link at %#x %s", at, r.missingWhy(at))})
	}
	return out, probs
}
