package disasm

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	sampleLine  = regexp.MustCompile("^([0-9a-f]{8}(?:`[0-9a-f]{8})?) ([0-9a-f]+) ")
	sampleNamed = regexp.MustCompile("([^\\s\\[,]+) \\(([0-9a-f]{8}(?:`[0-9a-f]{8})?)\\)")
)

func parseSampleAddr(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(strings.ReplaceAll(s, "`", ""), 16, 64)
	if err != nil {
		t.Fatalf("bad address %q", s)
	}
	return v
}

// fromSample rebuilds what a WinDbg transcript shows: the code bytes of
// every instruction line (gaps filled with int3) and a symbolizer that
// knows exactly the names the transcript prints — label lines name the
// next instruction, "name (address)" operands name their address. The
// transcript is then its own expected output.
func fromSample(t *testing.T, sample string) (bytesMem, mapExact) {
	t.Helper()
	code := map[uint64]string{}
	names := mapExact{}
	var lo, hi uint64
	pending := ""
	for _, line := range strings.Split(sample, "\n") {
		if m := sampleLine.FindStringSubmatch(line); m != nil {
			a := parseSampleAddr(t, m[1])
			code[a] = m[2]
			if lo == 0 || a < lo {
				lo = a
			}
			hi = max(hi, a+uint64(len(m[2])/2))
			if pending != "" {
				names[a] = pending
				pending = ""
			}
			for _, n := range sampleNamed.FindAllStringSubmatch(line, -1) {
				names[parseSampleAddr(t, n[2])] = n[1]
			}
			continue
		}
		if strings.HasSuffix(line, ":") && !strings.Contains(line, " ") {
			pending = strings.TrimSuffix(line, ":")
		}
	}
	return memFrom(t, lo, hi-lo, code), names
}

// mapExact names only the addresses it lists, as a transcript does.
type mapExact map[uint64]string

func (m mapExact) Format(a uint64) string { return m[a] }

// uf user32!MessageBoxW, x64 (blog "Debugging MS Word with WinDbg", 2016,
// HTML <mark> tags removed): fall-through into a branch target gets its
// own label, conditional jumps carry "  Branch".
const ufMessageBoxW = `user32!MessageBoxW:
00000000` + "`" + `77741314 4883ec38        sub     rsp,38h
00000000` + "`" + `77741318 4533db          xor     r11d,r11d
00000000` + "`" + `7774131b 44391d1a0e0200  cmp     dword ptr [user32!gfEMIEnable (00000000` + "`" + `7776213c)],r11d
00000000` + "`" + `77741322 742e            je      user32!MessageBoxW+0x3e (00000000` + "`" + `77741352)  Branch

user32!MessageBoxW+0x10:
00000000` + "`" + `77741324 65488b042530000000 mov   rax,qword ptr gs:[30h]
00000000` + "`" + `7774132d 4c8b5048        mov     r10,qword ptr [rax+48h]
00000000` + "`" + `77741331 33c0            xor     eax,eax
00000000` + "`" + `77741333 f04c0fb115ec240200 lock cmpxchg qword ptr [user32!gdwEMIThreadID (00000000` + "`" + `77763828)],r10
00000000` + "`" + `7774133c 4c8b15dd240200  mov     r10,qword ptr [user32!gpReturnAddr (00000000` + "`" + `77763820)]
00000000` + "`" + `77741343 418d4301        lea     eax,[r11+1]
00000000` + "`" + `77741347 4c0f44d0        cmove   r10,rax
00000000` + "`" + `7774134b 4c8915ce240200  mov     qword ptr [user32!gpReturnAddr (00000000` + "`" + `77763820)],r10

user32!MessageBoxW+0x3e:
00000000` + "`" + `77741352 834c2428ff      or      dword ptr [rsp+28h],0FFFFFFFFh
00000000` + "`" + `77741357 6644895c2420    mov     word ptr [rsp+20h],r11w
00000000` + "`" + `7774135d e856000000      call    user32!MessageBoxTimeoutW (00000000` + "`" + `777413b8)
00000000` + "`" + `77741362 4883c438        add     rsp,38h
00000000` + "`" + `77741366 c3              ret
`

