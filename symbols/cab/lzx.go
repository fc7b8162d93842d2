package cab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// LZX as used in CAB folders (typeCompress 3), following Microsoft's LZX
// documentation as corrected by libmspack and [MS-PATCH]:
//
//   - The folder is one bit stream of 16-bit little-endian words read
//     most-significant bit first, spread over the CFDATA payloads in order.
//   - Output comes in 32 KB frames (the last one shorter); after each frame
//     the stream realigns to a 16-bit word. Matches never cross a frame or
//     block boundary; blocks may span frames.
//   - The stream starts with the E8 header: 1 bit, then if set a 32-bit
//     "intel file size" (high 16 bits first).
//   - Blocks: 3-bit type, 24-bit uncompressed length. Verbatim (1) and
//     aligned-offset (2) blocks carry pretree-coded main and length trees
//     (aligned blocks first have an 8-symbol, 3-bit-length aligned tree);
//     uncompressed (3) blocks align to 16 bits (a whole word when already
//     aligned), store R0..R2 as 32-bit values, then the raw bytes, padded
//     to an even length.
//   - E8 call translation is undone per frame for the first 32768 frames.
const (
	lzxFrameSize       = 32768
	lzxNumChars        = 256
	lzxMinMatch        = 2
	lzxNumLengths      = 249 // secondary length tree symbols
	lzxPretreeSyms     = 20
	lzxAlignedSyms     = 8
	lzxMaxSlots        = 50
	lzxMainMax         = lzxNumChars + lzxMaxSlots*8
	lzxMainTableBits   = 11
	lzxLenSafety       = 64 // pretree runs may run past a tree's end (as in libmspack)
	lzxMaxE8Frames     = 32768
	lzxBlockVerbatim   = 1
	lzxBlockAligned    = 2
	lzxBlockUncompress = 3
)

// lzxSlots is the number of position slots for window bits 15..21.
var lzxSlots = [...]int{30, 32, 34, 36, 38, 42, 50}

// lzxExtraBits and lzxPositionBase describe the position slots:
// extra_bits = 0 for slots 0..3, slot/2-1 up to 17; base[i] = base[i-1] +
// 1<<extra[i-1].
var lzxExtraBits, lzxPositionBase = func() (e [lzxMaxSlots]uint8, b [lzxMaxSlots]uint32) {
	for i := range e {
		switch {
		case i < 4:
			e[i] = 0
		case i < 36:
			e[i] = uint8(i/2 - 1)
		default:
			e[i] = 17
		}
		if i > 0 {
			b[i] = b[i-1] + 1<<e[i-1]
		}
	}
	return
}()

var errTruncated = errors.New("compressed data ends early")

// lzxBits reads the LZX bit stream: bits holds n unread bits, left-aligned.
type lzxBits struct {
	bits uint64
	n    uint
	buf  []byte // current input (a CFDATA payload or pushed-back bytes)
	pos  int

	next     func() ([]byte, error) // the following CFDATA payload
	saved    []byte                 // payload to resume after pushed-back bytes
	savedPos int
	hasSaved bool
	pb       [8]byte
	eof      bool
	padWords int // zero words supplied past the end of the input
	err      error
}

// advance moves to the next input buffer; false at the end of input.
func (b *lzxBits) advance() bool {
	if b.hasSaved {
		b.buf, b.pos, b.hasSaved, b.saved = b.saved, b.savedPos, false, nil
		return true
	}
	for !b.eof {
		p, err := b.next()
		if err != nil {
			if err != io.EOF {
				b.err = err
			}
			b.eof = true
			break
		}
		if len(p) > 0 {
			b.buf, b.pos = p, 0
			return true
		}
	}
	return false
}

// byte returns the next input byte; ok is false past the end of input.
func (b *lzxBits) byte() (c byte, ok bool) {
	for b.pos >= len(b.buf) {
		if !b.advance() {
			return 0, false
		}
	}
	c = b.buf[b.pos]
	b.pos++
	return c, true
}

