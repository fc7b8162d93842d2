package heap

import (
	"context"
	"fmt"
)

// Visitor receives what a walk finds; a nil function means the caller does
// not want that kind of item. Returning false from any function stops the
// walk. Blocks are passed by value and may be kept.
type Visitor struct {
	Block       func(Block) bool
	Problem     func(Problem) bool
	Uncommitted func(seg *Segment, r Range) bool
	// NoLFH keeps LFH UserBlocks as single internal blocks instead of
	// following them with their chunks.
	NoLFH bool
	// NoVirtual leaves out the virtual blocks.
	NoVirtual bool
}

// ctxEvery is how many blocks pass between context checks.
const ctxEvery = 4096

// walker is the state of one Walk.
type walker struct {
	h       *Heap
	l       *Layout
	r       *reader
	v       *Visitor
	ctx     context.Context
	n       int
	stopped bool
	err     error
}

// Walk streams the heap: first the problems found when the heap was
// opened (Heap.Problems), then every segment in order — its blocks in
// address order, each LFH UserBlocks followed by its chunks, and each
// uncommitted range where it lies — then the virtual blocks in list order.
// A corrupt or missing header is reported as a Problem whose Skipped
// bytes (up to the next uncommitted range or the segment end) are not
// walked, and the walk goes on. A segment heap is walked page segment by
// page segment, then its large blocks (segheap_walk.go). Walk returns
// ctx.Err() when cancelled and nil otherwise, also when a callback
// stopped it.
func (h *Heap) Walk(ctx context.Context, v Visitor) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &walker{h: h, l: h.Layout, r: newReader(h.p.File), v: &v, ctx: ctx}
	for _, p := range h.Problems {
		if !w.problem(p) {
			return w.err
		}
	}
	switch h.Kind {
	case NTHeap:
	case SegmentHeap:
		w.segmentHeap()
		return w.err
	default:
		return nil
	}
	for i := range h.Segments {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !w.segment(&h.Segments[i]) {
			return w.err
		}
	}
	if !v.NoVirtual {
		for i := range h.VirtualBlocks {
			if vb := &h.VirtualBlocks[i]; vb.OK && !w.block(vb.Block) {
				return w.err
			}
		}
	}
	return w.err
}

// Blocks calls fn for every block and returns the problems met, a
// shorthand for Walk when problems are wanted at the end.
func (h *Heap) Blocks(ctx context.Context, fn func(Block) bool) ([]Problem, error) {
	var probs []Problem
	err := h.Walk(ctx, Visitor{Block: fn, Problem: func(p Problem) bool { probs = append(probs, p); return true }})
	return probs, err
}

func (w *walker) block(b Block) bool {
	if w.stopped {
		return false
	}
	w.n++
	if w.n%ctxEvery == 0 {
		if err := w.ctx.Err(); err != nil {
			w.err, w.stopped = err, true
			return false
		}
	}
	if w.v.Block != nil && !w.v.Block(b) {
		w.stopped = true
	}
	return !w.stopped
}

func (w *walker) problem(p Problem) bool {
	if w.stopped {
		return false
	}
	if w.v.Problem != nil && !w.v.Problem(p) {
		w.stopped = true
	}
	return !w.stopped
}

func (w *walker) report(k ProblemKind, seg, addr, skipped uint64, format string, args ...any) bool {
	return w.problem(Problem{Kind: k, Heap: w.h.Address, Segment: seg, Addr: addr, Skipped: skipped, What: fmt.Sprintf(format, args...)})
}

// segmentEnd is where a segment's blocks stop: LastValidEntry, clipped to
// the reservation when the page count is known.
func segmentEnd(s *Segment) uint64 {
	end := s.LastValidEntry
	if s.NumberOfPages != 0 && s.End() > s.BaseAddress && end > s.End() {
		end = s.End()
	}
	return end
}

// segment walks one segment (nt-heap.md §2.7): the segment's own header
// block from its base to FirstEntry, then the committed runs between the
// uncommitted ranges.
func (w *walker) segment(s *Segment) bool {
	end := segmentEnd(s)
	if s.FirstEntry <= s.Address || s.FirstEntry >= end {
		return w.report(BadHeader, s.BaseAddress, s.Address, 0, "segment FirstEntry %#x is outside %#x-%#x; segment not walked", s.FirstEntry, s.Address, end)
	}
	prev, prevKnown, ok := w.segmentHeader(s)
	if !ok {
		return false
	}
	first := true
	return w.forRuns(s, func(start, stop uint64) bool {
		known := first && prevKnown && start == s.FirstEntry
		first = false
		return w.run(s, start, stop, prev, known)
	})
}

// segmentHeader emits the block holding the segment header: the _HEAP
// (segment 0) or _HEAP_SEGMENT is itself a busy block reaching FirstEntry.
// It returns that block's size in granules when it decoded.
func (w *walker) segmentHeader(s *Segment) (uint64, bool, bool) {
	l := w.l
	b := w.r.bytes(s.Address+uint64(l.Hdr), 8)
	if b == nil {
		return 0, false, w.report(NotCaptured, s.BaseAddress, s.Address, s.FirstEntry-s.Address, "segment header block %s", w.r.missingWhy(s.Address+uint64(l.Hdr)))
	}
	hd, ok := decodeHeader(b, &w.h.Encoding, w.h.EncodeFlagMask)
	if !ok || uint64(hd.size)*l.Gran != s.FirstEntry-s.Address {
		return 0, false, w.report(BadHeader, s.BaseAddress, s.Address, s.FirstEntry-s.Address, "segment header block (%x) does not reach FirstEntry %#x", b, s.FirstEntry)
	}
	blk := w.backEndBlock(s, s.Address, hd)
	blk.Attr |= AttrSegmentHeader
	return uint64(hd.size), true, w.block(blk)
}