// uf kernel32!HeapCreate, x86 (blog "Bypassing DEP: Chaining APIs"; an
// older engine without "Branch"): blocks in address order, a jump target
// inside straight-line code splits it, tail jumps into a separated chunk
// are followed.
const ufHeapCreate = `kernel32!HeapCreate:
7c812871 8bff            mov     edi,edi
7c812873 55              push    ebp
7c812874 8bec            mov     ebp,esp
7c812876 8b4508          mov     eax,dword ptr [ebp+8]
7c812879 8b0d3c60887c    mov     ecx,dword ptr [kernel32!BaseStaticServerData (7c88603c)]
7c81287f 8b892c010000    mov     ecx,dword ptr [ecx+12Ch]
7c812885 8b5510          mov     edx,dword ptr [ebp+10h]
7c812888 2505000400      and     eax,40005h
7c81288d 56              push    esi
7c81288e 0d00100000      or      eax,1000h
7c812893 33f6            xor     esi,esi
7c812895 3bd1            cmp     edx,ecx
7c812897 7336            jae     kernel32!HeapCreate+0x3c (7c8128cf)

kernel32!HeapCreate+0x28:
7c812899 85d2            test    edx,edx
7c81289b 752e            jne     kernel32!HeapCreate+0x36 (7c8128cb)

kernel32!HeapCreate+0x2c:
7c81289d c1e104          shl     ecx,4
7c8128a0 8bf1            mov     esi,ecx
7c8128a2 83c802          or      eax,2

kernel32!HeapCreate+0x38:
7c8128a5 85f6            test    esi,esi
7c8128a7 7426            je      kernel32!HeapCreate+0x3c (7c8128cf)

kernel32!HeapCreate+0x44:
7c8128a9 6a00            push    0
7c8128ab 6a00            push    0
7c8128ad ff750c          push    dword ptr [ebp+0Ch]
7c8128b0 52              push    edx
7c8128b1 6a00            push    0
7c8128b3 50              push    eax
7c8128b4 ff151813807c    call    dword ptr [kernel32!_imp__RtlCreateHeap (7c801318)]
7c8128ba 8bf0            mov     esi,eax
7c8128bc 85f6            test    esi,esi
7c8128be 0f8427e30200    je      kernel32!HeapCreate+0x5b (7c840beb)

kernel32!HeapCreate+0x62:
7c8128c4 8bc6            mov     eax,esi
7c8128c6 5e              pop     esi
7c8128c7 5d              pop     ebp
7c8128c8 c20c00          ret     0Ch

kernel32!HeapCreate+0x36:
7c8128cb 8bd1            mov     edx,ecx
7c8128cd ebd6            jmp     kernel32!HeapCreate+0x38 (7c8128a5)

kernel32!HeapCreate+0x3c:
7c8128cf 39550c          cmp     dword ptr [ebp+0Ch],edx
7c8128d2 76d5            jbe     kernel32!HeapCreate+0x44 (7c8128a9)

kernel32!HeapCreate+0x41:
7c8128d4 e90ae30200      jmp     kernel32!HeapCreate+0x41 (7c840be3)

kernel32!HeapCreate+0x41:
7c840be3 8b550c          mov     edx,dword ptr [ebp+0Ch]
7c840be6 e9be1cfdff      jmp     kernel32!HeapCreate+0x44 (7c8128a9)

kernel32!HeapCreate+0x5b:
7c840beb 6a08            push    8
7c840bed e88c88fcff      call    kernel32!SetLastError (7c80947e)
7c840bf2 e9cd1cfdff      jmp     kernel32!HeapCreate+0x62 (7c8128c4)
`

