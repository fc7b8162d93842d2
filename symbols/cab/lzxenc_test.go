package cab

// A small LZX compressor, used only to make test cabinets. It emits the CAB
// variant that lzx.go decodes (and libmspack's cabextract accepts): greedy
// hash-chain matching with repeated-offset (R0..R2) matches, verbatim,
// aligned-offset and uncompressed blocks following a caller's block plan,
// E8 call translation, and one compressed chunk (one CFDATA block) per
// 32 KB frame.

import (
	"container/heap"
	"encoding/binary"
	"fmt"
	"slices"
)

// lzxPlanBlock is one block of an encoding plan.
type lzxPlanBlock struct {
	typ  int // lzxBlockVerbatim, lzxBlockAligned or lzxBlockUncompress
	size int
}

type lzxEncOptions struct {
	windowBits int
	e8Size     int32          // intel file size; 0 = no E8 translation
	plan       []lzxPlanBlock // blocks in order; the last type covers the rest
	chain      int            // hash chain depth (default 64)
}

// lzxBitWriter writes 16-bit little-endian words, most significant bit first.
type lzxBitWriter struct {
	out  []byte
	acc  uint32
	nacc uint // bits pending in acc (< 16)
}

func (w *lzxBitWriter) bits(v uint32, n uint) {
	for n > 0 {
		take := min(n, 16-w.nacc)
		chunk := (v >> (n - take)) & (1<<take - 1)
		w.acc = w.acc<<take | chunk
		w.nacc += take
		n -= take
		if w.nacc == 16 {
			w.out = append(w.out, byte(w.acc), byte(w.acc>>8))
			w.acc, w.nacc = 0, 0
		}
	}
}

// align pads the current word with zero bits.
func (w *lzxBitWriter) align() {
	if w.nacc > 0 {
		w.bits(0, 16-w.nacc)
	}
}

// lzxCode is a canonical Huffman code for writing.
type lzxCode struct {
	lens  []uint8
	codes []uint32
}

func newLZXCode(lens []uint8) lzxCode {
	var count [maxCodeLen + 2]uint32
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	var next [maxCodeLen + 2]uint32
	code := uint32(0)
	for l := 1; l <= maxCodeLen; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	c := lzxCode{lens: lens, codes: make([]uint32, len(lens))}
	for s, l := range lens {
		if l != 0 {
			c.codes[s] = next[l]
			next[l]++
		}
	}
	return c
}

func (c lzxCode) put(w *lzxBitWriter, sym int) {
	if c.lens[sym] == 0 {
		panic(fmt.Sprintf("lzx encoder: symbol %d has no code", sym))
	}
	w.bits(c.codes[sym], uint(c.lens[sym]))
}

// huffLengths returns code lengths no longer than limit for freq; a lone
// symbol gets a partner so that the code is complete.
func huffLengths(freq []int, limit int) []uint8 {
	lens := make([]uint8, len(freq))
	var used []int
	for s, f := range freq {
		if f > 0 {
			used = append(used, s)
		}
	}
	switch len(used) {
	case 0:
		return lens
	case 1:
		lens[used[0]] = 1
		lens[(used[0]+1)%len(freq)] = 1
		return lens
	}
	f := append([]int(nil), freq...)
	for {
		depth := huffDepths(f, used)
		ok := true
		for _, s := range used {
			if depth[s] > limit {
				ok = false
			}
			lens[s] = uint8(depth[s])
		}
		if ok {
			return lens
		}
		for _, s := range used {
			f[s] = (f[s] + 1) / 2
		}
	}
}

type huffNode struct{ weight, id int }
type huffHeap []huffNode

