package unwind

import (
	"errors"
	"strings"
)

// x86 nonvolatile registers a FRAMEDATA program may recover, besides EBP.
const (
	validEBX = 1 << iota
	validESI
	validEDI
)

// stepX86 finds the caller of cur: from the callee's FRAMEDATA program or FPO
// record when the FrameDataSource has one, else by the EBP chain, else by
// scanning. The order and the details follow breakpad's x86 stackwalker, so
// frames agree with its "call frame info" and "frame pointer" results.
func (s *walk) stepX86(cur, callee *Frame) (*Frame, error) {
	if cur.Index == 0 {
		cur.x86Valid = validEBX | validESI | validEDI
	}
	pc := cur.LookupPC()
	if fd := s.w.FrameData; fd != nil {
		if m := s.moduleAt(pc); m != nil {
			if d, ok := fd.FrameData(m.base, uint32(pc-m.base)); ok {
				cur.FrameData = &d
			}
		}
	}
	if d := cur.FrameData; d != nil && (d.Type == FrameFPO || d.Type == FrameFrameData) {
		if next := s.byFrameData(cur, callee, d); next != nil {
			return next, nil
		}
	}
	if next := s.byFramePointer(cur); next != nil {
		return next, nil
	}
	esp := cur.Context.Rsp
	loc, eip, ok := s.scan(esp, cur.Index == 0)
	if !ok {
		return nil, errors.New("no frame pointer chain and no return address found by scanning")
	}
	next := s.x86Frame(cur, uint32(eip), uint32(loc+4), uint32(cur.Context.Rbp), FoundByScan, TrustScan)
	next.fpValid = false
	// The caller's EBP is likely the word below the return address, pushed
	// by the callee's prologue.
	if saved, ok := s.read32(loc - 4); ok && uint64(saved) > loc-4 && uint64(saved)-(loc+4) <= 128<<10 {
		next.Context.Rbp = uint64(saved)
		next.fpValid = true
	}
	cur.RetAddrLoc = loc
	return next, nil
}

// x86Frame builds the caller frame with the given EIP, ESP and EBP.
func (s *walk) x86Frame(cur *Frame, eip, esp, ebp uint32, how FoundBy, trust string) *Frame {
	c := *cur.Context
	c.Rip, c.Rsp, c.Rbp = uint64(eip), uint64(esp), uint64(ebp)
	return &Frame{IP: c.Rip, SP: c.Rsp, Context: &c, How: how, Trust: trust, fpValid: true}
}

// byFramePointer is the EBP chain: the return address at EBP+4, the caller's
// EBP at EBP, the caller's ESP at EBP+8. The return address must be code (or
// 0, the end of the chain).
func (s *walk) byFramePointer(cur *Frame) *Frame {
	ebp := cur.Context.Rbp
	if ebp < cur.Context.Rsp || !s.inStack(ebp) {
		return nil
	}
	eip, ok1 := s.read32(ebp + 4)
	saved, ok2 := s.read32(ebp)
	if !ok1 || !ok2 || (eip != 0 && !s.isCode(uint64(eip))) {
		return nil
	}
	cur.RetAddrLoc = ebp + 4
	return s.x86Frame(cur, eip, uint32(ebp+8), saved, FoundByFramePointer, TrustFramePointer)
}

// Built-in programs for records without one (breakpad's): the return
// address at .raSearchStart, EBP saved in the register area when the
// function allocates it for its own use.
const (
	programFPOSavedEBP = "$eip .raSearchStart ^ = $ebp $esp .cbCalleeParams + .cbSavedRegs + 8 - ^ = $esp .raSearchStart 4 + ="
	programFPO         = "$eip .raSearchStart ^ = $esp .raSearchStart 4 + ="
)

