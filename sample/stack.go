package sample

import (
	"wdb/dump/dumpbuild"
)

// threadPlan is one thread: its TEB, its stack (reserved from alloc,
// committed from limit to base) and its registers once the stack is built.
type threadPlan struct {
	id                 uint32
	teb                uint64
	alloc, limit, base uint64
	regs               map[string]uint64
	start              uint64
	worker             bool
}

// planThreads places the PEB, the TEBs and the stacks: the main thread
// (which failed) and two idle thread-pool workers.
func (g *gen) planThreads() error {
	type tp struct {
		id                 uint32
		teb, alloc, commit uint64
		worker             bool
	}
	var ts []tp
	if g.x64 {
		g.peb = 0x000000b87e3ef000
		ts = []tp{
			{0x2f48, 0x000000b87e3f0000, 0x000000b87e500000, 0x6000, false},
			{0x1a0c, 0x000000b87e3f2000, 0x000000b87e700000, 0x3000, true},
			{0x3b14, 0x000000b87e3f4000, 0x000000b87e900000, 0x3000, true},
		}
	} else {
		g.peb = 0x00338000
		ts = []tp{
			{0x2f48, 0x0033b000, 0x00200000, 0x5000, false},
			{0x1a0c, 0x0033c000, 0x00040000, 0x3000, true},
			{0x3b14, 0x0033d000, 0x02000000, 0x3000, true},
		}
	}
	for _, t := range ts {
		base := t.alloc + 0x100000
		p := threadPlan{id: t.id, teb: t.teb, alloc: t.alloc, limit: base - t.commit, base: base, worker: t.worker}
		g.threads = append(g.threads, p)
		g.addData(p.limit, make([]byte, t.commit))
	}
	return nil
}

// stk builds a stack downward.
type stk struct {
	g  *gen
	sp uint64
}

func (s *stk) push(v uint64) {
	s.sp -= uint64(s.g.ptr)
	s.g.p(s.sp, v)
}

func (s *stk) sub(n uint64) { s.sp -= n }

// writeThreads lays out the stacks, sets the contexts and TEBs and adds the
// threads and the exception to the dump.
func (g *gen) writeThreads() error {
	for i := range g.threads {
		t := &g.threads[i]
		if g.x64 {
			g.stackX64(t)
		} else {
			g.stackX86(t)
		}
		g.writeTEB(t)
		g.b.Thread(dumpbuild.Thread{ID: t.id, TEB: t.teb, StackStart: t.limit, Stack: g.at(t.limit, int(t.base-t.limit)),
			StackInMemory64: true, Regs: t.regs, PriorityClass: 0x20, Priority: 0})
	}
	// The stacks' memory now belongs to the thread list.
	var keep []*chunk
	for _, c := range g.chunks {
		stack := false
		for _, t := range g.threads {
			stack = stack || c.addr == t.limit
		}
		if !stack {
			keep = append(keep, c)
		}
	}
	g.chunks = keep
	created := uint64(133443828000000000) // 2023-11-14 18:53:20 UTC, FILETIME
	for i, t := range g.threads {
		g.b.ThreadInfo(dumpbuild.ThreadInfo{ThreadID: t.id, CreateTime: created + uint64(i)*1234567, StartAddress: t.start,
			Affinity: 0xf, UserTime: 9_000_000 * uint64(3-i), KernelTime: 4_000_000 * uint64(3-i)})
	}
	main := g.threads[0]
	g.b.Exception(dumpbuild.Exception{ThreadID: main.id, Code: statusNoMemory, Address: g.truth.ExceptionAddress,
		Params: []uint64{g.truth.FailedRequest}})
	g.truth.ThreadID = main.id
	g.truth.ExceptionCode = statusNoMemory
	return nil
}

func (g *gen) sym(name string) uint64 {
	v, ok := g.syms[name]
	if !ok {
		panic("sample: no symbol " + name)
	}
	return v
}

