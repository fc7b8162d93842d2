// Package unwind walks thread stacks of Windows minidumps: the frames `k`
// prints and the per-frame registers `.frame N` and `r` show.
//
// x64 frames come from the callee's .pdata/.xdata unwind information
// (RtlVirtualUnwind's rules: every UNWIND_INFO code, chained entries, machine
// frames, epilogue emulation), read through a ModuleSource so the bytes can
// come from the dump or from an image file when the dump lacks those pages.
// x86 frames come from the callee's FRAMEDATA program or FPO record when a
// FrameDataSource has one, otherwise from the EBP chain. When none of that
// applies, the walker scans the stack for a return address, and says so:
// every Frame records how it was found.
//
// Every walk is bounded: a frame limit, a stack pointer that must strictly
// increase from frame to frame, and the thread's stack range.
package unwind

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"wdb/dump"
)

// FoundBy says how a frame's registers were recovered from its callee.
type FoundBy uint8

const (
	// FoundByContext: frame 0, the registers of the context the walk began from.
	FoundByContext FoundBy = iota
	// FoundByUnwindInfo: x64, the callee's .pdata/.xdata unwind codes,
	// including epilogue emulation and machine frames.
	FoundByUnwindInfo
	// FoundByLeaf: x64, the callee has no unwind information, so by the x64
	// ABI it is a leaf function: its return address is at RSP.
	FoundByLeaf
	// FoundByFrameData: x86, the callee's FRAMEDATA program string.
	FoundByFrameData
	// FoundByFPO: x86, the callee's FPO_DATA record.
	FoundByFPO
	// FoundByFramePointer: the EBP (x86) or RBP (x64) chain.
	FoundByFramePointer
	// FoundByScan: a stack word that points into a module's code; a guess.
	FoundByScan
)

var foundByNames = [...]string{"context", "unwind info", "leaf", "frame data", "FPO", "frame pointer", "scan"}

// String is a short name ("unwind info", "frame pointer", "scan").
func (h FoundBy) String() string {
	if int(h) < len(foundByNames) {
		return foundByNames[h]
	}
	return fmt.Sprintf("FoundBy(%d)", uint8(h))
}

// Description is the phrase breakpad's "Found by:" line uses.
func (h FoundBy) Description() string {
	switch h {
	case FoundByContext:
		return "given as instruction pointer in context"
	case FoundByUnwindInfo, FoundByFrameData, FoundByFPO:
		return "call frame info"
	case FoundByLeaf:
		return "leaf function (return address at the stack pointer)"
	case FoundByFramePointer:
		return "previous frame's frame pointer"
	case FoundByScan:
		return "stack scanning"
	}
	return h.String()
}

// Trust levels, as breakpad and rust-minidump name them in JSON.
const (
	TrustContext      = "context"
	TrustCFI          = "cfi"
	TrustCFIScan      = "cfi_scan"
	TrustFramePointer = "frame_pointer"
	TrustScan         = "scan"
)

// Frame is one stack frame. Frame N's RetAddr is frame N+1's IP.
type Frame struct {
	Index int
	// IP is the context's instruction pointer for frame 0 (and for a frame
	// under a machine frame); otherwise the return address into this frame.
	IP uint64
	// SP is the stack pointer while this frame runs: k's Child-SP (x64).
	SP uint64
	// FP is, on x86, k's ChildEBP: the frame base, with the return address at
	// FP+4 and the stack arguments from FP+8. On x64 it is RBP in this frame.
	FP uint64
	// RetAddr is where this frame returns to; 0 when the walk ended here and
	// no return address was found.
	RetAddr uint64
	// RetAddrLoc is the stack address RetAddr was read from; 0 when unknown.
	RetAddrLoc uint64
	// Args are the four stack words above the return address: kb's "Args to
	// Child" (x64: the register home slots; x86: the first stack arguments).
	Args [4]uint64
	// Context holds the registers in this frame. Nonvolatile registers are
	// the recovered ones; volatile ones are carried over from the callee, as
	// RtlVirtualUnwind leaves them.
	Context *dump.Context
	// XMM holds xmm registers restored by unwinding (UWOP_SAVE_XMM128), by
	// number; the dump's own xmm values are not decoded here.
	XMM map[int][16]byte
	// How the frame was found, and breakpad's trust level for it.
	How   FoundBy
	Trust string
	// Exact: IP is an exact instruction address (frame 0, or a frame a
	// machine frame resumes), not a return address.
	Exact bool
	// FrameData is the x86 FPO/FRAMEDATA record of this frame's function
	// (kv's "FPO:" column); nil when none.
	FrameData *FrameData
	// Function is the x64 .pdata entry of this frame's function; nil when none.
	Function *RuntimeFunction
	// Note says what the walker had to assume for this frame or its caller
	// ("in epilogue", "unwind info unavailable: ...").
	Note string
	// Stop, on the last frame, says why the walk ended there; "" when it
	// reached the end of the stack (a return address of 0).
	Stop string

	fpValid  bool  // x86: EBP holds a recovered value (false after a scan that could not recover it)
	x86Valid uint8 // x86: which of EBX, ESI, EDI hold recovered values
}

