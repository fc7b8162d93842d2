package unwind

import (
	"errors"
	"fmt"

	"wdb/dump"
)

// reg returns the integer register numbered as UNWIND_CODE numbers them
// (rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8-r15).
func reg(c *dump.Context, n uint8) *uint64 {
	switch n & 15 {
	case 0:
		return &c.Rax
	case 1:
		return &c.Rcx
	case 2:
		return &c.Rdx
	case 3:
		return &c.Rbx
	case 4:
		return &c.Rsp
	case 5:
		return &c.Rbp
	case 6:
		return &c.Rsi
	case 7:
		return &c.Rdi
	case 8:
		return &c.R8
	case 9:
		return &c.R9
	case 10:
		return &c.R10
	case 11:
		return &c.R11
	case 12:
		return &c.R12
	case 13:
		return &c.R13
	case 14:
		return &c.R14
	}
	return &c.R15
}

// amd64State is the register state one virtual unwind works on.
type amd64State struct {
	c   dump.Context
	xmm map[int][16]byte
	// raLoc is where the return address was popped from; 0 for a machine frame.
	raLoc   uint64
	machine bool
	epilog  bool
}

func (st *amd64State) pop(s *walk) error {
	v, ok := s.read64(st.c.Rsp)
	if !ok {
		return fmt.Errorf("return address at %#x not readable", st.c.Rsp)
	}
	st.raLoc = st.c.Rsp
	st.c.Rip = v
	st.c.Rsp += 8
	return nil
}

// stepAMD64 finds the caller of cur.
func (s *walk) stepAMD64(cur *Frame) (*Frame, error) {
	pc := cur.IP
	m := s.moduleAt(cur.LookupPC())
	if m == nil {
		if cur.Exact {
			// A call through a bad pointer: RIP is nowhere, the return
			// address still at RSP. The debugger treats it as a leaf.
			return s.leaf(cur, TrustScan, fmt.Sprintf("%#x is in no module; assuming a leaf function", pc))
		}
		return s.fallbackAMD64(cur, fmt.Sprintf("%#x is in no module", pc))
	}
	fn, ok, err := m.lookupFunction(uint32(cur.LookupPC() - m.base))
	switch {
	case errors.Is(err, errNoPdata):
		// Without any .pdata in the module a leaf is only a guess: take it
		// when [RSP] is a return address, else look further (frame pointer, scan).
		if ra, ok := s.readPtr(cur.Context.Rsp); ok && s.isReturnAddress(ra) {
			return s.leaf(cur, TrustCFI, "module has no .pdata: leaf function")
		}
		return s.fallbackAMD64(cur, "module has no .pdata and [rsp] is not a return address")
	case err != nil:
		return s.fallbackAMD64(cur, "unwind information not available: "+err.Error())
	case !ok:
		return s.leaf(cur, TrustCFI, "no .pdata entry: leaf function")
	}
	cur.Function = &fn
	st := &amd64State{c: *cur.Context, xmm: cloneXMM(cur.XMM)}
	if err := s.virtualUnwind(m, fn, pc, cur.Exact, st); err != nil {
		return s.fallbackAMD64(cur, "unwind failed: "+err.Error())
	}
	if st.epilog {
		cur.addNote("in epilogue")
	}
	cur.RetAddrLoc = st.raLoc
	c := st.c
	next := &Frame{IP: c.Rip, SP: c.Rsp, Context: &c, XMM: st.xmm, How: FoundByUnwindInfo, Trust: TrustCFI, Exact: st.machine}
	if st.machine {
		next.addNote("resumed from a machine frame")
	}
	return next, nil
}

// leaf unwinds a function without unwind information: RIP = [RSP].
func (s *walk) leaf(cur *Frame, trust, note string) (*Frame, error) {
	st := &amd64State{c: *cur.Context}
	if err := st.pop(s); err != nil {
		return nil, err
	}
	cur.RetAddrLoc = st.raLoc
	cur.addNote(note)
	c := st.c
	return &Frame{IP: c.Rip, SP: c.Rsp, Context: &c, XMM: cloneXMM(cur.XMM), How: FoundByLeaf, Trust: trust}, nil
}

// fallbackAMD64 is used when the callee cannot be unwound from unwind
// information: an RBP chain when it looks sound, else a stack scan.
func (s *walk) fallbackAMD64(cur *Frame, why string) (*Frame, error) {
	cur.addNote(why)
	c := *cur.Context
	if bp := c.Rbp; bp > c.Rsp && bp&7 == 0 && s.inStack(bp) {
		ret, ok1 := s.read64(bp + 8)
		saved, ok2 := s.read64(bp)
		if ok1 && ok2 && s.isCode(ret) && (saved == 0 || saved > bp) {
			cur.RetAddrLoc = bp + 8
			c.Rip, c.Rsp, c.Rbp = ret, bp+16, saved
			return &Frame{IP: ret, SP: c.Rsp, Context: &c, XMM: cloneXMM(cur.XMM), How: FoundByFramePointer, Trust: TrustFramePointer}, nil
		}
	}
	loc, ret, ok := s.scan(c.Rsp, cur.Index == 0)
	if !ok {
		return nil, errors.New("no return address found by scanning")
	}
	cur.RetAddrLoc = loc
	c.Rip, c.Rsp = ret, loc+8
	return &Frame{IP: ret, SP: c.Rsp, Context: &c, XMM: cloneXMM(cur.XMM), How: FoundByScan, Trust: TrustScan}, nil
}