// stackX64 writes an x64 stack, frame by frame from the thread's start, as
// the code would have left it.
func (g *gen) stackX64(t *threadPlan) {
	s := &stk{g: g, sp: t.base - 0x28}
	g.u64(s.sp, 0) // RtlUserThreadStart's caller: none
	rets := []uint64{}
	ret := func(v uint64) { s.push(v); rets = append(rets, v) }
	s.sub(x64FrameRtlUserThreadStart)
	ret(g.sym("ntdll!RtlUserThreadStart") + x64RetRtlUserThreadStart)
	s.sub(x64FrameBaseThreadInitThunk)
	ret(g.sym("KERNEL32!BaseThreadInitThunk") + x64RetBaseThreadInitThunk)
	h := g.heap
	if t.worker {
		t.start = g.sym("ntdll!TppWorkerThread")
		s.push(0)                       // rbx
		s.push(0x000000b87e3ef000)      // rsi: the thread pool's PEB-relative data (illustrative)
		s.push(0)                       // rdi
		s.push(uint64(0x4c + 8*t.id%5)) // r14: the worker factory handle
		s.sub(x64FrameTppWorkerThread)
		ret(g.sym("ntdll!TppWorkerThread") + x64RetTppWorkerThread)
		t.regs = map[string]uint64{"rip": g.sym("ntdll!NtWaitForWorkViaWorkerFactory") + syscallRetX64, "rsp": s.sp,
			"rax": 0x1c3, "rcx": 0x4c, "r10": 0x4c, "rdx": s.sp + 0x58, "r8": 0x20, "r9": s.sp + 0x60, "rbx": 0, "rsi": 0, "rdi": 0,
			"r14": 0x4c, "efl": 0x246}
		return
	}
	n := len(g.viewPlan)
	failed := h.objects[n]
	lastLoop := h.objects[min(3, n)]
	t.start = g.app.base + uint64(g.app.appMain)
	// AppMain: push rsi, push rdi, sub rsp,28h.
	s.push(0)
	s.push(0)
	s.sub(0x28)
	ret(g.app.base + uint64(g.app.retAppMain))
	// LeakOne: push rsi, sub rsp,20h.
	s.push(lastLoop)
	s.sub(0x20)
	ret(g.app.base + uint64(g.app.retLeakOne))
	// Connect: push rsi, rdi, rbx; sub rsp,20h.
	s.push(failed)
	s.push(4)
	s.push(0)
	s.sub(0x20)
	ret(g.app.base + uint64(g.app.retConnect))
	// Open: push rsi, rdi, rbx; sub rsp,0B0h; the mapping name at rsp+30h,
	// MapViewOfFile's fifth argument (the size) at rsp+20h.
	s.push(failed)
	s.push(4)
	s.push(0)
	s.sub(0xb0)
	g.bytes(s.sp+0x30, append(utf16le(g.mappingName(n)), 0, 0))
	g.u64(s.sp+0x20, failedX64)
	g.u64(s.sp+0x28, s.sp+0x30)
	ret(g.app.base + uint64(g.app.retOpen))
	// KERNELBASE!MapViewOfFile: sub rsp,48h; NtMapViewOfSection's status
	// and the view size it was asked for.
	s.sub(x64FrameMapViewOfFile)
	g.u64(s.sp+0x28, failedX64)
	g.u32(s.sp+0x40, statusNoMemory)
	ret(g.sym("KERNELBASE!MapViewOfFile") + x64RetMapViewRaise)
	// KERNELBASE!RaiseException: sub rsp,0D8h; the EXCEPTION_RECORD at rsp+20h.
	s.sub(x64FrameRaiseException)
	rec := s.sp + 0x20
	addr := g.sym("KERNELBASE!RaiseException") + x64RetRaiseException
	g.u32(rec, statusNoMemory)
	g.u64(rec+0x10, addr)
	g.u32(rec+0x18, 1)
	g.u64(rec+0x20, failedX64)
	t.regs = map[string]uint64{"rip": addr, "rsp": s.sp, "rcx": rec, "rdx": 0, "r8": failedX64, "r9": 0,
		"rax": 0, "rbx": 0, "rsi": failed, "rdi": 4, "rbp": 0, "r10": 0, "r11": s.sp, "r12": 0, "r13": 0, "r14": 0, "r15": 0, "efl": 0x202}
	g.truth.ExceptionAddress = addr
	g.truth.FailedRequest = failedX64
	g.truth.StackPointer = s.sp
	g.truth.FailedObject = failed
	// Innermost first.
	for i := len(rets) - 1; i >= 0; i-- {
		g.truth.ReturnAddresses = append(g.truth.ReturnAddresses, rets[i])
	}
}