// forRuns calls fn for each committed run [start, stop) of the segment
// from FirstEntry on, and the Uncommitted visitor for each uncommitted
// range between them.
func (w *walker) forRuns(s *Segment, fn func(start, stop uint64) bool) bool {
	end := segmentEnd(s)
	p := s.FirstEntry
	ui := 0
	for p < end {
		for ui < len(s.UCRs) && s.UCRs[ui].Addr < p && (s.UCRs[ui].End() <= p || s.UCRs[ui].Size == 0) {
			ui++
		}
		if ui < len(s.UCRs) && s.UCRs[ui].Addr <= p {
			u := s.UCRs[ui]
			ui++
			if u.Size == 0 {
				continue
			}
			if w.v.Uncommitted != nil && !w.v.Uncommitted(s, u) {
				w.stopped = true
				return false
			}
			p = u.End()
			continue
		}
		stop := end
		if ui < len(s.UCRs) {
			stop = min(stop, s.UCRs[ui].Addr)
		}
		if !fn(p, stop) {
			return false
		}
		p = stop
	}
	return true
}

// run walks the committed blocks in [p, stop). On a header it cannot read
// or trust it reports the rest of the run as skipped: finding the next
// block after a gap would be a guess.
func (w *walker) run(s *Segment, p, stop, prev uint64, prevKnown bool) bool {
	l := w.l
	for p < stop {
		b := w.r.bytes(p+uint64(l.Hdr), 8)
		if b == nil {
			return w.report(NotCaptured, s.BaseAddress, p, stop-p, "block header %s", w.r.missingWhy(p+uint64(l.Hdr)))
		}
		hd, ok := decodeHeader(b, &w.h.Encoding, w.h.EncodeFlagMask)
		if !ok {
			return w.report(BadChecksum, s.BaseAddress, p, stop-p, "block header %x fails its checksum", b)
		}
		if hd.size == 0 {
			return w.report(BadHeader, s.BaseAddress, p, stop-p, "block header has size 0")
		}
		sz := uint64(hd.size) * l.Gran
		if sz > stop-p {
			return w.report(BadHeader, s.BaseAddress, p, stop-p, "block of %#x bytes overruns its committed range ending at %#x", sz, stop)
		}
		if prevKnown && uint64(hd.prevSize) != prev {
			if !w.report(BadPrevSize, s.BaseAddress, p, 0, "PreviousSize %#x, but the previous block has %#x granules", hd.prevSize, prev) {
				return false
			}
		}
		blk := w.backEndBlock(s, p, hd)
		var ub *userBlocks
		if blk.State == Internal && !w.v.NoLFH {
			ub = w.userBlocks(&blk)
		}
		if !w.block(blk) {
			return false
		}
		if ub != nil && !w.chunks(ub) {
			return false
		}
		prev, prevKnown = uint64(hd.size), true
		p += sz
	}
	return true
}

// backEndBlock fills a Block from a decoded back-end header at p.
func (w *walker) backEndBlock(s *Segment, p uint64, hd header) Block {
	l := w.l
	sz := uint64(hd.size) * l.Gran
	b := Block{
		Entry:     p,
		User:      p + l.Gran,
		Size:      sz,
		Granules:  uint64(hd.size),
		PrevSize:  uint64(hd.prevSize),
		Flags:     hd.flags,
		RawUnused: hd.unused,
		Kind:      BackEnd,
		Heap:      w.h.Address,
		Segment:   s.BaseAddress,
	}
	if hd.flags&FlagBusy == 0 {
		b.State = Free
		b.Unused = l.Gran
		b.UserSize = sz - l.Gran
		return b
	}
	b.State = Busy
	if hd.flags&FlagVirtualAlloc != 0 {
		b.State = Internal
	}
	b.Unused, b.User, b.Attr = w.unusedBytes(s.BaseAddress, p, sz, hd.unused)
	b.UserSize = sz - b.Unused
	return b
}

// unusedBytes decodes UnusedBytes (nt-heap.md §2.5) of the block or LFH
// chunk at p of sz bytes: a count up to 0x3E in the byte itself; 0x3F for a
// count stored after the block; bit 0x40 for a count in an extended header
// (UnusedBytesLength, EntryOffset, signature 5) that sits right before the
// user data, as +ust and aligned allocations write it. It returns the
// unused bytes, the user address and AttrExtendedHeader when there is one.
func (w *walker) unusedBytes(seg, p, sz uint64, u uint8) (uint64, uint64, Attr) {
	l := w.l
	user := p + l.Gran
	n := uint64(u & 0x3f)
	switch {
	case u&0x40 != 0:
		ext := p + l.Gran*n
		x := w.r.bytes(ext+uint64(l.Hdr)+4, 4)
		if x == nil {
			w.report(NotCaptured, seg, ext, 0, "extended header of the block at %#x %s; its unused size is unknown", p, w.r.missingWhy(ext+uint64(l.Hdr)+4))
			break
		}
		if n > 0 && ext+l.Gran < p+sz && uint64(x[2]) == n {
			if v := uint64(x[0]) | uint64(x[1])<<8; v <= sz {
				return v, ext + l.Gran, AttrExtendedHeader
			}
		}
	case n == 0x3f:
		at, size := p+sz, 8
		if l.Bits == 32 {
			at, size = p+sz-4, 4
		}
		v, ok := w.r.uint(at, size)
		if !ok {
			w.report(NotCaptured, seg, at, 0, "unused-size word of the block at %#x %s; its unused size is unknown", p, w.r.missingWhy(at))
		} else if v <= sz {
			return v, user, 0
		}
	}
	return min(n, sz), user, 0
}
