package dumpbuild

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"wdb/dump"
)

// CONTEXT sizes and ContextFlags defaults (CONTEXT_ALL of winnt.h).
const (
	ContextSizeX86      = 716
	ContextSizeX64      = 1232
	ContextAllX86       = dump.ContextX86 | 0x3f   // control, integer, segments, float, debug, extended
	ContextAllX64       = dump.ContextAMD64 | 0x1f // control, integer, segments, float, debug
	x86ExtendedRegsOff  = 0xcc                     // FXSAVE area of the x86 CONTEXT
	x64FltSaveOff       = 0x100                    // XMM_SAVE_AREA32 of the x64 CONTEXT
	fxsaveMxcsrOff      = 0x18                     // MxCsr within FXSAVE / XMM_SAVE_AREA32
	fxsaveXmmOff        = 0xa0                     // XmmRegisters within FXSAVE
	x86FloatSaveOff     = 0x1c                     // FLOATING_SAVE_AREA of the x86 CONTEXT
	x64VectorControlOff = 0x4a0
)

type regField struct {
	off, width int
	also       int // second offset written with the same value, 0 if none
}

// Register tables: names as WinDbg's r command prints them (lower case).
var (
	regsX86 = map[string]regField{
		"dr0": {0x04, 4, 0}, "dr1": {0x08, 4, 0}, "dr2": {0x0c, 4, 0}, "dr3": {0x10, 4, 0},
		"dr6": {0x14, 4, 0}, "dr7": {0x18, 4, 0},
		"fpcw": {x86FloatSaveOff + 0, 4, 0}, "fpsw": {x86FloatSaveOff + 4, 4, 0}, "fptw": {x86FloatSaveOff + 8, 4, 0},
		"gs": {0x8c, 4, 0}, "fs": {0x90, 4, 0}, "es": {0x94, 4, 0}, "ds": {0x98, 4, 0},
		"edi": {0x9c, 4, 0}, "esi": {0xa0, 4, 0}, "ebx": {0xa4, 4, 0}, "edx": {0xa8, 4, 0},
		"ecx": {0xac, 4, 0}, "eax": {0xb0, 4, 0}, "ebp": {0xb4, 4, 0}, "eip": {0xb8, 4, 0},
		"cs": {0xbc, 4, 0}, "efl": {0xc0, 4, 0}, "esp": {0xc4, 4, 0}, "ss": {0xc8, 4, 0},
		"mxcsr": {x86ExtendedRegsOff + fxsaveMxcsrOff, 4, 0},
	}
	regsX64 = map[string]regField{
		"p1home": {0x00, 8, 0}, "p2home": {0x08, 8, 0}, "p3home": {0x10, 8, 0},
		"p4home": {0x18, 8, 0}, "p5home": {0x20, 8, 0}, "p6home": {0x28, 8, 0},
		"mxcsr": {0x34, 4, x64FltSaveOff + fxsaveMxcsrOff},
		"cs":    {0x38, 2, 0}, "ds": {0x3a, 2, 0}, "es": {0x3c, 2, 0}, "fs": {0x3e, 2, 0},
		"gs": {0x40, 2, 0}, "ss": {0x42, 2, 0}, "efl": {0x44, 4, 0},
		"dr0": {0x48, 8, 0}, "dr1": {0x50, 8, 0}, "dr2": {0x58, 8, 0}, "dr3": {0x60, 8, 0},
		"dr6": {0x68, 8, 0}, "dr7": {0x70, 8, 0},
		"rax": {0x78, 8, 0}, "rcx": {0x80, 8, 0}, "rdx": {0x88, 8, 0}, "rbx": {0x90, 8, 0},
		"rsp": {0x98, 8, 0}, "rbp": {0xa0, 8, 0}, "rsi": {0xa8, 8, 0}, "rdi": {0xb0, 8, 0},
		"r8": {0xb8, 8, 0}, "r9": {0xc0, 8, 0}, "r10": {0xc8, 8, 0}, "r11": {0xd0, 8, 0},
		"r12": {0xd8, 8, 0}, "r13": {0xe0, 8, 0}, "r14": {0xe8, 8, 0}, "r15": {0xf0, 8, 0},
		"rip":  {0xf8, 8, 0},
		"fpcw": {x64FltSaveOff + 0, 2, 0}, "fpsw": {x64FltSaveOff + 2, 2, 0}, "fptw": {x64FltSaveOff + 4, 1, 0},
		"vectorcontrol":        {x64VectorControlOff, 8, 0},
		"debugcontrol":         {0x4a8, 8, 0},
		"lastbranchtorip":      {0x4b0, 8, 0},
		"lastbranchfromrip":    {0x4b8, 8, 0},
		"lastexceptiontorip":   {0x4c0, 8, 0},
		"lastexceptionfromrip": {0x4c8, 8, 0},
	}
)