// refill loads 16-bit words until more than 48 bits are buffered. Past the
// end of input it supplies zero words and counts them.
func (b *lzxBits) refill() {
	if b.pos+8 <= len(b.buf) {
		v := binary.LittleEndian.Uint64(b.buf[b.pos:])
		for b.n <= 48 {
			b.bits |= (v & 0xFFFF) << (48 - b.n)
			v >>= 16
			b.n += 16
			b.pos += 2
		}
		return
	}
	for b.n <= 48 {
		var w uint64
		if b.pos+2 <= len(b.buf) {
			w = uint64(b.buf[b.pos]) | uint64(b.buf[b.pos+1])<<8
			b.pos += 2
		} else {
			lo, ok1 := b.byte()
			hi, ok2 := b.byte()
			if !ok1 || !ok2 {
				b.padWords++
			}
			w = uint64(lo) | uint64(hi)<<8
		}
		b.bits |= w << (48 - b.n)
		b.n += 16
	}
}

// readBits reads k (1..17) bits.
func (b *lzxBits) readBits(k uint) uint32 {
	if b.n < k {
		b.refill()
	}
	v := uint32(b.bits >> (64 - k))
	b.bits <<= k
	b.n -= k
	return v
}

// overrun reports whether more than one zero word past the end of input has
// been consumed (libmspack tolerates exactly that much), or input failed.
func (b *lzxBits) overrun() error {
	if b.err != nil {
		return b.err
	}
	if b.padWords > 0 && int(b.padWords)*16 > int(b.n)+16 {
		return errTruncated
	}
	return nil
}

// alignFrame drops the rest of the current 16-bit word (end of a frame).
func (b *lzxBits) alignFrame() {
	k := b.n % 16
	b.bits <<= k
	b.n -= k
}

// toBytes switches to byte reading for an uncompressed block: it skips to
// the next 16-bit boundary (a whole word when already aligned) and pushes
// the buffered whole words back as bytes.
func (b *lzxBits) toBytes() error {
	switch k := b.n % 16; {
	case k != 0:
		b.bits <<= k
		b.n -= k
	case b.n >= 16:
		b.bits <<= 16
		b.n -= 16
	default:
		_, ok1 := b.byte()
		_, ok2 := b.byte()
		if !ok1 || !ok2 {
			return errTruncated
		}
	}
	words := int(b.n/16) - b.padWords
	if words < 0 {
		return errTruncated
	}
	b.padWords = 0
	if words > 0 {
		if b.hasSaved {
			return errors.New("nested uncompressed block alignment")
		}
		for i := range words {
			w := uint16(b.bits >> 48)
			b.bits <<= 16
			b.pb[2*i] = byte(w)
			b.pb[2*i+1] = byte(w >> 8)
		}
		b.saved, b.savedPos, b.hasSaved = b.buf, b.pos, true
		b.buf, b.pos = b.pb[:2*words], 0
	}
	b.bits, b.n = 0, 0
	return nil
}

// readRaw fills dst with input bytes (uncompressed block data).
func (b *lzxBits) readRaw(dst []byte) error {
	for len(dst) > 0 {
		if b.pos >= len(b.buf) {
			if !b.advance() {
				if b.err != nil {
					return b.err
				}
				return errTruncated
			}
			continue
		}
		k := copy(dst, b.buf[b.pos:])
		b.pos += k
		dst = dst[k:]
	}
	return nil
}

// readSym decodes one symbol of h.
func (b *lzxBits) readSym(h *huffman) (int, error) {
	if b.n < maxCodeLen {
		b.refill()
	}
	if e := h.table[b.bits>>(64-h.tableBits)]; e&31 != 0 {
		l := uint(e & 31)
		b.bits <<= l
		b.n -= l
		return int(e >> 5), nil
	}
	return b.readSymSlow(h)
}

func (b *lzxBits) readSymSlow(h *huffman) (int, error) {
	if h.empty {
		return 0, errEmptyTree
	}
	for l := h.tableBits + 1; l <= maxCodeLen; l++ {
		code := uint32(b.bits >> (64 - l))
		if d := code - h.first[l]; d < uint32(h.count[l]) {
			b.bits <<= l
			b.n -= l
			return int(h.sorted[uint32(h.index[l])+d]), nil
		}
	}
	return 0, errBadCode
}

