package sample

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
)

// The system DLLs of the sample (ntdll, KERNEL32, KERNELBASE) are small
// synthetic PE images in the loader's mapped layout: headers, a .text whose
// few functions are real instruction bytes (prologue, the calls the sample's
// stacks return into, epilogue, int3 padding), an export directory in
// .rdata (with forwarders, as KERNEL32!HeapAlloc -> NTDLL.RtlAllocateHeap),
// and on x64 a .pdata with UNWIND_INFO for every function that has a frame,
// so an unwinder can walk through them. The rest of each section is zero.
// They have no debug directory: there is no PDB to look for, and the
// resolver uses their exports. Some exports (TppWorkerThread) are internal
// names real ntdll only has in its PDB; they are exported here so that
// stacks read as they would with Microsoft's symbols.

// fn is one function of a synthetic image.
type fn struct {
	name  string
	rva   uint32
	push  []int  // non-volatile registers pushed by the prologue (x64 register numbers)
	alloc uint32 // bytes the prologue allocates (sub rsp/esp)
	calls []call // calls the body makes, by return offset
	raw   []byte // the whole body instead (syscall stubs, accessors); no unwind info
	jmp   string // the body is "jmp [slot]" through this import slot (KERNEL32 stubs)
	args  uint32 // x86: bytes popped by ret (stdcall)
	noExp bool   // not exported
}

// call is a call instruction in a function body ending at ret (the offset of
// the return address), to target ("module!name" or a name in the same
// image), encoded as E8 rel32; as FF 15 [slot] when indirect (target names
// an import slot); as FF D0 (call rax / call eax) when reg.
type call struct {
	ret      uint32
	target   string
	indirect bool
	reg      bool
}

// dllSpec describes one synthetic DLL.
type dllSpec struct {
	name     string // file name, e.g. "ntdll.dll"
	path     string
	base     uint64
	size     uint32
	stamp    uint32
	version  [4]uint16
	sections []section // .text first, then .rdata, .data, .pdata (x64), .rsrc
	funcs    []fn
	forwards map[string]string // export name -> "DLL.Name"
	iat      map[string]string // names of .rdata slots filled with "module!name" addresses
}

// builtImage is a laid-out synthetic image and its symbols.
type builtImage struct {
	spec    *dllSpec
	mem     []byte
	symbols map[string]uint64 // exported and internal names -> addresses
}

// Register numbers of the x64 unwind codes.
const (
	rbx = 3
	rbp = 5
	rsi = 6
	rdi = 7
	r12 = 12
	r13 = 13
	r14 = 14
	r15 = 15
)

// buildImages lays out the DLLs; calls between them are resolved through
// the addresses of all of them, so they are built together.
func buildImages(specs []*dllSpec, x64 bool) (map[string]*builtImage, error) {
	syms := map[string]uint64{}
	for _, s := range specs {
		mod := moduleName(s.name)
		for _, f := range s.funcs {
			syms[mod+"!"+f.name] = s.base + uint64(f.rva)
		}
	}
	out := map[string]*builtImage{}
	for _, s := range specs {
		im, err := buildImage(s, x64, syms)
		if err != nil {
			return nil, fmt.Errorf("sample: %s: %w", s.name, err)
		}
		out[moduleName(s.name)] = im
	}
	return out, nil
}

// moduleName is the WinDbg module name: the file name without extension.
func moduleName(file string) string {
	if i := strings.LastIndexByte(file, '.'); i > 0 {
		return file[:i]
	}
	return file
}

