package commands

import (
	"path/filepath"
	"strings"
	"testing"
)

const sigsegvDump = "llvm-mirror__lldb/test/Shell/Minidump/Windows/Sigsegv/Inputs/sigsegv.dmp"

// lldb's sigsegv.test pins the instructions at the faulting RIP:
// movl $0x0,0x0; leaq 0x1f45(%rip),%rcx; callq 0x7ff7a1311019; addq $0x28,%rsp; retq; int3.
func TestUnassembleSigsegv(t *testing.T) {
	p := corpusDump(t, sigsegvDump)
	s, _ := openSession(t, p)
	if err := s.SetSymbolPath(filepath.Dir(p)); err != nil {
		t.Fatal(err)
	}
	want := "sigsegv!crash+0x29:\n" +
		"00007ff7`a13110d9 c704250000000000000000 mov dword ptr [0],0\n" +
		"00007ff7`a13110e4 488d0d451f0000  lea     rcx,[sigsegv!foo+0x1f30 (00007ff7`a1313030)]\n" +
		"00007ff7`a13110eb e829ffffff      call    sigsegv+0x1019 (00007ff7`a1311019)\n" +
		"00007ff7`a13110f0 4883c428        add     rsp,28h\n" +
		"00007ff7`a13110f4 c3              ret\n" +
		"00007ff7`a13110f5 cc              int     3\n"
	if got := run(t, s, "u 7ff7a13110d9 L6"); got != want {
		t.Errorf("u:\n got %q\nwant %q", got, want)
	}
	// Enter after u continues where it stopped.
	if got := run(t, s, ""); !strings.HasPrefix(got, "sigsegv!crash+0x46:\n00007ff7`a13110f6 cc              int     3\n") {
		t.Errorf("u continuation: %q", got)
	}
	if got := run(t, s, "ub 7ff7a13110d9 L1"); got != "sigsegv!crash+0x24:\n00007ff7`a13110d4 e840ffffff      call    sigsegv+0x1019 (00007ff7`a1311019)\n" {
		t.Errorf("ub: %q", got)
	}
}
