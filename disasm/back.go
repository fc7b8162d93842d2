package disasm

import (
	"slices"

	"golang.org/x/arch/x86/x86asm"
)

// UnassembleBack returns the count instructions that end exactly at addr,
// in address order (ub Address L<count>; WinDbg's default count is 8).
//
// x86 code cannot be decoded backwards, so this guesses, like dbgeng does:
//
//  1. Every byte in a window of count*15+64 bytes below addr is tried as a
//     start, decoding forward; starts whose chain of instructions lands
//     exactly on addr are kept. (Undecodable and unreadable bytes count as
//     one-byte instructions so that a chain always exists.)
//  2. Because x86 decoding resynchronises within a few instructions, chains
//     from different starts merge; each instruction boundary gets one vote
//     per kept chain that passes through it.
//  3. Walking back from addr, among the predecessors that still have enough
//     instructions before them, the one with the most votes wins (ties: the
//     longer instruction). A boundary on a chain that starts at
//     the enclosing symbol (when the symbolizer names a real symbol less
//     than 8 KiB back) beats any vote count, and undecodable bytes lose to
//     any real instruction, and instructions compilers do not emit in user
//     code (in/out, hlt, far transfers, BCD arithmetic, absolute accesses
//     to the first 64 KiB, ...; see unlikely) lose to ordinary ones. The
//     manticore traces of real x86 code are the test of this.
//
// Fewer than count lines come back only when addr is near address 0.
func UnassembleBack(mem Memory, sym Symbolizer, addr uint64, count int, mode int) []Line {
	if count <= 0 || addr == 0 {
		return nil
	}
	window := uint64(count*maxInstLen + 64)
	if window > addr {
		window = addr
	}
	lo := addr - window

	insts := map[uint64]Inst{}
	at := func(a uint64) Inst {
		in, ok := insts[a]
		if !ok {
			in, _ = Decode(mem, a, mode)
			insts[a] = in
		}
		return in
	}
	// lands[p] memoises whether decoding from p reaches addr exactly.
	lands := map[uint64]bool{}
	chainLands := func(s uint64, limit int) bool {
		var path []uint64
		p := s
		result := false
		for steps := 0; ; steps++ {
			if p == addr {
				result = true
				break
			}
			if p > addr || steps > limit {
				break
			}
			if r, ok := lands[p]; ok {
				result = r
				break
			}
			path = append(path, p)
			p += uint64(at(p).Len())
		}
		for _, q := range path {
			lands[q] = result
		}
		return result
	}

	votes := map[uint64]int{}
	for s := lo; s < addr; s++ {
		if !chainLands(s, int(window)) {
			continue
		}
		for p := s; p < addr; p += uint64(at(p).Len()) {
			votes[p]++
		}
	}

	// A real symbol start nearby is a known instruction boundary.
	anchored := map[uint64]bool{}
	if fs, ok := functionStart(sym, addr-1, 0x2000); ok && fs < addr {
		if chainLands(fs, 0x2000) {
			for p := fs; p < addr; p += uint64(at(p).Len()) {
				anchored[p] = true
			}
		}
	}

	preds := map[uint64][]uint64{}
	for p := range insts {
		if lands[p] && p < addr {
			n := p + uint64(insts[p].Len())
			preds[n] = append(preds[n], p)
		}
	}
	score := func(p uint64) int {
		s := votes[p]
		if anchored[p] {
			s += 1 << 30
		}
		if in := insts[p]; in.Invalid || in.Unreadable {
			s -= 1 << 20
		} else {
			switch unlikely(in) {
			case 2:
				s -= 1 << 16
			case 1:
				s -= 1 << 12
			}
		}
		return s
	}

	// depth[p] is how many instructions can be shown before p, capped at
	// count: a well-voted boundary that starts a dead-end chain (nothing
	// decodes into it) must not cut the listing short.
	order := make([]uint64, 0, len(insts))
	for p := range insts {
		if lands[p] && p < addr {
			order = append(order, p)
		}
	}
	slices.Sort(order)
	depth := map[uint64]int{}
	for _, p := range order {
		d := 0
		for _, q := range preds[p] {
			d = max(d, depth[q]+1)
		}
		depth[p] = min(d, count)
	}

	var picked []uint64
	for cur := addr; len(picked) < count; {
		ps := preds[cur]
		if len(ps) == 0 {
			break
		}
		need := count - len(picked) - 1
		better := func(p, q uint64) bool {
			dp, dq := min(depth[p], need), min(depth[q], need)
			if dp != dq {
				return dp > dq
			}
			sp, sq := score(p), score(q)
			return sp > sq || sp == sq && p < q
		}
		best := ps[0]
		for _, p := range ps[1:] {
			if better(p, best) {
				best = p
			}
		}
		picked = append(picked, best)
		cur = best
	}
	slices.Reverse(picked)
	lines := make([]Line, len(picked))
	for i, p := range picked {
		lines[i] = insts[p].Line(sym)
	}
	return lines
}

