package dump

import (
	"encoding/binary"
	"fmt"
)

// Context is a thread's register state decoded from an x86 or AMD64 CONTEXT.
// For x86 the general registers are held in the 64-bit fields (Rax holds eax).
type Context struct {
	Arch  Arch
	Flags uint32

	Rax, Rbx, Rcx, Rdx, Rsi, Rdi, Rbp, Rsp uint64
	R8, R9, R10, R11, R12, R13, R14, R15   uint64
	Rip                                    uint64
	EFlags                                 uint32
	Cs, Ds, Es, Fs, Gs, Ss                 uint16
	Dr0, Dr1, Dr2, Dr3, Dr6, Dr7           uint64
	MxCsr                                  uint32
}

func (f *File) readContext(loc Location) (*Context, error) {
	if loc.Size == 0 {
		return nil, nil
	}
	b, ok := f.src.slice(int64(loc.RVA), int64(loc.Size))
	if !ok {
		return nil, &FormatError{Offset: int64(loc.RVA), What: "thread context", Err: fmt.Sprintf("0x%x bytes run past the end of the file", loc.Size)}
	}
	arch := ArchUnknown
	if f.System != nil {
		switch f.System.ProcessorArchitecture {
		case ProcessorX86:
			arch = ArchX86
		case ProcessorAMD64:
			arch = ArchAMD64
		}
	}
	return DecodeContext(b, arch)
}

// DecodeContext decodes a CONTEXT record. hint is the dump's architecture;
// the record's own flags and size decide when they disagree (a WOW64 dump may
// carry x86 contexts in an AMD64 dump and the reverse).
func DecodeContext(b []byte, hint Arch) (*Context, error) {
	le := binary.LittleEndian
	isAMD64 := len(b) >= 0x100 && le.Uint32(b[0x30:])&ContextAMD64 != 0
	isX86 := len(b) >= 0xcc && le.Uint32(b[0:])&ContextX86 != 0
	arch := hint
	switch {
	case isAMD64 && !isX86:
		arch = ArchAMD64
	case isX86 && !isAMD64:
		arch = ArchX86
	case isAMD64 && isX86 && len(b) >= contextAMD64Size:
		arch = ArchAMD64
	}
	switch arch {
	case ArchAMD64:
		if len(b) < 0x100 {
			return nil, fmt.Errorf("AMD64 context is %d bytes, needs at least 256", len(b))
		}
		c := &Context{Arch: ArchAMD64, Flags: le.Uint32(b[0x30:])}
		c.MxCsr = le.Uint32(b[0x34:])
		c.Cs, c.Ds, c.Es, c.Fs, c.Gs, c.Ss = le.Uint16(b[0x38:]), le.Uint16(b[0x3a:]), le.Uint16(b[0x3c:]), le.Uint16(b[0x3e:]), le.Uint16(b[0x40:]), le.Uint16(b[0x42:])
		c.EFlags = le.Uint32(b[0x44:])
		c.Dr0, c.Dr1, c.Dr2, c.Dr3, c.Dr6, c.Dr7 = le.Uint64(b[0x48:]), le.Uint64(b[0x50:]), le.Uint64(b[0x58:]), le.Uint64(b[0x60:]), le.Uint64(b[0x68:]), le.Uint64(b[0x70:])
		r := func(off int) uint64 { return le.Uint64(b[off:]) }
		c.Rax, c.Rcx, c.Rdx, c.Rbx, c.Rsp, c.Rbp, c.Rsi, c.Rdi = r(0x78), r(0x80), r(0x88), r(0x90), r(0x98), r(0xa0), r(0xa8), r(0xb0)
		c.R8, c.R9, c.R10, c.R11, c.R12, c.R13, c.R14, c.R15 = r(0xb8), r(0xc0), r(0xc8), r(0xd0), r(0xd8), r(0xe0), r(0xe8), r(0xf0)
		c.Rip = r(0xf8)
		return c, nil
	case ArchX86:
		if len(b) < 0xcc {
			return nil, fmt.Errorf("x86 context is %d bytes, needs at least 204", len(b))
		}
		d := func(off int) uint64 { return uint64(le.Uint32(b[off:])) }
		c := &Context{Arch: ArchX86, Flags: le.Uint32(b[0:])}
		c.Dr0, c.Dr1, c.Dr2, c.Dr3, c.Dr6, c.Dr7 = d(4), d(8), d(0xc), d(0x10), d(0x14), d(0x18)
		c.Gs, c.Fs, c.Es, c.Ds = uint16(d(0x8c)), uint16(d(0x90)), uint16(d(0x94)), uint16(d(0x98))
		c.Rdi, c.Rsi, c.Rbx, c.Rdx, c.Rcx, c.Rax, c.Rbp, c.Rip = d(0x9c), d(0xa0), d(0xa4), d(0xa8), d(0xac), d(0xb0), d(0xb4), d(0xb8)
		c.Cs = uint16(d(0xbc))
		c.EFlags = uint32(d(0xc0))
		c.Rsp = d(0xc4)
		c.Ss = uint16(d(0xc8))
		return c, nil
	}
	return nil, fmt.Errorf("context of %d bytes for an unsupported architecture", len(b))
}

