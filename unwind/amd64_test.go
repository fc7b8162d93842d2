package unwind

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"wdb/dump"
	"wdb/dump/dumpbuild"
)

const (
	x64Base  = 0x7ff6_1000_0000
	x64Stack = 0x0000_00d0_0010_0000 // lowest captured stack address
	x64X     = x64Stack + 0x100      // RSP of function A in the main walk
	x64Y     = x64X + 0x1470         // RSP where the machine frame resumes F
	x64TEB   = 0x0000_00d0_0000_0000
)

// x64Image holds the test image and where its functions are.
type x64Image struct {
	pe  *peBuilder
	img []byte
	rva map[string]uint32
	fns map[string]RuntimeFunction
}

func (x *x64Image) at(name string, off uint32) uint64 {
	return x64Base + uint64(x.rva[name]) + uint64(off)
}

// buildX64Image assembles functions whose unwind information uses every
// UNWIND_INFO code, chained info, machine frames (with and without an error
// code), an indirect .pdata entry and version 2 epilogue descriptors. The
// comments give each instruction's offset; unwind code offsets are the ends
// of prologue instructions.
func buildX64Image() *x64Image {
	b := newPE(x64Base)
	x := &x64Image{pe: b, rva: map[string]uint32{}, fns: map[string]RuntimeFunction{}}
	add := func(name string, code []byte, u *unwindSpec) uint32 {
		rva := b.code(code)
		x.rva[name] = rva
		if u != nil {
			x.fns[name] = b.function(rva, rva+uint32(len(code)), b.unwind(*u))
		}
		return rva
	}
	// L: a leaf function without .pdata.
	add("L", []byte{0x48, 0x8b, 0x01, 0xc3}, nil) // mov rax,[rcx]; ret
	// A: three pushes (one REX) and a small allocation.
	add("A", []byte{
		0x53,       // 0 push rbx
		0x56,       // 1 push rsi
		0x41, 0x54, //             2 push r12
		0x48, 0x83, 0xec, 0x20, // 4 sub rsp,20h
		0xe8, 0, 0, 0, 0, //       8 call L
		0x48, 0x83, 0xc4, 0x20, // 13 add rsp,20h
		0x41, 0x5c, //             17 pop r12
		0x5e, //                   19 pop rsi
		0x5b, //                   20 pop rbx
		0xc3, //                   21 ret
	}, &unwindSpec{prolog: 8, codes: []uint16{uc(8, UwopAllocSmall, 3), uc(4, UwopPushNonvol, 12), uc(2, UwopPushNonvol, 6), uc(1, UwopPushNonvol, 3)}})
	// B: UWOP_ALLOC_LARGE (16-bit, scaled) and UWOP_SAVE_NONVOL.
	add("B", []byte{
		0x48, 0x89, 0x7c, 0x24, 0x08, // 0 mov [rsp+8],rdi
		0x48, 0x81, 0xec, 0x08, 0x02, 0, 0, // 5 sub rsp,208h
		0xe8, 0, 0, 0, 0, // 12 call A
		0x48, 0x8b, 0xbc, 0x24, 0x10, 0x02, 0, 0, // 17 mov rdi,[rsp+210h]
		0x48, 0x81, 0xc4, 0x08, 0x02, 0, 0, // 25 add rsp,208h
		0xc3, // 32 ret
	}, &unwindSpec{prolog: 12, codes: []uint16{uc(12, UwopAllocLarge, 0), 0x208 / 8, uc(5, UwopSaveNonvol, 7), 0x210 / 8}})
	// C: UWOP_ALLOC_LARGE (32-bit, unscaled) and UWOP_SAVE_NONVOL_FAR.
	add("C", []byte{
		0x4c, 0x89, 0x6c, 0x24, 0x08, // 0 mov [rsp+8],r13
		0x48, 0x81, 0xec, 0x10, 0x10, 0, 0, // 5 sub rsp,1010h
		0xe8, 0, 0, 0, 0, // 12 call B
		0x4c, 0x8b, 0xac, 0x24, 0x18, 0x10, 0, 0, // 17 mov r13,[rsp+1018h]
		0x48, 0x81, 0xc4, 0x10, 0x10, 0, 0, // 25 add rsp,1010h
		0xc3, // 32 ret
	}, &unwindSpec{prolog: 12, codes: []uint16{uc(12, UwopAllocLarge, 1), 0x1010, 0, uc(5, UwopSaveNonvolFar, 13), 0x1018, 0}})
	// D: a frame pointer (UWOP_SET_FPREG, rbp = rsp+20h), UWOP_SAVE_XMM128
	// and UWOP_SAVE_XMM128_FAR, and a dynamic allocation after the prologue.
	add("D", []byte{
		0x55,                   // 0 push rbp
		0x48, 0x83, 0xec, 0x60, // 1 sub rsp,60h
		0x48, 0x8d, 0x6c, 0x24, 0x20, // 5 lea rbp,[rsp+20h]
		0x0f, 0x29, 0x75, 0x10, // 10 movaps [rbp+10h],xmm6
		0x0f, 0x29, 0x7d, 0x20, // 14 movaps [rbp+20h],xmm7
		0x48, 0x81, 0xec, 0x00, 0x01, 0, 0, // 18 sub rsp,100h (alloca)
		0xe8, 0, 0, 0, 0, // 25 call C
		0x0f, 0x28, 0x75, 0x10, // 30 movaps xmm6,[rbp+10h]
		0x0f, 0x28, 0x7d, 0x20, // 34 movaps xmm7,[rbp+20h]
		0x48, 0x8d, 0x65, 0x40, // 38 lea rsp,[rbp+40h]
		0x5d, // 42 pop rbp
		0xc3, // 43 ret
	}, &unwindSpec{prolog: 18, freg: 5, foff: 2, codes: []uint16{
		uc(18, UwopSaveXMM128Far, 7), 0x40, 0,
		uc(14, UwopSaveXMM128, 6), 0x30 / 16,
		uc(10, UwopSetFPReg, 0),
		uc(5, UwopAllocSmall, 0x60/8-1),
		uc(1, UwopPushNonvol, 5),
	}})
	// E: a parent entry and a chained child region (UNW_FLAG_CHAININFO) that
	// saves r15 in the home area.
	ep := add("Ep", []byte{
		0x41, 0x56, //             0 push r14
		0x48, 0x83, 0xec, 0x30, // 2 sub rsp,30h
		0xe9, 0, 0, 0, 0, //       6 jmp Ec
		0x48, 0x83, 0xc4, 0x30, // 11 add rsp,30h
		0x41, 0x5e, //             15 pop r14
		0xc3, //                   17 ret
	}, &unwindSpec{prolog: 6, codes: []uint16{uc(6, UwopAllocSmall, 0x30/8-1), uc(2, UwopPushNonvol, 14)}})
	parent := x.fns["Ep"]
	add("Ec", []byte{
		0x4c, 0x89, 0x7c, 0x24, 0x40, // 0 mov [rsp+40h],r15
		0xe8, 0, 0, 0, 0, // 5 call D
		0x4c, 0x8b, 0x7c, 0x24, 0x40, // 10 mov r15,[rsp+40h]
		0xe9, 0, 0, 0, 0, // 15 jmp Ep+11
	}, &unwindSpec{prolog: 5, codes: []uint16{uc(5, UwopSaveNonvol, 15), 0x40 / 8}, chain: &parent})
	_ = ep
	// M: entered through a machine frame (UWOP_PUSH_MACHFRAME, no error code),
	// like KiUserExceptionDispatcher.
	add("M", []byte{0x48, 0x83, 0xec, 0x28, 0xe8, 0, 0, 0, 0, 0xcc},
		&unwindSpec{prolog: 4, codes: []uint16{uc(4, UwopAllocSmall, 0x28/8-1), uc(0, UwopPushMachFrame, 0)}})
	// N: the same with an error code on the machine frame.
	add("N", []byte{0x48, 0x83, 0xec, 0x28, 0xe8, 0, 0, 0, 0, 0xcc},
		&unwindSpec{prolog: 4, codes: []uint16{uc(4, UwopAllocSmall, 0x28/8-1), uc(0, UwopPushMachFrame, 1)}})
	// F: a version 1 epilogue (add rsp; pop; pop; ret).
	add("F", []byte{
		0x53,                   // 0 push rbx
		0x57,                   // 1 push rdi
		0x48, 0x83, 0xec, 0x28, // 2 sub rsp,28h
		0x90,                   // 6 nop
		0x48, 0x83, 0xc4, 0x28, // 7 add rsp,28h
		0x5f, //                   11 pop rdi
		0x5b, //                   12 pop rbx
		0xc3, //                   13 ret
	}, &unwindSpec{prolog: 6, codes: []uint16{uc(6, UwopAllocSmall, 0x28/8-1), uc(2, UwopPushNonvol, 7), uc(1, UwopPushNonvol, 3)}})
	// G: the outermost function of the main walk.
	add("G", []byte{0x48, 0x83, 0xec, 0x28, 0xe8, 0, 0, 0, 0, 0x48, 0x83, 0xc4, 0x28, 0xc3},
		&unwindSpec{prolog: 4, codes: []uint16{uc(4, UwopAllocSmall, 0x28/8-1)}})
	// J: an epilogue ending in a tail call (jmp rel32 out of the function).
	j := add("J", []byte{
		0x53,                   // 0 push rbx
		0x48, 0x83, 0xec, 0x20, // 1 sub rsp,20h
		0x90,                   // 5 nop
		0x48, 0x83, 0xc4, 0x20, // 6 add rsp,20h
		0x5b,             //       10 pop rbx
		0xe9, 0, 0, 0, 0, //       11 jmp L
	}, &unwindSpec{prolog: 5, codes: []uint16{uc(5, UwopAllocSmall, 0x20/8-1), uc(1, UwopPushNonvol, 3)}})
	rel := int32(x.rva["L"]) - int32(j+16)
	putLE32(b.img[j+12:], uint32(rel))
	// K: the same shape but the jmp stays inside the function: no epilogue.
	add("K", []byte{
		0x53,                   // 0 push rbx
		0x48, 0x83, 0xec, 0x20, // 1 sub rsp,20h
		0x90,                   // 5 nop
		0x48, 0x83, 0xc4, 0x20, // 6 add rsp,20h
		0x5b,       //             10 pop rbx
		0xeb, 0xf8, //             11 jmp 5
	}, &unwindSpec{prolog: 5, codes: []uint16{uc(5, UwopAllocSmall, 0x20/8-1), uc(1, UwopPushNonvol, 3)}})
	// V: version 2 unwind info with UWOP_EPILOG descriptors: epilogues of 4
	// bytes (pop r12; pop rbx; ret) at offset 15 and at the end (24). The
	// code bytes are overwritten below: version 2 must not need them.
	v := add("V", []byte{
		0x53,       //             0 push rbx
		0x41, 0x54, //             1 push r12
		0x48, 0x83, 0xec, 0x28, // 3 sub rsp,28h
		0x85, 0xc0, //             7 test eax,eax
		0x74, 0x08, //             9 je 19
		0x48, 0x83, 0xc4, 0x28, // 11 add rsp,28h
		0x41, 0x5c, //             15 pop r12
		0x5b,                   // 17 pop rbx
		0xc3,                   // 18 ret
		0x90,                   // 19 nop
		0x48, 0x83, 0xc4, 0x28, // 20 add rsp,28h
		0x41, 0x5c, //             24 pop r12
		0x5b, //                   26 pop rbx
		0xc3, //                   27 ret
	}, &unwindSpec{version: 2, prolog: 7, codes: []uint16{
		uc(4, UwopEpilog, 1), uc(28-15, UwopEpilog, 0),
		uc(7, UwopAllocSmall, 0x28/8-1), uc(3, UwopPushNonvol, 12), uc(1, UwopPushNonvol, 3),
	}})
	for i := v; i < v+28; i++ {
		b.img[i] = 0xcc
	}
	// Q: a region whose .pdata entry is indirect (UnwindData | 1) and points
	// at a copy of G's entry.
	q := b.code([]byte{0x90, 0x90, 0x90, 0x90, 0xc3})
	x.rva["Q"] = q
	target := b.runtimeFunction(x.fns["G"])
	b.function(q, q+5, target|1)
	// R: calls itself, for deep stacks.
	add("R", []byte{0x48, 0x83, 0xec, 0x28, 0xe8, 0, 0, 0, 0, 0x48, 0x83, 0xc4, 0x28, 0xc3},
		&unwindSpec{prolog: 4, codes: []uint16{uc(4, UwopAllocSmall, 0x28/8-1)}})
	x.img = b.finish()
	return x
}

