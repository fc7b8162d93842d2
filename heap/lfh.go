package heap

import (
	"context"
	"fmt"
)

// maxChunks bounds the chunks of one subsegment (BlockCount is a u16).
const maxChunks = 1 << 16

// userBlocks is one LFH subsegment as found from its UserBlocks container
// (nt-heap.md §3.3 method A: a busy internal back-end block whose user data
// carries the 0xF0E0D0C0 signature and points at a _HEAP_SUBSEGMENT that
// points back).
type userBlocks struct {
	container Block
	ub        uint64 // the _HEAP_USERDATA_HEADER (container's user data)
	sub       uint64 // the _HEAP_SUBSEGMENT
	blockSize uint64 // granules
	count     int
	depth     int    // free chunks according to the subsegment
	first     uint64 // offset of chunk 0 from ub
	stride    uint64
	busy      []bool
	problems  []Problem
}

// userBlocks recognises an LFH container. It marks blk with
// AttrUserBlocks and returns the subsegment's geometry and busy states, or
// nil when blk is not a container.
func (w *walker) userBlocks(blk *Block) *userBlocks {
	l := w.l
	ub := blk.Entry + l.Gran
	sig, ok := w.r.u32(ub + uint64(l.UBSignature))
	if !ok || sig != UserBlocksSignature {
		return nil
	}
	u := &userBlocks{ub: ub}
	bad := func(k ProblemKind, addr uint64, format string, args ...any) *userBlocks {
		w.report(k, blk.Segment, addr, 0, "LFH UserBlocks at %#x: "+format, append([]any{ub}, args...)...)
		return nil
	}
	sub, ok := w.r.ptr(ub+uint64(l.UBSubSegment), l.Ptr)
	if !ok {
		return bad(NotCaptured, ub, "subsegment pointer %s", w.r.missingWhy(ub))
	}
	u.sub = sub
	back, ok := w.r.ptr(sub+uint64(l.SubUserBlocks), l.Ptr)
	if !ok {
		return bad(NotCaptured, sub, "subsegment %#x %s", sub, w.r.missingWhy(sub))
	}
	if back != ub {
		return bad(LFHMismatch, sub, "subsegment %#x points at UserBlocks %#x", sub, back)
	}
	bs, _ := w.r.u16(sub + uint64(l.SubBlockSize))
	cnt, _ := w.r.u16(sub + uint64(l.SubBlockCount))
	depth, _ := w.r.u16(sub + uint64(l.SubDepth))
	u.blockSize, u.count, u.depth = uint64(bs), int(cnt), int(depth)
	u.stride = u.blockSize * l.Gran
	if bs == 0 || cnt == 0 {
		return bad(LFHMismatch, sub, "subsegment %#x has block size %d and count %d", sub, bs, cnt)
	}
	if l.UBEncodedOffsets < 0 {
		u.first = uint64(l.UBFirst)
		if l.Bits == 32 {
			w.h.p.recoverKeyW7(w, u)
		}
	} else if !w.geometry(u) {
		return bad(LFHMismatch, ub, "chunk offsets cannot be decoded")
	}
	// The chunks must fit inside the container.
	if u.first+uint64(u.count)*u.stride > blk.Size-l.Gran {
		return bad(LFHMismatch, ub, "%d chunks of %#x bytes from offset %#x overrun the %#x-byte block", u.count, u.stride, u.first, blk.Size)
	}
	if l.UBBitmapData >= 0 {
		w.busyFromBitmap(u)
	} else {
		w.busyFromFreeChain(u)
	}
	blk.Attr |= AttrUserBlocks
	return u
}

// geometry decodes EncodedOffsets (Win8+): FirstAllocationOffset in the
// low word, BlockStride in the high word, XORed with UserBlocks, the
// _LFH_HEAP address and RtlpLFHKey (nt-heap.md §3.4). Plain values (as
// Windows 8.0 may store them) are taken as they are. Without the key the
// first offset is what the bitmap length implies.
func (w *walker) geometry(u *userBlocks) bool {
	l := w.l
	e, ok := w.r.u32(u.ub + uint64(l.UBEncodedOffsets))
	if !ok {
		return false
	}
	plausible := func(fao uint64) bool {
		return fao >= uint64(l.UBHeader) && fao%l.Gran == 0 && fao <= 0x1000
	}
	if uint64(e>>16) == u.stride && plausible(uint64(e&0xffff)) {
		u.first = uint64(e & 0xffff)
		return true
	}
	lfh := uint32(w.h.FrontEndHeap)
	if key, ok := w.h.p.recoverKey(w, u, e); ok {
		d := e ^ uint32(u.ub) ^ lfh ^ key
		if uint64(d>>16) == u.stride && plausible(uint64(d&0xffff)) {
			u.first = uint64(d & 0xffff)
			return true
		}
	}
	u.first = derivedFirst(l, u.count)
	w.report(LFHMismatch, u.sub, u.ub, 0, "LFH key not recovered: first chunk offset %#x derived from the bitmap size", u.first)
	return true
}