// lzxDecoder decodes one CAB folder's LZX stream, a frame per next call.
type lzxDecoder struct {
	src        *blockSource
	br         lzxBits
	window     []byte
	windowSize uint32 // declared window, 1<<bits
	numOffsets int    // position slots * 8
	total      int64  // folder's uncompressed size
	out        int64  // bytes output so far
	frame      int    // frames output so far
	pos        uint32 // window position of the next byte

	headerRead       bool
	intelSize        int32
	blockType        int
	blockLength      uint32
	blockRemaining   uint32
	r0, r1, r2       uint32
	mainLens         [lzxMainMax + lzxLenSafety]uint8
	lengthLens       [lzxNumLengths + lzxLenSafety]uint8
	alignedLens      [lzxAlignedSyms]uint8
	pretreeLens      [lzxPretreeSyms]uint8
	main, length     *huffman
	aligned, pretree *huffman
	e8               []byte
}

func newLZXDecoder(src *blockSource, windowBits int, total int64) (*lzxDecoder, error) {
	if windowBits < 15 || windowBits > 21 {
		return nil, fmt.Errorf("LZX window 2^%d out of range 2^15..2^21", windowBits)
	}
	size := int64(1) << windowBits
	buf := size
	if total < size { // no wrap: the window need only hold the output
		buf = (total + lzxFrameSize - 1) / lzxFrameSize * lzxFrameSize
		if buf == 0 {
			buf = lzxFrameSize
		}
	}
	d := &lzxDecoder{
		src:        src,
		window:     make([]byte, buf),
		windowSize: uint32(size),
		numOffsets: lzxSlots[windowBits-15] * 8,
		total:      total,
		r0:         1, r1: 1, r2: 1,
		main:    newHuffman(lzxMainTableBits, lzxMainMax),
		length:  newHuffman(10, lzxNumLengths),
		aligned: newHuffman(7, lzxAlignedSyms),
		pretree: newHuffman(8, lzxPretreeSyms),
	}
	d.br.next = func() ([]byte, error) {
		p, _, err := src.nextBlock()
		return p, err
	}
	return d, nil
}

// fail wraps an LZX error with the CFDATA block being read; an input error
// (checksum, I/O) takes precedence over the decoding error it caused.
func (d *lzxDecoder) fail(err error) error {
	b := &d.br
	if b.err != nil {
		return b.err
	}
	if b.padWords > 0 && b.padWords*16 > int(b.n) && err != errTruncated {
		err = fmt.Errorf("%w (%v)", errTruncated, err)
	}
	return errorf("%s: LZX: %w", d.src.where(), err)
}

func (d *lzxDecoder) next() ([]byte, error) {
	if d.out >= d.total {
		return nil, io.EOF
	}
	b := &d.br
	if !d.headerRead {
		if b.readBits(1) == 1 {
			hi := b.readBits(16)
			lo := b.readBits(16)
			d.intelSize = int32(hi<<16 | lo)
		}
		d.headerRead = true
	}
	frameSize := uint32(min(lzxFrameSize, d.total-d.out))
	start := d.pos
	end := start + frameSize
	for d.pos < end {
		if d.blockRemaining == 0 {
			if err := d.readBlockHeader(); err != nil {
				return nil, d.fail(err)
			}
			continue
		}
		run := min(d.blockRemaining, end-d.pos)
		var err error
		if d.blockType == lzxBlockUncompress {
			err = b.readRaw(d.window[d.pos : d.pos+run])
		} else {
			err = d.decodeRun(run)
		}
		if err != nil {
			return nil, d.fail(err)
		}
		d.pos += run
		d.blockRemaining -= run
	}
	if d.blockType != lzxBlockUncompress {
		b.alignFrame()
	}
	if err := b.overrun(); err != nil {
		return nil, d.fail(err)
	}
	outFrame := d.window[start:end]
	if d.intelSize != 0 && d.frame < lzxMaxE8Frames && frameSize > 10 {
		if d.e8 == nil {
			d.e8 = make([]byte, lzxFrameSize)
		}
		outFrame = d.e8[:frameSize]
		copy(outFrame, d.window[start:end])
		undoE8(outFrame, int32(d.out), d.intelSize)
	}
	d.out += int64(frameSize)
	d.frame++
	if d.pos == uint32(len(d.window)) {
		d.pos = 0
	}
	return outFrame, nil
}