// unlikely grades instructions that decoding from a wrong offset produces
// far more often than compilers emit them.
//
// 2 (never wins against an ordinary instruction): privileged and I/O
// instructions, far transfers, BCD and other legacy opcodes, control and
// debug registers, and huge negative displacements ("[edi-1374AB00h]").
//
// 1 (loses to ordinary instructions, wins against 2): byte-sized ALU
// operations into memory ("add byte ptr [eax],al" is what zeros decode
// to), segment register moves, and absolute accesses below 64 KiB outside
// fs/gs. Real code has these too: RtlCaptureContext stores segment
// registers, and a deliberate "mov dword ptr [0],0" is exactly where ub is
// asked for after a crash (sigsegv.dmp).
func unlikely(in Inst) int {
	x := &in.X86
	if x.Opcode>>24 <= 0x30 && x.Opcode>>24&7 == 0 {
		// add/or/adc/sbb/and/sub/xor r/m8,r8: what zero bytes and
		// immediates decode to
		if _, ok := x.Args[0].(x86asm.Mem); ok {
			return 1
		}
	}
	switch x.Op {
	case x86asm.IN, x86asm.OUT, x86asm.INSB, x86asm.INSW, x86asm.INSD, x86asm.OUTSB, x86asm.OUTSW, x86asm.OUTSD,
		x86asm.HLT, x86asm.CLI, x86asm.STI, x86asm.ARPL, x86asm.BOUND, x86asm.INTO, x86asm.ICEBP,
		x86asm.AAA, x86asm.AAS, x86asm.AAD, x86asm.AAM, x86asm.DAA, x86asm.DAS,
		x86asm.LES, x86asm.LDS, x86asm.LSS, x86asm.LFS, x86asm.LGS,
		x86asm.LCALL, x86asm.LJMP, x86asm.LRET, x86asm.IRET, x86asm.IRETD, x86asm.IRETQ,
		x86asm.XLATB, x86asm.CMC, x86asm.LAHF, x86asm.SAHF,
		x86asm.PUSHA, x86asm.PUSHAD, x86asm.POPA, x86asm.POPAD,
		x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE, x86asm.JCXZ, x86asm.JECXZ, x86asm.ENTER:
		return 2
	case x86asm.PUSH, x86asm.POP, x86asm.MOV:
		for _, a := range x.Args {
			if r, ok := a.(x86asm.Reg); ok && r >= x86asm.ES && r <= x86asm.TR7 {
				if r <= x86asm.GS {
					return 1 // segment registers: context capture code does this
				}
				return 2 // control, debug registers
			}
		}
	}
	for _, a := range x.Args {
		if m, ok := a.(x86asm.Mem); ok && m.Base == 0 && (m.Index == 0 || m.Scale == 0) &&
			m.Segment != x86asm.FS && m.Segment != x86asm.GS && uint64(m.Disp) < 0x10000 {
			return 1 // but deliberate null writes crash programs: ub at their eip
		}
		if m, ok := a.(x86asm.Mem); ok && m.Base != 0 && m.Base != x86asm.RIP && int64(int32(m.Disp)) < -0x100000 {
			return 2 // [reg-13ABCDEFh]: compilers index back by small amounts only
		}
	}
	return 0
}
