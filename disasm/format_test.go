package disasm

import (
	"encoding/hex"
	"strings"
	"testing"
)

// golden is one WinDbg disassembly line: decode hexBytes at addr and expect
// want from FormatLine. sym names the addresses the line refers to.
type golden struct {
	mode  int
	addr  uint64
	bytes string
	want  string
	sym   mapSym
}

// Lines quoted from windbg-commands.md §10.2, §12, §14 and from WinDbg
// transcripts found in public write-ups (cited per group). Each checks a
// formatting rule; together they fix the column layout.
var goldens = []golden{
	// §10.2 uf Test!HeapFlagCheck (line numbers dropped): 18 hex digits
	// shift the mnemonic, gs: absolute, small immediates.
	{64, 0x7ff682741300, "4883ec20", "00007ff6`82741300 4883ec20        sub     rsp,20h", nil},
	{64, 0x7ff682741304, "4885c0", "00007ff6`82741304 4885c0          test    rax,rax", nil},
	{64, 0x7ff682741307, "65488b042560000000", "00007ff6`82741307 65488b042560000000 mov   rax,qword ptr gs:[60h]", nil},
	{64, 0x7ff682741314, "488b00", "00007ff6`82741314 488b00          mov     rax,qword ptr [rax]", nil},
	{64, 0x7ff68274131b, "50", "00007ff6`8274131b 50              push    rax", nil},
	{64, 0x7ff68274131c, "8b00", "00007ff6`8274131c 8b00            mov     eax,dword ptr [rax]", nil},
	{64, 0x7ff68274131e, "3560000040", "00007ff6`8274131e 3560000040      xor     eax,40000060h", nil},
	{64, 0x7ff682741323, "83f802", "00007ff6`82741323 83f802          cmp     eax,2", nil},
	{64, 0x7ff682741326, "751d", "00007ff6`82741326 751d            jne     Test!HeapFlagCheck+0x45 (00007ff6`82741345)",
		mapSym{0x7ff682741300: "Test!HeapFlagCheck"}},
	// §10.2 uf stornvme!NVMeHwStartIo (kernel addresses).
	{64, 0xfffff80158b22ab0, "4053", "fffff801`58b22ab0 4053            push    rbx", nil},
	{64, 0xfffff80158b22ab3, "4883ec28", "fffff801`58b22ab3 4883ec28        sub     rsp,28h", nil},
	// §12 r / §14 .ecxr current-instruction lines (without the
	// effective-address annotation).
	{64, 0x7ffb7ed00770, "cc", "00007ffb`7ed00770 cc              int     3", nil},
	{64, 0x7ffccdc8d3f4, "c3", "00007ffc`cdc8d3f4 c3              ret", nil},
	{64, 0x7ff830b269a2, "f3410f6f01", "00007ff8`30b269a2 f3410f6f01      movdqu  xmm0,xmmword ptr [r9]", nil},
	{32, 0x7d61c876, "c22400", "7d61c876 c22400          ret     24h", nil},
	{32, 0x3cf76982, "8b5070", "3cf76982 8b5070          mov     edx,dword ptr [eax+70h]", nil},
	{32, 0x00411515, "897904", "00411515 897904          mov     dword ptr [ecx+4],edi", nil},
	{32, 0x1c414c7e, "8b01", "1c414c7e 8b01            mov     eax,dword ptr [ecx]", nil},
	{32, 0x01050963, "5e", "01050963 5e              pop     esi", nil},
	// §1.5 banner sample: a rel32 that wraps below the instruction.
	{32, 0x725fb99e, "e9fcf8f5ff", "725fb99e e9fcf8f5ff      jmp     dwmcore!CComposition::ProcessComposition+0x131 (7255b29f)",
		mapSym{0x7255b29f - 0x131: "dwmcore!CComposition::ProcessComposition"}},

	// "Debugging MS Word with WinDbg" (2016, uf user32!MessageBoxTimeoutW):
	// 16 hex digits, sign-extended imm8, RIP-relative with a trailing imm8.
	{64, 0x777413c8, "4881ecc0000000", "00000000`777413c8 4881ecc0000000  sub     rsp,0C0h", nil},
	{64, 0x777413df, "41b898000000", "00000000`777413df 41b898000000    mov     r8d,98h", nil},
	{64, 0x777413e5, "418be9", "00000000`777413e5 418be9          mov     ebp,r9d", nil},
	{64, 0x777413e8, "e8ab83faff", "00000000`777413e8 e8ab83faff      call    user32!memset (00000000`776e9798)",
		mapSym{0x776e9798: "user32!memset"}},
	{64, 0x777413ed, "0fb78424f0000000", "00000000`777413ed 0fb78424f0000000 movzx   eax,word ptr [rsp+0F0h]", nil},
	{64, 0x777413f5, "488364243000", "00000000`777413f5 488364243000    and     qword ptr [rsp+30h],0", nil},
	{64, 0x777413fb, "833d3a0d020000", "00000000`777413fb 833d3a0d020000  cmp     dword ptr [user32!gfEMIEnable (00000000`7776213c)],0",
		mapSym{0x7776213c: "user32!gfEMIEnable"}},
	{64, 0x7774140e, "c744242050000000", "00000000`7774140e c744242050000000 mov     dword ptr [rsp+20h],50h", nil},
	{64, 0x77741429, "8984249c000000", "00000000`77741429 8984249c000000  mov     dword ptr [rsp+9Ch],eax", nil},
	{64, 0x7774146b, "4c8d9c24c0000000", "00000000`7774146b 4c8d9c24c0000000 lea     r11,[rsp+0C0h]", nil},
	{64, 0x770d2ddb, "89842480000000", "00000000`770d2ddb 89842480000000  mov     dword ptr [rsp+80h],eax", nil},
	// Kernel transcripts (uf nt!MiGetPteAddress, nt!ExFreePoolWithTag):
	// imm64 moves put one space after the mnemonic.
	{64, 0xfffff80465b20f94, "48b8f8ffffff7f000000", "fffff804`65b20f94 48b8f8ffffff7f000000 mov rax,7FFFFFFFF8h", nil},
	{64, 0xfffff80465b20fa1, "48b80000000000f9ffff", "fffff804`65b20fa1 48b80000000000f9ffff mov rax,0FFFFF90000000000h", nil},
	{64, 0xfffff803d9af77ee, "48b9ffffffffff000000", "fffff803`d9af77ee 48b9ffffffffff000000 mov rcx,0FFFFFFFFFFh", nil},
	{64, 0xfffff803d9af77f8, "49b800000040fbf6ffff", "fffff803`d9af77f8 49b800000040fbf6ffff mov r8,0FFFFF6FB40000000h", nil},
	{64, 0xfffff803d9af77de, "0f8680050000", "fffff803`d9af77de 0f8680050000    jbe     nt!ExFreePoolWithTag+0xc04 (fffff803`d9af7d64)",
		mapSym{0xfffff803d9af7d64 - 0xc04: "nt!ExFreePoolWithTag"}},
	// .NET JIT transcript: an imm64 that is an address is an "offset".
	{64, 0x7ffac63902cf, "48b8c0d6330ffb7f0000", "00007ffa`c63902cf 48b8c0d6330ffb7f0000 mov rax,offset System_Private_CoreLib+0x62d6c0 (00007ffb`0f33d6c0)",
		mapSym{0x7ffb0f33d6c0 - 0x62d6c0: "System_Private_CoreLib"}},

	// x86 transcripts: uf with line numbers (client!ex2::get_sum), an
	// AppVerifier session (NFRAgent), fastapp (KzPath.cpp).
	{32, 0x00ac190d, "8d7df4", "00ac190d 8d7df4          lea     edi,[ebp-0Ch]", nil},
	{32, 0x00ac1915, "b8cccccccc", "00ac1915 b8cccccccc      mov     eax,0CCCCCCCCh", nil},
	{32, 0x00ac191a, "f3ab", "00ac191a f3ab            rep stos dword ptr es:[edi]", nil},
	{32, 0x00ac1943, "c20800", "00ac1943 c20800          ret     8", nil},
	{32, 0x00ac19ed, "c74004d2040000", "00ac19ed c74004d2040000  mov     dword ptr [eax+4],4D2h", nil},
	{32, 0x00ac1920, "b908c0ac00", "00ac1920 b908c0ac00      mov     ecx,offset client!_NULL_IMPORT_DESCRIPTOR <PERF> (client+0x1c008) (00acc008)",
		mapSym{0x00acc008: "client!_NULL_IMPORT_DESCRIPTOR <PERF> (client+0x1c008)"}},
	{32, 0x00ac12d0, "e92b060000", "00ac12d0 e92b060000      jmp     client!ex2::get_sum (00ac1900)",
		mapSym{0x00ac1900: "client!ex2::get_sum"}},
	{32, 0x00408645, "c7852cfbffff00000000", "00408645 c7852cfbffff00000000 mov dword ptr [ebp-4D4h],0", nil},
	{32, 0x00274a38, "89bde0fdffff", "00274a38 89bde0fdffff    mov     dword ptr [ebp-220h],edi", nil},
	{32, 0x00274a48, "c745fc01000000", "00274a48 c745fc01000000  mov     dword ptr [ebp-4],1", nil},
	// "Reflective DLL Injection" (uf kernelbase!GetLastError, x86 and x64).
	{32, 0x775cecd0, "64a118000000", "775cecd0 64a118000000    mov     eax,dword ptr fs:[00000018h]", nil},
	{64, 0x7ffed4f21470, "65488b042530000000", "00007ffe`d4f21470 65488b042530000000 mov   rax,qword ptr gs:[30h]", nil},
	{64, 0x7ffed4f21479, "8b4068", "00007ffe`d4f21479 8b4068          mov     eax,dword ptr [rax+68h]", nil},
	// Game launcher crash (uf): a jump table and an immediate address.
	{32, 0x019455ef, "ff248d345a9401", "019455ef ff248d345a9401  jmp     dword ptr launcher!CreateInterface+0x544645 (01945a34)[ecx*4]",
		mapSym{0x01945a34 - 0x544645: "launcher!CreateInterface"}},
	{32, 0x019455f6, "b938669e01", "019455f6 b938669e01      mov     ecx,offset launcher!CreateInterface+0x5e5249 (019e6638)",
		mapSym{0x01945a34 - 0x544645: "launcher!CreateInterface"}},
	{32, 0x019455ed, "7723", "019455ed 7723            ja      launcher!CreateInterface+0x544223 (01945612)",
		mapSym{0x01945a34 - 0x544645: "launcher!CreateInterface"}},
}

func decodeHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestGoldenLines(t *testing.T) {
	for _, g := range goldens {
		mem := bytesMem{g.addr, decodeHex(t, g.bytes)}
		var sym Symbolizer
		if g.sym != nil {
			sym = g.sym
		}
		l := DecodeLine(mem, sym, g.addr, g.mode)
		ptr := 4
		if g.mode == 64 {
			ptr = 8
		}
		if got := FormatLine(l, ptr); got != g.want {
			t.Errorf("%s (mode %d):\n got %q\nwant %q", g.bytes, g.mode, got, g.want)
		}
		if l.Len() != len(g.bytes)/2 {
			t.Errorf("%s: length %d, want %d", g.bytes, l.Len(), len(g.bytes)/2)
		}
	}
}

// Forms the samples do not show, as dbgeng prints them (from knowledge of
// its output; each is noted where it is an assumption in format.go).
func TestInstructionForms(t *testing.T) {
	tests := []struct {
		mode  int
		bytes string
		want  string // Text
	}{
		{64, "834c2428ff", "or      dword ptr [rsp+28h],0FFFFFFFFh"},
		{64, "48c7c1feffffff", "mov     rcx,0FFFFFFFFFFFFFFFEh"},
		{64, "4883e4f0", "and     rsp,0FFFFFFFFFFFFFFF0h"},
		{32, "83e4f8", "and     esp,0FFFFFFF8h"},
		{32, "6aff", "push    0FFFFFFFFh"},
		{32, "6a00", "push    0"},
		{32, "cc", "int     3"},
		{32, "cd2e", "int     2Eh"},
		{32, "f3a5", "rep movs dword ptr es:[edi],dword ptr [esi]"},
		{32, "f2ae", "repne scas byte ptr es:[edi]"},
		{32, "f3a6", "repe cmps byte ptr [esi],byte ptr es:[edi]"},
		{32, "ac", "lods    byte ptr [esi]"},
		{64, "6e", "outs    dx,byte ptr [rsi]"},
		{64, "6c", "ins     byte ptr [rdi],dx"},
		{64, "f3ab", "rep stos dword ptr [rdi]"},
		{64, "6690", "xchg    ax,ax"},
		{64, "0f1f440000", "nop     dword ptr [rax+rax]"},
		{64, "660f1f840000000000", "nop     word ptr [rax+rax]"},
		{32, "d1e0", "shl     eax,1"},
		{32, "c1e004", "shl     eax,4"},
		{32, "d3e0", "shl     eax,cl"},
		{32, "ddd8", "fstp    st(0)"},
		{32, "d8c1", "fadd    st,st(1)"},
		{32, "dec1", "faddp   st(1),st"},
		{32, "d9c9", "fxch    st(1)"},
		{32, "dd4508", "fld     qword ptr [ebp+8]"},
		{32, "db28", "fld     tbyte ptr [eax]"},
		{32, "d97dfe", "fnstcw  word ptr [ebp-2]"},
		{32, "dfe0", "fnstsw  ax"},
		{32, "0f6fc1", "movq    mm0,mm1"},
		{64, "660f70c1e4", "pshufd  xmm0,xmm1,0E4h"},
		{64, "f20f10442408", "movsd   xmm0,qword ptr [rsp+8]"},
		{64, "c5fc2888c0000000", "vmovaps ymm1,ymmword ptr [rax+0C0h]"},
		{64, "410fb6c0", "movzx   eax,r8b"},
		{64, "4088f0", "mov     al,sil"},
		{64, "4d8bc8", "mov     r9,r8"},
		{64, "66894c2402", "mov     word ptr [rsp+2],cx"},
		{64, "4863c8", "movsxd  rcx,eax"},
		{32, "6bc0fc", "imul    eax,eax,0FFFFFFFCh"},
		{32, "c8100000", "enter   10h,0"},
		{32, "e460", "in      al,60h"},
		{32, "8d7431fc", "lea     esi,[ecx+esi-4]"},
		{32, "8b4c8df0", "mov     ecx,dword ptr [ebp+ecx*4-10h]"},
		{32, "8b0c8500104000", "mov     ecx,dword ptr [eax*4+401000h]"},
		{32, "a118000000", "mov     eax,dword ptr ds:[00000018h]"},
		{32, "64a300000000", "mov     dword ptr fs:[00000000h],eax"},
		{64, "c7042500000000" + "00000000", "mov     dword ptr [0],0"},
		{64, "f3c3", "rep ret"},
		{32, "9c", "pushfd"},
		{64, "9c", "pushfq"},
		{32, "0f0b", "ud2"},
		{64, "0f05", "syscall"},
		{32, "f00fc111", "lock xadd dword ptr [ecx],edx"},
		{64, "ffe0", "jmp     rax"},
		{64, "ff2500100000", "jmp     qword ptr [00000000`00402006]"},
		{64, "488d0500100000", "lea     rax,[00000000`00402007]"},
		{64, "e800000000", "call    00000000`00401005"},
		{32, "ff15e0204000", "call    dword ptr ds:[004020E0h]"},
		{32, "8cd8", "mov     eax,ds"},
	}
	for _, tt := range tests {
		mem := bytesMem{0x401000, decodeHex(t, tt.bytes)}
		l := DecodeLine(mem, nil, 0x401000, tt.mode)
		if l.Text != tt.want {
			t.Errorf("%s (mode %d): got %q, want %q", tt.bytes, tt.mode, l.Text, tt.want)
		}
		if l.Len() != len(tt.bytes)/2 {
			t.Errorf("%s: length %d, want %d", tt.bytes, l.Len(), len(tt.bytes)/2)
		}
	}
}

