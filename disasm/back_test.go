package disasm

import (
	"strings"
	"testing"
)

// ub samples of §10.2. The bytes before the first shown instruction are not
// in the transcripts; they are filled with int3 here.
func TestUnassembleBackSamples(t *testing.T) {
	const ubLdrp = "ntdll!LdrpDoDebuggerBreak+0x10:\n" +
		"00007ff9`5170beb4 4c8d442440      lea     r8,[rsp+40h]\n" +
		"00007ff9`5170beb9 418d5110        lea     edx,[r9+10h]\n" +
		"00007ff9`5170bebd 48c7c1feffffff  mov     rcx,0FFFFFFFFFFFFFFFEh\n" +
		"00007ff9`5170bec4 e86745fcff      call    ntdll!NtQueryInformationThread (00007ff9`516d0430)\n" +
		"00007ff9`5170bec9 85c0            test    eax,eax\n" +
		"00007ff9`5170becb 780a            js      ntdll!LdrpDoDebuggerBreak+0x33 (00007ff9`5170bed7)\n" +
		"00007ff9`5170becd 807c244000      cmp     byte ptr [rsp+40h],0\n" +
		"00007ff9`5170bed2 7503            jne     ntdll!LdrpDoDebuggerBreak+0x33 (00007ff9`5170bed7)\n"
	const ubLogue = "Logue!AddAccessAllowedAceBasedSID+0x1db: \n" +
		"012711db 85c0            test    eax,eax \n" +
		"012711dd 7459            je      Logue!AddAccessAllowedAceBasedSID+0x238 (01271238) \n" +
		"012711df 8b45e8          mov     eax,dword ptr [ebp-18h] \n" +
		"012711e2 6a00            push    0 \n" +
		"012711e4 57              push    edi \n" +
		"012711e5 6a01            push    1 \n" +
		"012711e7 50              push    eax \n" +
		"012711e8 ff1564402701    call    dword ptr [Logue!_imp__SetSecurityDescriptorDacl (01274064)] \n"
	for _, tt := range []struct {
		name   string
		sample string
		mode   int
		fn     uint64 // where the function starts
		fnName string
		names  mapSym
	}{
		{"LdrpDoDebuggerBreak", ubLdrp, 64, 0x7ff95170bea4, "ntdll!LdrpDoDebuggerBreak",
			mapSym{0x7ff9516d0430: "ntdll!NtQueryInformationThread"}},
		{"Logue", ubLogue, 32, 0x01271000, "Logue!AddAccessAllowedAceBasedSID",
			mapSym{0x01274064: "Logue!_imp__SetSecurityDescriptorDacl"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := fromSample(t, strings.ReplaceAll(tt.sample, " \n", "\n"))
			// Prepend the unknown part of the function.
			pad := make([]byte, m.base-tt.fn)
			for i := range pad {
				pad[i] = 0xcc
			}
			mem := bytesMem{tt.fn, append(pad, m.b...)}
			sym := mapSym{tt.fn: tt.fnName}
			for a, n := range tt.names {
				sym[a] = n
			}
			end := m.base + uint64(len(m.b))
			checkRender(t, Render(UnassembleBack(mem, sym, end, 8, tt.mode), tt.mode/8, sym), tt.sample)
			// Without symbols the same instructions come back.
			got := UnassembleBack(mem, nil, end, 8, tt.mode)
			if len(got) != 8 || got[0].Addr != m.base {
				t.Errorf("without symbols: %d lines from %#x", len(got), got[0].Addr)
			}
		})
	}
}

func TestUnassembleBackEdges(t *testing.T) {
	if got := UnassembleBack(bytesMem{}, nil, 0, 8, 32); len(got) != 0 {
		t.Errorf("ub 0 gave %d lines", len(got))
	}
	// Near address 0 only what exists comes back.
	mem := bytesMem{0, decodeHex(t, "90"+"90"+"c3")}
	got := UnassembleBack(mem, nil, 3, 8, 32)
	if len(got) != 3 || got[0].Addr != 0 || got[2].Text != "ret" {
		t.Errorf("ub near 0: %+v", got)
	}
	// Unreadable memory before addr: one-byte "???" lines, like u.
	got = UnassembleBack(bytesMem{0x2000, []byte{0x90}}, nil, 0x2000, 4, 32)
	if len(got) != 4 || !got[3].Unreadable || got[3].Addr != 0x1fff {
		t.Errorf("ub over unreadable memory: %+v", got)
	}
	// The symbol anchor wins over votes. Decoding "b8 b8 ..." from most
	// offsets before 0x1000 runs into the nops inside "b8 90 90 90 90" at
	// 0x1000, so the votes say "nop" at 0x1004; the function start says
	// the mov at 0x1000.
	mem = bytesMem{0xff0, decodeHex(t, strings.Repeat("b8", 16)+"b890909090"+"c3")}
	if got = UnassembleBack(mem, nil, 0x1005, 1, 32); len(got) != 1 || got[0].Addr != 0x1004 {
		t.Errorf("ub by votes: %+v", got)
	}
	if got = UnassembleBack(mem, mapSym{0x1000: "m!f"}, 0x1005, 1, 32); len(got) != 1 || got[0].Addr != 0x1000 {
		t.Errorf("anchored ub: %+v", got)
	}
}
