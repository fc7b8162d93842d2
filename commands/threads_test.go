package commands

import (
	"bytes"
	"strings"
	"testing"

	"wdb/dump"
	"wdb/dump/dumpbuild"
)

func TestThreadsGolden(t *testing.T) { runGoldenTopic(t, "threads") }

// synthSession opens a small synthetic dump: three threads (the second has
// the exception, the first a name), an exe listed twice at one base, a
// native and a WOW64 ntdll, and one unloaded module. It needs no corpus.
func synthSession(t *testing.T, arch dump.Arch) (*Session, *bytes.Buffer) {
	t.Helper()
	b := dumpbuild.New(arch)
	b.TimeDateStamp(1700000000) // Tue Nov 14 22:13:20 2023 UTC
	b.Misc(dumpbuild.MiscInfo{Level: 4, PID: 0x1a2c, CreateTime: 1700000000 - 90061, UserTime: 37, KernelTime: 5,
		TimeZoneID: 1, TimeZone: dumpbuild.TimeZone{Bias: -120},
		BuildString: "19041.1.amd64fre.vb_release.191206-1406"})
	hi := uint64(0x7ff7) << 32
	if arch == dumpbuild.X86 {
		hi = 0
	}
	b.Module(dumpbuild.Module{Name: `C:\app\app.exe`, Base: hi | 0x00400000, Size: 0x2d000, TimeDateStamp: 0x45d35f6c, Checksum: 0x1234,
		Version: [4]uint16{1, 2, 3, 4}, PDBName: `C:\app\app.pdb`, GUID: dumpbuild.MustGUID("5A9832E5-2872-41C1-838E-D98914E9B7FF"), Age: 1})
	b.Module(dumpbuild.Module{Name: `C:\Windows\System32\ntdll.dll`, Base: hi | 0x7c900000, Size: 0xb0000, TimeDateStamp: 0x411096b4,
		Checksum: 0xaf2f7, Version: [4]uint16{5, 1, 2600, 2180}})
	b.Module(dumpbuild.Module{Name: `C:\app\app.exe`, Base: hi | 0x00400000, Size: 0x2d000})
	b.Module(dumpbuild.Module{Name: `C:\Windows\SysWOW64\ntdll.dll`, Base: 0x77cf0000, Size: 0x190000})
	b.Unloaded(dumpbuild.UnloadedModule{Name: `C:\Windows\System32\SpTip.dll`, Base: hi | 0x10000000, Size: 0x2b000})
	if arch == dumpbuild.X86 {
		b.Thread(dumpbuild.Thread{ID: 0x100, TEB: 0x7ffdf000, Name: "main", Regs: map[string]uint64{
			"eax": 0, "ebx": 0x205fb0, "ecx": 0x24d0183, "edx": 0, "esi": 0x162bcd0, "edi": 0,
			"eip": 0x3cf76982, "esp": 0x162bca4, "ebp": 0x162bcbc,
			"cs": 0x1b, "ss": 0x23, "ds": 0x23, "es": 0x23, "fs": 0x3b, "gs": 0, "efl": 0x10246}})
		b.Thread(dumpbuild.Thread{ID: 0x200, TEB: 0x7ffde000, SuspendCount: 1, Regs: map[string]uint64{"eax": 0x80000000, "eip": 0x7c90eb94}})
		b.Thread(dumpbuild.Thread{ID: 0x300, TEB: 0x7ffdd000, Regs: map[string]uint64{"eip": 0x7c90eb95}})
	} else {
		b.Thread(dumpbuild.Thread{ID: 0x100, TEB: 0xc8_2647b000, Name: "main", Regs: map[string]uint64{
			"rax": 0, "rbx": 0x10, "rcx": 0x7ffb7eccd2c4, "rdx": 0, "rsi": 0x7ffb7ed61a80, "rdi": 0x27eb6a7000,
			"rip": 0x7ffb7ed00770, "rsp": 0x27eb87f320, "rbp": 0, "r8": 0x27eb87f318, "r9": 0, "r10": 0,
			"r11": 0x246, "r12": 0x40, "r13": 0, "r14": 0x7ffb7ed548f0, "r15": 0x210ea090000, "efl": 0x246}})
		b.Thread(dumpbuild.Thread{ID: 0x200, TEB: 0xc8_2647d000, SuspendCount: 1, Regs: map[string]uint64{"rax": 0x1122334455667788, "rip": 0x7ffc00001000}})
		b.Thread(dumpbuild.Thread{ID: 0x300, TEB: 0xc8_2647f000, Regs: map[string]uint64{"rip": 0x7ffc00001001}})
	}
	b.Exception(dumpbuild.Exception{ThreadID: 0x200, Code: 0xc0000005, Address: 0x1000})
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := dump.OpenBytes(data, "synthetic.dmp")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	return NewSession(f, &out, &out), &out
}