func TestBadBytes(t *testing.T) {
	// §14.1: "41414141 ??              ???" for an eip in unmapped memory.
	l := DecodeLine(bytesMem{}, nil, 0x41414141, 32)
	if !l.Unreadable || l.Len() != 1 {
		t.Fatalf("unreadable line %+v", l)
	}
	if got, want := FormatLine(l, 4), "41414141 ??              ???"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// An undecodable byte is shown alone and stepped over.
	lines := Unassemble(bytesMem{0x1000, []byte{0xff, 0xff, 0x90}}, nil, 0x1000, 3, 32)
	want := []string{
		"00001000 ff              ???",
		"00001001 ff              ???",
		"00001002 90              nop",
	}
	for i, l := range lines {
		if got := FormatLine(l, 4); got != want[i] {
			t.Errorf("line %d: got %q, want %q", i, got, want[i])
		}
	}
	if !lines[0].Invalid {
		t.Errorf("ff ff not marked invalid")
	}
	// An instruction cut by the end of captured memory does not decode.
	l = DecodeLine(bytesMem{0x1000, []byte{0xe8, 0x00}}, nil, 0x1000, 32)
	if !l.Invalid || l.Text != "???" {
		t.Errorf("truncated instruction: %+v", l)
	}
	// u over unreadable memory still gives count lines, one byte apart.
	lines = Unassemble(bytesMem{}, nil, 0, 8, 64)
	if len(lines) != 8 || lines[7].Addr != 7 {
		t.Errorf("u on unreadable memory: %d lines, last at %#x", len(lines), lines[len(lines)-1].Addr)
	}
	if _, err := Decode(bytesMem{}, 0, 16); err == nil {
		t.Errorf("mode 16 accepted")
	}
}

