// Package scan finds byte patterns and printable strings in captured target
// memory at memory-bandwidth speed. It knows nothing about commands or
// output: callers hand it the chunks of a dump (dump.File.Chunks yields
// zero-copy views of the mapping) and receive hit addresses, so the s
// command, the heap code and anything else share one tuned core.
//
// Chunks are scanned block by block; a pattern that straddles two chunks is
// found when the second chunk starts where the first ended (the dump's
// ranges are split at file discontinuities, and the unmapped fallback reads
// in 4 MiB pieces, so contiguous chunks are common).
package scan

import (
	"bytes"
	"encoding/binary"
	"iter"
)

// DefaultCheckEvery is how many bytes are scanned between Check calls: small
// enough that Ctrl-C and progress lines react within a few milliseconds,
// large enough that the call costs nothing.
const DefaultCheckEvery = 16 << 20

// Scanner searches for Pattern at addresses that are multiples of Align.
type Scanner struct {
	Pattern []byte
	// Align is the required alignment of hit addresses (WinDbg reports only
	// naturally aligned WORD/DWORD/QWORD hits); 0 or 1 means any address.
	Align int
	// CheckEvery is the number of bytes between Check calls; 0 means
	// DefaultCheckEvery.
	CheckEvery int
	// Check, when set, is called between chunks and every CheckEvery bytes
	// inside large chunks with the number of bytes scanned so far. Returning
	// false stops the scan (Ctrl-C).
	Check func(scanned uint64) bool
}

// Bytes reports to hit every address in chunks where pattern starts and
// that is a multiple of align. It stops early when hit returns false and
// then returns false.
func Bytes(chunks iter.Seq2[uint64, []byte], pattern []byte, align int, hit func(addr uint64) bool) bool {
	sc := Scanner{Pattern: pattern, Align: align}
	_, done := sc.Scan(chunks, hit)
	return done
}

// Scan reports every hit in ascending address order. It returns the number
// of bytes scanned and whether the scan went to the end (false when hit or
// Check asked to stop).
func (sc *Scanner) Scan(chunks iter.Seq2[uint64, []byte], hit func(addr uint64) bool) (scanned uint64, complete bool) {
	m := len(sc.Pattern)
	if m == 0 {
		return 0, true
	}
	align := uint64(max(sc.Align, 1))
	every := sc.CheckEvery
	if every <= 0 {
		every = DefaultCheckEvery
	}
	f := newFinder(sc.Pattern, int(align))
	var (
		carry     = make([]byte, 0, 2*m) // the last m-1 bytes seen, whose matches need the next chunk
		carryAddr uint64
		join      = make([]byte, 0, 2*m)
		stopped   bool
	)
	offHit := func(base uint64) func(int) bool {
		return func(o int) bool {
			if !hit(base + uint64(o)) {
				stopped = true
				return false
			}
			return true
		}
	}
	for addr, data := range chunks {
		if len(data) == 0 {
			continue
		}
		if sc.Check != nil && !sc.Check(scanned) {
			return scanned, false
		}
		// Matches that begin in the previous chunk and end in this one.
		if len(carry) > 0 && carryAddr+uint64(len(carry)) == addr {
			join = append(append(join[:0], carry...), data[:min(len(data), m-1)]...)
			next := 0 // first start position not yet decided
			for o := range carry {
				if o+m > len(join) {
					break
				}
				next = o + 1
				if (carryAddr+uint64(o))%align == 0 && bytes.Equal(join[o:o+m], sc.Pattern) {
					if !hit(carryAddr + uint64(o)) {
						return scanned, false
					}
				}
			}
			if len(data) < m-1 {
				// A tiny chunk: undecided starts wait for the next one.
				carryAddr += uint64(next)
				carry = append(carry[:0], join[next:]...)
				scanned += uint64(len(data))
				continue
			}
		}
		// Starts that fit entirely in this chunk, a block at a time.
		limit := len(data) - m + 1 // starts in [0, limit) fit
		for i := 0; i < limit; i += every {
			n := min(every, limit-i)
			if !f.find(data[i:i+n+m-1], addr+uint64(i), n, offHit(addr+uint64(i))) || stopped {
				return scanned + uint64(n), false
			}
			scanned += uint64(n)
			if i+n < limit && sc.Check != nil && !sc.Check(scanned) {
				return scanned, false
			}
		}
		scanned += uint64(len(data) - max(limit, 0))
		// Keep the tail whose starts did not fit.
		tail := min(m-1, len(data))
		carry = append(carry[:0], data[len(data)-tail:]...)
		carryAddr = addr + uint64(len(data)-tail)
	}
	return scanned, true
}

