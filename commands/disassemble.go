package commands

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"wdb/disasm"
	"wdb/dump"
	"wdb/symbols"
)

// u, ub and uf: disassembly in WinDbg's layout.

func init() {
	Register(&Command{Name: "u", Usage: "u [<range>]", Summary: "unassemble", Repeatable: true, Run: runUnassemble,
		Help: "u ADDR shows 8 instructions from ADDR (default: the current instruction, then where the last u stopped);\nu ADDR L COUNT, u START END choose the range."})
	Register(&Command{Name: "ub", Usage: "ub [<address>] [L <count>]", Summary: "unassemble backwards", Run: runUnassemble,
		Help: "ub ADDR shows the 8 instructions that end just before ADDR."})
	Register(&Command{Name: "uf", Usage: "uf <address>", Summary: "unassemble a function, following its branches", Run: runUnassemble})
	CurrentInstructionLines = currentInstruction
}

// sessionSymbolizer names addresses for the disassembler through the session's resolver.
func (s *Session) symbolizer() disasm.Symbolizer {
	return disasm.SymbolFunc(func(a uint64) string { return symbols.Format(s.Symbols, a) })
}

// codeMode is 32 or 64: the bitness of the code being disassembled.
func (s *Session) codeMode() int {
	if c := s.Context(); c != nil && c.Arch == dump.ArchX86 {
		return 32
	}
	if s.PointerSize() == 4 {
		return 32
	}
	return 64
}

// Disassembly is the result of u, ub and uf.
type Disassembly struct {
	text  string
	Lines []DisasmLine `json:"lines"`
}

// DisasmLine is one instruction.
type DisasmLine struct {
	Address     uint64 `json:"address"`
	Bytes       string `json:"bytes"`
	Instruction string `json:"instruction"`
	Symbol      string `json:"symbol,omitempty"`
	Target      uint64 `json:"target,omitempty"`
}

func (d *Disassembly) WriteText(w io.Writer) { io.WriteString(w, d.text) }

func (d *Disassembly) MarshalJSON() ([]byte, error) {
	type plain Disassembly
	return json.Marshal((*plain)(d))
}

func disasmRows(s *Session, lines []disasm.Line) []DisasmLine {
	out := make([]DisasmLine, 0, len(lines))
	for _, l := range lines {
		out = append(out, DisasmLine{Address: l.Addr, Bytes: fmt.Sprintf("%x", l.Bytes), Instruction: l.Text,
			Symbol: symbols.Format(s.Symbols, l.Addr), Target: l.Target})
	}
	return out
}

func runUnassemble(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	mem, sym, mode, ptr := s.Target, s.symbolizer(), s.codeMode(), s.PointerSize()
	args := strings.TrimSpace(inv.Args)
	start, haveStart := uint64(0), false
	count, end := uint64(8), uint64(0)
	if args != "" {
		r, rest, err := s.ParseRange(args)
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(rest) != "" {
			return nil, fmt.Errorf("Extra character error in '%s'", inv.Line)
		}
		start, haveStart = r.Start, true
		switch {
		case r.ByteLength:
			end = r.End + 1 // End is inclusive
		case r.HasLength:
			count = r.Length
		}
	}
	if !haveStart {
		if inv.Name == "u" && s.Next.Valid && s.Next.Command == "u" {
			start = s.Next.Addr
		} else if c := s.Context(); c != nil {
			start = c.PC()
		} else {
			return nil, fmt.Errorf("No current instruction: give an address")
		}
	}
	if count > 0x10000 {
		return nil, fmt.Errorf("Range error in '%s'", inv.Line)
	}
	var lines []disasm.Line
	var text string
	switch inv.Name {
	case "ub":
		lines = disasm.UnassembleBack(mem, sym, start, int(count), mode)
		text = disasm.Render(lines, ptr, sym)
	case "uf":
		fn := disasm.UnassembleFunction(mem, sym, start, mode, 4096)
		for _, b := range fn.Blocks {
			lines = append(lines, b.Lines...)
		}
		text = disasm.RenderFunction(fn, ptr, sym, false)
	default:
		if end > start {
			lines = disasm.UnassembleRange(mem, sym, start, end, mode, 0x10000)
		} else {
			lines = disasm.Unassemble(mem, sym, start, int(count), mode)
		}
		text = disasm.Render(lines, ptr, sym)
		if n := len(lines); n > 0 {
			last := lines[n-1]
			s.Next = Continuation{Command: "u", Addr: last.Addr + uint64(max(1, len(last.Bytes))), Valid: true}
		}
	}
	return &Disassembly{text: text, Lines: disasmRows(s, lines)}, nil
}

// currentInstruction gives the two lines WinDbg prints after registers and at
// the end of the banner: "module!func+0x14:" and the instruction there.
func currentInstruction(s *Session, ctx *dump.Context) []string {
	if s.Target == nil || ctx == nil {
		return nil
	}
	mode, ptr := 64, s.PointerSize()
	if ctx.Arch == dump.ArchX86 {
		mode, ptr = 32, 4 // a WOW64 thread's 32-bit context prints 32-bit addresses
	}
	sym := s.symbolizer()
	line := disasm.DecodeLine(s.Target, sym, ctx.PC(), mode)
	var out []string
	if name := sym.Format(ctx.PC()); name != "" {
		out = append(out, name+":")
	}
	return append(out, disasm.FormatLine(line, ptr))
}

// LocationLines are the current thread's location lines, for the banner.
func (s *Session) LocationLines() []string {
	c := s.Context()
	if s.Target != nil && s.Target.Exception != nil && s.Target.Exception.Context != nil {
		if t, ok := s.CurrentThread(); ok && t.ID == s.Target.Exception.ThreadID {
			// WinDbg shows where the thread stopped, not the exception context (.ecxr shows that).
			c = t.Context
		}
	}
	return currentInstruction(s, c)
}