func TestLineFlags(t *testing.T) {
	mem := bytesMem{0x1000, decodeHex(t, "e8fb0f0000"+"7402"+"ebfe"+"ffd0"+"c3"+"c20400"+"ff2500200000")}
	lines := Unassemble(mem, nil, 0x1000, 7, 32)
	check := func(i int, call, jump, cond, ind, ret bool, target uint64) {
		t.Helper()
		l := lines[i]
		if l.IsCall != call || l.IsJump != jump || l.Conditional != cond || l.Indirect != ind || l.IsRet != ret || l.Target != target {
			t.Errorf("line %d %q: call=%v jump=%v cond=%v indirect=%v ret=%v target=%#x", i, l.Text, l.IsCall, l.IsJump, l.Conditional, l.Indirect, l.IsRet, l.Target)
		}
	}
	check(0, true, false, false, false, false, 0x2000)
	check(1, false, true, true, false, false, 0x1009)
	check(2, false, true, false, false, false, 0x1007)
	check(3, true, false, false, true, false, 0)
	check(4, false, false, false, false, true, 0)
	check(5, false, false, false, false, true, 0)
	check(6, false, true, false, true, false, 0)
	if lines[6].MemTarget != 0x2000 {
		t.Errorf("MemTarget of jmp [00002000h] = %#x", lines[6].MemTarget)
	}
}