func init() {
	// xmmNl / xmmNh are the low and high quadwords of XMM registers, named as
	// dbgeng does; x86 has 8 in ExtendedRegisters, x64 has 16 in FltSave.
	for i := range 16 {
		off := x64FltSaveOff + fxsaveXmmOff + 16*i
		regsX64[fmt.Sprintf("xmm%dl", i)] = regField{off, 8, 0}
		regsX64[fmt.Sprintf("xmm%dh", i)] = regField{off + 8, 8, 0}
		if i < 8 {
			off := x86ExtendedRegsOff + fxsaveXmmOff + 16*i
			regsX86[fmt.Sprintf("xmm%dl", i)] = regField{off, 8, 0}
			regsX86[fmt.Sprintf("xmm%dh", i)] = regField{off + 8, 8, 0}
		}
	}
}

// Default register values, those of a user-mode thread on 64-bit Windows (the
// x86 ones are a WOW64 process's). Regs entries override them.
var (
	defaultsX86 = map[string]uint64{
		"cs": 0x23, "ss": 0x2b, "ds": 0x2b, "es": 0x2b, "fs": 0x53, "gs": 0x2b,
		"efl": 0x246, "fpcw": 0x27f, "mxcsr": 0x1f80,
	}
	defaultsX64 = map[string]uint64{
		"cs": 0x33, "ss": 0x2b, "ds": 0x2b, "es": 0x2b, "fs": 0x53, "gs": 0x2b,
		"efl": 0x246, "fpcw": 0x27f, "mxcsr": 0x1f80,
	}
)

// Context encodes a CONTEXT record: 716 bytes for X86, 1232 for X64. flags is
// ContextFlags, 0 meaning ContextAllX86 / ContextAllX64. Register names are
// case-insensitive: eax..esp, eip (x86), rax..r15, rip, p1home..p6home (x64),
// efl (alias eflags), cs ds es fs gs ss, dr0-dr3 dr6 dr7, mxcsr (x64 writes
// both copies), fpcw fpsw fptw, xmmNl/xmmNh, and on x64 vectorcontrol,
// debugcontrol and the lastbranch/lastexception rips. Unset segment
// registers, efl (0x246), fpcw (0x27f) and mxcsr (0x1f80) take user-mode
// defaults; everything else is zero. A value wider than its field is an error.
func Context(arch dump.Arch, flags uint32, regs map[string]uint64) ([]byte, error) {
	var (
		table    map[string]regField
		defaults map[string]uint64
		out      []byte
	)
	switch arch {
	case X86:
		table, defaults, out = regsX86, defaultsX86, make([]byte, ContextSizeX86)
		if flags == 0 {
			flags = ContextAllX86
		}
		binary.LittleEndian.PutUint32(out[0:], flags)
	case X64:
		table, defaults, out = regsX64, defaultsX64, make([]byte, ContextSizeX64)
		if flags == 0 {
			flags = ContextAllX64
		}
		binary.LittleEndian.PutUint32(out[0x30:], flags)
	default:
		return nil, fmt.Errorf("no CONTEXT layout for %v", arch)
	}
	vals := make(map[string]uint64, len(defaults)+len(regs))
	for k, v := range defaults {
		vals[k] = v
	}
	names := make([]string, 0, len(regs))
	for k := range regs {
		names = append(names, k)
	}
	slices.Sort(names) // deterministic error reporting
	for _, k := range names {
		n := strings.ToLower(k)
		if n == "eflags" {
			n = "efl"
		}
		if _, ok := table[n]; !ok {
			return nil, fmt.Errorf("unknown %v register %q", arch, k)
		}
		vals[n] = regs[k]
	}
	for n, v := range vals {
		f := table[n]
		if f.width < 8 && v>>(8*f.width) != 0 {
			return nil, fmt.Errorf("register %s value %#x wider than %d bytes", n, v, f.width)
		}
		put(out, f.off, f.width, v)
		if f.also != 0 {
			put(out, f.also, f.width, v)
		}
	}
	return out, nil
}

func put(b []byte, off, width int, v uint64) {
	switch width {
	case 1:
		b[off] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(b[off:], uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b[off:], uint32(v))
	case 8:
		binary.LittleEndian.PutUint64(b[off:], v)
	}
}
