package cab

import "errors"

// maxCodeLen is the longest Huffman code LZX can describe: lengths are
// stored modulo 17, so 0 (unused) and 1..16.
const maxCodeLen = 16

var (
	errOversubscribed = errors.New("over-subscribed Huffman code lengths")
	errBadCode        = errors.New("invalid Huffman code in input")
	errEmptyTree      = errors.New("symbol read with an empty Huffman tree")
)

// huffman decodes one canonical, MSB-first Huffman code (codes assigned in
// order of length, then symbol, as in LZX). Codes up to tableBits long are
// resolved by one table look-up; longer ones by a canonical walk.
// Incomplete codes are accepted: only reading an unassigned code fails.
type huffman struct {
	tableBits uint
	table     []uint16 // symbol<<5 | length; 0 = longer code or unassigned
	empty     bool
	count     [maxCodeLen + 1]uint16
	first     [maxCodeLen + 1]uint32 // first code of each length
	index     [maxCodeLen + 1]uint16 // position of that code's symbol in sorted
	sorted    []uint16               // symbols ordered by (length, symbol)
}

func newHuffman(tableBits uint, maxSyms int) *huffman {
	return &huffman{
		tableBits: tableBits,
		table:     make([]uint16, 1<<tableBits),
		sorted:    make([]uint16, maxSyms),
	}
}

// build prepares the decoder for the code lengths lens (0 = unused).
func (h *huffman) build(lens []uint8) error {
	h.count = [maxCodeLen + 1]uint16{}
	n := 0
	for _, l := range lens {
		if l > maxCodeLen {
			return errBadCode
		}
		if l != 0 {
			h.count[l]++
			n++
		}
	}
	h.empty = n == 0
	if h.empty {
		return nil
	}
	left := 1
	var code uint32
	idx := uint16(0)
	for l := 1; l <= maxCodeLen; l++ {
		left = left<<1 - int(h.count[l])
		if left < 0 {
			return errOversubscribed
		}
		code = (code + uint32(h.count[l-1])) << 1
		h.first[l] = code
		h.index[l] = idx
		idx += h.count[l]
	}
	clear(h.table)
	next := h.first
	pos := h.index
	tb := h.tableBits
	for sym, l := range lens {
		if l == 0 {
			continue
		}
		h.sorted[pos[l]] = uint16(sym)
		pos[l]++
		c := next[l]
		next[l]++
		if uint(l) <= tb {
			shift := tb - uint(l)
			e := uint16(sym)<<5 | uint16(l)
			lo := c << shift
			for i := lo; i < lo+1<<shift; i++ {
				h.table[i] = e
			}
		}
	}
	return nil
}