func TestMasm(t *testing.T) {
	for v, want := range map[uint64]string{
		0: "0", 9: "9", 10: "0Ah", 0x10: "10h", 0xc0: "0C0h", 0x4d2: "4D2h",
		0xfffffffffffffffe: "0FFFFFFFFFFFFFFFEh",
	} {
		if got := masm(v); got != want {
			t.Errorf("masm(%#x) = %q, want %q", v, got, want)
		}
	}
}

// checkRender compares Render/RenderFunction output with a sample, ignoring
// trailing spaces (some sources keep them, some do not).
func checkRender(t *testing.T, got, want string) {
	t.Helper()
	norm := func(s string) string {
		ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
		for i := range ls {
			ls[i] = strings.TrimRight(ls[i], " ")
		}
		return strings.Join(ls, "\n")
	}
	if g, w := norm(got), norm(want); g != w {
		gl, wl := strings.Split(g, "\n"), strings.Split(w, "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var a, b string
			if i < len(gl) {
				a = gl[i]
			}
			if i < len(wl) {
				b = wl[i]
			}
			if a != b {
				t.Errorf("line %d:\n got %q\nwant %q", i+1, a, b)
			}
		}
	}
}

// memFrom builds memory from "address bytes" pairs, filling gaps with int3.
func memFrom(t *testing.T, base, size uint64, parts map[uint64]string) bytesMem {
	t.Helper()
	b := make([]byte, size)
	for i := range b {
		b[i] = 0xcc
	}
	for a, h := range parts {
		copy(b[a-base:], decodeHex(t, h))
	}
	return bytesMem{base, b}
}

// §10.2 u @rip (starship crash report): vmovaps with 16 hex digits, a label
// with the displacement, RIP-relative data.
func TestRenderStarship(t *testing.T) {
	const base = 0x7ff68c915915
	mem := bytesMem{base, decodeHex(t, "c5fc2888c0000000"+"488bb0c0000000"+"c5fc2980c0000000"+"c5fc294b20"+"4885f6"+"0f8493000000"+"488b05876c2f00"+"4883f801")}
	sym := mapSym{base - 0x185915: "starship_70f20c3ed1a6265e!Ordinal0", 0x7ff68cc0c5c8 - 0x141918: "starship_70f20c3ed1a6265e!git_libgit2_opts"}
	checkRender(t, Render(Unassemble(mem, sym, base, 8, 64), 8, sym), `starship_70f20c3ed1a6265e!Ordinal0+0x185915:
00007ff6`+"`"+`8c915915 c5fc2888c0000000 vmovaps ymm1,ymmword ptr [rax+0C0h]
00007ff6`+"`"+`8c91591d 488bb0c0000000  mov     rsi,qword ptr [rax+0C0h]
00007ff6`+"`"+`8c915924 c5fc2980c0000000 vmovaps ymmword ptr [rax+0C0h],ymm0
00007ff6`+"`"+`8c91592c c5fc294b20      vmovaps ymmword ptr [rbx+20h],ymm1
00007ff6`+"`"+`8c915931 4885f6          test    rsi,rsi
00007ff6`+"`"+`8c915934 0f8493000000    je      starship_70f20c3ed1a6265e!Ordinal0+0x1859cd (00007ff6`+"`"+`8c9159cd)
00007ff6`+"`"+`8c91593a 488b05876c2f00  mov     rax,qword ptr [starship_70f20c3ed1a6265e!git_libgit2_opts+0x141918 (00007ff6`+"`"+`8cc0c5c8)]
00007ff6`+"`"+`8c915941 4883f801        cmp     rax,1
`)
}

