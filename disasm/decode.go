package disasm

import (
	"errors"
	"fmt"

	"golang.org/x/arch/x86/x86asm"
)

// maxInstLen is the architectural limit of an x86 instruction.
const maxInstLen = 15

// ErrInvalid is returned by Decode for readable bytes that are not an
// instruction; WinDbg prints such a byte as "???" and moves on by one.
var ErrInvalid = errors.New("invalid instruction")

// Inst is one decoded instruction before it is named and formatted.
type Inst struct {
	Addr  uint64
	Mode  int    // 32 or 64
	Bytes []byte // encoded bytes; the first byte only when Invalid; none when Unreadable
	X86   x86asm.Inst

	Invalid    bool
	Unreadable bool
}

// Len is the distance to the next instruction (1 for a bad byte).
func (in Inst) Len() int {
	if len(in.Bytes) == 0 {
		return 1
	}
	return len(in.Bytes)
}

// Decode reads and decodes the instruction at addr in 32- or 64-bit mode.
// The Inst is usable (printable, steppable) even with an error: the error
// says the first byte is not in the dump (the Memory's error) or that the
// bytes do not decode (ErrInvalid), and the Inst then covers one byte.
func Decode(mem Memory, addr uint64, mode int) (Inst, error) {
	if mode != 32 && mode != 64 {
		return Inst{Addr: addr, Mode: mode, Unreadable: true}, fmt.Errorf("disasm: mode %d is not 32 or 64", mode)
	}
	var buf [maxInstLen]byte
	n, err := mem.ReadMemory(addr, buf[:])
	if n <= 0 {
		if err == nil {
			err = fmt.Errorf("memory at %#x could not be read", addr)
		}
		return Inst{Addr: addr, Mode: mode, Unreadable: true}, err
	}
	return decodeBytes(buf[:n], addr, mode)
}

// decodeBytes decodes the instruction at the start of b. A decode that
// needs bytes past the end of b (the next byte is not in the dump) counts
// as invalid, as it does for WinDbg.
func decodeBytes(b []byte, addr uint64, mode int) (in Inst, err error) {
	in = Inst{Addr: addr, Mode: mode}
	defer func() {
		// x86asm is not known to panic, but a debugger must not die on
		// garbage bytes, so a panic is just another invalid instruction.
		if recover() != nil {
			in = Inst{Addr: addr, Mode: mode, Bytes: []byte{b[0]}, Invalid: true}
			err = ErrInvalid
		}
	}()
	x, derr := x86asm.Decode(b, mode)
	if derr != nil || x.Op == 0 || x.Len <= 0 || x.Len > len(b) {
		return Inst{Addr: addr, Mode: mode, Bytes: []byte{b[0]}, Invalid: true}, ErrInvalid
	}
	in.X86 = x
	in.Bytes = append([]byte(nil), b[:x.Len]...)
	return in, nil
}

// DecodeLine decodes and formats one instruction; errors are reflected in
// Line.Invalid and Line.Unreadable.
func DecodeLine(mem Memory, sym Symbolizer, addr uint64, mode int) Line {
	in, _ := Decode(mem, addr, mode)
	return in.Line(sym)
}

// Unassemble decodes count instructions from start (u; WinDbg's default
// count is 8). Unreadable and undecodable bytes give one-byte "???" lines,
// so the result always has count lines and the next u continues at
// lines[len-1].Next().
func Unassemble(mem Memory, sym Symbolizer, start uint64, count int, mode int) []Line {
	lines := make([]Line, 0, max(count, 0))
	addr := start
	for range count {
		l := DecodeLine(mem, sym, addr, mode)
		lines = append(lines, l)
		next := l.Next()
		if next < addr { // wrapped past the top of the address space
			break
		}
		addr = next
	}
	return lines
}

// UnassembleRange decodes the instructions that start in [start, end)
// (u Start End), at most limit of them.
func UnassembleRange(mem Memory, sym Symbolizer, start, end uint64, mode int, limit int) []Line {
	var lines []Line
	for addr := start; addr < end && len(lines) < limit; {
		l := DecodeLine(mem, sym, addr, mode)
		lines = append(lines, l)
		next := l.Next()
		if next < addr {
			break
		}
		addr = next
	}
	return lines
}