// stackX86 writes an x86 stack with EBP frames in the system DLLs and the
// frameless app functions in between.
func (g *gen) stackX86(t *threadPlan) {
	s := &stk{g: g, sp: t.base - 0x10}
	g.u32(s.sp, 0)
	rets := []uint64{}
	ret := func(v uint64) { s.push(v); rets = append(rets, v) }
	frame := func(ebp uint64, alloc uint64) uint64 {
		s.push(ebp)
		fp := s.sp
		s.sub(alloc)
		return fp
	}
	// RtlUserThreadStart: EBP frame with the last SEH record.
	ebpR := frame(0, x86FrameRtlUserThreadStart)
	seh := ebpR - 0x10
	g.u32(seh, 0xffffffff)
	g.u32(seh+4, uint32(g.sym("ntdll!_except_handler4")))
	start := g.app.base + uint64(g.app.appMain)
	if t.worker {
		start = g.sym("ntdll!TppWorkerThread")
	}
	t.start = start
	s.push(0)     // parameter
	s.push(start) // start address
	s.push(0)
	ret(g.sym("ntdll!RtlUserThreadStart") + x86RetRtlUserThreadStart)
	ebpB := frame(ebpR, x86FrameBaseThreadInitThunk)
	s.push(0) // the start routine's parameter
	ret(g.sym("KERNEL32!BaseThreadInitThunk") + x86RetBaseThreadInitThunk)
	h := g.heap
	if t.worker {
		ebpT := frame(ebpB, x86FrameTppWorkerThread)
		handle := uint64(0x4c + 8*t.id%5)
		for _, a := range []uint64{0, ebpT - 0x20, 0x10, ebpT - 0x40, handle} {
			s.push(a)
		}
		ret(g.sym("ntdll!TppWorkerThread") + x86RetTppWorkerThread)
		s.push(g.sym("ntdll!NtWaitForWorkViaWorkerFactory") + syscallRetX86)
		t.regs = map[string]uint64{"eip": g.sym("ntdll!KiFastSystemCall") + 4, "esp": s.sp, "ebp": ebpT,
			"eax": 0, "ebx": 0, "ecx": 0, "edx": 0, "esi": handle, "edi": 0, "efl": 0x246,
			"cs": 0x1b, "ss": 0x23, "ds": 0x23, "es": 0x23, "fs": 0x3b, "gs": 0}
		g.u32(t.teb, uint32(seh)) // TEB.ExceptionList
		return
	}
	n := len(g.viewPlan)
	failed := h.objects[n]
	lastLoop := h.objects[min(3, n)]
	vft := g.truth.CommunicatorVftable
	// AppMain: push ebp, ebx, edi, esi.
	s.push(ebpB)
	s.push(0)
	s.push(0)
	s.push(0)
	ret(g.app.base + uint64(g.app.retAppMain))
	// LeakOne: push esi.
	s.push(lastLoop)
	ret(g.app.base + uint64(g.app.retLeakOne))
	// Connect: push ebx, edi, esi; then Open's arguments (size high, size
	// low, the name prefix "Local\wdb_mmf_" in .rdata).
	s.push(0)
	s.push(4)
	s.push(failed)
	s.push(0)
	s.push(failedX86)
	s.push(g.app.base + 0x2054)
	ret(g.app.base + uint64(g.app.retConnect))
	// Open: push ebp, ebx, edi, esi; sub esp,80h (the mapping name at esp);
	// MapViewOfFile's arguments.
	s.push(vft)
	s.push(0x28)
	s.push(4)
	s.push(failed)
	s.sub(0x80)
	g.bytes(s.sp, append(utf16le(g.mappingName(n)), 0, 0))
	s.push(failedX86)
	s.push(0)
	s.push(0)
	s.push(0xf001f)
	s.push(g.viewHandle(n))
	ret(g.app.base + uint64(g.app.retOpen))
	// KERNELBASE!MapViewOfFile: EBP frame (Open's ebp is 0: it held the
	// size's high half); RaiseException's arguments.
	ebpM := frame(0, x86FrameMapViewOfFile)
	g.u32(ebpM-4, failedX86)
	g.u32(ebpM-8, statusNoMemory)
	s.push(ebpM - 4)
	s.push(1)
	s.push(0)
	s.push(statusNoMemory)
	ret(g.sym("KERNELBASE!MapViewOfFile") + x86RetMapViewRaise)
	// KERNELBASE!RaiseException: the EXCEPTION_RECORD fills its frame.
	ebpX := frame(ebpM, x86FrameRaiseException)
	rec := ebpX - 0x50
	addr := g.sym("KERNELBASE!RaiseException") + x86RetRaiseException
	g.u32(rec, statusNoMemory)
	g.u32(rec+0xc, uint32(addr))
	g.u32(rec+0x10, 1)
	g.u32(rec+0x14, failedX86)
	t.regs = map[string]uint64{"eip": addr, "esp": s.sp, "ebp": ebpX, "eax": rec, "ebx": failedX86, "ecx": 0, "edx": 0,
		"esi": failed, "edi": 4, "efl": 0x212, "cs": 0x1b, "ss": 0x23, "ds": 0x23, "es": 0x23, "fs": 0x3b, "gs": 0}
	g.u32(t.teb, uint32(seh)) // TEB.ExceptionList
	g.truth.ExceptionAddress = addr
	g.truth.FailedRequest = failedX86
	g.truth.StackPointer = s.sp
	g.truth.FailedObject = failed
	for i := len(rets) - 1; i >= 0; i-- {
		g.truth.ReturnAddresses = append(g.truth.ReturnAddresses, rets[i])
	}
}