// §10.2 u of a symbol start, and of a range whose branch target lies in a
// different "`string'" symbol.
func TestRenderDocSamples(t *testing.T) {
	mem := bytesMem{0x7ff959269e80, decodeHex(t, "48895c2408"+"4889742410"+"57")}
	sym := mapSym{0x7ff959269e80: "COMCTL32!DllMainCRTStartup"}
	checkRender(t, Render(Unassemble(mem, sym, 0x7ff959269e80, 3, 64), 8, sym), "COMCTL32!DllMainCRTStartup:\n"+
		"00007ff9`59269e80 48895c2408      mov     qword ptr [rsp+8],rbx\n"+
		"00007ff9`59269e85 4889742410      mov     qword ptr [rsp+10h],rsi\n"+
		"00007ff9`59269e8a 57              push    rdi\n")

	mem = bytesMem{0x7ffc0f1d48fa, decodeHex(t, "6e"+"7464"+"6c")}
	sym = mapSym{0x7ffc0f1d48f0: "ntdll!`string'", 0x7ffc0f1d4940: "ntdll!`string'"}
	checkRender(t, Render(Unassemble(mem, sym, 0x7ffc0f1d48fa, 3, 64), 8, sym), "ntdll!`string'+0xa:\n"+
		"00007ffc`0f1d48fa 6e              outs    dx,byte ptr [rsi]\n"+
		"00007ffc`0f1d48fb 7464            je      ntdll!`string'+0x21 (00007ffc`0f1d4961)\n"+
		"00007ffc`0f1d48fd 6c              ins     byte ptr [rdi],dx\n")

	// A label before every instruction that starts a symbol, none where the
	// symbolizer knows nothing (§14.1).
	mem = bytesMem{0x1000, decodeHex(t, "c3"+"90")}
	sym = mapSym{0x1000: "m!a", 0x1001: "m!b"}
	checkRender(t, Render(Unassemble(mem, sym, 0x1000, 2, 32), 4, sym), "m!a:\n00001000 c3              ret\nm!b:\n00001001 90              nop\n")
	checkRender(t, Render(Unassemble(mem, nil, 0x1000, 2, 32), 4, nil), "00001000 c3              ret\n00001001 90              nop\n")
	// "ILT+715(...)" has a "+" but no displacement.
	if !isSymbolStart(mapSym{0x1000: "client!ILT+715(?get_sumex2UAEHHHZ)"}, 0x1000) {
		t.Errorf("ILT thunk name not taken as a symbol start")
	}
}

func TestFormatLineWithEA(t *testing.T) {
	// §14.1: the annotation follows the text padded to 28 columns.
	for _, tt := range []struct {
		mode  int
		addr  uint64
		bytes string
		ea    string
		want  string
	}{
		{32, 0x1c414c7e, "8b01", "ds:002b:00000000=????????", "1c414c7e 8b01            mov     eax,dword ptr [ecx]  ds:002b:00000000=????????"},
		{32, 0x00411515, "897904", "ds:002b:72727276=????????", "00411515 897904          mov     dword ptr [ecx+4],edi ds:002b:72727276=????????"},
		{32, 0x3cf76982, "8b5070", "ds:0023:00000070=????????", "3cf76982 8b5070          mov     edx,dword ptr [eax+70h] ds:0023:00000070=????????"},
		{64, 0x7ff830b269a2, "f3410f6f01", "ds:00000001`00000000=????????????????????????????????", "00007ff8`30b269a2 f3410f6f01      movdqu  xmm0,xmmword ptr [r9] ds:00000001`00000000=????????????????????????????????"},
	} {
		l := DecodeLine(bytesMem{tt.addr, decodeHex(t, tt.bytes)}, nil, tt.addr, tt.mode)
		ptr := 4
		if tt.mode == 64 {
			ptr = 8
		}
		if got := FormatLineWithEA(l, ptr, tt.ea); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}
