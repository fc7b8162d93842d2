package heap

import "fmt"

// readVirtualBlocks follows _HEAP.VirtualAllocdBlocks (nt-heap.md §2.8).
// Each entry starts its own VirtualAlloc region: LIST_ENTRY, extra stuff,
// CommitSize, ReserveSize, then an encoded busy header whose Size field
// holds CommitSize minus the requested size in bytes.
func (h *Heap) readVirtualBlocks(r *reader) {
	l := h.Layout
	head := h.VirtualAllocdBlocks
	seen := map[uint64]bool{}
	at := head
	link, ok := r.ptr(at, l.Ptr)
	for ok && link != head {
		if seen[link] || len(h.VirtualBlocks) >= maxVirtualBlocks {
			h.problem(BadList, 0, link, 0, "VirtualAllocdBlocks has a cycle")
			return
		}
		seen[link] = true
		v, vok := h.readVirtualBlock(r, link)
		if !vok {
			return
		}
		h.VirtualBlocks = append(h.VirtualBlocks, v)
		at = link
		link, ok = r.ptr(at, l.Ptr)
	}
	if !ok {
		h.problem(NotCaptured, 0, at, 0, fmt.Sprintf("VirtualAllocdBlocks link at %#x %s", at, r.missingWhy(at)))
	}
}

func (h *Heap) readVirtualBlock(r *reader, va uint64) (VirtualBlock, bool) {
	l := h.Layout
	commit, ok1 := r.ptr(va+uint64(l.VACommitSize), l.Ptr)
	reserve, ok2 := r.ptr(va+uint64(l.VAReserveSize), l.Ptr)
	if !ok1 || !ok2 {
		h.problem(NotCaptured, va, va, 0, "virtual block entry "+r.missingWhy(va))
		return VirtualBlock{}, false
	}
	v := VirtualBlock{Address: va, CommitSize: commit, ReserveSize: reserve}
	entry := va + uint64(l.VABusyBlock)
	b := r.bytes(entry+uint64(l.Hdr), 8)
	if b == nil {
		h.problem(NotCaptured, va, entry, 0, "virtual block header "+r.missingWhy(entry+uint64(l.Hdr)))
		return v, true
	}
	hd, ok := decodeHeader(b, &h.Encoding, h.EncodeFlagMask)
	if !ok {
		h.problem(BadChecksum, va, entry, 0, fmt.Sprintf("virtual block header %x fails its checksum", b))
		return v, true
	}
	slack := uint64(hd.size)
	if slack > commit || commit < uint64(l.VAHeaderSize) {
		h.problem(BadHeader, va, entry, 0, fmt.Sprintf("virtual block commit size %#x is smaller than its unused size %#x", commit, slack))
		return v, true
	}
	v.Block = Block{
		Entry:     entry,
		User:      va + uint64(l.VAHeaderSize),
		Size:      commit,
		Granules:  commit / l.Gran,
		PrevSize:  uint64(hd.prevSize),
		Unused:    slack,
		UserSize:  commit - slack,
		Flags:     hd.flags,
		RawUnused: hd.unused,
		State:     Busy,
		Kind:      Virtual,
		Heap:      h.Address,
		Segment:   va,
	}
	v.OK = true
	return v, true
}