func (fr *Frame) addNote(s string) {
	if fr.Note == "" {
		fr.Note = s
	} else {
		fr.Note += "; " + s
	}
}

// LookupPC is the address to find this frame's function and symbol with: a
// return address may point just past the function that made the call.
func (fr *Frame) LookupPC() uint64 {
	if fr.Exact || fr.IP == 0 {
		return fr.IP
	}
	return fr.IP - 1
}

// wow64CodeSegment is the code segment of 32-bit code in a WOW64 process.
const wow64CodeSegment = 0x23

// DefaultMaxFrames is .kframes' default depth.
const DefaultMaxFrames = 256

// Walker walks stacks of one dump. Its fields are read-only during walks,
// so one Walker may serve several goroutines.
type Walker struct {
	File      *dump.File
	Modules   ModuleSource    // nil: the dump's own memory (DumpModules)
	FrameData FrameDataSource // x86 FPO/FRAMEDATA; may be nil
	// Memory, when set, reads target memory instead of File.ReadMemory (a
	// context from another source, memory patched by the caller).
	Memory func(addr uint64, p []byte) (int, error)
	// MaxFrames bounds the walk; 0 means DefaultMaxFrames.
	MaxFrames int
	// NoScan turns stack scanning off: the walk ends where unwinding fails.
	NoScan bool
	// ScanWords bounds each scan, in stack words; 0 means 256 words from the
	// first frame and 64 from the others.
	ScanWords int

	mu      sync.Mutex
	mods    map[uint64]*module // by base
	defOnce sync.Once
	defMods *Modules
}

// Walk walks the stack of thread t from ctx (t.Context when ctx is nil) and
// returns at most max frames (0: DefaultMaxFrames). src supplies module bytes
// (nil: the dump's own memory), fd x86 frame data (may be nil). t may be nil
// to walk an arbitrary context; the stack range then comes from the captured
// memory holding the stack pointer.
func Walk(f *dump.File, t *dump.Thread, ctx *dump.Context, src ModuleSource, fd FrameDataSource, max int) ([]Frame, error) {
	w := &Walker{File: f, Modules: src, FrameData: fd, MaxFrames: max}
	return w.Walk(t, ctx)
}

// Walk walks one thread's stack; see the package function Walk. The error
// is for unusable input only: a walk that stops early returns its frames
// with the reason in the last frame's Stop.
func (w *Walker) Walk(t *dump.Thread, ctx *dump.Context) ([]Frame, error) {
	if w.File == nil {
		return nil, errors.New("unwind: no dump")
	}
	if ctx == nil && t != nil {
		ctx = t.Context
	}
	if ctx == nil {
		return nil, errors.New("unwind: thread has no context")
	}
	if ctx.Arch != dump.ArchAMD64 && ctx.Arch != dump.ArchX86 {
		return nil, fmt.Errorf("unwind: %v stacks are not supported", ctx.Arch)
	}
	c := *ctx
	note := ""
	if c.Arch == dump.ArchAMD64 && c.Cs == wow64CodeSegment {
		// A WOW64 thread stopped in 32-bit code: its x64 context holds the
		// x86 registers, and only an x86 walk makes sense of them.
		c.Arch = dump.ArchX86
		for _, r := range []*uint64{&c.Rax, &c.Rbx, &c.Rcx, &c.Rdx, &c.Rsi, &c.Rdi, &c.Rbp, &c.Rsp, &c.Rip} {
			*r &= 0xffffffff
		}
		note = "x64 context in 32-bit mode (cs 0x23): walked as x86"
	}
	s := &walk{w: w, arch: c.Arch, ptr: 8}
	if c.Arch == dump.ArchX86 {
		s.ptr = 4
	}
	s.lo, s.hi = s.stackBounds(t, &c)
	max := w.MaxFrames
	if max <= 0 {
		max = DefaultMaxFrames
	}
	frames := []Frame{{IP: c.Rip, SP: c.Rsp, Context: &c, How: FoundByContext, Trust: TrustContext, Exact: true, fpValid: true, Note: note}}
	for {
		cur := &frames[len(frames)-1]
		var callee *Frame
		if len(frames) > 1 {
			callee = &frames[len(frames)-2]
		}
		var next *Frame
		var err error
		if s.arch == dump.ArchAMD64 {
			next, err = s.stepAMD64(cur)
		} else {
			next, err = s.stepX86(cur, callee)
		}
		if next == nil {
			if err == nil {
				err = errors.New("no caller found")
			}
			cur.Stop = err.Error()
			break
		}
		cur.RetAddr = next.IP
		if next.IP == 0 {
			break // the end of the stack: RtlUserThreadStart returns to 0
		}
		if next.SP <= cur.SP {
			cur.Stop = fmt.Sprintf("caller stack pointer %#x is not above %#x", next.SP, cur.SP)
			break
		}
		if next.SP < s.lo || next.SP > s.hi {
			cur.Stop = fmt.Sprintf("caller stack pointer %#x is outside the stack %#x-%#x", next.SP, s.lo, s.hi)
			break
		}
		if len(frames) >= max {
			cur.Stop = fmt.Sprintf("frame limit (%d) reached", max)
			break
		}
		next.Index = len(frames)
		frames = append(frames, *next)
	}
	s.finish(frames)
	return frames, nil
}

