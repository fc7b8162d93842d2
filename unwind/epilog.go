package unwind

import (
	"encoding/binary"
	"fmt"
)

// x64 opcodes the epilogue recognizer looks at.
const (
	rexW      = 0x48
	addImm8   = 0x83
	addImm32  = 0x81
	leaOp     = 0x8d
	popOp     = 0x58
	retOp     = 0xc3
	retImmOp  = 0xc2
	jmpRel8   = 0xeb
	jmpRel32  = 0xe9
	jmpInd    = 0xff
	repPrefix = 0xf3
	repne     = 0xf2
)

func isREX(b byte) bool { return b&0xf0 == 0x40 }

// epilogue decides whether pc is inside an epilogue of fn and, if so,
// finishes the epilogue on st the way RtlVirtualUnwind does: version 1
// unwind info by recognising the instruction stream at pc, version 2 from
// the UWOP_EPILOG descriptors and the prologue's push codes.
func (s *walk) epilogue(m *module, fn RuntimeFunction, ui *UnwindInfo, pc uint64, st *amd64State) (bool, error) {
	if ui.Version >= 2 {
		return s.epilogueV2(m, fn, ui, pc, st)
	}
	var code [32]byte
	n, _ := m.rd(uint32(pc-m.base), code[:])
	if n == 0 {
		return false, nil // code not available: assume not in an epilogue, as the OS unwinder does
	}
	// Bytes past what could be read stay zero, which matches no epilogue
	// instruction.
	b := code[:]
	at := 0
	var frameReg uint8
	switch {
	case b[0] == rexW && b[1] == addImm8 && b[2] == 0xc4:
		at = 4
	case b[0] == rexW && b[1] == addImm32 && b[2] == 0xc4:
		at = 7
	case b[0]&0xfe == rexW && b[1] == leaOp:
		frameReg = (b[0]&1)<<3 | b[2]&7
		if frameReg != 0 && frameReg == ui.FrameRegister {
			switch b[2] & 0xf8 {
			case 0x60:
				at = 4
			case 0xa0:
				at = 7
			}
		}
	}
	for at+2 <= len(b) {
		if b[at]&0xf8 == popOp {
			at++
		} else if isREX(b[at]) && b[at+1]&0xf8 == popOp {
			at += 2
		} else {
			break
		}
	}
	if at+7 > len(b) {
		return false, nil // longer than any epilogue the compilers emit
	}
	if b[at] == repne {
		at++
	}
	in := false
	switch {
	case b[at] == retOp || b[at] == retImmOp || (b[at] == repPrefix && b[at+1] == retOp):
		in = true
	case b[at] == jmpRel8 || b[at] == jmpRel32:
		// A jump to the start of this function or out of it is a tail call.
		target := uint32(pc-m.base) + uint32(at)
		if b[at] == jmpRel8 {
			target += 2 + uint32(int32(int8(b[at+1])))
		} else {
			target += 5 + binary.LittleEndian.Uint32(b[at+1:])
		}
		if target < fn.Begin || target >= fn.End {
			in = true
			if primary, ok := s.sameFunction(m, fn, target); ok && target != primary.Begin {
				in = false
			}
		} else if target == fn.Begin && ui.Chained == nil {
			in = true
		}
	case b[at] == jmpInd && b[at+1] == 0x25:
		in = true // jmp [rip+disp32]: a tail call through the import table
	case b[at]&0xf8 == rexW && b[at+1] == jmpInd && b[at+2]&0x38 == 0x20:
		in = true // rex.w jmp r/m64: REX.W marks a jump out of the function
	}
	if !in {
		return false, nil
	}

	// Emulate the rest of the epilogue from pc.
	at = 0
	if b[0]&0xf8 == rexW {
		switch b[1] {
		case addImm8:
			st.c.Rsp += uint64(int64(int8(b[3])))
			at = 4
		case addImm32:
			st.c.Rsp += uint64(int64(int32(binary.LittleEndian.Uint32(b[3:]))))
			at = 7
		case leaOp:
			switch b[2] & 0xf8 {
			case 0x60:
				st.c.Rsp = *reg(&st.c, frameReg) + uint64(int64(int8(b[3])))
				at = 4
			case 0xa0:
				st.c.Rsp = *reg(&st.c, frameReg) + uint64(int64(int32(binary.LittleEndian.Uint32(b[3:]))))
				at = 7
			}
		}
	}
	for {
		var r uint8
		switch {
		case b[at]&0xf8 == popOp:
			r = b[at] & 7
			at++
		case isREX(b[at]) && b[at+1]&0xf8 == popOp:
			r = (b[at]&1)<<3 | b[at+1]&7
			at += 2
		default:
			return true, st.pop(s) // ret, or a tail call emulated as one
		}
		v, ok := s.read64(st.c.Rsp)
		if !ok {
			return true, fmt.Errorf("epilogue pop at %#x not readable", st.c.Rsp)
		}
		*reg(&st.c, r) = v
		st.c.Rsp += 8
	}
}

