package disasm

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"wdb/dump"
	"wdb/symbols/image"
)

// sigsegv.dmp (x64, Windows 10.0.16299): lldb's test disassembles at the
// faulting rip in AT&T syntax (test/Shell/Minidump/Windows/Sigsegv/
// sigsegv.test):
//
//	0x7ff7a13110d9: movl   $0x0, 0x0
//	0x7ff7a13110e4: leaq   0x1f45(%rip), %rcx
//	0x7ff7a13110eb: callq  0x7ff7a1311019
//	0x7ff7a13110f0: addq   $0x28, %rsp
//	0x7ff7a13110f4: retq
//	0x7ff7a13110f5: int3
//
// The same instructions in WinDbg's Intel syntax, named by module only.
func TestSigsegvLLDB(t *testing.T) {
	f := openCorpus(t, "llvm-mirror__lldb/test/Shell/Minidump/Windows/Sigsegv/Inputs/sigsegv.dmp")
	sym := newModSym(f)
	lines := Unassemble(f, sym, 0x7ff7a13110d9, 6, 64)
	checkRender(t, Render(lines, 8, sym), "sigsegv+0x10d9:\n"+
		"00007ff7`a13110d9 c7042500000000"+"00000000 mov dword ptr [0],0\n"+
		"00007ff7`a13110e4 488d0d451f0000  lea     rcx,[sigsegv+0x3030 (00007ff7`a1313030)]\n"+
		"00007ff7`a13110eb e829ffffff      call    sigsegv+0x1019 (00007ff7`a1311019)\n"+
		"00007ff7`a13110f0 4883c428        add     rsp,28h\n"+
		"00007ff7`a13110f4 c3              ret\n"+
		"00007ff7`a13110f5 cc              int     3\n")
	if l := lines[2]; !l.IsCall || l.Target != 0x7ff7a1311019 {
		t.Errorf("call: %+v", l)
	}
	if l := lines[1]; l.MemTarget != 0x7ff7a1313030 {
		t.Errorf("lea target %#x", l.MemTarget)
	}
	if m := lines[0].Mem; m == nil || m.Size != 4 || m.Base != "" || m.Disp != 0 {
		t.Errorf("mov dword ptr [0] operand: %+v", m)
	}

	// ub lands on the instruction boundaries lldb's listing implies, and
	// uf of the enclosing code follows the je around the faulting store.
	back := UnassembleBack(f, sym, 0x7ff7a13110f0, 3, 64)
	if len(back) != 3 || back[0].Addr != 0x7ff7a13110d9 || back[2].Addr != 0x7ff7a13110eb {
		t.Errorf("ub: %s", Render(back, 8, sym))
	}
	fn := UnassembleFunction(f, sym, 0x7ff7a13110b0, 64, 0)
	checkRender(t, RenderFunction(fn, 8, sym, true), "sigsegv+0x10b0:\n"+
		"00007ff7`a13110b0 884c2408        mov     byte ptr [rsp+8],cl\n"+
		"00007ff7`a13110b4 4883ec28        sub     rsp,28h\n"+
		"00007ff7`a13110b8 488d0d411f0000  lea     rcx,[sigsegv+0x3000 (00007ff7`a1313000)]\n"+
		"00007ff7`a13110bf e855ffffff      call    sigsegv+0x1019 (00007ff7`a1311019)\n"+
		"00007ff7`a13110c4 0fb6442430      movzx   eax,byte ptr [rsp+30h]\n"+
		"00007ff7`a13110c9 85c0            test    eax,eax\n"+
		"00007ff7`a13110cb 7417            je      sigsegv+0x10e4 (00007ff7`a13110e4)  Branch\n"+
		"\n"+
		"sigsegv+0x10cd:\n"+
		"00007ff7`a13110cd 488d0d3c1f0000  lea     rcx,[sigsegv+0x3010 (00007ff7`a1313010)]\n"+
		"00007ff7`a13110d4 e840ffffff      call    sigsegv+0x1019 (00007ff7`a1311019)\n"+
		"00007ff7`a13110d9 c7042500000000"+"00000000 mov dword ptr [0],0\n"+
		"\n"+
		"sigsegv+0x10e4:\n"+
		"00007ff7`a13110e4 488d0d451f0000  lea     rcx,[sigsegv+0x3030 (00007ff7`a1313030)]\n"+
		"00007ff7`a13110eb e829ffffff      call    sigsegv+0x1019 (00007ff7`a1311019)\n"+
		"00007ff7`a13110f0 4883c428        add     rsp,28h\n"+
		"00007ff7`a13110f4 c3              ret\n")
}