// derivedFirst is where chunk 0 starts when the bitmap that precedes it
// holds count bits: the bitmap rounded to whole words, then to granules.
func derivedFirst(l *Layout, count int) uint64 {
	word := uint64(l.Ptr)
	words := (uint64(count) + 8*word - 1) / (8 * word)
	n := uint64(l.UBBitmapData) + words*word
	return (n + l.Gran - 1) &^ (l.Gran - 1)
}

// chunkKey is the key a chunk header at c, at offset off from its
// UserBlocks, implies: the header's code word is (off/gran)<<16 XORed with
// the heap handle, the key and the chunk address shifted by ChunkShift.
func chunkKey(w *walker, c, off uint64) (uint32, bool) {
	l := w.l
	code, ok := w.r.u32(c + uint64(l.ChunkCode))
	if !ok {
		return 0, false
	}
	return code ^ uint32(w.h.Address) ^ uint32(c>>l.ChunkShift) ^ uint32(off>>l.ChunkShift)<<16, true
}

// recoverKey finds RtlpLFHKey's low 32 bits (nt-heap.md §3.7): for each
// candidate first offset, the key EncodedOffsets implies must equal the key
// some chunk header implies. The key is process-wide and kept once found.
func (p *Process) recoverKey(w *walker, u *userBlocks, e uint32) (uint32, bool) {
	p.keyMu.Lock()
	defer p.keyMu.Unlock()
	if p.keyOK {
		return p.lfhKey, true
	}
	l := w.l
	lfh := uint32(w.h.FrontEndHeap)
	for fao := (uint64(l.UBHeader) + l.Gran - 1) &^ (l.Gran - 1); fao <= 0x400; fao += l.Gran {
		key := e ^ uint32(u.ub) ^ lfh ^ uint32(u.stride<<16|fao)
		for i := uint64(0); i < uint64(min(u.count, 8)); i++ {
			off := fao + i*u.stride
			if k, ok := chunkKey(w, u.ub+off, off); ok && k == key {
				p.lfhKey, p.keyOK = key, true
				return key, true
			}
		}
	}
	return 0, false
}

// recoverKeyW7 finds RtlpLFHKey on Windows 7 x86, where every chunk's
// first dword is SubSegment ^ Heap ^ key ^ (chunk >> 3) (nt-heap.md §3.5):
// two chunks must agree.
func (p *Process) recoverKeyW7(w *walker, u *userBlocks) {
	p.keyMu.Lock()
	defer p.keyMu.Unlock()
	if p.keyOK || u.count < 2 {
		return
	}
	var keys [2]uint32
	for i := range keys {
		c := u.ub + u.first + uint64(i)*u.stride
		code, ok := w.r.u32(c + uint64(w.l.ChunkCode))
		if !ok {
			return
		}
		keys[i] = code ^ uint32(u.sub) ^ uint32(w.h.Address) ^ uint32(c>>w.l.ChunkShift)
	}
	if keys[0] == keys[1] {
		p.lfhKey, p.keyOK = keys[0], true
	}
}

// LFHKey returns the low 32 bits of RtlpLFHKey (what !heap -s prints as
// "LFH Key"), recovered from LFH data (Windows 8 and later, and Windows 7
// x86); it walks heaps with an LFH until one subsegment gives the key.
func (p *Process) LFHKey() (uint32, bool) {
	p.keyMu.Lock()
	if p.keyOK || p.keyTried {
		defer p.keyMu.Unlock()
		return p.lfhKey, p.keyOK
	}
	p.keyTried = true
	p.keyMu.Unlock()
	for _, h := range p.Heaps {
		if h.Kind != NTHeap || !h.HasLFH() {
			continue
		}
		h.Walk(context.Background(), Visitor{NoVirtual: true, Block: func(b Block) bool {
			if b.Attr&AttrUserBlocks == 0 {
				return true
			}
			p.keyMu.Lock()
			defer p.keyMu.Unlock()
			return !p.keyOK
		}})
	}
	p.keyMu.Lock()
	defer p.keyMu.Unlock()
	return p.lfhKey, p.keyOK
}