// undoE8 reverses the encoder's E8 call translation on one frame that
// starts at stream offset curpos: each 0xE8 byte (except in the last 10)
// is followed by an absolute target that is turned back into a relative one.
func undoE8(f []byte, curpos, fileSize int32) {
	end := len(f) - 10
	for i := 0; i < end; {
		if f[i] != 0xE8 {
			i++
			continue
		}
		pos := curpos + int32(i)
		abs := int32(binary.LittleEndian.Uint32(f[i+1:]))
		if abs >= -pos && abs < fileSize {
			rel := abs + fileSize
			if abs >= 0 {
				rel = abs - pos
			}
			binary.LittleEndian.PutUint32(f[i+1:], uint32(rel))
		}
		i += 5
	}
}

func (d *lzxDecoder) readBlockHeader() error {
	b := &d.br
	if err := b.overrun(); err != nil {
		return err
	}
	if d.blockType == lzxBlockUncompress && d.blockLength&1 == 1 {
		if _, ok := b.byte(); !ok { // padding after an odd-sized block
			return errTruncated
		}
	}
	d.blockType = int(b.readBits(3))
	hi := b.readBits(16)
	lo := b.readBits(8)
	d.blockLength = hi<<8 | lo
	d.blockRemaining = d.blockLength
	switch d.blockType {
	case lzxBlockAligned:
		for i := range d.alignedLens {
			d.alignedLens[i] = uint8(b.readBits(3))
		}
		if err := d.aligned.build(d.alignedLens[:]); err != nil {
			return fmt.Errorf("aligned offset tree: %w", err)
		}
		fallthrough
	case lzxBlockVerbatim:
		if err := d.readLengths(d.mainLens[:], 0, lzxNumChars); err != nil {
			return err
		}
		if err := d.readLengths(d.mainLens[:], lzxNumChars, lzxNumChars+d.numOffsets); err != nil {
			return err
		}
		if err := d.main.build(d.mainLens[:lzxNumChars+d.numOffsets]); err != nil {
			return fmt.Errorf("main tree: %w", err)
		}
		if err := d.readLengths(d.lengthLens[:], 0, lzxNumLengths); err != nil {
			return err
		}
		if err := d.length.build(d.lengthLens[:lzxNumLengths]); err != nil {
			return fmt.Errorf("length tree: %w", err)
		}
	case lzxBlockUncompress:
		if err := b.toBytes(); err != nil {
			return err
		}
		var r [12]byte
		if err := b.readRaw(r[:]); err != nil {
			return err
		}
		d.r0 = binary.LittleEndian.Uint32(r[0:])
		d.r1 = binary.LittleEndian.Uint32(r[4:])
		d.r2 = binary.LittleEndian.Uint32(r[8:])
	default:
		return fmt.Errorf("invalid block type %d", d.blockType)
	}
	return b.overrun()
}

// readLengths reads the pretree and then the pretree-coded lengths of
// lens[first:last] as deltas (mod 17) from their previous values.
func (d *lzxDecoder) readLengths(lens []uint8, first, last int) error {
	b := &d.br
	for i := range d.pretreeLens {
		d.pretreeLens[i] = uint8(b.readBits(4))
	}
	if err := d.pretree.build(d.pretreeLens[:]); err != nil {
		return fmt.Errorf("pretree: %w", err)
	}
	for x := first; x < last; {
		z, err := b.readSym(d.pretree)
		if err != nil {
			return fmt.Errorf("pretree: %w", err)
		}
		var run int
		var v uint8
		switch z {
		case 17: // run of 4..19 zeros
			run = int(b.readBits(4)) + 4
		case 18: // run of 20..51 zeros
			run = int(b.readBits(5)) + 20
		case 19: // run of 4..5 copies of one delta-coded length
			run = int(b.readBits(1)) + 4
			z, err = b.readSym(d.pretree)
			if err != nil {
				return fmt.Errorf("pretree: %w", err)
			}
			if z > 16 {
				return fmt.Errorf("pretree: length delta %d", z)
			}
			v = uint8((int(lens[x]) - z + 17) % 17)
		default:
			run = 1
			v = uint8((int(lens[x]) - z + 17) % 17)
		}
		if x+run > len(lens) {
			return errors.New("code length run past the end of the tree")
		}
		for i := range run {
			lens[x+i] = v
		}
		x += run
		if b.padWords > 4 {
			return errTruncated
		}
	}
	return nil
}