// finder searches one contiguous buffer with the fastest method for the
// pattern's length and alignment.
type finder struct {
	pat   []byte
	align int
	kind  int
	rare  int // index of the pattern byte used with IndexByte
	// forceLanes skips the IndexByte pass (benchmarks compare the two).
	forceLanes bool
	v16        uint16
	v32        uint32
	v64        uint64
}

const (
	kindBytes = iota // IndexByte on a rare byte, then verify
	kindWord         // aligned 16-bit lane compare
	kindDword        // aligned 32-bit lane compare
	kindQword        // aligned 64-bit compare
)

func newFinder(p []byte, align int) *finder {
	f := &finder{pat: p, align: align, rare: rareIndex(p)}
	switch {
	case align == 8 && len(p) >= 8:
		f.kind, f.v64 = kindQword, binary.LittleEndian.Uint64(p)
	case align == 4 && len(p) >= 4:
		f.kind, f.v32 = kindDword, binary.LittleEndian.Uint32(p)
	case align == 2 && len(p) >= 2:
		f.kind, f.v16 = kindWord, binary.LittleEndian.Uint16(p)
	}
	return f
}

// find calls hit(o) for every start o in [0, limit) where the pattern
// matches data[o:] and base+o is aligned; data holds at least limit+len-1
// bytes. It returns false when hit asked to stop.
//
// Every kind starts with IndexByte on the pattern's rarest byte: the
// runtime's SIMD IndexByte runs at memory bandwidth on real memory (mostly
// zeros and pointers), measured faster than the word loops (BenchmarkScan*).
// When that byte proves common in the data, the rest of the buffer goes to
// the word loop (aligned kinds) or to bytes.Index, whose speed does not
// depend on the data.
func (f *finder) find(data []byte, base uint64, limit int, hit func(int) bool) bool {
	if limit <= 0 {
		return true
	}
	if f.kind == kindBytes || !f.forceLanes {
		o, ok := f.findBytes(data, base, limit, hit)
		if o >= limit || !ok {
			return ok
		}
		if f.kind == kindBytes {
			return f.findIndex(data, base, o, limit, hit)
		}
		data, base, limit = data[o:], base+uint64(o), limit-o
		inner := hit
		hit = func(k int) bool { return inner(o + k) }
	}
	switch f.kind {
	case kindQword:
		return f.lanes(data, base, limit, hit, findQwords)
	case kindDword:
		return f.lanes(data, base, limit, hit, findDwords)
	}
	return f.lanes(data, base, limit, hit, findWords)
}

// lanes runs a word-compare loop over the aligned starts and verifies the
// rest of a longer pattern.
func (f *finder) lanes(data []byte, base uint64, limit int, hit func(int) bool,
	loop func(f *finder, b []byte, cand func(int) bool) bool) bool {
	a := uint64(f.align)
	first := int((a - base%a) % a)
	if first >= limit {
		return true
	}
	// Lane loops see whole words: one per aligned start.
	cnt := (limit-1-first)/f.align + 1
	b := data[first : first+cnt*f.align]
	return loop(f, b, func(o int) bool {
		o += first
		if len(f.pat) > f.align && !bytes.Equal(data[o:o+len(f.pat)], f.pat) {
			return true
		}
		return hit(o)
	})
}

// findQwords compares 8-byte words, four per step; b starts aligned and its
// length is a multiple of 8.
func findQwords(f *finder, b []byte, cand func(int) bool) bool {
	v := f.v64
	o := 0
	for len(b) >= 32 {
		x0 := binary.LittleEndian.Uint64(b[0:8])
		x1 := binary.LittleEndian.Uint64(b[8:16])
		x2 := binary.LittleEndian.Uint64(b[16:24])
		x3 := binary.LittleEndian.Uint64(b[24:32])
		if x0 == v || x1 == v || x2 == v || x3 == v {
			for k := 0; k < 4; k++ {
				if binary.LittleEndian.Uint64(b[8*k:]) == v && !cand(o+8*k) {
					return false
				}
			}
		}
		b = b[32:]
		o += 32
	}
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) == v && !cand(o) {
			return false
		}
		b = b[8:]
		o += 8
	}
	return true
}