func buildImage(s *dllSpec, x64 bool, syms map[string]uint64) (*builtImage, error) {
	mem := make([]byte, s.size)
	im := &builtImage{spec: s, mem: mem, symbols: map[string]uint64{}}
	text, rdata := s.sections[0], s.sections[1]
	mod := moduleName(s.name)
	resolve := func(t string) (uint64, error) {
		if !strings.Contains(t, "!") {
			t = mod + "!" + t
		}
		if v, ok := syms[t]; ok {
			return v, nil
		}
		return 0, fmt.Errorf("unknown call target %s", t)
	}
	// .rdata: import slots first, then unwind info, then the export directory.
	rd := rdata.rva
	slots := map[string]uint32{}
	var slotNames []string
	for n := range s.iat {
		slotNames = append(slotNames, n)
	}
	sort.Strings(slotNames)
	ptr := uint32(4)
	if x64 {
		ptr = 8
	}
	for _, n := range slotNames {
		v, err := resolve(s.iat[n])
		if err != nil {
			return nil, err
		}
		putPtr(mem, uint64(rd), v, int(ptr))
		slots[n] = rd
		rd += ptr
	}
	rd = (rd + 15) &^ 15
	// .text: function bodies.
	type rf struct{ begin, end, unwind uint32 }
	var pdata []rf
	for _, f := range s.funcs {
		im.symbols[mod+"!"+f.name] = s.base + uint64(f.rva)
		var body []byte
		var prolog []byte
		var codes []uint16
		switch {
		case f.raw != nil:
			body = f.raw
		case f.jmp != "":
			slot, ok := slots[f.jmp]
			if !ok {
				return nil, fmt.Errorf("%s: no import slot %s", f.name, f.jmp)
			}
			if x64 {
				body = append([]byte{0x48, 0xff, 0x25}, binary.LittleEndian.AppendUint32(nil, slot-(f.rva+7))...)
			} else {
				body = append([]byte{0xff, 0x25}, binary.LittleEndian.AppendUint32(nil, uint32(s.base)+slot)...)
			}
		default:
			prolog, codes = prologue(f, x64)
			body = append(body, prolog...)
			for _, c := range f.calls {
				n := 5
				switch {
				case c.indirect:
					n = 6
				case c.reg:
					n = 2
				}
				if int(c.ret)-n < len(body) {
					return nil, fmt.Errorf("%s: call ending at %#x overlaps the code before it", f.name, c.ret)
				}
				for len(body) < int(c.ret)-n {
					body = append(body, 0x90)
				}
				at := f.rva + uint32(len(body))
				if c.reg {
					body = append(body, 0xff, 0xd0)
				} else if c.indirect {
					slot, ok := slots[c.target]
					if !ok {
						return nil, fmt.Errorf("%s: no import slot %s", f.name, c.target)
					}
					body = append(body, 0xff, 0x15)
					if x64 {
						body = binary.LittleEndian.AppendUint32(body, slot-(at+6))
					} else {
						body = binary.LittleEndian.AppendUint32(body, uint32(s.base)+slot)
					}
				} else {
					t, err := resolve(c.target)
					if err != nil {
						return nil, err
					}
					body = append(body, 0xe8)
					body = binary.LittleEndian.AppendUint32(body, uint32(t-(s.base+uint64(at)+5)))
				}
			}
			// A few instructions after the last call, so that a return
			// address is never at an epilogue.
			body = append(body, 0x90, 0x90, 0x90)
			body = append(body, epilogue(f, x64)...)
		}
		if uint64(f.rva)+uint64(len(body)) > uint64(text.rva+text.size) {
			return nil, fmt.Errorf("%s does not fit .text", f.name)
		}
		copy(mem[f.rva:], body)
		end := f.rva + uint32(len(body))
		for p := end; p%16 != 0; p++ {
			mem[p] = 0xcc
		}
		if x64 && len(codes) > 0 {
			// UNWIND_INFO: version 1, no flags, prolog size, codes.
			rd = (rd + 3) &^ 3
			ui := rd
			mem[ui] = 1
			mem[ui+1] = byte(len(prolog))
			mem[ui+2] = byte(len(codes))
			for i, c := range codes {
				binary.LittleEndian.PutUint16(mem[ui+4+uint32(2*i):], c)
			}
			rd += 4 + uint32(2*((len(codes)+1)&^1))
			pdata = append(pdata, rf{f.rva, end, ui})
		}
	}
	// Export directory.
	type exp struct {
		name string
		rva  uint32
		fwd  string
	}
	var exps []exp
	for _, f := range s.funcs {
		if !f.noExp {
			exps = append(exps, exp{name: f.name, rva: f.rva})
		}
	}
	for n, fw := range s.forwards {
		exps = append(exps, exp{name: n, fwd: fw})
	}
	sort.Slice(exps, func(i, j int) bool { return exps[i].name < exps[j].name })
	rd = (rd + 15) &^ 15
	dir := rd
	n := uint32(len(exps))
	funcsAt := dir + 40
	namesAt := funcsAt + 4*n
	ordsAt := namesAt + 4*n
	strAt := ordsAt + 2*n
	strAt = (strAt + 3) &^ 3
	putStr := func(v string) uint32 {
		at := strAt
		copy(mem[at:], v)
		mem[at+uint32(len(v))] = 0
		strAt += uint32(len(v)) + 1
		return at
	}
	nameRVA := putStr(s.name)
	for i, e := range exps {
		rva := e.rva
		if e.fwd != "" {
			rva = putStr(e.fwd)
		}
		binary.LittleEndian.PutUint32(mem[funcsAt+4*uint32(i):], rva)
		binary.LittleEndian.PutUint32(mem[namesAt+4*uint32(i):], putStr(e.name))
		binary.LittleEndian.PutUint16(mem[ordsAt+2*uint32(i):], uint16(i))
	}
	dirSize := strAt - dir
	binary.LittleEndian.PutUint32(mem[dir+4:], s.stamp)
	binary.LittleEndian.PutUint32(mem[dir+12:], nameRVA)
	binary.LittleEndian.PutUint32(mem[dir+16:], 1) // OrdinalBase
	binary.LittleEndian.PutUint32(mem[dir+20:], n)
	binary.LittleEndian.PutUint32(mem[dir+24:], n)
	binary.LittleEndian.PutUint32(mem[dir+28:], funcsAt)
	binary.LittleEndian.PutUint32(mem[dir+32:], namesAt)
	binary.LittleEndian.PutUint32(mem[dir+36:], ordsAt)
	if strAt > rdata.rva+rdata.size {
		return nil, fmt.Errorf(".rdata overflows")
	}
	// .pdata.
	var pdataDir [2]uint32
	if x64 {
		ps := s.sections[3]
		sort.Slice(pdata, func(i, j int) bool { return pdata[i].begin < pdata[j].begin })
		for i, p := range pdata {
			at := ps.rva + uint32(12*i)
			binary.LittleEndian.PutUint32(mem[at:], p.begin)
			binary.LittleEndian.PutUint32(mem[at+4:], p.end)
			binary.LittleEndian.PutUint32(mem[at+8:], p.unwind)
		}
		pdataDir = [2]uint32{ps.rva, uint32(12 * len(pdata))}
	}
	writeHeaders(mem, s, x64, [2]uint32{dir, dirSize}, pdataDir)
	return im, nil
}