func putLE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// x64Dump writes a dump holding the image (when withImage) and threads.
func x64Dump(t *testing.T, x *x64Image, withImage bool, threads ...dumpbuild.Thread) *dump.File {
	t.Helper()
	b := dumpbuild.New(dumpbuild.X64)
	b.Module(dumpbuild.Module{Name: `C:\test\unwtest.dll`, Base: x64Base, Size: peSize, TimeDateStamp: peTimestamp})
	if withImage {
		b.Memory64(x64Base, x.img)
	}
	for i, th := range threads {
		th.ID = uint32(0x100 + i)
		b.Thread(th)
	}
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := dump.OpenBytes(raw, "x64.dmp")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// mainStack lays out the main walk: L (leaf) <- A <- B <- C <- D <- E
// (chained) <- M (machine frame) <- F (interrupted in its epilogue) <- G.
func mainStack(x *x64Image) (*stack, map[string]uint64) {
	s := newStack(x64Stack, 0x1600)
	X, Y := uint64(x64X), uint64(x64Y)
	// A's frame: locals, then saved r12, rsi, rbx, then the return into B.
	s.put64(X-8, x.at("A", 13))
	s.put64(X+0x20, 0x2012)
	s.put64(X+0x28, 0x2006)
	s.put64(X+0x30, 0x2003)
	s.put64(X+0x38, x.at("B", 17))
	// B (RSP = X+0x40): 0x208 bytes, return into C; rdi saved in B's home.
	for i := uint64(0); i < 4; i++ {
		s.put64(X+0x40+8*i, 0xa1+i) // A's home slots: kb's arguments of A
	}
	s.put64(X+0x40+0x208, x.at("C", 17))
	s.put64(X+0x250, 0x3007)
	// C (RSP = X+0x250): 0x1010 bytes, return into D; r13 in C's home.
	s.put64(X+0x250+0x1010, x.at("D", 30))
	s.put64(X+0x1268, 0x400d)
	// D (RSP = X+0x1268, establisher X+0x1368, rbp X+0x1388).
	for i := 0; i < 16; i++ {
		s.b[X+0x1398-x64Stack+uint64(i)] = byte(0x60 + i)
		s.b[X+0x13a8-x64Stack+uint64(i)] = byte(0x70 + i)
	}
	s.put64(X+0x13c8, 0x5005) // pushed rbp
	s.put64(X+0x13d0, x.at("Ec", 10))
	// E (RSP = X+0x13d8): 0x30 bytes, pushed r14, return into M, r15 in home.
	s.put64(X+0x1408, 0x600e)
	s.put64(X+0x1410, x.at("M", 9))
	s.put64(X+0x1418, 0x600f)
	// M (RSP = X+0x1418): 0x28 bytes, then the machine frame.
	s.put64(X+0x1440, x.at("F", 12))
	s.put64(X+0x1448, 0x33)
	s.put64(X+0x1450, 0x10202)
	s.put64(X+0x1458, Y)
	s.put64(X+0x1460, 0x2b)
	// F interrupted at "pop rbx": saved rbx, then the return into G.
	s.put64(Y, 0x8003)
	s.put64(Y+8, x.at("G", 9))
	// G (RSP = Y+0x10): returns to 0, the end of the stack.
	s.put64(Y+0x10+0x28, 0)
	regs := map[string]uint64{
		"rip": x.at("L", 0), "rsp": X - 8, "rbp": X + 0x1388,
		"rbx": 0x10b, "rsi": 0x10e, "rdi": 0x207, "r12": 0x112, "r13": 0x30d, "r14": 0x50e, "r15": 0x50f, "rax": 0xaaaa,
	}
	return s, regs
}

// wantFrame is an expected frame: IP, SP, how, and registers to check.
type wantFrame struct {
	ip, sp uint64
	how    FoundBy
	exact  bool
	regs   map[string]uint64
	xmm    []int
}

// mainWant is the main walk frame by frame, worked out by hand from the
// unwind codes.
func mainWant(x *x64Image) []wantFrame {
	X, Y := uint64(x64X), uint64(x64Y)
	return []wantFrame{
		{ip: x.at("L", 0), sp: X - 8, how: FoundByContext, exact: true, regs: map[string]uint64{"rbx": 0x10b, "rax": 0xaaaa}},
		{ip: x.at("A", 13), sp: X, how: FoundByLeaf, regs: map[string]uint64{"rbx": 0x10b, "rsi": 0x10e, "r12": 0x112}},
		{ip: x.at("B", 17), sp: X + 0x40, how: FoundByUnwindInfo, regs: map[string]uint64{"rbx": 0x2003, "rsi": 0x2006, "r12": 0x2012, "rdi": 0x207}},
		{ip: x.at("C", 17), sp: X + 0x250, how: FoundByUnwindInfo, regs: map[string]uint64{"rdi": 0x3007, "r13": 0x30d}},
		{ip: x.at("D", 30), sp: X + 0x1268, how: FoundByUnwindInfo, regs: map[string]uint64{"r13": 0x400d, "rbp": X + 0x1388}},
		{ip: x.at("Ec", 10), sp: X + 0x13d8, how: FoundByUnwindInfo, regs: map[string]uint64{"rbp": 0x5005, "r14": 0x50e, "r15": 0x50f}, xmm: []int{6, 7}},
		{ip: x.at("M", 9), sp: X + 0x1418, how: FoundByUnwindInfo, regs: map[string]uint64{"r14": 0x600e, "r15": 0x600f, "rbp": 0x5005}},
		{ip: x.at("F", 12), sp: Y, how: FoundByUnwindInfo, exact: true, regs: map[string]uint64{"rbx": 0x2003, "efl": 0x10202, "cs": 0x33, "ss": 0x2b}},
		{ip: x.at("G", 9), sp: Y + 0x10, how: FoundByUnwindInfo, regs: map[string]uint64{"rbx": 0x8003, "rdi": 0x3007}},
	}
}

// checkFrames compares a walk with expected frames, all fields that matter
// to k, .frame and r.
func checkFrames(t *testing.T, got []Frame, want []wantFrame) {
	t.Helper()
	for i, w := range want {
		if i >= len(got) {
			t.Errorf("frame %d missing; walk stopped after %d frames: %q (%s)", i, len(got), got[len(got)-1].Stop, got[len(got)-1].Note)
			return
		}
		g := got[i]
		var diffs []string
		if g.Index != i {
			diffs = append(diffs, fmt.Sprintf("index %d", g.Index))
		}
		if g.IP != w.ip || g.Context.Rip != w.ip {
			diffs = append(diffs, fmt.Sprintf("ip %#x, want %#x", g.IP, w.ip))
		}
		if g.SP != w.sp || g.Context.Rsp != w.sp {
			diffs = append(diffs, fmt.Sprintf("sp %#x, want %#x", g.SP, w.sp))
		}
		if g.How != w.how {
			diffs = append(diffs, fmt.Sprintf("found by %s, want %s", g.How, w.how))
		}
		if g.Exact != w.exact {
			diffs = append(diffs, fmt.Sprintf("exact %v", g.Exact))
		}
		for r, v := range w.regs {
			if have, _ := g.Context.Register(r); have != v {
				diffs = append(diffs, fmt.Sprintf("%s %#x, want %#x", r, have, v))
			}
		}
		for _, n := range w.xmm {
			if _, ok := g.XMM[n]; !ok {
				diffs = append(diffs, fmt.Sprintf("xmm%d not recovered", n))
			}
		}
		if i+1 < len(got) && g.RetAddr != got[i+1].IP {
			diffs = append(diffs, fmt.Sprintf("retaddr %#x, next ip %#x", g.RetAddr, got[i+1].IP))
		}
		if len(diffs) > 0 {
			t.Errorf("frame %d: %s", i, strings.Join(diffs, "; "))
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d frames, want %d; last stop %q", len(got), len(want), got[len(got)-1].Stop)
	}
}

func logX64(t *testing.T, frames []Frame) {
	t.Helper()
	for _, f := range frames {
		t.Logf("  %02d ip=%#x sp=%#x ret=%#x @%#x %s/%s exact=%v %s %s", f.Index, f.IP, f.SP, f.RetAddr, f.RetAddrLoc, f.How, f.Trust, f.Exact, f.Note, f.Stop)
	}
}

// TestX64AllUnwindCodes walks a stack through functions that use every
// unwind code, a chained entry, a machine frame and an epilogue, and checks
// every frame's RIP, RSP, recovered registers and xmm registers.
func TestX64AllUnwindCodes(t *testing.T) {
	x := buildX64Image()
	s, regs := mainStack(x)
	f := x64Dump(t, x, true, dumpbuild.Thread{StackStart: s.start, Stack: s.b, Regs: regs})
	frames, err := Walk(f, &f.Threads[0], nil, nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	logX64(t, frames)
	checkFrames(t, frames, mainWant(x))
	last := frames[len(frames)-1]
	if last.RetAddr != 0 || last.Stop != "" {
		t.Errorf("last frame: retaddr %#x stop %q, want the end of the stack", last.RetAddr, last.Stop)
	}
	// The xmm registers D saved, as E sees them.
	if v := frames[5].XMM[6]; v[0] != 0x60 || v[15] != 0x6f {
		t.Errorf("xmm6 = % x", v)
	}
	if v := frames[5].XMM[7]; v[0] != 0x70 || v[15] != 0x7f {
		t.Errorf("xmm7 = % x", v)
	}
	// kb's arguments of A: the home slots above its return address.
	if a := frames[1].Args; a != [4]uint64{0xa1, 0xa2, 0xa3, 0xa4} {
		t.Errorf("frame 1 args %#x", a)
	}
	if frames[1].RetAddrLoc != x64X+0x38 {
		t.Errorf("frame 1 return address at %#x", frames[1].RetAddrLoc)
	}
	if frames[1].Function == nil || frames[1].Function.Begin != x.rva["A"] {
		t.Errorf("frame 1 function %+v", frames[1].Function)
	}
	if !strings.Contains(frames[7].Note, "in epilogue") {
		t.Errorf("frame 7 note %q", frames[7].Note)
	}
	// The x64 k's columns: Child-SP is SP, RetAddr the next IP.
	if frames[0].SP != x64X-8 || frames[0].RetAddr != x.at("A", 13) {
		t.Errorf("frame 0: Child-SP %#x RetAddr %#x", frames[0].SP, frames[0].RetAddr)
	}
}

// TestX64ImageFile walks the same stack when the dump holds none of the
// module's pages: the bytes come from the image file (on disk and in
// memory), through Modules.Image.
func TestX64ImageFile(t *testing.T) {
	x := buildX64Image()
	s, regs := mainStack(x)
	f := x64Dump(t, x, false, dumpbuild.Thread{StackStart: s.start, Stack: s.b, Regs: regs})
	path := filepath.Join(t.TempDir(), "unwtest.dll")
	if err := os.WriteFile(path, x.pe.fileLayout(), 0o644); err != nil {
		t.Fatal(err)
	}
	var closers []func() error
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	t.Run("OpenImageFile", func(t *testing.T) {
		src := &Modules{File: f, Image: func(m *dump.Module) RVAReader {
			rd, c, err := OpenImageFile(path, m)
			if err != nil {
				t.Errorf("OpenImageFile: %v", err)
				return nil
			}
			closers = append(closers, c.Close)
			return rd
		}}
		frames, err := Walk(f, &f.Threads[0], nil, src, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checkFrames(t, frames, mainWant(x))
	})
	t.Run("ImageBytes", func(t *testing.T) {
		rd, err := ImageBytes(x.pe.fileLayout())
		if err != nil {
			t.Fatal(err)
		}
		src := &Modules{File: f, Image: func(*dump.Module) RVAReader { return rd }}
		frames, err := Walk(f, &f.Threads[0], nil, src, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checkFrames(t, frames, mainWant(x))
	})
	t.Run("mismatch", func(t *testing.T) {
		m := f.Modules[0]
		m.TimeDateStamp++
		if _, _, err := OpenImageFile(path, &m); err == nil {
			t.Error("an image of another build was accepted")
		}
	})
}

// TestX64NoUnwindInfo walks the main stack when neither the dump nor an
// image file has the module's bytes: frames can only be found by scanning,
// and are labelled so.
func TestX64NoUnwindInfo(t *testing.T) {
	x := buildX64Image()
	s, regs := mainStack(x)
	f := x64Dump(t, x, false, dumpbuild.Thread{StackStart: s.start, Stack: s.b, Regs: regs})
	frames, err := Walk(f, &f.Threads[0], nil, nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	logX64(t, frames)
	if len(frames) < 3 {
		t.Fatalf("%d frames", len(frames))
	}
	// B's frame (0x208 bytes) is deeper than a scan looks, so the walk ends
	// there: scanning is a last resort, bounded.
	for i, want := range []uint64{x.at("L", 0), x.at("A", 13), x.at("B", 17)} {
		if frames[i].IP != want {
			t.Errorf("frame %d ip %#x, want %#x", i, frames[i].IP, want)
		}
	}
	for _, fr := range frames[1:] {
		if fr.How != FoundByScan && fr.How != FoundByFramePointer {
			t.Errorf("frame %d found by %s without unwind info", fr.Index, fr.How)
		}
	}
	if !strings.Contains(frames[0].Note, "unwind information not available") {
		t.Errorf("frame 0 note %q", frames[0].Note)
	}
	// Without scanning the walk ends at the first frame it cannot unwind.
	w := &Walker{File: f, NoScan: true}
	frames, _ = w.Walk(&f.Threads[0], nil)
	if len(frames) != 1 || frames[0].Stop == "" {
		t.Errorf("NoScan: %d frames, stop %q", len(frames), frames[len(frames)-1].Stop)
	}
}

// epilogueCase is a frame 0 at some instruction of a function, with the
// stack above it, and the caller that must result.
type epilogueCase struct {
	name   string
	rip    uint64
	stack  func(s *stack, sp uint64) // fills the stack from sp up
	caller wantFrame
}

// TestX64Epilogues puts frame 0 on each kind of epilogue instruction (and
// on look-alikes that are not epilogues, and in prologues) and checks the
// caller the Windows unwinder would find.
func TestX64Epilogues(t *testing.T) {
	x := buildX64Image()
	sp := uint64(x64Stack + 0x100)
	ret := x.at("G", 9)
	regs := map[string]uint64{"rbx": 0xb0, "rdi": 0xd0, "r12": 0xc0, "rbp": 0, "r14": 0xe0}
	want := func(spOff uint64, r map[string]uint64) wantFrame {
		return wantFrame{ip: ret, sp: sp + spOff, how: FoundByUnwindInfo, regs: r}
	}
	cases := []epilogueCase{
		{"v1 add rsp", x.at("F", 7), func(s *stack, sp uint64) {
			s.put64(sp+0x28, 0xd1)
			s.put64(sp+0x30, 0xb1)
			s.put64(sp+0x38, ret)
		}, want(0x40, map[string]uint64{"rdi": 0xd1, "rbx": 0xb1})},
		{"v1 pop", x.at("F", 11), func(s *stack, sp uint64) {
			s.put64(sp, 0xd1)
			s.put64(sp+8, 0xb1)
			s.put64(sp+0x10, ret)
		}, want(0x18, map[string]uint64{"rdi": 0xd1, "rbx": 0xb1})},
		{"v1 ret", x.at("F", 13), func(s *stack, sp uint64) { s.put64(sp, ret) }, want(8, map[string]uint64{"rdi": 0xd0, "rbx": 0xb0})},
		{"v1 body", x.at("F", 6), func(s *stack, sp uint64) {
			s.put64(sp+0x28, 0xd1)
			s.put64(sp+0x30, 0xb1)
			s.put64(sp+0x38, ret)
		}, want(0x40, map[string]uint64{"rdi": 0xd1, "rbx": 0xb1})},
		{"prologue after one push", x.at("F", 1), func(s *stack, sp uint64) {
			s.put64(sp, 0xb1)
			s.put64(sp+8, ret)
		}, want(0x10, map[string]uint64{"rdi": 0xd0, "rbx": 0xb1})},
		{"prologue at entry", x.at("F", 0), func(s *stack, sp uint64) { s.put64(sp, ret) }, want(8, map[string]uint64{"rbx": 0xb0})},
		{"lea rsp,[rbp+disp]", x.at("D", 38), func(s *stack, sp uint64) {
			// rbp = sp+0x400; lea rsp,[rbp+40h] -> sp+0x440: saved rbp, return.
			s.put64(sp+0x440, 0x5005)
			s.put64(sp+0x448, ret)
		}, wantFrame{ip: ret, sp: sp + 0x450, how: FoundByUnwindInfo, regs: map[string]uint64{"rbp": 0x5005}}},
		{"tail call jmp", x.at("J", 10), func(s *stack, sp uint64) {
			s.put64(sp, 0xb1)
			s.put64(sp+8, ret)
		}, want(0x10, map[string]uint64{"rbx": 0xb1})},
		{"jmp inside is no epilogue", x.at("K", 10), func(s *stack, sp uint64) {
			// Unwound as the body: 0x20 bytes, then rbx, then the return.
			s.put64(sp+0x20, 0xb1)
			s.put64(sp+0x28, ret)
		}, want(0x30, map[string]uint64{"rbx": 0xb1})},
		{"v2 first pop", x.at("V", 24), func(s *stack, sp uint64) {
			s.put64(sp, 0xc1)
			s.put64(sp+8, 0xb1)
			s.put64(sp+0x10, ret)
		}, want(0x18, map[string]uint64{"r12": 0xc1, "rbx": 0xb1})},
		{"v2 second pop", x.at("V", 26), func(s *stack, sp uint64) {
			s.put64(sp, 0xb1)
			s.put64(sp+8, ret)
		}, want(0x10, map[string]uint64{"r12": 0xc0, "rbx": 0xb1})},
		{"v2 ret", x.at("V", 27), func(s *stack, sp uint64) { s.put64(sp, ret) }, want(8, map[string]uint64{"r12": 0xc0, "rbx": 0xb0})},
		{"v2 middle epilogue", x.at("V", 17), func(s *stack, sp uint64) {
			s.put64(sp, 0xb1)
			s.put64(sp+8, ret)
		}, want(0x10, map[string]uint64{"r12": 0xc0, "rbx": 0xb1})},
		{"v2 add rsp is outside the epilogue", x.at("V", 20), func(s *stack, sp uint64) {
			s.put64(sp+0x28, 0xc1)
			s.put64(sp+0x30, 0xb1)
			s.put64(sp+0x38, ret)
		}, want(0x40, map[string]uint64{"r12": 0xc1, "rbx": 0xb1})},
		{"chained child prologue", x.at("Ec", 0), func(s *stack, sp uint64) {
			// r15 not saved yet; the parent's codes all apply.
			s.put64(sp+0x30, 0xe1)
			s.put64(sp+0x38, ret)
		}, want(0x40, map[string]uint64{"r14": 0xe1, "r15": 0})},
		{"indirect .pdata entry", x.at("Q", 1), func(s *stack, sp uint64) { s.put64(sp+0x28, ret) }, want(0x30, nil)},
		{"machine frame with error code", x.at("N", 4), func(s *stack, sp uint64) {
			s.put64(sp+0x28, 0x0e) // error code
			s.put64(sp+0x30, ret)
			s.put64(sp+0x38, 0x33)
			s.put64(sp+0x40, 0x246)
			s.put64(sp+0x48, sp+0x200)
			s.put64(sp+0x50, 0x2b)
		}, wantFrame{ip: ret, sp: sp + 0x200, how: FoundByUnwindInfo, exact: true, regs: map[string]uint64{"efl": 0x246}}},
		{"rip 0 (call through null)", 0, func(s *stack, sp uint64) { s.put64(sp, ret) }, wantFrame{ip: ret, sp: sp + 8, how: FoundByLeaf}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStack(x64Stack, 0x800)
			c.stack(s, sp)
			r := map[string]uint64{"rip": c.rip, "rsp": sp}
			for k, v := range regs {
				r[k] = v
			}
			if c.name == "lea rsp,[rbp+disp]" {
				r["rbp"] = sp + 0x400
			}
			f := x64Dump(t, x, true, dumpbuild.Thread{StackStart: s.start, Stack: s.b, Regs: r})
			frames, err := Walk(f, &f.Threads[0], nil, nil, nil, 2)
			if err != nil {
				t.Fatal(err)
			}
			logX64(t, frames)
			checkFrames(t, frames[:min(2, len(frames))], []wantFrame{{ip: c.rip, sp: sp, how: FoundByContext, exact: true}, c.caller})
		})
	}
}

// TestX64FunctionEntry is the lookup .fnent needs.
func TestX64FunctionEntry(t *testing.T) {
	x := buildX64Image()
	f := x64Dump(t, x, true)
	w := &Walker{File: f}
	base, fn, ui, ok, err := w.FunctionEntry(x.at("D", 20))
	if err != nil || !ok || base != x64Base || fn != x.fns["D"] {
		t.Fatalf("D: %#x %+v %v %v", base, fn, ok, err)
	}
	if ui.FrameRegister != 5 || ui.FrameOffset != 2 || ui.SizeOfProlog != 18 || len(ui.Codes) != 8 {
		t.Errorf("D unwind info %+v", ui)
	}
	_, _, ui, ok, err = w.FunctionEntry(x.at("Ec", 2))
	if err != nil || !ok || ui.Chained == nil || *ui.Chained != x.fns["Ep"] {
		t.Errorf("Ec: %+v %v %v", ui, ok, err)
	}
	if _, _, _, ok, err = w.FunctionEntry(x.at("L", 1)); ok || err != nil {
		t.Errorf("L (leaf): ok %v err %v", ok, err)
	}
}