// uf ntdll!memcpy, x86 (same blog): jump tables make the flow incomplete
// and print as "dword ptr ntdll!memcpy+0x148 (7eb31f00)[edx*4]".
const ufMemcpy = `Flow analysis was incomplete, some code may be missing
ntdll!memcpy:
7eb31db3 55              push    ebp
7eb31db4 8bec            mov     ebp,esp
7eb31db6 57              push    edi
7eb31db7 56              push    esi
7eb31db8 8b750c          mov     esi,dword ptr [ebp+0Ch]
7eb31dbb 8b4d10          mov     ecx,dword ptr [ebp+10h]
7eb31dbe 8b7d08          mov     edi,dword ptr [ebp+8]
7eb31dc1 8bc1            mov     eax,ecx
7eb31dc3 8bd1            mov     edx,ecx
7eb31dc5 03c6            add     eax,esi
7eb31dc7 3bfe            cmp     edi,esi
7eb31dc9 7608            jbe     ntdll!memcpy+0x20 (7eb31dd3)

ntdll!memcpy+0x18:
7eb31dcb 3bf8            cmp     edi,eax
7eb31dcd 0f827d010000    jb      ntdll!memcpy+0x198 (7eb31f50)

ntdll!memcpy+0x20:
7eb31dd3 f7c703000000    test    edi,3
7eb31dd9 7514            jne     ntdll!memcpy+0x3c (7eb31def)

ntdll!memcpy+0x28:
7eb31ddb c1e902          shr     ecx,2
7eb31dde 83e203          and     edx,3
7eb31de1 83f908          cmp     ecx,8
7eb31de4 7229            jb      ntdll!memcpy+0x5c (7eb31e0f)

ntdll!memcpy+0x33:
7eb31de6 f3a5            rep movs dword ptr es:[edi],dword ptr [esi]
7eb31de8 ff2495001fb37e  jmp     dword ptr ntdll!memcpy+0x148 (7eb31f00)[edx*4]

ntdll!memcpy+0x3c:
7eb31def 8bc7            mov     eax,edi
7eb31df1 ba03000000      mov     edx,3
7eb31df6 83e904          sub     ecx,4
7eb31df9 720c            jb      ntdll!memcpy+0x54 (7eb31e07)

ntdll!memcpy+0x48:
7eb31dfb 83e003          and     eax,3
7eb31dfe 03c8            add     ecx,eax
7eb31e00 ff2485141eb37e  jmp     dword ptr ntdll!memcpy+0x61 (7eb31e14)[eax*4]

ntdll!memcpy+0x54:
7eb31e07 ff248d101fb37e  jmp     dword ptr ntdll!memcpy+0x158 (7eb31f10)[ecx*4]

ntdll!memcpy+0x5c:
7eb31e0f ff248d901eb37e  jmp     dword ptr ntdll!memcpy+0xdc (7eb31e90)[ecx*4]

ntdll!memcpy+0x198:
7eb31f50 8d7431fc        lea     esi,[ecx+esi-4]
7eb31f54 8d7c39fc        lea     edi,[ecx+edi-4]
7eb31f58 f7c703000000    test    edi,3
7eb31f5e 7524            jne     ntdll!memcpy+0x1cc (7eb31f84)

ntdll!memcpy+0x1a8:
7eb31f60 c1e902          shr     ecx,2
7eb31f63 83e203          and     edx,3
7eb31f66 83f908          cmp     ecx,8
7eb31f69 720d            jb      ntdll!memcpy+0x1c0 (7eb31f78)

ntdll!memcpy+0x1b3:
7eb31f6b fd              std
7eb31f6c f3a5            rep movs dword ptr es:[edi],dword ptr [esi]
7eb31f6e fc              cld
7eb31f6f ff2495a020b37e  jmp     dword ptr ntdll!memcpy+0x2e0 (7eb320a0)[edx*4]

ntdll!memcpy+0x1c0:
7eb31f78 f7d9            neg     ecx
7eb31f7a ff248d4820b37e  jmp     dword ptr ntdll!memcpy+0x290 (7eb32048)[ecx*4]

ntdll!memcpy+0x1cc:
7eb31f84 8bc7            mov     eax,edi
7eb31f86 ba03000000      mov     edx,3
7eb31f8b 83f904          cmp     ecx,4
7eb31f8e 720c            jb      ntdll!memcpy+0x1e4 (7eb31f9c)

ntdll!memcpy+0x1d8:
7eb31f90 83e003          and     eax,3
7eb31f93 2bc8            sub     ecx,eax
7eb31f95 ff2485a01fb37e  jmp     dword ptr ntdll!memcpy+0x1e8 (7eb31fa0)[eax*4]

ntdll!memcpy+0x1e4:
7eb31f9c ff248da020b37e  jmp     dword ptr ntdll!memcpy+0x2e0 (7eb320a0)[ecx*4]
`