// prologue encodes the pushes and the stack allocation of f and returns
// them with the UNWIND_INFO codes that undo them (last operation first).
func prologue(f fn, x64 bool) ([]byte, []uint16) {
	var b []byte
	var codes []uint16
	if !x64 {
		// mov edi,edi; push ebp; mov ebp,esp; sub esp,N
		b = append(b, 0x8b, 0xff, 0x55, 0x8b, 0xec)
		if f.alloc > 0 {
			if f.alloc < 0x80 {
				b = append(b, 0x83, 0xec, byte(f.alloc))
			} else {
				b = append(b, 0x81, 0xec)
				b = binary.LittleEndian.AppendUint32(b, f.alloc)
			}
		}
		return b, nil
	}
	for _, r := range f.push {
		if r >= 8 {
			b = append(b, 0x41, byte(0x50+r-8))
		} else {
			b = append(b, 0x40, byte(0x50+r)) // REX-prefixed push, as MSVC writes the first one
		}
		codes = append([]uint16{uint16(len(b)) | uint16(r)<<12}, codes...) // UWOP_PUSH_NONVOL
	}
	if f.alloc > 0 {
		if f.alloc <= 0x78 {
			b = append(b, 0x48, 0x83, 0xec, byte(f.alloc))
			codes = append([]uint16{uint16(len(b)) | 2<<8 | uint16((f.alloc-8)/8)<<12}, codes...)
		} else {
			b = append(b, 0x48, 0x81, 0xec)
			b = binary.LittleEndian.AppendUint32(b, f.alloc)
			// UWOP_ALLOC_LARGE with the size in the next slot.
			codes = append([]uint16{uint16(len(b)) | 1<<8, uint16(f.alloc / 8)}, codes...)
		}
	}
	return b, codes
}

// epilogue undoes prologue and returns.
func epilogue(f fn, x64 bool) []byte {
	var b []byte
	if !x64 {
		b = append(b, 0x8b, 0xe5, 0x5d) // mov esp,ebp; pop ebp
		if f.args > 0 {
			b = append(b, 0xc2, byte(f.args), byte(f.args>>8))
		} else {
			b = append(b, 0xc3)
		}
		return b
	}
	if f.alloc > 0 {
		if f.alloc <= 0x78 {
			b = append(b, 0x48, 0x83, 0xc4, byte(f.alloc))
		} else {
			b = append(b, 0x48, 0x81, 0xc4)
			b = binary.LittleEndian.AppendUint32(b, f.alloc)
		}
	}
	for i := len(f.push) - 1; i >= 0; i-- {
		r := f.push[i]
		if r >= 8 {
			b = append(b, 0x41, byte(0x58+r-8))
		} else {
			b = append(b, byte(0x58+r))
		}
	}
	return append(b, 0xc3)
}

