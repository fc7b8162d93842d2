package commands

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestStackGolden(t *testing.T) { runGoldenTopic(t, "stack") }

// Corpus files the stack oracles use (under corpusDir).
const (
	stkMiniDump      = "getsentry__symbolic/symbolic-testutils/fixtures/windows/mini.dmp"
	stkMiniSymbols   = "getsentry__symbolic/symbolic-testutils/fixtures/windows"
	stkSigsegvDump   = "llvm-mirror__lldb/test/Shell/Minidump/Windows/Sigsegv/Inputs/sigsegv.dmp"
	stkSigsegvInputs = "llvm-mirror__lldb/test/Shell/Minidump/Windows/Sigsegv/Inputs"
	stkFizzbuzzDump  = "llvm-mirror__lldb/unittests/Process/minidump/Inputs/fizzbuzz_no_heap.dmp"
	stkBreakpadDir   = "google__breakpad/src/processor/testdata/"
)

// corpusSession opens a corpus dump (skipping without the corpus) with an
// optional symbol path (a corpus directory).
func corpusSession(t *testing.T, rel, symdir string) *Session {
	t.Helper()
	s, _ := openSession(t, corpusDump(t, rel))
	if symdir != "" {
		if err := s.SetSymbolPath(corpusDump(t, symdir)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// jsonTraces runs a command in JSON mode and returns every stack trace it
// printed (one per thread for ~* k), failing on command errors.
func jsonTraces(t *testing.T, s *Session, cmd string) []StackTrace {
	t.Helper()
	s.JSON = true
	defer func() { s.JSON = false }()
	var out []StackTrace
	for _, line := range strings.Split(strings.TrimSpace(run(t, s, cmd)), "\n") {
		var rec struct {
			Result json.RawMessage `json:"result"`
			Error  string          `json:"error"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%s: bad JSON line %q: %v", cmd, line, err)
		}
		if rec.Error != "" {
			t.Fatalf("%s: %s", cmd, rec.Error)
		}
		var tr StackTrace
		if json.Unmarshal(rec.Result, &tr) == nil && tr.Frames != nil {
			out = append(out, tr)
		}
	}
	return out
}

// oracleFrame is one frame of another debugger's walk.
type oracleFrame struct {
	module   string // file name without extension, lower case; "" when not given
	addr     uint64 // instruction address (some oracles give return address - 1)
	trust    string // context, cfi, frame_pointer, scan; "" when not given
	function string
}

// breakpadFrames reads the crashed thread of minidump_stackwalk's human
// output (breakpad .out, rust-minidump .snap): module and eip per frame.
func breakpadFrames(t *testing.T, path string) []oracleFrame {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	frameRe := regexp.MustCompile(`^\s*\d+\s+([^\s!]+)`)
	eipRe := regexp.MustCompile(`eip = 0x([0-9a-f]+)`)
	var out []oracleFrame
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "Thread "):
			in = strings.Contains(l, "(crashed)")
		case !in:
		case strings.HasPrefix(l, "Loaded modules"):
			return out
		case strings.Contains(l, "Found by:"):
			out[len(out)-1].trust = map[string]string{
				"given as instruction pointer in context": "context", "call frame info": "cfi",
				"previous frame's frame pointer": "frame_pointer", "stack scanning": "scan",
			}[strings.TrimSpace(strings.SplitN(l, "Found by:", 2)[1])]
		case eipRe.MatchString(l) && len(out) > 0:
			v, _ := strconv.ParseUint(eipRe.FindStringSubmatch(l)[1], 16, 64)
			out[len(out)-1].addr = v
		case frameRe.MatchString(l):
			out = append(out, oracleFrame{module: moduleStem(frameRe.FindStringSubmatch(l)[1])})
		}
	}
	return out
}

// moduleStem is a module file name as k names the module: no directory,
// no extension, lower case.
func moduleStem(name string) string {
	name = name[strings.LastIndexAny(name, `\/`)+1:]
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		name = name[:i]
	}
	return strings.ToLower(name)
}

// snapshotThreads reads symbolicator's YAML snapshots (per thread_id, each
// frame's instruction_addr, package, function and trust) and symbolic's
// Rust debug snapshot (thread_id, instruction, trust).
func snapshotThreads(t *testing.T, path string) map[uint32][]oracleFrame {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint32][]oracleFrame{}
	var tid uint32
	for _, line := range strings.Split(string(b), "\n") {
		l := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "- "))
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		v = strings.Trim(strings.TrimSuffix(strings.TrimSpace(v), ","), `"`)
		num := func(v string) uint64 {
			if strings.HasPrefix(v, "0x") {
				n, _ := strconv.ParseUint(v[2:], 16, 64)
				return n
			}
			n, _ := strconv.ParseUint(v, 10, 64)
			return n
		}
		fr := func() *oracleFrame { f := out[tid]; return &f[len(f)-1] }
		switch k {
		case "thread_id":
			tid = uint32(num(v))
		case "instruction_addr", "instruction": // symbolicator YAML, symbolic's Rust debug output
			out[tid] = append(out[tid], oracleFrame{addr: num(v)})
		case "package":
			if len(out[tid]) > 0 {
				fr().module = moduleStem(strings.ReplaceAll(v, `\\`, `\`))
			}
		case "function":
			if len(out[tid]) > 0 {
				fr().function = v
			}
		case "trust":
			if len(out[tid]) > 0 {
				v = strings.ToLower(v)
				fr().trust = map[string]string{"fp": "frame_pointer"}[v]
				if fr().trust == "" {
					fr().trust = v
				}
			}
		}
	}
	return out
}

// agrees compares a frame with an oracle frame: same module, the same
// address (or one more: oracles that report return address - 1), same
// function when the oracle names one.
func agrees(f StackFrame, o oracleFrame) string {
	var d []string
	if o.module != "" && strings.ToLower(f.Module) != o.module {
		d = append(d, fmt.Sprintf("module %q, want %q", f.Module, o.module))
	}
	if f.IP != o.addr && f.IP != o.addr+1 {
		d = append(d, fmt.Sprintf("ip %#x, want %#x", f.IP, o.addr))
	}
	if o.function != "" && f.Function != o.function {
		d = append(d, fmt.Sprintf("function %q, want %q", f.Function, o.function))
	}
	return strings.Join(d, "; ")
}

// TestStackMinidump2Breakpad checks ~*k on minidump2.dmp (XP x86, no
// symbols) against breakpad's minidump_stackwalk and rust-minidump's
// snapshots of the same bytes. Breakpad walks the crashed thread from the
// exception context: wdb does so after .ecxr. Every frame breakpad found
// by context, CFI or frame pointer must name the same module and address.
func TestStackMinidump2Breakpad(t *testing.T) {
	s := corpusSession(t, stkBreakpadDir+"minidump2.dmp", "")
	plain := jsonTraces(t, s, "~*k")
	if len(plain) != 2 || len(plain[1].Frames) == 0 || plain[1].Frames[0].CallSite != "ntdll+0xeb94" {
		t.Fatalf("~*k without .ecxr: %d traces, want 2 starting at the threads' own contexts: %+v", len(plain), plain)
	}
	run(t, s, ".ecxr")
	traces := jsonTraces(t, s, "~*k")
	if len(traces) != 2 || traces[0].Context != "exception" {
		t.Fatalf("~*k after .ecxr: %d traces (thread 0 context %q)", len(traces), traces[0].Context)
	}
	got := traces[0].Frames
	for _, o := range []string{
		stkBreakpadDir + "minidump2.stackwalk.out",
		"rust-minidump__rust-minidump/minidump-stackwalk/tests/snapshots/test_minidump_stackwalk__human-symbols.snap",
		"rust-minidump__rust-minidump/minidump-stackwalk/tests/snapshots/test_minidump_stackwalk__human.snap",
	} {
		want := breakpadFrames(t, corpusDump(t, o))
		if len(want) == 0 {
			t.Fatalf("%s: no frames parsed", o)
		}
		agree := 0
		for i, w := range want {
			if i >= len(got) {
				t.Errorf("%s: frame %d missing", o, i)
				continue
			}
			if d := agrees(got[i], w); d != "" {
				t.Errorf("%s: frame %d (%s, found by %s): %s", o, i, got[i].CallSite, w.trust, d)
				continue
			}
			agree++
		}
		t.Logf("%s: %d/%d frames agree (module and offset)", filepath.Base(o), agree, len(want))
	}
	if len(got) != 4 {
		t.Errorf("%d frames after .ecxr, breakpad has 4", len(got))
	}
}

// TestStackMiniDumpSymbolicator checks .ecxr; ~*k on mini.dmp with
// crash.pdb (x86 FRAMEDATA from the PDB) against symbolicator's walk of the
// same dump with the same PDB, thread by thread: addresses, function names
// of crash.exe frames and how each frame was found.
func TestStackMiniDumpSymbolicator(t *testing.T) {
	s := corpusSession(t, stkMiniDump, stkMiniSymbols)
	out := run(t, s, ".ecxr; k")
	if !regexp.MustCompile(`(?m)^00 [0-9a-f]{8} [0-9a-f]{8}     crash!main\+0x12d `).MatchString(out) {
		t.Errorf(".ecxr; k does not start at crash!main+0x12d:\n%s", out)
	}
	traces := jsonTraces(t, s, "~*k")
	check := func(o string, strict bool) {
		want := snapshotThreads(t, corpusDump(t, o))
		total, agree, must, mustAgree := 0, 0, 0, 0
		for _, tr := range traces {
			tid := s.Target.Threads[tr.Thread].ID
			for i, w := range want[tid] {
				total++
				required := strict && w.trust != "scan"
				if required {
					must++
				}
				d := "missing"
				if !strict && w.module != "crash" {
					w.function = "" // named from Microsoft's PDBs, which wdb does not have here
				}
				if i < len(tr.Frames) {
					d = agrees(tr.Frames[i], w)
					if d == "" && strict && w.trust != "" && tr.Frames[i].Trust != w.trust {
						d = fmt.Sprintf("found by %s (%s), want %s", tr.Frames[i].FoundBy, tr.Frames[i].Trust, w.trust)
					}
				}
				if d == "" {
					agree++
					if required {
						mustAgree++
					}
				} else if required {
					t.Errorf("%s: thread %d frame %d: %s", filepath.Base(o), tid, i, d)
				} else {
					t.Logf("%s: thread %d frame %d: %s (informational)", filepath.Base(o), tid, i, d)
				}
			}
		}
		if total == 0 {
			t.Fatalf("%s: no frames parsed", o)
		}
		t.Logf("%s: %d/%d frames agree; context/cfi/frame-pointer frames %d/%d", filepath.Base(o), agree, total, mustAgree, must)
	}
	check("getsentry__symbolicator/crates/symbolicator-native/tests/integration/snapshots/integration__process_minidump__minidump_windows.snap", true)
	// Symbolicator with Microsoft's PDBs for ntdll and kernel32 unwinds
	// their frameless functions, which wdb without those PDBs cannot.
	check("getsentry__symbolicator/crates/symbolicator/src/endpoints/snapshots/symbolicator__endpoints__minidump__tests__integration_microsoft.snap", false)
	// Without crash.pdb: symbolic's and symbolicator's walks without symbols.
	s = corpusSession(t, stkMiniDump, "")
	run(t, s, ".ecxr")
	traces = jsonTraces(t, s, "~*k")
	check("getsentry__symbolic/symbolic-minidump/tests/snapshots/test_processor__process_state_windows.snap", true)
	check("getsentry__symbolicator/crates/symbolicator/src/endpoints/snapshots/symbolicator__endpoints__minidump__tests__basic.snap", true)
}

// TestStackSigsegvLLDB checks .ecxr; k on sigsegv.dmp (x64) with
// sigsegv.pdb against lldb's sigsegv.test: frame #0 is 0x7ff7a13110d9 in
// sigsegv.exe, an instruction storing 0 to address 0. The PDB names it.
func TestStackSigsegvLLDB(t *testing.T) {
	s := corpusSession(t, stkSigsegvDump, stkSigsegvInputs)
	out := run(t, s, ".ecxr")
	if !strings.Contains(out, "sigsegv!crash+0x29:\n00007ff7`a13110d9 c704250000000000000000 mov") {
		t.Errorf(".ecxr does not show the faulting instruction at sigsegv!crash+0x29:\n%s", out)
	}
	tr := jsonTraces(t, s, "k")
	if len(tr) != 1 || len(tr[0].Frames) < 4 {
		t.Fatalf("k: %+v", tr)
	}
	f0 := tr[0].Frames[0]
	if f0.IP != 0x7ff7a13110d9 || f0.Module != "sigsegv" || f0.Function != "crash" || f0.FoundBy != "context" {
		t.Errorf("frame 0 = %s (%#x, %s), lldb: 0x00007ff7a13110d9 sigsegv.exe", f0.CallSite, f0.IP, f0.FoundBy)
	}
	// The caller chain the source implies (sigsegv.cpp: main -> foo -> crash),
	// found by scanning: the dump has no .pdata and no image.
	var names []string
	for _, f := range tr[0].Frames[:4] {
		names = append(names, f.Function)
	}
	if strings.Join(names, ",") != "crash,foo,main,mainCRTStartup" {
		t.Errorf("k names %v, want crash, foo, main, mainCRTStartup", names)
	}
	for _, f := range tr[0].Frames[1:] {
		if f.FoundBy != "scan" {
			t.Errorf("frame %d found by %s: without unwind data every caller is a scan", f.Index, f.FoundBy)
		}
	}
}

// TestStackFizzbuzzLLDB checks k on fizzbuzz_no_heap.dmp (x86 debug
// build) against the six frame PCs lldb asserts.
func TestStackFizzbuzzLLDB(t *testing.T) {
	s := corpusSession(t, stkFizzbuzzDump, "")
	want := []uint64{0x00164d14, 0x00167c79, 0x00167e6d, 0x7510336a, 0x77759882, 0x77759855}
	for _, cmd := range []string{"k", ".ecxr; k"} {
		tr := jsonTraces(t, s, cmd)
		if len(tr) != 1 {
			t.Fatalf("%s: %d traces", cmd, len(tr))
		}
		agree := 0
		for i, pc := range want {
			if i < len(tr[0].Frames) && tr[0].Frames[i].IP == pc {
				agree++
			} else {
				t.Errorf("%s: frame %d: want pc %#x", cmd, i, pc)
			}
		}
		if len(tr[0].Frames) != len(want) {
			t.Errorf("%s: %d frames, lldb has %d", cmd, len(tr[0].Frames), len(want))
		}
		t.Logf("%s: %d/%d frame PCs agree with lldb", cmd, agree, len(want))
	}
}

// TestStackFormats pins the layouts of the k variants on an x86 and an x64
// dump (windbg-commands.md §11.2).
func TestStackFormats(t *testing.T) {
	s := corpusSession(t, stkSigsegvDump, stkSigsegvInputs)
	run(t, s, ".ecxr")
	for cmd, want := range map[string]string{
		"k 1": "  *** Stack trace for last set context - .thread/.cxr resets it\n" +
			" # Child-SP          RetAddr               Call Site\n" +
			"00 000000ad`dabaf6b0 00007ff7`a1311171     sigsegv!crash+0x29 [c:\\temp\\sigsegv.cpp @ 22]\n",
		"kbL 1": "  *** Stack trace for last set context - .thread/.cxr resets it\n" +
			" # Child-SP          RetAddr               : Args to Child                                                           : Call Site\n" +
			"00 000000ad`dabaf6b0 00007ff7`a1311171     : 00007ff7`a1313001 00000000`0000000a 40091eb8`60000000 00007ff7`a1313060 : sigsegv!crash+0x29\n",
		// Frame 1 was found by scanning: the warning precedes the frame whose
		// caller could not be unwound (greenhorn sample, §11.2).
		"kc 2": "  *** Stack trace for last set context - .thread/.cxr resets it\n # Call Site\n" +
			"WARNING: Stack unwind information not available. Following frames may be wrong.\n00 sigsegv!crash\n01 sigsegv!foo\n",
	} {
		if got := run(t, s, cmd); got != want {
			t.Errorf("%s:\n%s\nwant:\n%s", cmd, got, want)
		}
	}
	m := corpusSession(t, stkMiniDump, stkMiniSymbols)
	run(t, m, ".ecxr")
	for cmd, want := range map[string]string{
		"kvL 2": "  *** Stack trace for last set context - .thread/.cxr resets it\n" +
			" # ChildEBP RetAddr      Args to Child              \n" +
			"00 010ff73c 002a2d97     00000001 013bfd78 013b5c90 crash!main+0x12d (FPO: [Non-Fpo]) (Found by: context)\n" +
			"01 010ff784 750662c4     00fe5000 750662a0 d1b4202f crash!__scrt_common_main_seh+0xf9 (FPO: [Non-Fpo]) (Found by: frame data)\n",
		"kcn 1": "  *** Stack trace for last set context - .thread/.cxr resets it\n # \n00 crash!main\n",
		"kfL 3": "  *** Stack trace for last set context - .thread/.cxr resets it\n" +
			" #   Memory ChildEBP RetAddr      \n" +
			"00          010ff73c 002a2d97     crash!main+0x12d\n" +
			"01       48 010ff784 750662c4     crash!__scrt_common_main_seh+0xf9\n" +
			"02       14 010ff798 771d0f79     kernel32+0x162c4\n",
	} {
		if got := run(t, m, cmd); got != want {
			t.Errorf("%s:\n%s\nwant:\n%s", cmd, got, want)
		}
	}
}

// TestFrameScope checks .frame: the frame line, /r registers of the
// frame, errors, and that r sees the frame once Session.Context consults
// the scope.
func TestFrameScope(t *testing.T) {
	s := corpusSession(t, stkMiniDump, stkMiniSymbols)
	run(t, s, ".ecxr")
	out := run(t, s, ".frame 1")
	if out != "01 010ff784 750662c4     crash!__scrt_common_main_seh+0xf9 [f:\\dd\\vctools\\crt\\vcstartup\\src\\startup\\exe_common.inl @ 283]\n" {
		t.Errorf(".frame 1:\n%s", out)
	}
	if got := run(t, s, ".frame"); got != out {
		t.Errorf(".frame repeats the current frame: %q", got)
	}
	out = run(t, s, ".frame /r 1")
	if !strings.Contains(out, "eip=002a2d97 esp=010ff744 ebp=010ff784") {
		t.Errorf(".frame /r 1 shows other registers:\n%s", out)
	}
	c, ok := s.ScopeContext()
	if !ok || c.Rip != 0x2a2d97 {
		t.Fatalf("scope after .frame 1: %v %+v", ok, c)
	}
	if got := run(t, s, ".frame 40"); got != "Cannot find frame 0x40, previous scope unchanged\n" {
		t.Errorf(".frame 40: %q", got)
	}
	if c, _ := s.ScopeContext(); c.Rip != 0x2a2d97 {
		t.Errorf("a failed .frame changed the scope")
	}
	if s.Context() == c {
		if got := run(t, s, "r eip"); got != "eip=002a2d97\n" {
			t.Errorf("r eip after .frame 1: %q", got)
		}
	} else {
		t.Logf("Session.Context does not consult ScopeContext yet (session.go hook): r still shows the thread's registers")
	}
	// Other threads do not see the scope; ~* k keeps it for the thread it
	// belongs to.
	run(t, s, "~1s")
	if _, ok := s.ScopeContext(); ok {
		t.Errorf("thread 1 sees the scope of thread 0")
	}
	run(t, s, "~0s")
	if tr := jsonTraces(t, s, "~*k"); tr[0].Context != "exception" {
		t.Logf("~0s ended the .ecxr scope (ResetScope hook in ~Ns present)")
	}
	run(t, s, ".ecxr; .frame 1")
	s.ResetScope()
	if _, ok := s.ScopeContext(); ok {
		t.Errorf("ResetScope kept the scope")
	}
}

// TestKFrames checks .kframes and frame counts.
func TestKFrames(t *testing.T) {
	s := corpusSession(t, stkFizzbuzzDump, "")
	if got := run(t, s, ".kframes"); got != "Default stack trace depth is 0n256 frames\n" {
		t.Errorf(".kframes: %q", got)
	}
	if got := run(t, s, ".kframes 2"); got != "Default stack trace depth is 0n2 frames\n" {
		t.Errorf(".kframes 2: %q", got)
	}
	if tr := jsonTraces(t, s, "k"); len(tr[0].Frames) != 2 {
		t.Errorf("k after .kframes 2: %d frames", len(tr[0].Frames))
	}
	if tr := jsonTraces(t, s, "k 4"); len(tr[0].Frames) != 4 {
		t.Errorf("k 4: %d frames", len(tr[0].Frames))
	}
	if got := run(t, s, "k 0"); !strings.Contains(got, "Invalid frame count") {
		t.Errorf("k 0: %q", got)
	}
	// k = EBP ESP EIP count: the walk from other registers.
	tr := jsonTraces(t, s, "k = 0031f81c 0031f7d4 00167c79 3")
	if len(tr) != 1 || len(tr[0].Frames) != 3 || tr[0].Frames[0].IP != 0x167c79 || tr[0].Frames[1].IP != 0x167e6d || tr[0].Context != "explicit" {
		t.Errorf("k = ebp esp eip 3: %+v", tr)
	}
}

// TestStackNoContext checks k's errors on dumps without what it needs.
func TestStackNoContext(t *testing.T) {
	s, _ := openSession(t, corpusDump(t, "llvm-mirror__lldb/unittests/Process/minidump/Inputs/regions-memlist.dmp"))
	if got := run(t, s, "k"); !strings.Contains(got, "thread") {
		t.Errorf("k on a dump without threads: %q", got)
	}
	if got := run(t, s, ".frame 1"); !strings.Contains(got, "thread") {
		t.Errorf(".frame on a dump without threads: %q", got)
	}
}