// findDwords compares both 32-bit halves of four 64-bit loads per step
// (measured faster than the has-zero-lane trick for this lane width); b
// starts aligned and its length is a multiple of 4.
func findDwords(f *finder, b []byte, cand func(int) bool) bool {
	v := f.v32
	o := 0
	for len(b) >= 32 {
		x0 := binary.LittleEndian.Uint64(b[0:8])
		x1 := binary.LittleEndian.Uint64(b[8:16])
		x2 := binary.LittleEndian.Uint64(b[16:24])
		x3 := binary.LittleEndian.Uint64(b[24:32])
		if uint32(x0) == v || uint32(x0>>32) == v || uint32(x1) == v || uint32(x1>>32) == v ||
			uint32(x2) == v || uint32(x2>>32) == v || uint32(x3) == v || uint32(x3>>32) == v {
			for k := 0; k < 8; k++ {
				if binary.LittleEndian.Uint32(b[4*k:]) == v && !cand(o+4*k) {
					return false
				}
			}
		}
		b = b[32:]
		o += 32
	}
	for len(b) >= 4 {
		if binary.LittleEndian.Uint32(b) == v && !cand(o) {
			return false
		}
		b = b[4:]
		o += 4
	}
	return true
}

// findWords tests four 16-bit lanes per 64-bit load with the "has a zero
// lane" trick on x^pattern, 32 bytes per step; candidates are confirmed
// lane by lane.
func findWords(f *finder, b []byte, cand func(int) bool) bool {
	v := f.v16
	vv := uint64(v) * 0x0001000100010001
	const lo, hi = 0x0001000100010001, 0x8000800080008000
	o := 0
	for len(b) >= 32 {
		y0 := binary.LittleEndian.Uint64(b[0:8]) ^ vv
		y1 := binary.LittleEndian.Uint64(b[8:16]) ^ vv
		y2 := binary.LittleEndian.Uint64(b[16:24]) ^ vv
		y3 := binary.LittleEndian.Uint64(b[24:32]) ^ vv
		z := ((y0 - lo) &^ y0) | ((y1 - lo) &^ y1) | ((y2 - lo) &^ y2) | ((y3 - lo) &^ y3)
		if z&hi != 0 {
			for k := 0; k < 16; k++ {
				if binary.LittleEndian.Uint16(b[2*k:]) == v && !cand(o+2*k) {
					return false
				}
			}
		}
		b = b[32:]
		o += 32
	}
	for len(b) >= 2 {
		if binary.LittleEndian.Uint16(b) == v && !cand(o) {
			return false
		}
		b = b[2:]
		o += 2
	}
	return true
}

// findBytes looks for the pattern's rarest byte with IndexByte and verifies
// around it. It gives up when false candidates are denser than one per 128
// bytes and returns the offset where it stopped (limit when done).
func (f *finder) findBytes(data []byte, base uint64, limit int, hit func(int) bool) (int, bool) {
	p, r := f.pat, f.rare
	c := p[r]
	a := uint64(max(f.align, 1))
	fails := 0
	for o := 0; o < limit; {
		if fails > 16 && fails > o>>7 {
			return o, true
		}
		j := bytes.IndexByte(data[o+r:limit+r], c)
		if j < 0 {
			return limit, true
		}
		o += j
		if (base+uint64(o))%a == 0 && bytes.Equal(data[o:o+len(p)], p) {
			if !hit(o) {
				return o, false
			}
		} else {
			fails++
		}
		o++
	}
	return limit, true
}

// findIndex is the bytes.Index loop used when the rare byte is not rare.
func (f *finder) findIndex(data []byte, base uint64, from, limit int, hit func(int) bool) bool {
	p := f.pat
	a := uint64(max(f.align, 1))
	s := data[:limit+len(p)-1]
	for o := from; o < limit; {
		j := bytes.Index(s[o:], p)
		if j < 0 {
			return true
		}
		o += j
		if (base+uint64(o))%a == 0 && !hit(o) {
			return false
		}
		o++
	}
	return true
}

// rareIndex picks the pattern byte least likely to occur in process memory:
// zero, 0xff and small numbers are everywhere, high-bit bytes rarely.
func rareIndex(p []byte) int {
	best, bestScore := 0, 1<<30
	for i, c := range p {
		if s := byteCommonness(c); s < bestScore {
			best, bestScore = i, s
		}
	}
	return best
}

func byteCommonness(c byte) int {
	switch {
	case c == 0:
		return 1000
	case c == 0xff:
		return 900
	case c == 0xcc || c == 0x90 || c == 0x20:
		return 500
	case c < 0x10:
		return 400
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return 300 // text is common in memory, and near letters are many hits
	case c < 0x80:
		return 200
	}
	return 100
}