// trace is a manticore run: the EIPs it executed in a Windows 7 x86 dump.
type trace struct {
	name    string
	dump    string
	visited map[uint64]bool
	list    []uint64
}

func loadTraces(t *testing.T) []trace {
	t.Helper()
	root := filepath.Join(corpus, "trailofbits__manticore/tests/memdumps")
	files, _ := filepath.Glob(filepath.Join(root, "*", "*visited*.txt"))
	if len(files) == 0 {
		t.Skipf("manticore traces not available under %s", root)
	}
	var ts []trace
	for _, vf := range files {
		dmps, _ := filepath.Glob(filepath.Join(filepath.Dir(vf), "*.dmp"))
		if len(dmps) != 1 {
			continue
		}
		tr := trace{name: filepath.Base(vf), dump: dmps[0], visited: map[uint64]bool{}}
		fh, err := os.Open(vf)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			s := strings.TrimSpace(sc.Text())
			if i := strings.IndexByte(s, ':'); i >= 0 { // "0:008f1029"
				s = s[i+1:]
			}
			v, err := strconv.ParseUint(s, 16, 64)
			if err != nil {
				continue
			}
			tr.visited[v] = true
			tr.list = append(tr.list, v)
		}
		fh.Close()
		ts = append(ts, tr)
	}
	return ts
}