// synthRun runs one command line on a synthetic session and returns its output.
func synthRun(s *Session, out *bytes.Buffer, line string) string {
	out.Reset()
	s.Execute(line)
	return out.String()
}

func TestThreadList(t *testing.T) {
	s, out := synthSession(t, dumpbuild.X64)
	if s.Thread != 1 || s.Prompt() != "0:001> " {
		t.Fatalf("initial thread %d prompt %q, want the exception thread 1", s.Thread, s.Prompt())
	}
	want := "   0  Id: 1a2c.100 Suspend: 0 Teb: 000000c8`2647b000 Unfrozen \"main\"\n" +
		".  1  Id: 1a2c.200 Suspend: 1 Teb: 000000c8`2647d000 Unfrozen\n" +
		"   2  Id: 1a2c.300 Suspend: 0 Teb: 000000c8`2647f000 Unfrozen\n"
	if got := synthRun(s, out, "~"); got != want {
		t.Errorf("~ =\n%s\nwant\n%s", got, want)
	}
	if got := synthRun(s, out, "~0"); !strings.HasPrefix(got, "   0  Id: 1a2c.100") || !strings.Contains(got, "      Priority: ") {
		t.Errorf("~0 = %q", got)
	}
}

func TestThreadSwitch(t *testing.T) {
	s, out := synthSession(t, dumpbuild.X64)
	got := synthRun(s, out, "~0s")
	if s.Thread != 0 || s.Prompt() != "0:000> " {
		t.Fatalf("after ~0s thread %d prompt %q", s.Thread, s.Prompt())
	}
	if !strings.HasPrefix(got, "rax=0000000000000000 rbx=0000000000000010 rcx=00007ffb7eccd2c4\n") {
		t.Errorf("~0s should print thread 0's registers, got\n%s", got)
	}
	// The exception thread is now marked '#', the current one '.'.
	list := synthRun(s, out, "~")
	if !strings.HasPrefix(list, ".  0  Id:") || !strings.Contains(list, "\n#  1  Id:") {
		t.Errorf("markers after ~0s:\n%s", list)
	}
	if got := synthRun(s, out, "~2s"); s.Thread != 2 || !strings.Contains(got, "rip=00007ffc00001001") {
		t.Errorf("~2s: thread %d, output\n%s", s.Thread, got)
	}
	if got := synthRun(s, out, "~~[200]s"); s.Thread != 1 || !strings.Contains(got, "rax=1122334455667788") {
		t.Errorf("~~[200]s: thread %d, output\n%s", s.Thread, got)
	}
	if got := synthRun(s, out, "~9s"); s.Thread != 1 || got != "        ^ Illegal thread error in '~9s'\n" {
		t.Errorf("~9s: thread %d, output %q", s.Thread, got)
	}
	// ~N cmd runs for thread N and leaves the current thread alone.
	if got := synthRun(s, out, "~0 r rax"); got != "rax=0000000000000000\n" || s.Thread != 1 {
		t.Errorf("~0 r rax = %q (thread %d)", got, s.Thread)
	}
}

func TestThreadsForEach(t *testing.T) {
	s, out := synthSession(t, dumpbuild.X64)
	want := "\n   0  Id: 1a2c.100 Suspend: 0 Teb: 000000c8`2647b000 Unfrozen \"main\"\nrip=00007ffb7ed00770\n" +
		"\n.  1  Id: 1a2c.200 Suspend: 1 Teb: 000000c8`2647d000 Unfrozen\nrip=00007ffc00001000\n" +
		"\n   2  Id: 1a2c.300 Suspend: 0 Teb: 000000c8`2647f000 Unfrozen\nrip=00007ffc00001001\n"
	for _, cmd := range []string{"~* r rip", "~*r rip", "~* e r rip"} {
		if got := synthRun(s, out, cmd); got != want {
			t.Errorf("%s =\n%s\nwant\n%s", cmd, got, want)
		}
		if s.Thread != 1 {
			t.Errorf("%s changed the current thread to %d", cmd, s.Thread)
		}
	}
}

func TestProcessStatus(t *testing.T) {
	s, out := synthSession(t, dumpbuild.X86)
	if got, want := synthRun(s, out, "|"), ".  0\tid: 1a2c\texamine\tname: C:\\app\\app.exe\n"; got != want {
		t.Errorf("| = %q, want %q", got, want)
	}
	if got, want := synthRun(s, out, "||"), ".  0 User mini dump: synthetic.dmp\n"; got != want {
		t.Errorf("|| = %q, want %q", got, want)
	}
}