// writeTEB fills the TEB fields debuggers read.
func (g *gen) writeTEB(t *threadPlan) {
	last, status := uint32(0), uint32(0)
	if !t.worker {
		last, status = errorNotEnoughMemory, statusNoMemory
	}
	if g.x64 {
		g.u64(t.teb+0x08, t.base)  // StackBase
		g.u64(t.teb+0x10, t.limit) // StackLimit
		g.u64(t.teb+0x30, t.teb)   // Self
		g.u64(t.teb+0x40, processID)
		g.u64(t.teb+0x48, uint64(t.id))
		g.u64(t.teb+0x60, g.peb)
		g.u32(t.teb+0x68, last)
		g.u32(t.teb+0x1250, status)
		g.u64(t.teb+0x1478, t.alloc) // DeallocationStack
		return
	}
	g.u32(t.teb+0x04, uint32(t.base))
	g.u32(t.teb+0x08, uint32(t.limit))
	g.u32(t.teb+0x18, uint32(t.teb))
	g.u32(t.teb+0x20, processID)
	g.u32(t.teb+0x24, t.id)
	g.u32(t.teb+0x30, uint32(g.peb))
	g.u32(t.teb+0x34, last)
	g.u32(t.teb+0xbf4, status)
	g.u32(t.teb+0xe0c, uint32(t.alloc))
}