func openDump(t *testing.T, path string) *dump.File {
	t.Helper()
	f, err := dump.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// Instruction lengths: after an instruction that does not transfer control,
// the CPU executed the next one, so it must be in the trace too. The only
// allowed exceptions are sysenter (the trace stops at the kernel boundary)
// and one faulting instruction per run (the crash the dump records).
func TestManticoreLengths(t *testing.T) {
	for _, tr := range loadTraces(t) {
		f := openDump(t, tr.dump)
		sym := newModSym(f)
		faults := 0
		for _, v := range tr.list {
			in, err := Decode(f, v, 32)
			if err != nil {
				t.Errorf("%s: %#x does not decode: %v", tr.name, v, err)
				continue
			}
			l := in.Line(sym)
			if l.IsJump || l.IsCall || l.IsRet || in.X86.Op.String() == "SYSENTER" {
				continue
			}
			if !tr.visited[l.Next()] {
				faults++
				if faults > 1 || l.Mem == nil {
					t.Errorf("%s: %s: next %#x not in the trace", tr.name, FormatLine(l, 4), l.Next())
				}
			}
		}
	}
}

// ub must find the instructions the trace executed before each EIP, where
// they ran straight into it.
func TestManticoreUnassembleBack(t *testing.T) {
	for _, tr := range loadTraces(t) {
		f := openDump(t, tr.dump)
		sym := newModSym(f)
		checked := 0
		for _, v := range tr.list {
			// The straight-line run of traced instructions ending at v.
			var chain []uint64
			for cur := v; len(chain) < 8; {
				prev := uint64(0)
				for d := uint64(1); d <= maxInstLen && d <= cur; d++ {
					if p := cur - d; tr.visited[p] {
						if in, err := Decode(f, p, 32); err == nil && p+uint64(in.Len()) == cur {
							prev = p
							break
						}
					}
				}
				if prev == 0 {
					break
				}
				chain = append([]uint64{prev}, chain...)
				cur = prev
			}
			if len(chain) == 0 {
				continue
			}
			checked++
			got := UnassembleBack(f, sym, v, len(chain), 32)
			var addrs []uint64
			for _, l := range got {
				addrs = append(addrs, l.Addr)
			}
			if !equalU64(addrs, chain) {
				t.Errorf("%s: ub %x L%d: got %x, want %x", tr.name, v, len(chain), addrs, chain)
			}
		}
		if checked < 500 {
			t.Errorf("%s: only %d straight-line runs checked", tr.name, checked)
		}
	}
}

// Exported functions start instructions; decoding forward from them gives
// true boundaries (up to the first ret or jmp), and ub from any of them
// must find the ones before. A sample of the exports of the four x86 images
// of a manticore dump keeps this quick.
func TestExportStartsUnassembleBack(t *testing.T) {
	f := openCorpus(t, "trailofbits__manticore/tests/memdumps/simple_fpu/simple_fpu.dmp")
	sym := newModSym(f)
	checked, bad := 0, 0
	for i := range f.Modules {
		m := &f.Modules[i]
		im, err := image.FromMemory(f, m)
		if err != nil {
			t.Logf("%s: %v", m.ModuleName(), err)
			continue
		}
		for j, e := range im.Exports {
			if e.RVA == 0 || j%7 != 0 || !executable(im, e.RVA) {
				continue
			}
			var bounds []uint64
			for a := m.Base + uint64(e.RVA); len(bounds) < 24; {
				l := DecodeLine(f, nil, a, 32)
				if l.Invalid || l.Unreadable {
					break
				}
				bounds = append(bounds, a)
				if l.IsRet || l.IsJump && !l.Conditional {
					break
				}
				a = l.Next()
			}
			for k := 1; k < len(bounds); k++ {
				n := min(k, 8)
				got := UnassembleBack(f, sym, bounds[k], n, 32)
				var addrs []uint64
				for _, l := range got {
					addrs = append(addrs, l.Addr)
				}
				checked++
				if !equalU64(addrs, bounds[k-n:k]) {
					bad++
					t.Errorf("%s!%s: ub %x L%d: got %x, want %x", m.ModuleName(), e.Name, bounds[k], n, addrs, bounds[k-n:k])
				}
			}
		}
	}
	if checked < 3000 {
		t.Errorf("only %d ub calls checked", checked)
	}
	t.Logf("%d ub calls from export starts, %d wrong", checked, bad)
}

func executable(im *image.Image, rva uint32) bool {
	for _, s := range im.Sections {
		if s.Contains(rva) && s.Executable() {
			return true
		}
	}
	return false
}

// uf over real code of every traced function entry terminates, keeps blocks
// sorted and disjoint, and starts a block at every followed jump target.
func TestManticoreUnassembleFunction(t *testing.T) {
	for _, tr := range loadTraces(t) {
		f := openDump(t, tr.dump)
		sym := newModSym(f)
		for _, v := range tr.list {
			l := DecodeLine(f, sym, v, 32)
			if !l.IsCall || l.Indirect {
				continue
			}
			fn := UnassembleFunction(f, sym, l.Target, 32, 5000)
			starts := map[uint64]bool{}
			var last uint64
			for i, b := range fn.Blocks {
				if i > 0 && b.Start < last {
					t.Errorf("%s: uf %x: block %x before %x", tr.name, l.Target, b.Start, last)
				}
				starts[b.Start] = true
				for _, bl := range b.Lines {
					last = bl.Addr
				}
			}
			if !starts[l.Target] {
				t.Errorf("%s: uf %x: no block at the start", tr.name, l.Target)
			}
			for _, b := range fn.Blocks {
				for _, bl := range b.Lines {
					if bl.IsJump && !bl.Indirect && !starts[bl.Target] && countLines(fn) < 5000 {
						t.Errorf("%s: uf %x: jump target %x is no block start", tr.name, l.Target, bl.Target)
					}
				}
			}
		}
	}
}
