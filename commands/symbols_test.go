package commands

import (
	"path/filepath"
	"strings"
	"testing"
)

const miniDump = "getsentry__symbolic/symbolic-testutils/fixtures/windows/mini.dmp"

// mini.dmp with crash.pdb beside it: the symbolic and symbolicator snapshots
// name crash!main at the crash address 0x2a2a3d (main+0x12d, main.cpp:35).
func TestSymbolsMiniDump(t *testing.T) {
	s, _ := openSession(t, corpusDump(t, miniDump))
	if err := s.SetSymbolPath(filepath.Dir(corpusDump(t, miniDump))); err != nil {
		t.Fatal(err)
	}
	out := run(t, s, "ln 0x2a2a3d")
	want := " [c:\\projects\\breakpad-tools\\windows\\crash\\main.cpp @ 35] (002a2910)   crash!main+0x12d   |  (002a2a6e)   crash!__security_check_cookie\n"
	if out != want {
		t.Errorf("ln:\n got %q\nwant %q", out, want)
	}
	out = run(t, s, "x crash!*")
	for _, l := range []string{"002a2910          crash!main (<no parameter info>)\n", "002a2c9e          crash!__scrt_common_main_seh (<no parameter info>)\n"} {
		if !strings.Contains(out, l) {
			t.Errorf("x crash!* lacks %q", l)
		}
	}
	if n := strings.Count(out, "\n"); n < 100 {
		t.Errorf("x crash!* lists %d symbols", n)
	}
	out = run(t, s, "lm m crash")
	if !strings.Contains(out, "crash      (pdb symbols)          ") || !strings.HasSuffix(strings.TrimSpace(out), "crash.pdb") {
		t.Errorf("lm m crash:\n%s", out)
	}
	if out := run(t, s, "? crash!main"); out != "Evaluate expression: 2763024 = 002a2910\n" {
		t.Errorf("? crash!main: %q", out)
	}
	out = run(t, s, "ln crash!main")
	if !strings.Contains(out, "Exact matches:\n    crash!main (<no parameter info>)\n") {
		t.Errorf("ln at a symbol start:\n%s", out)
	}
}

// Without a symbol path, the images captured in the Windows 7 full dumps
// give their export tables.
func TestSymbolsExportsFromDumpImages(t *testing.T) {
	s, _ := openSession(t, corpusDump(t, simpleParseDump))
	out := run(t, s, "x kernel32!*Alloc*")
	for _, l := range []string{"75de2fb6          kernel32!VirtualAlloc (<no parameter info>)\n", "75dd9ce1          kernel32!GlobalAlloc (<no parameter info>)\n"} {
		if !strings.Contains(out, l) {
			t.Errorf("x kernel32!*Alloc* lacks %q:\n%s", l, out)
		}
	}
	if out := run(t, s, "? ntdll!RtlAllocateHeap"); out != "Evaluate expression: 2009214422 = 77c22dd6\n" {
		t.Errorf("%q", out)
	}
	if out := run(t, s, "lm m kernel32"); !strings.Contains(out, "kernel32   (export symbols)       kernel32.dll") {
		t.Errorf("lm after use:\n%s", out)
	}
	// Stale frames below the stack pointer hold return addresses into the system DLLs.
	out = run(t, s, "dps 2dd000 2e0000")
	if !strings.Contains(out, " ntdll!") || !strings.Contains(out, " kernel32!") {
		t.Errorf("dps over the stack names no ntdll/kernel32 addresses:\n%s", out[:min(len(out), 2000)])
	}
}

func TestSympathCommands(t *testing.T) {
	s, _ := openSession(t, corpusDump(t, simpleParseDump))
	if out := run(t, s, `.sympath c:\a;srv*c:\cache*https://example.invalid/sym`); !strings.HasPrefix(out, "Symbol search path is: c:\\a;srv*c:\\cache*https://example.invalid/sym\n") {
		t.Errorf(".sympath: %q", out)
	}
	run(t, s, ".sympath+ d:\\b")
	if p := s.Symbols.Path().String(); p != `c:\a;srv*c:\cache*https://example.invalid/sym;d:\b` {
		t.Errorf("after .sympath+: %q", p)
	}
	run(t, s, ".symfix")
	if out := run(t, s, ".sympath"); !strings.HasPrefix(out, "Symbol search path is: srv*\nExpanded Symbol search path is: ") {
		t.Errorf(".symfix: %q", out)
	}
	if out := run(t, s, ".exepath c:\\images"); out != "Executable image search path is: c:\\images\n" {
		t.Errorf(".exepath: %q", out)
	}
	if out := run(t, s, "!sym noisy"); out != "noisy mode - symbol prompts on\n" {
		t.Errorf("!sym noisy: %q", out)
	}
	run(t, s, ".sympath "+filepath.Dir(corpusDump(t, simpleParseDump)))
	if out := run(t, s, ".reload /f ntdll"); !strings.Contains(out, "ntdll") {
		t.Errorf("noisy .reload says nothing: %q", out)
	}
}

// The kdlibcpp Windows 10 dumps with their targetapp.pdb files (x64, x86 and
// WOW64): wmain resolves at the RVA the PDB gives (0x1a00, 0x1860, 0x26a00).
func TestSymbolsKdlibcpp(t *testing.T) {
	for _, c := range []struct {
		dump string
		rva  uint64
	}{
		{"ivellioscolin__kdlibcpp/kdlib/tests/dumps/targetapp_test_cv_allreg_amd64/targetapp_test_cv_allreg_amd64.dmp", 0x1a00},
		{"ivellioscolin__kdlibcpp/kdlib/tests/dumps/targetapp_test_cv_allreg_i386/targetapp_test_cv_allreg_i386.dmp", 0x1860},
		{"ivellioscolin__kdlibcpp/kdlib/tests/dumps/targetapp_stacktest_wow64/targetapp_stacktest_wow64.cab.dmp", 0x26a00},
	} {
		p := corpusDump(t, c.dump)
		s, _ := openSession(t, p)
		s.SetSymbolPath(filepath.Dir(p))
		base, ok := s.Symbols.Lookup("targetapp")
		addr, ok2 := s.Symbols.Lookup("targetapp!wmain")
		if !ok || !ok2 || addr != base+c.rva {
			t.Errorf("%s: wmain at %#x (base %#x), want base+%#x", filepath.Base(p), addr, base, c.rva)
		}
		if out := run(t, s, "lm m targetapp"); !strings.Contains(out, "(pdb symbols)") {
			t.Errorf("%s: %s", filepath.Base(p), out)
		}
	}
}