// uf kernel32!VirtualAlloc and kernelbase!GetLastError, x86.
const ufVirtualAlloc = `kernel32!VirtualAlloc:
7c809c11 8bff            mov     edi,edi
7c809c13 55              push    ebp
7c809c14 8bec            mov     ebp,esp
7c809c16 ff7514          push    dword ptr [ebp+14h]
7c809c19 ff7510          push    dword ptr [ebp+10h]
7c809c1c ff750c          push    dword ptr [ebp+0Ch]
7c809c1f ff7508          push    dword ptr [ebp+8]
7c809c22 6aff            push    0FFFFFFFFh
7c809c24 e809000000      call    kernel32!VirtualAllocEx (7c809c32)
7c809c29 5d              pop     ebp
7c809c2a c21000          ret     10h
`

func TestUnassembleFunctionSamples(t *testing.T) {
	for _, tt := range []struct {
		name   string
		sample string
		mode   int
		branch bool
	}{
		{"MessageBoxW", ufMessageBoxW, 64, true},
		{"HeapCreate", ufHeapCreate, 32, false},
		{"memcpy", ufMemcpy, 32, false},
		{"VirtualAlloc", ufVirtualAlloc, 32, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mem, sym := fromSample(t, tt.sample)
			var start uint64
			for a, n := range sym {
				if !strings.Contains(n, "+") && a >= mem.base && a < mem.base+uint64(len(mem.b)) {
					start = a
				}
			}
			fn := UnassembleFunction(mem, sym, start, tt.mode, 0)
			ptr := tt.mode / 8
			checkRender(t, RenderFunction(fn, ptr, sym, tt.branch), tt.sample)
		})
	}
}

func TestUnassembleFunctionEdges(t *testing.T) {
	// Nothing readable.
	fn := UnassembleFunction(bytesMem{}, nil, 0x1000, 32, 0)
	if len(fn.Blocks) != 0 || !fn.Incomplete {
		t.Errorf("unreadable start: %+v", fn)
	}
	if got := RenderFunction(fn, 4, nil, true); got != "No code found, aborting\n" {
		t.Errorf("unreadable start renders %q", got)
	}
	// A loop onto itself and a jump into the middle of a block.
	mem := bytesMem{0x1000, decodeHex(t, "90"+"90"+"75fc"+"ebfa"+"c3")}
	// 1000 nop; 1001 nop; 1002 jne 1000; 1004 jmp 1000 (never falls to ret)
	fn = UnassembleFunction(mem, nil, 0x1001, 32, 0)
	var starts []uint64
	n := 0
	for _, b := range fn.Blocks {
		starts = append(starts, b.Start)
		n += len(b.Lines)
	}
	if want := []uint64{0x1000, 0x1001, 0x1004}; !equalU64(starts, want) || n != 4 {
		t.Errorf("blocks %x (%d lines), want %x", starts, n, want)
	}
	if fn.Incomplete {
		t.Errorf("complete flow marked incomplete")
	}
	// A jmp through a register cannot be followed; one through an import
	// pointer is a tail call and can be left.
	fn = UnassembleFunction(bytesMem{0x1000, decodeHex(t, "ffe0")}, nil, 0x1000, 32, 0)
	if !fn.Incomplete {
		t.Errorf("jmp eax not incomplete")
	}
	fn = UnassembleFunction(bytesMem{0x1000, decodeHex(t, "ff2500200000")}, nil, 0x1000, 32, 0)
	if fn.Incomplete {
		t.Errorf("jmp [import] marked incomplete")
	}
	// The limit bounds the work.
	fn = UnassembleFunction(bytesMem{0x1000, make([]byte, 1<<16)}, nil, 0x1000, 32, 100)
	if !fn.Incomplete || countLines(fn) != 100 {
		t.Errorf("limit: %d lines, incomplete %v", countLines(fn), fn.Incomplete)
	}
}

func countLines(fn Function) int {
	n := 0
	for _, b := range fn.Blocks {
		n += len(b.Lines)
	}
	return n
}

func equalU64(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
