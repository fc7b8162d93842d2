// Package disasm decodes x86 and x64 code from a dump and prints it the way
// WinDbg's u, ub and uf do.
//
// Decoding is golang.org/x/arch/x86/x86asm; everything users see (mnemonics,
// MASM-style numbers, "dword ptr", "module!sym+0x12 (address)" operands and
// the column layout) is produced here, because neither Go's nor GNU's syntax
// matches dbgeng's. The rules and the samples they come from are in
// /work/shared/docs/windbg-commands.md §10.2 and are cited where they apply.
//
// The package knows nothing about commands or sessions: callers hand it a
// Memory (a *dump.File works as is) and a Symbolizer (a SymbolFunc around
// symbols.Format works).
package disasm

import "strings"

// Memory is the part of a dump the disassembler reads. ReadMemory returns how
// many bytes were read from addr on; fewer than len(p) means the rest is not
// in the dump (dump.File.ReadMemory returns a *dump.MemoryError then).
type Memory interface {
	ReadMemory(addr uint64, p []byte) (int, error)
}

// Symbolizer names addresses for branch targets, memory operands and label
// lines. Format returns "module!name+0x12", "module!name", "module+0x1234",
// or "" when nothing is known (the shape of symbols.Format).
type Symbolizer interface {
	Format(addr uint64) string
}

// SymbolStarter is optionally implemented by a Symbolizer that knows exactly
// where symbols begin. Without it an address starts a symbol when its
// Format has no "+0x<hex>" displacement suffix.
type SymbolStarter interface {
	IsSymbolStart(addr uint64) bool
}

// SymbolFunc adapts a plain function (for example a closure over
// symbols.Format and the session's resolver) to Symbolizer.
type SymbolFunc func(addr uint64) string

// Format calls f.
func (f SymbolFunc) Format(addr uint64) string { return f(addr) }

// Line is one disassembled instruction, formatted but not yet laid out in
// columns (FormatLine and Render do that, because the column of the operands
// depends on how many opcode bytes there are).
type Line struct {
	Addr  uint64
	Bytes []byte // the instruction's bytes; one byte for Invalid, none for Unreadable

	// Text is "mnemonic operands" with the mnemonic padded to 7 characters
	// and one space, as WinDbg shows it when the bytes fit their column:
	// "mov     eax,dword ptr [ebp+8]". "???" for Invalid and Unreadable.
	Text     string
	Mnemonic string // "mov", "lock cmpxchg", "rep stos"
	Operands string // "eax,dword ptr [ebp+8]"

	Target    uint64  // destination of a direct call or jump (IsCall/IsJump with !Indirect)
	MemTarget uint64  // absolute address of a RIP-relative or absolute memory operand, else 0
	Mem       *MemRef // the first memory operand, nil when there is none

	IsCall      bool
	IsJump      bool // jmp, jcc, loop, jecxz
	Conditional bool // a jump that may fall through (jcc, loop, jecxz)
	Indirect    bool // call/jmp through a register or memory: Target is unknown
	IsRet       bool // ret, retf, iret

	Invalid    bool // the bytes are readable but do not decode
	Unreadable bool // the first byte is not in the dump
}

// Len is how far the next instruction is: the instruction length, or 1 for an
// undecodable or unreadable byte (WinDbg steps over those one at a time).
func (l Line) Len() int {
	if len(l.Bytes) == 0 {
		return 1
	}
	return len(l.Bytes)
}

// Next is the address of the following instruction.
func (l Line) Next() uint64 { return l.Addr + uint64(l.Len()) }

// isSymbolStart reports whether a label line belongs before addr.
func isSymbolStart(sym Symbolizer, addr uint64) bool {
	if sym == nil {
		return false
	}
	if s, ok := sym.(SymbolStarter); ok {
		return s.IsSymbolStart(addr)
	}
	name := sym.Format(addr)
	return name != "" && !hasDisplacement(name)
}

// hasDisplacement reports whether name ends in "+0x<hex>". A plain
// strings.Contains(name, "+") would be wrong: incremental-link thunks are
// named "ILT+935(...)" (§10 uf sample).
func hasDisplacement(name string) bool {
	i := strings.LastIndex(name, "+0x")
	if i < 0 || i+3 == len(name) {
		return false
	}
	for _, c := range name[i+3:] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// functionStart derives where the symbol covering addr begins from its
// displacement, for symbols that are real names ("mod!f+0x1f") and not just
// module offsets, and only when that is near: a far-away start says nothing
// useful about instruction boundaries.
func functionStart(sym Symbolizer, addr uint64, maxDist uint64) (uint64, bool) {
	if sym == nil {
		return 0, false
	}
	name := sym.Format(addr)
	if !strings.Contains(name, "!") {
		return 0, false
	}
	if !hasDisplacement(name) {
		return addr, true
	}
	i := strings.LastIndex(name, "+0x")
	var d uint64
	for _, c := range name[i+3:] {
		d = d<<4 | uint64(hexVal(byte(c)))
	}
	if d > maxDist || d > addr {
		return 0, false
	}
	return addr - d, true
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