// walk is the state of one Walk call.
type walk struct {
	w      *Walker
	arch   dump.Arch
	ptr    uint64 // pointer size
	lo, hi uint64 // stack range
}

// finish fills what needs a frame's caller: x86 ChildEBP and kb's arguments.
func (s *walk) finish(frames []Frame) {
	for i := range frames {
		fr := &frames[i]
		if s.arch == dump.ArchX86 {
			fr.FP = fr.Context.Rbp
			if fr.RetAddrLoc != 0 {
				fr.FP = fr.RetAddrLoc - 4
			}
		} else {
			fr.FP = fr.Context.Rbp
		}
		at := uint64(0)
		switch {
		case fr.RetAddrLoc != 0:
			at = fr.RetAddrLoc + s.ptr
		case i+1 < len(frames):
			at = frames[i+1].SP
		case s.arch == dump.ArchX86 && fr.fpValid:
			at = fr.Context.Rbp + 8
		}
		if at == 0 {
			continue
		}
		for k := range fr.Args {
			v, ok := s.readPtr(at + uint64(k)*s.ptr)
			if !ok {
				break
			}
			fr.Args[k] = v
		}
	}
}

// stackBounds is the thread's stack: TEB StackLimit..StackBase when the TEB
// is captured (the 32-bit TEB for an x86 context in a WOW64 dump), else the
// captured stack memory, widened to include the stack pointer.
func (s *walk) stackBounds(t *dump.Thread, ctx *dump.Context) (lo, hi uint64) {
	f := s.w.File
	sp := ctx.Rsp
	if t != nil && t.TEB != 0 {
		teb, l := t.TEB, &dump.Layout64
		if ctx.Arch == dump.ArchX86 {
			l = &dump.Layout32
			if f.Arch() == dump.ArchAMD64 {
				teb = 0
				if t32, ok := f.TEB32(t); ok {
					teb = t32
				}
			}
		}
		if teb != 0 {
			var base, limit uint64
			var ok1, ok2 bool
			if l.PointerSize == 4 {
				b, l1 := s.read32(teb + uint64(l.TEBStackBase))
				lim, l2 := s.read32(teb + uint64(l.TEBStackLimit))
				base, limit, ok1, ok2 = uint64(b), uint64(lim), l1, l2
			} else {
				base, ok1 = s.read64(teb + uint64(l.TEBStackBase))
				limit, ok2 = s.read64(teb + uint64(l.TEBStackLimit))
			}
			if ok1 && ok2 && limit < base && sp < base && base-limit < 1<<36 {
				return min(limit, sp), base
			}
		}
	}
	if t != nil && t.Stack.Data.Size != 0 {
		start, end := t.Stack.Start, t.Stack.Start+uint64(t.Stack.Data.Size)
		if sp >= start && sp <= end {
			return min(start, sp), end
		}
	}
	for _, r := range f.MemoryRanges() {
		if sp >= r.Start && sp < r.End() {
			return r.Start, r.End()
		}
	}
	// Nothing known: only failing reads will end the walk.
	if ctx.Arch == dump.ArchX86 {
		return sp, 1 << 32
	}
	return sp, ^uint64(0)
}

// readMem reads target memory, all of p or nothing.
func (s *walk) readMem(addr uint64, p []byte) bool {
	var n int
	if s.w.Memory != nil {
		n, _ = s.w.Memory(addr, p)
	} else {
		n, _ = s.w.File.ReadMemory(addr, p)
	}
	return n == len(p)
}

func (s *walk) read32(addr uint64) (uint32, bool) {
	var b [4]byte
	ok := s.readMem(addr, b[:])
	return binary.LittleEndian.Uint32(b[:]), ok
}

func (s *walk) read64(addr uint64) (uint64, bool) {
	var b [8]byte
	ok := s.readMem(addr, b[:])
	return binary.LittleEndian.Uint64(b[:]), ok
}

func (s *walk) readPtr(addr uint64) (uint64, bool) {
	if s.ptr == 4 {
		v, ok := s.read32(addr)
		return uint64(v), ok
	}
	return s.read64(addr)
}

// inStack reports whether addr lies in the thread's stack range.
func (s *walk) inStack(addr uint64) bool { return addr >= s.lo && addr < s.hi }