// writeHeaders writes the DOS header, PE headers and section table.
func writeHeaders(mem []byte, s *dllSpec, x64 bool, exports, pdata [2]uint32) {
	le := binary.LittleEndian
	mem[0], mem[1] = 'M', 'Z'
	le.PutUint16(mem[2:], 0x90)
	le.PutUint16(mem[4:], 3)
	le.PutUint16(mem[8:], 4)
	le.PutUint16(mem[0x10:], 0xffff)
	le.PutUint16(mem[0x18:], 0x40)
	const lfanew = 0xf8
	le.PutUint32(mem[0x3c:], lfanew)
	copy(mem[0x40:], "\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21This program cannot be run in DOS mode.\r\r\n$")
	p := uint32(lfanew)
	copy(mem[p:], "PE\x00\x00")
	coff := p + 4
	machine, ohSize, chars := uint16(0x14c), uint16(0xe0), uint16(0x2102)
	if x64 {
		machine, ohSize, chars = 0x8664, 0xf0, 0x2022
	}
	le.PutUint16(mem[coff:], machine)
	le.PutUint16(mem[coff+2:], uint16(len(s.sections)))
	le.PutUint32(mem[coff+4:], s.stamp)
	le.PutUint16(mem[coff+16:], ohSize)
	le.PutUint16(mem[coff+18:], chars)
	oh := coff + 20
	text := s.sections[0]
	var codeSize, dataSize uint32
	for _, sec := range s.sections {
		if sec.protect == pageExecuteRead {
			codeSize += sec.size
		} else {
			dataSize += sec.size
		}
	}
	if x64 {
		le.PutUint16(mem[oh:], 0x20b)
	} else {
		le.PutUint16(mem[oh:], 0x10b)
	}
	mem[oh+2], mem[oh+3] = 14, 20 // linker 14.20
	le.PutUint32(mem[oh+4:], codeSize)
	le.PutUint32(mem[oh+8:], dataSize)
	le.PutUint32(mem[oh+20:], text.rva) // BaseOfCode
	var dd uint32
	if x64 {
		le.PutUint64(mem[oh+24:], s.base)
		dd = oh + 112
	} else {
		le.PutUint32(mem[oh+24:], s.sections[1].rva) // BaseOfData
		le.PutUint32(mem[oh+28:], uint32(s.base))
		dd = oh + 96
	}
	le.PutUint32(mem[oh+32:], 0x1000) // SectionAlignment
	le.PutUint32(mem[oh+36:], 0x200)  // FileAlignment
	le.PutUint16(mem[oh+40:], 10)     // OS version 10.0
	le.PutUint16(mem[oh+44:], 10)     // image version 10.0
	le.PutUint16(mem[oh+48:], 10)     // subsystem version 10.0
	le.PutUint32(mem[oh+56:], s.size)
	le.PutUint32(mem[oh+60:], 0x400) // SizeOfHeaders
	le.PutUint16(mem[oh+68:], 3)     // IMAGE_SUBSYSTEM_WINDOWS_CUI
	dllChars := uint16(0x4140)       // GUARD_CF | NX_COMPAT | DYNAMIC_BASE
	if x64 {
		dllChars |= 0x20 // HIGH_ENTROPY_VA
	}
	le.PutUint16(mem[oh+70:], dllChars)
	if x64 {
		le.PutUint64(mem[oh+72:], 0x40000)
		le.PutUint64(mem[oh+80:], 0x1000)
		le.PutUint64(mem[oh+88:], 0x100000)
		le.PutUint64(mem[oh+96:], 0x1000)
		le.PutUint32(mem[oh+108:], 16)
	} else {
		le.PutUint32(mem[oh+72:], 0x40000)
		le.PutUint32(mem[oh+76:], 0x1000)
		le.PutUint32(mem[oh+80:], 0x100000)
		le.PutUint32(mem[oh+84:], 0x1000)
		le.PutUint32(mem[oh+92:], 16)
	}
	le.PutUint32(mem[dd:], exports[0])
	le.PutUint32(mem[dd+4:], exports[1])
	if pdata[1] != 0 {
		le.PutUint32(mem[dd+3*8:], pdata[0])
		le.PutUint32(mem[dd+3*8+4:], pdata[1])
	}
	st := oh + uint32(ohSize)
	for i, sec := range s.sections {
		h := st + uint32(40*i)
		copy(mem[h:h+8], sec.name)
		le.PutUint32(mem[h+8:], sec.size)
		le.PutUint32(mem[h+12:], sec.rva)
		le.PutUint32(mem[h+16:], sec.size)
		le.PutUint32(mem[h+20:], sec.rva) // file layout mirrors the mapped one
		var c uint32
		switch sec.protect {
		case pageExecuteRead:
			c = 0x60000020
		case pageReadWrite, pageWriteCopy:
			c = 0xc0000040
		default:
			c = 0x40000040
		}
		le.PutUint32(mem[h+36:], c)
	}
}