// byFrameData unwinds cur with its FRAMEDATA program or FPO record.
func (s *walk) byFrameData(cur, callee *Frame, d *FrameData) *Frame {
	c := cur.Context
	esp, ebp := uint32(c.Rsp), uint32(c.Rbp)
	var calleeParams uint32
	if callee != nil && callee.FrameData != nil {
		calleeParams = callee.FrameData.ParamsSize
	}
	vars := map[string]uint32{
		"$ebp": ebp, "$esp": esp,
		".cbCalleeParams": calleeParams, ".cbSavedRegs": d.SavedRegsSize,
		".cbLocals": d.LocalsSize, ".cbParams": d.ParamsSize,
	}
	if cur.x86Valid&validEBX != 0 {
		vars["$ebx"] = uint32(c.Rbx)
	}
	if cur.x86Valid&validESI != 0 {
		vars["$esi"] = uint32(c.Rsi)
	}
	if cur.x86Valid&validEDI != 0 {
		vars["$edi"] = uint32(c.Rdi)
	}

	// Where the return address should be; the stack may have been aligned
	// by up to three words, so look there for something that is code.
	raSearch := uint64(esp) + uint64(calleeParams) + uint64(d.LocalsSize) + uint64(d.SavedRegsSize)
	orig := raSearch
	// A callee without frame data (found by its frame pointer) leaves the
	// size of the arguments it was given unknown: look a few words further.
	words := 3
	if callee != nil && callee.FrameData == nil && callee.How != FoundByContext {
		words = 3 + 8
	}
	if loc, v, ok := s.scanWith(raSearch, words, s.isCode); ok {
		raSearch = loc
		// An FPO system call stub whose callee has returned: the word at
		// the top of the stack is the current instruction itself.
		if cur.How == FoundByContext && d.Type == FrameFPO && loc == orig && v == cur.IP {
			raSearch += 4
			if loc, _, ok := s.scanWith(raSearch, 3, s.isCode); ok {
				raSearch = loc
			}
		}
	}

	prog, recoverEBP := d.Program, true
	switch {
	case prog != "":
	case d.AllocatesBasePointer:
		prog = programFPOSavedEBP
	default:
		prog, recoverEBP = programFPO, false
	}
	// An aligning program ('@') makes ESP-based guesses wrong: EBP is the
	// only reliable anchor, with the return address above it.
	if cur.fpValid && strings.Contains(prog, "@") {
		raSearch = uint64(ebp) + 4
	}
	vars[".raSearchStart"] = uint32(raSearch)
	vars[".raSearch"] = uint32(raSearch)

	how, trust := FoundByFrameData, TrustCFI
	if d.Type == FrameFPO {
		how = FoundByFPO
	}
	ev := &Evaluator{Vars: vars, Read: func(a uint32) (uint32, bool) { return s.read32(uint64(a)) }}
	if err := ev.Run(prog); err != nil || !ev.Assigned["$eip"] || !ev.Assigned["$esp"] {
		// The program failed (registers it needs are unknown, memory it
		// reads is missing): fall back to scanning from ESP.
		loc, eip, ok := s.scan(uint64(esp), cur.Index == 0)
		if !ok {
			return nil
		}
		vars["$eip"], vars["$esp"] = uint32(eip), uint32(loc+4)
		how, trust = FoundByScan, TrustScan
	}
	eip := vars["$eip"]
	if eip != 0 || vars["$ebp"] != 0 {
		offset := uint64(0)
		if !s.isCode(uint64(eip)) {
			// The program's return address is not code: look above it.
			start := uint64(vars[".raSearchStart"]) + 4
			if loc, v, ok := s.scan(start, cur.Index == 0); ok {
				vars["$eip"], vars["$esp"] = uint32(v), uint32(loc+4)
				offset = loc - start
				how, trust = FoundByScan, TrustCFIScan
			}
		}
		if recoverEBP {
			// The caller's EBP may be wrong when frames were skipped or it
			// points nowhere: look for it in the saved-register area, from
			// the top down, for a value that points into readable memory.
			newEBP := vars["$ebp"]
			skipped := trust != TrustCFI && uint64(newEBP) <= raSearch+offset
			if _, ok := s.read32(uint64(newEBP)); skipped || !ok {
				end := uint64(esp) + uint64(calleeParams)
				for at := end + uint64(d.SavedRegsSize) + offset; at >= end; at -= 4 {
					v, ok := s.read32(at)
					if !ok {
						break
					}
					if _, ok := s.read32(uint64(v)); ok {
						vars["$ebp"] = v
						break
					}
					if at < 4 {
						break
					}
				}
			}
		}
	}
	next := s.x86Frame(cur, vars["$eip"], vars["$esp"], vars["$ebp"], how, trust)
	for _, r := range []struct {
		name string
		bit  uint8
		reg  *uint64
	}{{"$ebx", validEBX, &next.Context.Rbx}, {"$esi", validESI, &next.Context.Rsi}, {"$edi", validEDI, &next.Context.Rdi}} {
		if ev.Assigned[r.name] {
			*r.reg = uint64(vars[r.name])
			next.x86Valid |= r.bit
		}
	}
	cur.RetAddrLoc = next.Context.Rsp - 4
	return next
}

// scanWith looks at words words from start for one that check accepts.
func (s *walk) scanWith(start uint64, words int, check func(uint64) bool) (loc, v uint64, ok bool) {
	for i := 0; i <= words; i++ {
		at := start + uint64(i)*s.ptr
		val, ok := s.readPtr(at)
		if !ok {
			return 0, 0, false
		}
		if check(val) {
			return at, val, true
		}
	}
	return 0, 0, false
}
