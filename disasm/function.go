package disasm

import (
	"slices"
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

// DefaultFunctionLimit bounds the instructions uf decodes, so that uf on
// garbage or on a huge function ends.
const DefaultFunctionLimit = 20000

// Block is a basic block of a function: straight-line code entered only at
// Start.
type Block struct {
	Start uint64
	Lines []Line
}

// Function is what uf shows: the reachable blocks in address order.
type Function struct {
	Start  uint64
	Blocks []Block
	// Incomplete is set when flow could not be followed everywhere: an
	// indirect jump through a register or a jump table, undecodable or
	// unreadable code, or the instruction limit. WinDbg then prints "Flow
	// analysis was incomplete, some code may be missing" first (§10.2,
	// ntdll!memcpy sample, which has jump tables).
	Incomplete bool
}

// UnassembleFunction follows the code reachable from start (uf): it decodes
// straight on through calls and conditional jumps, continues at the target
// of every direct jump (conditional or not), and stops a path at ret, at an
// indirect jump, and at code it has seen. Like dbgeng it follows direct
// jumps wherever they go — the §10 uf samples show tail jumps into
// separated chunks (kernel32!HeapCreate) and from an incremental-link thunk
// into the function (client!ILT+715) — so no function bounds are needed;
// limit (DefaultFunctionLimit when <= 0) bounds the work instead.
//
// Blocks start at start, at every jump target and after every conditional
// jump, and are returned in address order (the samples list them so).
func UnassembleFunction(mem Memory, sym Symbolizer, start uint64, mode int, limit int) Function {
	if limit <= 0 {
		limit = DefaultFunctionLimit
	}
	fn := Function{Start: start}
	lines := map[uint64]Line{}
	leaders := map[uint64]bool{start: true}
	queued := map[uint64]bool{start: true}
	work := []uint64{start}
	for len(work) > 0 {
		a := work[len(work)-1]
		work = work[:len(work)-1]
		for {
			if _, seen := lines[a]; seen {
				leaders[a] = true
				break
			}
			if len(lines) >= limit {
				fn.Incomplete = true
				break
			}
			in, _ := Decode(mem, a, mode)
			if in.Unreadable {
				fn.Incomplete = true
				break
			}
			l := in.Line(sym)
			lines[a] = l
			if l.Invalid {
				fn.Incomplete = true
				break
			}
			next := l.Next()
			if next < a { // wrapped
				break
			}
			if l.IsRet {
				break
			}
			if l.IsJump {
				if l.Indirect {
					if !isTailCall(in) {
						fn.Incomplete = true
					}
				} else {
					leaders[l.Target] = true
					if !queued[l.Target] {
						queued[l.Target] = true
						work = append(work, l.Target)
					}
				}
				if !l.Conditional {
					break
				}
				leaders[next] = true
			}
			a = next
		}
	}

	addrs := make([]uint64, 0, len(lines))
	for a := range lines {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	var prev *Line
	for _, a := range addrs {
		l := lines[a]
		if prev == nil || leaders[a] || prev.Next() != a || endsFlow(*prev) {
			fn.Blocks = append(fn.Blocks, Block{Start: a})
		}
		b := &fn.Blocks[len(fn.Blocks)-1]
		b.Lines = append(b.Lines, l)
		prev = &b.Lines[len(b.Lines)-1]
	}
	return fn
}

func endsFlow(l Line) bool {
	return l.IsRet || l.Invalid || l.IsJump
}

// isTailCall tells an indirect jump through a fixed pointer ("jmp qword ptr
// [module!_imp_X (...)]", an import thunk) from one through a register or a
// table, which uf cannot follow.
func isTailCall(in Inst) bool {
	m, ok := in.X86.Args[0].(x86asm.Mem)
	if !ok {
		return false
	}
	if m.Index != 0 && m.Scale != 0 {
		return false
	}
	return m.Base == 0 || m.Base == x86asm.RIP || m.Base == x86asm.EIP
}

// RenderFunction prints a Function as uf does (§10.2): the incomplete-flow
// warning when due, then each block as a label line "module!sym+0xoff:"
// and its instructions, blocks separated by a blank line. With branch set,
// direct jumps end in "  Branch", as in the modern samples (the older
// HeapCreate/memcpy transcripts lack it, so the caller decides). A
// function with no readable code prints "No code found, aborting"
// (UNCONFIRMED wording, from memory of dbgeng).
func RenderFunction(fn Function, ptrSize int, sym Symbolizer, branch bool) string {
	var b strings.Builder
	if len(fn.Blocks) == 0 {
		return "No code found, aborting\n"
	}
	if fn.Incomplete {
		b.WriteString("Flow analysis was incomplete, some code may be missing\n")
	}
	for i, blk := range fn.Blocks {
		if i > 0 {
			b.WriteByte('\n')
		}
		if sym != nil {
			if name := sym.Format(blk.Start); name != "" {
				b.WriteString(name)
				b.WriteString(":\n")
			}
		}
		for _, l := range blk.Lines {
			b.WriteString(FormatLine(l, ptrSize))
			if branch && l.IsJump && !l.Indirect {
				b.WriteString("  Branch")
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}