// PC is the instruction pointer.
func (c *Context) PC() uint64 { return c.Rip }

// SP is the stack pointer.
func (c *Context) SP() uint64 { return c.Rsp }

// FP is the frame pointer.
func (c *Context) FP() uint64 { return c.Rbp }

// eflags bits, as `r` prints them.
var flagBits = map[string]uint{"cf": 0, "pf": 2, "af": 4, "zf": 6, "sf": 7, "tf": 8, "if": 9, "df": 10, "of": 11}

// Register returns a register by its lower-case name: full registers (rax,
// eax, r8, rip, eip, efl), sub-registers (ax, al, ah, r8d, r8w, r8b),
// segment registers, flags (zf, cf, …, iopl) and debug registers.
func (c *Context) Register(name string) (uint64, bool) {
	full := map[string]*uint64{
		"rax": &c.Rax, "rbx": &c.Rbx, "rcx": &c.Rcx, "rdx": &c.Rdx, "rsi": &c.Rsi, "rdi": &c.Rdi, "rbp": &c.Rbp, "rsp": &c.Rsp,
		"r8": &c.R8, "r9": &c.R9, "r10": &c.R10, "r11": &c.R11, "r12": &c.R12, "r13": &c.R13, "r14": &c.R14, "r15": &c.R15,
		"rip": &c.Rip, "dr0": &c.Dr0, "dr1": &c.Dr1, "dr2": &c.Dr2, "dr3": &c.Dr3, "dr6": &c.Dr6, "dr7": &c.Dr7,
	}
	if c.Arch == ArchX86 {
		if len(name) > 0 && (name[0] == 'r' && name != "r") {
			return 0, false // no 64-bit registers on x86
		}
	}
	if p, ok := full[name]; ok {
		return *p, true
	}
	legacy := map[string]*uint64{"ax": &c.Rax, "bx": &c.Rbx, "cx": &c.Rcx, "dx": &c.Rdx, "si": &c.Rsi, "di": &c.Rdi, "bp": &c.Rbp, "sp": &c.Rsp, "ip": &c.Rip}
	switch {
	case len(name) == 3 && name[0] == 'e':
		if p, ok := legacy[name[1:]]; ok {
			return *p & 0xffffffff, true
		}
	case len(name) == 2:
		if p, ok := legacy[name]; ok {
			return *p & 0xffff, true
		}
		if name[1] == 'l' || name[1] == 'h' {
			if p, ok := legacy[name[:1]+"x"]; ok {
				if name[1] == 'l' {
					return *p & 0xff, true
				}
				return (*p >> 8) & 0xff, true
			}
		}
	}
	if c.Arch == ArchAMD64 {
		for _, lo := range []string{"sil", "dil", "bpl", "spl"} {
			if name == lo {
				return *legacy[lo[:2]] & 0xff, true
			}
		}
		if len(name) >= 3 && name[0] == 'r' {
			base, suffix := name[:len(name)-1], name[len(name)-1]
			if p, ok := full[base]; ok && base != "rip" {
				switch suffix {
				case 'd':
					return *p & 0xffffffff, true
				case 'w':
					return *p & 0xffff, true
				case 'b':
					return *p & 0xff, true
				}
			}
		}
	}
	switch name {
	case "efl":
		return uint64(c.EFlags), true
	case "cs":
		return uint64(c.Cs), true
	case "ds":
		return uint64(c.Ds), true
	case "es":
		return uint64(c.Es), true
	case "fs":
		return uint64(c.Fs), true
	case "gs":
		return uint64(c.Gs), true
	case "ss":
		return uint64(c.Ss), true
	case "mxcsr":
		return uint64(c.MxCsr), true
	case "iopl":
		return uint64(c.EFlags>>12) & 3, true
	}
	if bit, ok := flagBits[name]; ok {
		return uint64(c.EFlags>>bit) & 1, true
	}
	return 0, false
}
