package unwind

// Scan depths, as breakpad's: a return address is searched for in 40 stack
// words, 160 when unwinding the context frame (whose callee may have left
// more on the stack).
const (
	scanWords        = 40
	scanWordsContext = 160
)

// scan looks upward from start for a stack word that could be a return
// address: it points into an executable section of a module and, when the
// code before it can be read, follows a call instruction. It returns the
// word's address and value. Scanning is the last resort of the walk; frames
// found this way are labelled FoundByScan.
func (s *walk) scan(start uint64, context bool) (loc, ret uint64, ok bool) {
	if s.w.NoScan {
		return 0, 0, false
	}
	words := scanWords
	if context {
		words = scanWordsContext
	}
	if s.w.ScanWords > 0 {
		words = s.w.ScanWords
	}
	return s.scanN(start, words)
}

// scanN is scan over exactly words words, whatever the Walker's settings.
func (s *walk) scanN(start uint64, words int) (loc, ret uint64, ok bool) {
	for i := 0; i <= words; i++ {
		at := start + uint64(i)*s.ptr
		if at >= s.hi {
			break
		}
		v, ok := s.readPtr(at)
		if !ok {
			break
		}
		if s.isReturnAddress(v) {
			return at, v, true
		}
	}
	return 0, 0, false
}

// isCode reports whether addr lies in an executable part of a module.
func (s *walk) isCode(addr uint64) bool {
	if addr < 0x10000 {
		return false
	}
	m := s.moduleAt(addr)
	return m != nil && m.executable(addr)
}

// isReturnAddress is isCode plus, when the bytes are available, a call
// instruction ending at addr.
func (s *walk) isReturnAddress(addr uint64) bool {
	if !s.isCode(addr) {
		return false
	}
	m := s.moduleAt(addr)
	var b [8]byte
	rva := uint32(addr - m.base)
	if rva < uint32(len(b)) {
		return false
	}
	if n, _ := m.rd(rva-uint32(len(b)), b[:]); n < len(b) {
		return true // code not available: the module range is all we can check
	}
	return followsCall(b[:], s.ptr == 8)
}

// followsCall reports whether the bytes before a return address end with a
// call: E8 rel32, or FF /2 with any ModRM form (optionally REX-prefixed on
// x64).
func followsCall(b []byte, x64 bool) bool {
	n := len(b)
	if b[n-5] == 0xe8 {
		return true
	}
	for l := 2; l <= 7; l++ {
		i := n - l
		if i < 0 || b[i] != 0xff {
			continue
		}
		modrm := b[i+1]
		if (modrm>>3)&7 != 2 || ffLen(b[i+1:]) != l {
			continue
		}
		return true
	}
	if x64 {
		for l := 3; l <= 8; l++ {
			i := n - l
			if i < 0 || !isREX(b[i]) || b[i+1] != 0xff {
				continue
			}
			modrm := b[i+2]
			if (modrm>>3)&7 == 2 && ffLen(b[i+2:]) == l-1 {
				return true
			}
		}
	}
	return false
}

// ffLen is the length of an FF /r instruction (opcode included) from its
// ModRM byte on.
func ffLen(m []byte) int {
	modrm := m[0]
	mod, rm := modrm>>6, modrm&7
	switch mod {
	case 3:
		return 2
	case 0:
		if rm == 5 {
			return 6
		}
		if rm == 4 {
			if len(m) > 1 && m[1]&7 == 5 {
				return 7
			}
			return 3
		}
		return 2
	case 1:
		if rm == 4 {
			return 4
		}
		return 3
	}
	if rm == 4 {
		return 7
	}
	return 6
}
