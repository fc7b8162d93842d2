package dumpbuild

import (
	"encoding/binary"
	"testing"
)

func TestContextX86Offsets(t *testing.T) {
	regs := map[string]uint64{
		"eax": 0xa, "ebx": 0xb, "ecx": 0xc, "edx": 0xd, "esi": 0x51, "edi": 0xd1,
		"ebp": 0xb9, "esp": 0x59, "eip": 0x401000, "EFlags": 0x202, "dr7": 0x400, "xmm1h": 0x1122334455667788,
	}
	c, err := Context(X86, 0, regs)
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != 716 {
		t.Fatalf("size %d", len(c))
	}
	want := map[int]uint32{
		0x00: 0x1003f, 0x18: 0x400, 0x1c: 0x27f,
		0x8c: 0x2b, 0x90: 0x53, 0x94: 0x2b, 0x98: 0x2b,
		0x9c: 0xd1, 0xa0: 0x51, 0xa4: 0xb, 0xa8: 0xd, 0xac: 0xc, 0xb0: 0xa,
		0xb4: 0xb9, 0xb8: 0x401000, 0xbc: 0x23, 0xc0: 0x202, 0xc4: 0x59, 0xc8: 0x2b,
		0xcc + 0x18: 0x1f80,
	}
	for off, v := range want {
		if got := binary.LittleEndian.Uint32(c[off:]); got != v {
			t.Errorf("offset %#x = %#x, want %#x", off, got, v)
		}
	}
	if got := binary.LittleEndian.Uint64(c[0xcc+0xa0+16+8:]); got != 0x1122334455667788 {
		t.Errorf("xmm1h %#x", got)
	}
}

func TestContextX64Offsets(t *testing.T) {
	regs := map[string]uint64{
		"rax": 1, "rcx": 2, "rdx": 3, "rbx": 4, "rsp": 5, "rbp": 6, "rsi": 7, "rdi": 8,
		"r8": 9, "r9": 10, "r10": 11, "r11": 12, "r12": 13, "r13": 14, "r14": 15, "r15": 16,
		"rip": 17, "p1home": 18, "p6home": 19, "dr0": 20, "dr7": 21, "lastexceptionfromrip": 22,
		"xmm15l": 23, "vectorcontrol": 24, "cs": 0x10, "efl": 0x10246,
	}
	c, err := Context(X64, 0x10000b, regs)
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != 1232 {
		t.Fatalf("size %d", len(c))
	}
	q := map[int]uint64{
		0x78: 1, 0x80: 2, 0x88: 3, 0x90: 4, 0x98: 5, 0xa0: 6, 0xa8: 7, 0xb0: 8,
		0xb8: 9, 0xc0: 10, 0xc8: 11, 0xd0: 12, 0xd8: 13, 0xe0: 14, 0xe8: 15, 0xf0: 16,
		0xf8: 17, 0x00: 18, 0x28: 19, 0x48: 20, 0x70: 21, 0x4c8: 22, 0x100 + 0xa0 + 15*16: 23, 0x4a0: 24,
	}
	for off, v := range q {
		if got := binary.LittleEndian.Uint64(c[off:]); got != v {
			t.Errorf("offset %#x = %#x, want %#x", off, got, v)
		}
	}
	d := map[int]uint32{0x30: 0x10000b, 0x34: 0x1f80, 0x44: 0x10246, 0x118: 0x1f80}
	for off, v := range d {
		if got := binary.LittleEndian.Uint32(c[off:]); got != v {
			t.Errorf("offset %#x = %#x, want %#x", off, got, v)
		}
	}
	w := map[int]uint16{0x38: 0x10, 0x3a: 0x2b, 0x3c: 0x2b, 0x3e: 0x53, 0x40: 0x2b, 0x42: 0x2b, 0x100: 0x27f}
	for off, v := range w {
		if got := binary.LittleEndian.Uint16(c[off:]); got != v {
			t.Errorf("offset %#x = %#x, want %#x", off, got, v)
		}
	}
}

func TestContextErrors(t *testing.T) {
	if _, err := Context(X64, 0, map[string]uint64{"eax": 1}); err == nil {
		t.Error("x86 register accepted on x64")
	}
	if _, err := Context(X64, 0, map[string]uint64{"cs": 0x10000}); err == nil {
		t.Error("16-bit overflow accepted")
	}
	if _, err := Context(X86, 0, map[string]uint64{"eip": 1 << 32}); err == nil {
		t.Error("32-bit overflow accepted")
	}
	if _, err := Context(0, 0, nil); err == nil {
		t.Error("unknown arch accepted")
	}
}

func TestRawContextVerbatim(t *testing.T) {
	b := New(X64)
	b.Thread(Thread{ID: 7, Context: []byte{1, 2, 3}})
	r := mustBytes(t, b)
	o, _ := find(r, 3)
	size, rva := r.u32(o+4+40), r.u32(o+4+44)
	if size != 3 || string(r.b[rva:rva+3]) != "\x01\x02\x03" {
		t.Errorf("raw context size %d", size)
	}
}