// sameFunction reports whether target (an RVA) belongs to the same function
// as fn, and that function's primary entry (RtlpSameFunction).
func (s *walk) sameFunction(m *module, fn RuntimeFunction, target uint32) (RuntimeFunction, bool) {
	p1, err := m.primary(fn)
	if err != nil {
		return fn, false
	}
	t, ok, err := m.lookupFunction(target)
	if err != nil || !ok {
		return fn, false
	}
	p2, err := m.primary(t)
	if err != nil || p1.Begin != p2.Begin {
		return fn, false
	}
	return p1, true
}

// epilogueV2 uses version 2 epilogue descriptors: the first UWOP_EPILOG slot
// gives the epilogue size (and, with bit 0 of its info, one epilogue ending
// the function); the next ones give epilogue offsets back from the end of
// the function, 0 being padding.
func (s *walk) epilogueV2(m *module, fn RuntimeFunction, ui *UnwindInfo, pc uint64, st *amd64State) (bool, error) {
	if len(ui.Codes) == 0 || ui.Codes[0].Op != UwopEpilog {
		return false, nil
	}
	size := uint32(ui.Codes[0].CodeOffset)
	if size == 0 {
		return false, nil
	}
	rel := uint32(pc - m.base)
	start, in := uint32(0), false
	if ui.Codes[0].Info&1 != 0 {
		start = fn.End - size
		in = rel-start < size
	}
	for i := 1; !in && i < len(ui.Codes) && ui.Codes[i].Op == UwopEpilog; i++ {
		off := uint32(ui.Codes[i].CodeOffset) | uint32(ui.Codes[i].Info)<<8
		if off == 0 {
			break
		}
		start = fn.End - off
		in = rel-start < size
	}
	if !in {
		return false, nil
	}
	return true, s.unwindEpilogueCodes(m, fn, ui, rel-start, st)
}

// unwindEpilogueCodes finishes a version 2 epilogue at offset into it: the
// epilogue pops what the prologue pushed, in reverse, then returns (or
// resumes a machine frame). Pops before offset have already run.
func (s *walk) unwindEpilogueCodes(m *module, fn RuntimeFunction, ui *UnwindInfo, offset uint32, st *amd64State) error {
	first := -1
	for depth := 0; ; depth++ {
		for i := 0; i < len(ui.Codes); i += ui.Codes[i].slots() {
			if op := ui.Codes[i].Op; op == UwopPushNonvol || op == UwopPushMachFrame {
				first = i
				break
			}
		}
		if first >= 0 || ui.Chained == nil {
			break
		}
		if depth >= maxChainDepth {
			return fmt.Errorf("chained unwind info deeper than %d", maxChainDepth)
		}
		next, err := m.readUnwindInfo(ui.Chained.UnwindData)
		if err != nil {
			return fmt.Errorf("chained %w", err)
		}
		ui = next
	}
	codes := ui.Codes
	cur := uint32(0)
	i := first
	if i < 0 {
		i = len(codes)
	}
	for ; i < len(codes) && codes[i].Op == UwopPushNonvol; i++ {
		if cur >= offset {
			v, ok := s.read64(st.c.Rsp)
			if !ok {
				return fmt.Errorf("epilogue pop at %#x not readable", st.c.Rsp)
			}
			*reg(&st.c, codes[i].Info) = v
			st.c.Rsp += 8
		}
		cur++
		if codes[i].Info >= 8 {
			cur++
		}
	}
	if i < len(codes) && codes[i].Op == UwopAllocSmall && codes[i].Info == 0 {
		// pushfq in the prologue, pop rcx in the epilogue.
		if cur >= offset {
			st.c.Rsp += 8
		}
		i++
	}
	if i < len(codes) && codes[i].Op == UwopPushMachFrame {
		rip, ok1 := s.read64(st.c.Rsp)
		rsp, ok2 := s.read64(st.c.Rsp + 24)
		if !ok1 || !ok2 {
			return fmt.Errorf("machine frame at %#x not readable", st.c.Rsp)
		}
		st.c.Rip, st.c.Rsp, st.machine, st.raLoc = rip, rsp, true, 0
		return nil
	}
	return st.pop(s)
}