// decodeRun decodes exactly run bytes of a verbatim or aligned block into
// the window at d.pos; run never crosses a frame or block boundary.
func (d *lzxDecoder) decodeRun(run uint32) error {
	b := &d.br
	win := d.window
	pos := d.pos
	end := pos + run
	aligned := d.blockType == lzxBlockAligned
	mainT := d.main
	mainTable := (*[1 << lzxMainTableBits]uint16)(mainT.table)
	r0, r1, r2 := d.r0, d.r1, d.r2
	for pos < end {
		if b.n < 32 {
			b.refill()
		}
		var sym int
		if e := mainTable[b.bits>>(64-lzxMainTableBits)]; e&31 != 0 {
			l := uint(e & 31)
			b.bits <<= l
			b.n -= l
			sym = int(e >> 5)
		} else {
			var err error
			if sym, err = b.readSymSlow(mainT); err != nil {
				d.r0, d.r1, d.r2 = r0, r1, r2
				return fmt.Errorf("main tree: %w", err)
			}
		}
		if sym < lzxNumChars {
			win[pos] = byte(sym)
			pos++
			continue
		}
		sym -= lzxNumChars
		length := uint32(sym&7) + lzxMinMatch
		if sym&7 == 7 {
			l, err := b.readSym(d.length)
			if err != nil {
				d.r0, d.r1, d.r2 = r0, r1, r2
				return fmt.Errorf("length tree: %w", err)
			}
			length += uint32(l)
		}
		var off uint32
		switch slot := sym >> 3; slot {
		case 0:
			off = r0
		case 1:
			off = r1
			r1 = r0
			r0 = off
		case 2:
			off = r2
			r2 = r0
			r0 = off
		default:
			extra := uint(lzxExtraBits[slot])
			off = lzxPositionBase[slot] - 2
			if aligned && extra >= 3 {
				if extra > 3 {
					k := extra - 3
					if b.n < k {
						b.refill()
					}
					off += uint32(b.bits>>(64-k)) << 3
					b.bits <<= k
					b.n -= k
				}
				a, err := b.readSym(d.aligned)
				if err != nil {
					d.r0, d.r1, d.r2 = r0, r1, r2
					return fmt.Errorf("aligned offset tree: %w", err)
				}
				off += uint32(a)
			} else if extra > 0 {
				if b.n < extra {
					b.refill()
				}
				off += uint32(b.bits >> (64 - extra))
				b.bits <<= extra
				b.n -= extra
			}
			r2 = r1
			r1 = r0
			r0 = off
		}
		if length > end-pos {
			d.r0, d.r1, d.r2 = r0, r1, r2
			return fmt.Errorf("match of %d bytes at stream offset %d crosses a block or frame end", length, d.streamOffset(pos))
		}
		if off == 0 || off > d.windowSize || int64(off) > d.streamOffset(pos) {
			d.r0, d.r1, d.r2 = r0, r1, r2
			return fmt.Errorf("match offset %d at stream offset %d is out of range", off, d.streamOffset(pos))
		}
		copyMatch(win, int(pos), int(off), int(length))
		pos += length
	}
	d.r0, d.r1, d.r2 = r0, r1, r2
	return nil
}

// streamOffset is the folder output offset of window position pos, which
// lies in the frame being decoded.
func (d *lzxDecoder) streamOffset(pos uint32) int64 {
	frameStart := d.pos - d.pos%lzxFrameSize
	return d.out + int64(pos-frameStart)
}

// copyMatch copies n bytes from off bytes back (wrapping around the window)
// to win[dst:], byte by byte in effect: an overlapping source repeats.
func copyMatch(win []byte, dst, off, n int) {
	src := dst - off
	switch {
	case src < 0: // source wraps around the window's end
		src += len(win)
		for i := range n {
			win[dst+i] = win[src]
			if src++; src == len(win) {
				src = 0
			}
		}
	case off >= n:
		copy(win[dst:dst+n], win[src:src+n])
	case off == 1:
		c := win[src]
		for i := range n {
			win[dst+i] = c
		}
	default: // each chunk of off bytes is already in place for the next
		for n > 0 {
			k := copy(win[dst:dst+min(n, off)], win[src:])
			src += k
			dst += k
			n -= k
		}
	}
}
