package commands

import (
	"testing"

	"wdb/dump/dumpbuild"
)

func TestRegistersGolden(t *testing.T) { runGoldenTopic(t, "registers") }

// The synthetic threads carry the register values of the §12 samples, so the
// blocks must match the samples line for line; the code is not in the dump,
// so the location line is WinDbg's "?? ???" form.
func TestRegisterBlockX64(t *testing.T) {
	s, out := synthSession(t, dumpbuild.X64)
	synthRun(s, out, "~0s")
	want := "rax=0000000000000000 rbx=0000000000000010 rcx=00007ffb7eccd2c4\n" +
		"rdx=0000000000000000 rsi=00007ffb7ed61a80 rdi=00000027eb6a7000\n" +
		"rip=00007ffb7ed00770 rsp=00000027eb87f320 rbp=0000000000000000\n" +
		" r8=00000027eb87f318  r9=0000000000000000 r10=0000000000000000\n" +
		"r11=0000000000000246 r12=0000000000000040 r13=0000000000000000\n" +
		"r14=00007ffb7ed548f0 r15=00000210ea090000\n" +
		"iopl=0         nv up ei pl zr na pe nc\n" +
		"cs=0033  ss=002b  ds=002b  es=002b  fs=0053  gs=002b             efl=00000246\n" +
		"00007ffb`7ed00770 ??              ???\n"
	if got := synthRun(s, out, "r"); got != want {
		t.Errorf("r =\n%s\nwant\n%s", got, want)
	}
}

func TestRegisterBlockX86(t *testing.T) {
	s, out := synthSession(t, dumpbuild.X86)
	synthRun(s, out, "~0s")
	want := "eax=00000000 ebx=00205fb0 ecx=024d0183 edx=00000000 esi=0162bcd0 edi=00000000\n" +
		"eip=3cf76982 esp=0162bca4 ebp=0162bcbc iopl=0         nv up ei pl zr na pe nc\n" +
		"cs=001b  ss=0023  ds=0023  es=0023  fs=003b  gs=0000             efl=00010246\n" +
		"3cf76982 ??              ???\n"
	if got := synthRun(s, out, "r"); got != want {
		t.Errorf("r =\n%s\nwant\n%s", got, want)
	}
}

func TestRegisterFlags(t *testing.T) {
	for _, c := range []struct {
		efl  uint32
		want string
	}{
		{0x202, "nv up ei pl nz na po nc"},
		{0x246, "nv up ei pl zr na pe nc"},
		{0x200212, "nv up ei pl nz ac po nc"},
		{0xed5, "ov dn ei ng zr ac pe cy"},
		{0x80202, "vif nv up ei pl nz na po nc"},
	} {
		got := ""
		for i, f := range eflagsMnemonics(c.efl) {
			if i > 0 {
				got += " "
			}
			got += f
		}
		if got != c.want {
			t.Errorf("efl %#x: %q, want %q", c.efl, got, c.want)
		}
	}
}

func TestRegisterSingle(t *testing.T) {
	s, out := synthSession(t, dumpbuild.X64)
	for _, c := range [][2]string{
		{"r rax", "rax=1122334455667788\n"},
		{"r eax", "eax=55667788\n"}, // sub-registers print unpadded
		{"r al", "al=88\n"},
		{"r ah", "ah=77\n"},
		{"r r8d", "r8d=0\n"},
		{"r rax, rip", "rax=1122334455667788 rip=00007ffc00001000\n"},
		{"r efl", "efl=00000246\n"},
		{"r zf", "zf=1\n"},
		{"r cs", "cs=0033\n"},
		{"r $ptrsize", "$ptrsize=0000000000000008\n"},
		{"r $tid", "$tid=0000000000000200\n"},
		{"r foo", "Bad register error at 'foo'\n"},
	} {
		if got := synthRun(s, out, c[0]); got != c[1] {
			t.Errorf("%s = %q, want %q", c[0], got, c[1])
		}
	}
	s32, out32 := synthSession(t, dumpbuild.X86)
	for _, c := range [][2]string{
		{"r eax", "eax=80000000\n"},
		{"r ax", "ax=0\n"},
		{"r eip", "eip=7c90eb94\n"},
		{"r rax", "Bad register error at 'rax'\n"},
		{"r $t0", "$t0=00000000\n"},
	} {
		if got := synthRun(s32, out32, c[0]); got != c[1] {
			t.Errorf("x86 %s = %q, want %q", c[0], got, c[1])
		}
	}
}

func TestRegisterPseudoAssign(t *testing.T) {
	s, out := synthSession(t, dumpbuild.X64)
	for _, c := range [][2]string{
		{"r $t0", "$t0=0000000000000000\n"},
		{"r $t0 = 5*3", ""},
		{"r $t0", "$t0=000000000000000f\n"},
		{"? @$t0 + 1", "Evaluate expression: 16 = 00000000`00000010\n"},
		{"r @$t1=5", ""},
		{"r $t19=@$t0+@$t1", ""},
		{"r $t19, $t1", "$t19=0000000000000014 $t1=0000000000000005\n"},
		{"r $t2 = @rax", ""},
		{"r $t2", "$t2=1122334455667788\n"},
		{"r $t3 = 1, $t4 = 2", ""},
		{"r $t3, $t4", "$t3=0000000000000001 $t4=0000000000000002\n"},
		{"r $t20 = 1", "Bad register error at '$t20'\n"},
		{"r $ip = 1", "Bad register error at '$ip': $ip is read-only\n"},
		{"r $t0 = nosuch", "Couldn't resolve error at 'nosuch'\n"},
	} {
		if got := synthRun(s, out, c[0]); got != c[1] {
			t.Errorf("%s = %q, want %q", c[0], got, c[1])
		}
	}
	if s.PseudoRegs[0] != 15 || s.PseudoRegs[1] != 5 || s.PseudoRegs[19] != 20 {
		t.Errorf("PseudoRegs = %v", s.PseudoRegs)
	}
}

func TestRegisterWrite(t *testing.T) {
	s, out := synthSession(t, dumpbuild.X64)
	for _, c := range [][2]string{
		{"r eax = 0", ""},
		{"r rax", "rax=1122334400000000\n"},
		{"r al = 1ff", ""}, // only the low byte is stored
		{"r rax", "rax=11223344000000ff\n"},
		{"r ah=12", ""},
		{"r rax", "rax=11223344000012ff\n"},
		{"r zf=0", ""},
		{"r efl", "efl=00000206\n"},
		{"r r8=7", ""},
		{"r r8d", "r8d=7\n"},
	} {
		if got := synthRun(s, out, c[0]); got != c[1] {
			t.Errorf("%s = %q, want %q", c[0], got, c[1])
		}
	}
}