// virtualUnwind is RtlVirtualUnwind: it undoes fn's prologue (or finishes
// its epilogue) on st. exact says pc is an exact instruction pointer; only
// then can control be inside an epilogue.
func (s *walk) virtualUnwind(m *module, fn RuntimeFunction, pc uint64, exact bool, st *amd64State) error {
	ui, err := m.readUnwindInfo(fn.UnwindData)
	if err != nil {
		return err
	}
	prologOff := uint32(pc-m.base) - fn.Begin

	// The establisher frame: RSP, or the frame register minus its offset
	// once the prologue has set it.
	frame := st.c.Rsp
	if ui.FrameRegister != 0 {
		set := prologOff >= uint32(ui.SizeOfProlog) || ui.Chained != nil
		if !set {
			for i := 0; i < len(ui.Codes); i += ui.Codes[i].slots() {
				if ui.Codes[i].Op == UwopSetFPReg {
					set = prologOff >= uint32(ui.Codes[i].CodeOffset)
					break
				}
			}
		}
		if set {
			frame = *reg(&st.c, ui.FrameRegister) - uint64(ui.FrameOffset)*16
		}
	}

	if exact {
		done, err := s.epilogue(m, fn, ui, pc, st)
		if done || err != nil {
			st.epilog = done
			return err
		}
	}
	return s.unwindPrologue(m, fn, ui, pc, frame, st)
}

// unwindPrologue applies the unwind codes of fn and its chained parents
// (RtlpUnwindPrologue): codes whose prologue offset control has passed,
// all codes of chained parents, then the return (unless a machine frame
// supplied RIP and RSP).
func (s *walk) unwindPrologue(m *module, fn RuntimeFunction, ui *UnwindInfo, pc, frame uint64, st *amd64State) error {
	for depth := 0; ; depth++ {
		if depth > maxChainDepth {
			return errors.New("chained unwind info deeper than 32")
		}
		prologOff := uint32(pc-m.base) - fn.Begin
		st.machine = false
		codes := ui.Codes
		for i := 0; i < len(codes); {
			c := codes[i]
			n := c.slots()
			if i+n > len(codes) {
				return fmt.Errorf("unwind code %d (op %d) at RVA %#x is truncated", i, c.Op, ui.RVA)
			}
			if c.Op > UwopPushMachFrame {
				return fmt.Errorf("unwind code %d at RVA %#x: unknown op %d", i, ui.RVA, c.Op)
			}
			if prologOff < uint32(c.CodeOffset) {
				i += n
				continue
			}
			switch c.Op {
			case UwopPushNonvol:
				v, ok := s.read64(st.c.Rsp)
				if !ok {
					return fmt.Errorf("pushed register at %#x not readable", st.c.Rsp)
				}
				*reg(&st.c, c.Info) = v
				st.c.Rsp += 8
			case UwopAllocLarge:
				size := uint64(codes[i+1].FrameOffset())
				if c.Info != 0 {
					size |= uint64(codes[i+2].FrameOffset()) << 16
				} else {
					size *= 8
				}
				st.c.Rsp += size
			case UwopAllocSmall:
				st.c.Rsp += uint64(c.Info)*8 + 8
			case UwopSetFPReg:
				st.c.Rsp = *reg(&st.c, ui.FrameRegister) - uint64(ui.FrameOffset)*16
			case UwopSaveNonvol, UwopSaveNonvolFar:
				off := uint64(codes[i+1].FrameOffset()) * 8
				if c.Op == UwopSaveNonvolFar {
					off = uint64(codes[i+1].FrameOffset()) | uint64(codes[i+2].FrameOffset())<<16
				}
				v, ok := s.read64(frame + off)
				if !ok {
					return fmt.Errorf("saved register at %#x not readable", frame+off)
				}
				*reg(&st.c, c.Info) = v
			case UwopSaveXMM128, UwopSaveXMM128Far:
				off := uint64(codes[i+1].FrameOffset()) * 16
				if c.Op == UwopSaveXMM128Far {
					off = uint64(codes[i+1].FrameOffset()) | uint64(codes[i+2].FrameOffset())<<16
				}
				var v [16]byte
				if !s.readMem(frame+off, v[:]) {
					return fmt.Errorf("saved xmm%d at %#x not readable", c.Info, frame+off)
				}
				if st.xmm == nil {
					st.xmm = map[int][16]byte{}
				}
				st.xmm[int(c.Info)] = v
			case UwopPushMachFrame:
				at := st.c.Rsp
				if c.Info != 0 {
					at += 8 // error code
				}
				rip, ok1 := s.read64(at)
				rsp, ok2 := s.read64(at + 24)
				if !ok1 || !ok2 {
					return fmt.Errorf("machine frame at %#x not readable", at)
				}
				st.c.Rip, st.c.Rsp = rip, rsp
				if cs, ok := s.read64(at + 8); ok {
					st.c.Cs = uint16(cs)
				}
				if fl, ok := s.read64(at + 16); ok {
					st.c.EFlags = uint32(fl)
				}
				if ss, ok := s.read64(at + 32); ok {
					st.c.Ss = uint16(ss)
				}
				st.machine = true
			case UwopEpilog, UwopSpareCode:
				// Epilogue descriptors and spare slots do nothing here.
			}
			i += n
		}
		if ui.Chained == nil {
			break
		}
		fn = *ui.Chained
		next, err := m.readUnwindInfo(fn.UnwindData)
		if err != nil {
			return fmt.Errorf("chained %w", err)
		}
		ui = next
	}
	if st.machine {
		st.raLoc = 0
		return nil
	}
	return st.pop(s)
}

func cloneXMM(x map[int][16]byte) map[int][16]byte {
	if x == nil {
		return nil
	}
	out := make(map[int][16]byte, len(x))
	for k, v := range x {
		out[k] = v
	}
	return out
}