func (h huffHeap) Len() int { return len(h) }
func (h huffHeap) Less(i, j int) bool {
	if h[i].weight != h[j].weight {
		return h[i].weight < h[j].weight
	}
	return h[i].id < h[j].id
}
func (h huffHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *huffHeap) Push(x any)   { *h = append(*h, x.(huffNode)) }
func (h *huffHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func huffDepths(freq []int, used []int) []int {
	n := len(freq)
	parent := make([]int, n, 2*n)
	h := &huffHeap{}
	for _, s := range used {
		heap.Push(h, huffNode{freq[s], s})
	}
	for h.Len() > 1 {
		a := heap.Pop(h).(huffNode)
		b := heap.Pop(h).(huffNode)
		id := len(parent)
		parent = append(parent, -1)
		parent[a.id], parent[b.id] = id, id
		heap.Push(h, huffNode{a.weight + b.weight, id})
	}
	root := heap.Pop(h).(huffNode).id
	parent[root] = -1
	depth := make([]int, n)
	for _, s := range used {
		d := 0
		for p := s; p != root; p = parent[p] {
			d++
		}
		depth[s] = d
	}
	return depth
}

// lzxToken is a literal (length 0) or a match.
type lzxToken struct {
	lit    byte
	length int
	off    uint32
}

type lzxEncoder struct {
	opt        lzxEncOptions
	data       []byte // after E8 translation
	w          lzxBitWriter
	chunks     [][]byte
	cut        int // w.out offset where the current frame's chunk starts
	pos        int // uncompressed bytes emitted
	numOffsets int
	prevMain   []uint8
	prevLen    []uint8
	r          [3]uint32
	head       []int // hash -> latest position, -1 if none
	prev       []int
	hashed     int // positions inserted into the hash chains
	stats      lzxStats
}

// lzxStats counts what an encoding used, to show what a fixture covers.
type lzxStats struct {
	blocks       [4]int // by type
	spanning     int    // blocks that cross a frame boundary
	oddRaw       int    // odd-sized uncompressed blocks
	rawWordPad   int    // uncompressed headers already word-aligned (16 pad bits)
	rawPadCut    int    // odd uncompressed blocks ending on a frame end
	literals     int
	matches      int
	repeats      [3]int // matches at R0, R1, R2
	alignedSyms  int    // offsets coded with the aligned tree
	longLengths  int    // lengths coded with the length tree
	pretree      [20]int
	e8           int // E8 targets translated
	e8Wrapped    int // ... of which became negative (target past the file size)
	maxOffset    uint32
	maxSlot      int
	extraBits17  int // offsets with 17 extra bits
	frames       int
	uncompressed int // bytes in uncompressed blocks
}

// lzxCompress compresses data into one chunk per 32 KB frame.
func lzxCompress(data []byte, opt lzxEncOptions) [][]byte {
	return lzxEncode(data, opt).chunks
}

func lzxEncode(data []byte, opt lzxEncOptions) *lzxEncoder {
	if opt.chain == 0 {
		opt.chain = 64
	}
	translated, n, neg := applyE8(data, opt.e8Size)
	e := &lzxEncoder{
		opt:        opt,
		data:       translated,
		numOffsets: lzxSlots[opt.windowBits-15] * 8,
		r:          [3]uint32{1, 1, 1},
		head:       make([]int, 1<<16),
		prev:       make([]int, len(data)),
	}
	for i := range e.head {
		e.head[i] = -1
	}
	e.prevMain = make([]uint8, lzxNumChars+e.numOffsets)
	e.prevLen = make([]uint8, lzxNumLengths)
	if opt.e8Size != 0 {
		e.w.bits(1, 1)
		e.w.bits(uint32(opt.e8Size)>>16, 16)
		e.w.bits(uint32(opt.e8Size)&0xFFFF, 16)
	} else {
		e.w.bits(0, 1)
	}
	plan := opt.plan
	if len(plan) == 0 {
		plan = []lzxPlanBlock{{lzxBlockVerbatim, len(data)}}
	}
	for i := 0; e.pos < len(data); i++ {
		b := plan[min(i, len(plan)-1)]
		size := b.size
		if i >= len(plan)-1 || size > len(data)-e.pos {
			size = len(data) - e.pos
		}
		e.block(b.typ, size)
	}
	if e.cut != len(e.w.out) || e.w.nacc != 0 {
		panic("lzx encoder: stream does not end on a frame")
	}
	e.stats.e8, e.stats.e8Wrapped = n, neg
	e.stats.frames = len(e.chunks)
	return e
}

// applyE8 performs the encoder's E8 call translation frame by frame and
// counts the translated targets (and those stored as negative values).
func applyE8(data []byte, fileSize int32) ([]byte, int, int) {
	out := append([]byte(nil), data...)
	count, neg := 0, 0
	if fileSize == 0 {
		return out, 0, 0
	}
	for fs := 0; fs < len(out) && fs/lzxFrameSize < lzxMaxE8Frames; fs += lzxFrameSize {
		f := out[fs:min(fs+lzxFrameSize, len(out))]
		if len(f) <= 10 {
			break
		}
		for i := 0; i < len(f)-10; {
			if f[i] != 0xE8 {
				i++
				continue
			}
			cur := int32(fs + i)
			rel := int32(binary.LittleEndian.Uint32(f[i+1:]))
			if rel >= -cur && rel < fileSize {
				abs := rel - fileSize
				if rel+cur < fileSize {
					abs = rel + cur
				} else {
					neg++
				}
				binary.LittleEndian.PutUint32(f[i+1:], uint32(abs))
				count++
			}
			i += 5
		}
	}
	return out, count, neg
}

// advance records n emitted bytes and cuts a chunk at each frame end.
func (e *lzxEncoder) advance(n int, bitMode bool) {
	e.pos += n
	if e.pos%lzxFrameSize == 0 || e.pos == len(e.data) {
		if bitMode {
			e.w.align()
		}
		e.chunks = append(e.chunks, e.w.out[e.cut:])
		e.cut = len(e.w.out)
	}
}

func (e *lzxEncoder) block(typ, size int) {
	e.stats.blocks[typ]++
	if e.pos/lzxFrameSize != (e.pos+size-1)/lzxFrameSize {
		e.stats.spanning++
	}
	e.w.bits(uint32(typ), 3)
	e.w.bits(uint32(size)>>8, 16)
	e.w.bits(uint32(size)&0xFF, 8)
	if typ == lzxBlockUncompress {
		if e.w.nacc == 0 {
			e.w.bits(0, 16)
			e.stats.rawWordPad++
		} else {
			e.w.align()
		}
		for _, r := range e.r {
			e.w.out = binary.LittleEndian.AppendUint32(e.w.out, r)
		}
		e.stats.uncompressed += size
		if size&1 == 1 {
			e.stats.oddRaw++
		}
		end := e.pos + size
		for e.pos < end {
			n := min(end-e.pos, lzxFrameSize-e.pos%lzxFrameSize)
			e.w.out = append(e.w.out, e.data[e.pos:e.pos+n]...)
			e.advance(n, false)
		}
		if size&1 == 1 && e.pos%lzxFrameSize == 0 {
			e.stats.rawPadCut++
		}
		if size&1 == 1 && e.pos < len(e.data) {
			// Pad to an even length; the decoder skips this byte before
			// the next block header (in the next chunk if a frame just ended).
			e.w.out = append(e.w.out, 0)
		}
		return
	}
	toks := e.tokens(e.pos, e.pos+size)
	aligned := typ == lzxBlockAligned
	mainFreq := make([]int, lzxNumChars+e.numOffsets)
	lenFreq := make([]int, lzxNumLengths)
	alFreq := make([]int, lzxAlignedSyms)
	type sym struct {
		main, lenSym, slot int
		extra              uint
		bits               uint32
	}
	syms := make([]sym, len(toks))
	r := e.r
	for i, t := range toks {
		if t.length == 0 {
			syms[i] = sym{main: int(t.lit), lenSym: -1}
			mainFreq[t.lit]++
			e.stats.literals++
			continue
		}
		var s sym
		s.lenSym = -1
		e.stats.matches++
		e.stats.maxOffset = max(e.stats.maxOffset, t.off)
		switch t.off {
		case r[0]:
			s.slot = 0
			e.stats.repeats[0]++
		case r[1]:
			s.slot = 1
			r[0], r[1] = r[1], r[0]
			e.stats.repeats[1]++
		case r[2]:
			s.slot = 2
			r[0], r[2] = r[2], r[0]
			e.stats.repeats[2]++
		default:
			f := t.off + 2
			slot := 3
			for slot+1 < len(lzxPositionBase) && lzxPositionBase[slot+1] <= f {
				slot++
			}
			if slot >= e.numOffsets/8 {
				panic("lzx encoder: offset beyond the window")
			}
			s.slot = slot
			s.extra = uint(lzxExtraBits[slot])
			s.bits = f - lzxPositionBase[slot]
			r[2], r[1], r[0] = r[1], r[0], t.off
			if aligned && s.extra >= 3 {
				alFreq[s.bits&7]++
				e.stats.alignedSyms++
			}
			e.stats.maxSlot = max(e.stats.maxSlot, slot)
			if s.extra == 17 {
				e.stats.extraBits17++
			}
		}
		lh := t.length - lzxMinMatch
		if lh >= 7 {
			s.lenSym = lh - 7
			lenFreq[s.lenSym]++
			e.stats.longLengths++
			lh = 7
		}
		s.main = lzxNumChars + s.slot*8 + lh
		mainFreq[s.main]++
		syms[i] = s
	}
	e.r = r
	mainLens := huffLengths(mainFreq, maxCodeLen)
	lenLens := huffLengths(lenFreq, maxCodeLen)
	var alCode lzxCode
	if aligned {
		alLens := huffLengths(alFreq, 7)
		if slices.Max(alLens) == 0 {
			// libmspack refuses an empty aligned tree even if unused.
			for i := range alLens {
				alLens[i] = 3
			}
		}
		for _, l := range alLens {
			e.w.bits(uint32(l), 3)
		}
		alCode = newLZXCode(alLens)
	}
	e.writeLengths(mainLens[:lzxNumChars], e.prevMain[:lzxNumChars])
	e.writeLengths(mainLens[lzxNumChars:], e.prevMain[lzxNumChars:])
	e.writeLengths(lenLens, e.prevLen)
	copy(e.prevMain, mainLens)
	copy(e.prevLen, lenLens)
	mainCode := newLZXCode(mainLens)
	lenCode := newLZXCode(lenLens)
	for i, s := range syms {
		mainCode.put(&e.w, s.main)
		n := 1
		if t := toks[i]; t.length > 0 {
			n = t.length
			if s.lenSym >= 0 {
				lenCode.put(&e.w, s.lenSym)
			}
			if s.slot >= 3 && s.extra > 0 {
				if aligned && s.extra >= 3 {
					if s.extra > 3 {
						e.w.bits(s.bits>>3, s.extra-3)
					}
					alCode.put(&e.w, int(s.bits&7))
				} else {
					e.w.bits(s.bits, s.extra)
				}
			}
		}
		e.advance(n, true)
	}
}

// writeLengths writes a pretree and the delta-coded lengths of one tree part.
func (e *lzxEncoder) writeLengths(lens, prev []uint8) {
	type item struct {
		sym, sym2 int
		extra     uint32
		nExtra    uint
	}
	var items []item
	delta := func(x int, v uint8) int { return (int(prev[x]) - int(v) + 17) % 17 }
	for x := 0; x < len(lens); {
		run := 1
		for x+run < len(lens) && lens[x+run] == lens[x] {
			run++
		}
		switch {
		case lens[x] == 0 && run >= 20:
			run = min(run, 51)
			items = append(items, item{sym: 18, sym2: -1, extra: uint32(run - 20), nExtra: 5})
		case lens[x] == 0 && run >= 4:
			run = min(run, 19)
			items = append(items, item{sym: 17, sym2: -1, extra: uint32(run - 4), nExtra: 4})
		case run >= 4:
			run = min(run, 5)
			items = append(items, item{sym: 19, sym2: delta(x, lens[x]), extra: uint32(run - 4), nExtra: 1})
		default:
			run = 1
			items = append(items, item{sym: delta(x, lens[x]), sym2: -1})
		}
		x += run
	}
	freq := make([]int, lzxPretreeSyms)
	for _, it := range items {
		e.stats.pretree[it.sym]++
		freq[it.sym]++
		if it.sym2 >= 0 {
			freq[it.sym2]++
		}
	}
	ptLens := huffLengths(freq, 15)
	for _, l := range ptLens {
		e.w.bits(uint32(l), 4)
	}
	pt := newLZXCode(ptLens)
	for _, it := range items {
		pt.put(&e.w, it.sym)
		if it.nExtra > 0 {
			e.w.bits(it.extra, it.nExtra)
		}
		if it.sym2 >= 0 {
			pt.put(&e.w, it.sym2)
		}
	}
}

func (e *lzxEncoder) hash(p int) uint32 {
	d := e.data
	return (uint32(d[p]) | uint32(d[p+1])<<8 | uint32(d[p+2])<<16) * 2654435761 >> 16
}

func (e *lzxEncoder) insertUpTo(p int) {
	for ; e.hashed < p && e.hashed+3 <= len(e.data); e.hashed++ {
		h := e.hash(e.hashed)
		e.prev[e.hashed] = e.head[h]
		e.head[h] = e.hashed
	}
	if e.hashed < p {
		e.hashed = p
	}
}

func (e *lzxEncoder) matchLen(p int, off uint32, maxLen int) int {
	s := p - int(off)
	n := 0
	for n < maxLen && e.data[s+n] == e.data[p+n] {
		n++
	}
	return n
}

// tokens greedily parses data[start:end], tracking R0..R2 as the decoder
// will, so that repeated offsets are found. Matches stay inside the block
// and inside their 32 KB frame.
func (e *lzxEncoder) tokens(start, end int) []lzxToken {
	var toks []lzxToken
	r := e.r
	maxOff := (1 << e.opt.windowBits) - 3
	for p := start; p < end; {
		e.insertUpTo(p)
		maxLen := min(257, end-p, lzxFrameSize-p%lzxFrameSize)
		bestLen, bestOff := 0, uint32(0)
		if maxLen >= 2 {
			for _, off := range r {
				if int(off) <= p && int(off) <= maxOff {
					if n := e.matchLen(p, off, maxLen); n >= 2 && n > bestLen {
						bestLen, bestOff = n, off
					}
				}
			}
		}
		if maxLen >= 3 && p+3 <= len(e.data) {
			c := e.head[e.hash(p)]
			for i := 0; c >= 0 && i < e.opt.chain; i++ {
				off := p - c
				if off > maxOff {
					break
				}
				if n := e.matchLen(p, uint32(off), maxLen); n > bestLen+1 {
					bestLen, bestOff = n, uint32(off)
				}
				c = e.prev[c]
			}
		}
		if bestLen >= 2 && (bestLen >= 3 || bestOff == r[0] || bestOff == r[1] || bestOff == r[2]) {
			toks = append(toks, lzxToken{length: bestLen, off: bestOff})
			switch bestOff {
			case r[0]:
			case r[1]:
				r[0], r[1] = r[1], r[0]
			case r[2]:
				r[0], r[2] = r[2], r[0]
			default:
				r[2], r[1], r[0] = r[1], r[0], bestOff
			}
			p += bestLen
		} else {
			toks = append(toks, lzxToken{lit: e.data[p]})
			p++
		}
	}
	return toks
}