// busyFromBitmap reads BusyBitmap (Win8+), the authority on which chunks
// are allocated (nt-heap.md §3.6), and checks it against the free count.
func (w *walker) busyFromBitmap(u *userBlocks) {
	l := w.l
	u.busy = make([]bool, u.count)
	nbits, _ := w.r.uint(u.ub+uint64(l.UBBitmapSize), l.Ptr)
	buf, ok := w.r.ptr(u.ub+uint64(l.UBBitmapBuffer), l.Ptr)
	if !ok || nbits < uint64(u.count) {
		buf = u.ub + uint64(l.UBBitmapData)
	}
	busy := 0
	for i := 0; i < u.count; i += 8 {
		b, ok := w.r.u8(buf + uint64(i/8))
		if !ok {
			u.problem(w, NotCaptured, buf, "busy bitmap %s", w.r.missingWhy(buf+uint64(i/8)))
			return
		}
		for j := 0; j < 8 && i+j < u.count; j++ {
			if b&(1<<j) != 0 {
				u.busy[i+j] = true
				busy++
			}
		}
	}
	if busy != u.count-u.depth {
		u.problem(w, LFHMismatch, u.sub, "bitmap has %d busy chunks but the subsegment counts %d of %d free", busy, u.depth, u.count)
	}
}

// busyFromFreeChain follows the Win7 free list inside UserBlocks:
// AggregateExchg.FreeEntryOffset gives the first free chunk in granules
// from UserBlocks and each free chunk's first user word the next. When the
// chain is broken, UnusedBytes (0x80 alone for a free chunk) decides.
func (w *walker) busyFromFreeChain(u *userBlocks) {
	l := w.l
	u.busy = make([]bool, u.count)
	for i := range u.busy {
		u.busy[i] = true
	}
	off, _ := w.r.u16(u.sub + uint64(l.SubFreeEntryOffset))
	ok := true
	for n := 0; n < u.depth; n++ {
		byteOff := uint64(off) * l.Gran
		if byteOff < u.first || (byteOff-u.first)%u.stride != 0 || (byteOff-u.first)/u.stride >= uint64(u.count) {
			ok = false
			break
		}
		i := (byteOff - u.first) / u.stride
		if !u.busy[i] {
			ok = false // a cycle
			break
		}
		u.busy[i] = false
		next, rok := w.r.u16(u.ub + byteOff + l.Gran)
		if !rok {
			ok = false
			break
		}
		off = next
	}
	if ok {
		return
	}
	free := 0
	for i := range u.busy {
		c := u.ub + u.first + uint64(i)*u.stride
		b, rok := w.r.u8(c + uint64(l.ChunkUnused))
		u.busy[i] = !rok || b != 0x80
		if !u.busy[i] {
			free++
		}
	}
	u.problem(w, LFHMismatch, u.sub, "free chunk chain is broken; UnusedBytes marks %d of %d chunks free (subsegment counts %d)", free, u.count, u.depth)
}

func (u *userBlocks) problem(w *walker, k ProblemKind, addr uint64, format string, args ...any) {
	u.problems = append(u.problems, Problem{Kind: k, Heap: w.h.Address, Segment: u.sub, Addr: addr, What: fmt.Sprintf("LFH UserBlocks at %#x: ", u.ub) + fmt.Sprintf(format, args...)})
}

// chunk builds the Block of chunk i.
func (w *walker) chunk(u *userBlocks, i int) Block {
	l := w.l
	c := u.ub + u.first + uint64(i)*u.stride
	b := Block{
		Entry:      c,
		User:       c + l.Gran,
		Size:       u.stride,
		Granules:   u.blockSize,
		Kind:       LFH,
		Heap:       w.h.Address,
		Segment:    u.sub,
		UserBlocks: u.ub,
		Index:      i,
		Attr:       AttrNoChecksum,
	}
	raw, _ := w.r.u8(c + uint64(l.ChunkUnused))
	b.RawUnused = raw
	if !u.busy[i] {
		b.State, b.Unused, b.UserSize = Free, l.Gran, u.stride-l.Gran
		return b
	}
	b.State, b.Flags = Busy, FlagBusy
	b.Unused, b.User, b.Attr = w.unusedBytes(u.sub, c, u.stride, raw)
	b.Attr |= AttrNoChecksum
	b.UserSize = u.stride - b.Unused
	return b
}

// chunks streams the chunks of a subsegment after its container, and the
// subsegment's problems before them.
func (w *walker) chunks(u *userBlocks) bool {
	for _, p := range u.problems {
		if !w.problem(p) {
			return false
		}
	}
	l := w.l
	mism := 0
	for i := 0; i < u.count && i < maxChunks; i++ {
		b := w.chunk(u, i)
		// Cross-check the header (nt-heap.md §3.6): every chunk carries
		// the 0x80 LFH bit, and a busy one a count besides. (A free chunk
		// may keep its last count: that is not checked.)
		if b.RawUnused&0x80 == 0 || (b.State != Free && b.RawUnused == 0x80) {
			if w.r.captured(b.Entry + uint64(l.ChunkUnused)) {
				mism++
			}
		}
		if !w.block(b) {
			return false
		}
	}
	if mism > 0 {
		return w.report(LFHMismatch, u.sub, u.ub, 0, "LFH UserBlocks at %#x: %d chunk headers disagree with the busy state", u.ub, mism)
	}
	return true
}
