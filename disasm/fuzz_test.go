package disasm

import (
	"strings"
	"testing"
)

// FuzzDecode feeds random bytes as code at a fixed address: decoding,
// formatting, u, ub and uf must not panic, must step forward, and uf must
// stop within its limit.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		"c7042500000000" + "00000000",
		"65488b042530000000",
		"f04c0fb115ec240200",
		"ff248d345a9401",
		"62f17c4828c1",
		"c4e27d18442408",
		"f3a5ff2495001fb37e",
		"7402ebfec3",
		"ffff",
		"",
	} {
		f.Add(decodeHexF(seed), true)
		f.Add(decodeHexF(seed), false)
	}
	f.Fuzz(func(t *testing.T, code []byte, is64 bool) {
		mode := 32
		if is64 {
			mode = 64
		}
		const base = 0x7ffe0000
		mem := bytesMem{base, code}
		sym := mapSym{base: "m!f", base + 0x10: "m!g"}
		end := base + uint64(len(code))
		for a := uint64(base); a < end; a++ {
			in, _ := Decode(mem, a, mode)
			if in.Len() < 1 || in.Len() > maxInstLen {
				t.Fatalf("length %d at %#x", in.Len(), a)
			}
			l := in.Line(sym)
			if l.Text == "" || strings.ContainsAny(l.Text, "\n\t") {
				t.Fatalf("bad text %q at %#x", l.Text, a)
			}
			FormatLineWithEA(l, mode/8, "ds:00000000=????????")
		}
		lines := Unassemble(mem, sym, base, 16, mode)
		if len(lines) != 16 {
			t.Fatalf("u gave %d lines", len(lines))
		}
		for i := 1; i < len(lines); i++ {
			if lines[i].Addr != lines[i-1].Next() {
				t.Fatalf("u does not step: %#x after %#x", lines[i].Addr, lines[i-1].Addr)
			}
		}
		Render(lines, mode/8, sym)
		back := UnassembleBack(mem, sym, end, 8, mode)
		if len(back) > 0 && back[len(back)-1].Next() != end {
			t.Fatalf("ub does not end at %#x", end)
		}
		fn := UnassembleFunction(mem, sym, base, mode, 500)
		if n := countLines(fn); n > 500 {
			t.Fatalf("uf decoded %d lines past its limit", n)
		}
		RenderFunction(fn, mode/8, sym, true)
	})
}

func decodeHexF(s string) []byte {
	b := make([]byte, len(s)/2)
	for i := range b {
		b[i] = hexVal(s[2*i])<<4 | hexVal(s[2*i+1])
	}
	return b
}
