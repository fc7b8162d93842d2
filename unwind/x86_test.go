package unwind

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"wdb/dump"
)

const breakpadData = "google__breakpad/src/processor/testdata/"

// minidump2Tables loads the STACK WIN records breakpad walked minidump2.dmp
// with.
func minidump2Tables(t *testing.T, f *dump.File) FrameTables {
	ft := FrameTables{}
	for _, s := range []struct{ module, sym string }{
		{"test_app.exe", breakpadData + "symbols/test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym"},
		{"kernel32.dll", breakpadData + "symbols/kernel32.pdb/BCE8785C57B44245A669896B6A19B9542/kernel32.sym"},
	} {
		tab := parseSym(t, corpus(t, s.sym))
		for i := range f.Modules {
			if f.Modules[i].BaseName() == s.module {
				ft[f.Modules[i].Base] = tab
			}
		}
	}
	return ft
}

// TestBreakpadMinidump2 walks the XP x86 crash of minidump2.dmp with the
// STACK WIN records of its .sym files and compares every frame (module,
// eip, esp, ebp, ebx, esi, edi, trust) with breakpad's minidump_stackwalk
// output and rust-minidump's snapshot of the same bytes.
func TestBreakpadMinidump2(t *testing.T) {
	f, err := dump.Open(corpus(t, breakpadData+"minidump2.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	frames, _ := exceptionWalk(t, f, nil, minidump2Tables(t, f))
	logFrames(t, f, frames)
	for _, o := range []string{
		breakpadData + "minidump2.stackwalk.out",
		"rust-minidump__rust-minidump/minidump-stackwalk/tests/snapshots/test_minidump_stackwalk__human-symbols.snap",
	} {
		want := parseBreakpadHuman(t, corpus(t, o))
		if len(want) == 0 {
			t.Fatalf("%s: no frames parsed", o)
		}
		n := compareX86(t, o, f, frames, want)
		t.Logf("%s: %d/%d frames agree", o, n, len(want))
	}
}

// TestBreakpadMinidump2FramePointer walks minidump2.dmp without symbols:
// rust-minidump's symbol-less snapshot found every frame by the EBP chain.
func TestBreakpadMinidump2FramePointer(t *testing.T) {
	f, err := dump.Open(corpus(t, breakpadData+"minidump2.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	frames, _ := exceptionWalk(t, f, nil, nil)
	logFrames(t, f, frames)
	o := "rust-minidump__rust-minidump/minidump-stackwalk/tests/snapshots/test_minidump_stackwalk__human.snap"
	want := parseBreakpadHuman(t, corpus(t, o))
	n := compareX86(t, o, f, frames, want)
	t.Logf("%s: %d/%d frames agree", o, n, len(want))
}

// threadOracle is one thread of a symbolic/symbolicator walk: each frame's
// instruction address and trust.
type threadOracle struct {
	id     uint32
	addrs  []uint64
	trusts []string
}

// parseThreadOracles reads symbolicator YAML snapshots ("thread_id:",
// "instruction_addr:", "trust:") and symbolic's Rust debug snapshot
// ("thread_id: N,", "return_address: N,", "trust: FP,").
func parseThreadOracles(t *testing.T, path string) []threadOracle {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []threadOracle
	num := func(s string) uint64 {
		s = strings.Trim(strings.TrimSpace(s), `",`)
		base := 10
		if strings.HasPrefix(s, "0x") {
			s, base = s[2:], 16
		}
		v, err := strconv.ParseUint(s, base, 64)
		if err != nil {
			t.Fatalf("%s: bad number %q", path, s)
		}
		return v
	}
	for _, line := range strings.Split(string(b), "\n") {
		l := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "- "))
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		switch k {
		case "thread_id":
			out = append(out, threadOracle{id: uint32(num(v))})
		case "instruction_addr", "return_address":
			if len(out) > 0 {
				out[len(out)-1].addrs = append(out[len(out)-1].addrs, num(v))
			}
		case "trust":
			if len(out) > 0 {
				tr := strings.ToLower(strings.Trim(strings.TrimSpace(v), ","))
				out[len(out)-1].trusts = append(out[len(out)-1].trusts, trustOf(tr))
			}
		}
	}
	return out
}

// compareThreads walks every thread of f (the crashed one from the
// exception context) and compares with the oracle threads: a frame agrees
// when its IP equals the oracle address (or is one more: some writers
// report return address - 1) and the trust matches. Frames the oracle
// found by CFI or frame pointer must agree; scan frames are only counted,
// since breakpad scans without checking for a preceding call.
func compareThreads(t *testing.T, name string, f *dump.File, fd FrameDataSource, want []threadOracle) {
	t.Helper()
	total, agree, strict, strictAgree := 0, 0, 0, 0
	for _, w := range want {
		var th *dump.Thread
		for i := range f.Threads {
			if f.Threads[i].ID == w.id {
				th = &f.Threads[i]
			}
		}
		if th == nil {
			t.Errorf("%s: thread %d not in the dump", name, w.id)
			continue
		}
		ctx := th.Context
		if f.Exception != nil && f.Exception.ThreadID == th.ID && f.Exception.Context != nil {
			ctx = f.Exception.Context
		}
		frames, err := Walk(f, th, ctx, nil, fd, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: thread %d", name, w.id)
		logFrames(t, f, frames)
		for i, addr := range w.addrs {
			total++
			must := w.trusts[i] == TrustContext || w.trusts[i] == TrustCFI || w.trusts[i] == TrustFramePointer
			if must {
				strict++
			}
			ok := i < len(frames) && (frames[i].IP == addr || frames[i].IP == addr+1) && frames[i].Trust == w.trusts[i]
			if ok {
				agree++
				if must {
					strictAgree++
				}
				continue
			}
			got := "none"
			if i < len(frames) {
				got = fmt.Sprintf("%#x %s", frames[i].IP, frames[i].Trust)
			}
			if must {
				t.Errorf("%s: thread %d frame %d: %s, want %#x %s", name, w.id, i, got, addr, w.trusts[i])
			} else {
				t.Logf("%s: thread %d frame %d: %s, oracle %#x %s (scan frames are not required to agree)", name, w.id, i, got, addr, w.trusts[i])
			}
		}
	}
	t.Logf("%s: %d/%d frames agree; context/cfi/frame-pointer frames %d/%d", name, agree, total, strictAgree, strict)
}

// TestSymbolicMiniDump walks mini.dmp (x86 Windows 10, breakpad-written)
// with and without crash.sym's STACK WIN records and compares all four
// threads with symbolic's and symbolicator's walks.
func TestSymbolicMiniDump(t *testing.T) {
	f, err := dump.Open(corpus(t, "getsentry__symbolic/symbolic-testutils/fixtures/windows/mini.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	ft := FrameTables{}
	tab := parseSym(t, corpus(t, "getsentry__symbolic/symbolic-testutils/fixtures/windows/crash.sym"))
	for i := range f.Modules {
		if f.Modules[i].BaseName() == "crash.exe" {
			ft[f.Modules[i].Base] = tab
		}
	}
	t.Run("cfi", func(t *testing.T) {
		o := "getsentry__symbolicator/crates/symbolicator-native/tests/integration/snapshots/integration__process_minidump__minidump_windows.snap"
		compareThreads(t, o, f, ft, parseThreadOracles(t, corpus(t, o)))
	})
	t.Run("pdb", func(t *testing.T) {
		// The same walk with the records read from crash.pdb itself.
		tab := &FrameTable{}
		for _, d := range pdbFrameData(t, corpus(t, "getsentry__symbolic/symbolic-testutils/fixtures/windows/crash.pdb")) {
			tab.Add(d)
		}
		pt := FrameTables{}
		for base := range ft {
			pt[base] = tab
		}
		o := "getsentry__symbolicator/crates/symbolicator-native/tests/integration/snapshots/integration__process_minidump__minidump_windows.snap"
		compareThreads(t, o, f, pt, parseThreadOracles(t, corpus(t, o)))
	})
	t.Run("nosymbols", func(t *testing.T) {
		for _, o := range []string{
			"getsentry__symbolic/symbolic-minidump/tests/snapshots/test_processor__process_state_windows.snap",
			"getsentry__symbolicator/crates/symbolicator/src/endpoints/snapshots/symbolicator__endpoints__minidump__tests__basic.snap",
		} {
			compareThreads(t, o, f, nil, parseThreadOracles(t, corpus(t, o)))
		}
	})
}

// TestLLDBFizzbuzz checks the six frame PCs lldb asserts for
// fizzbuzz_no_heap.dmp (x86, debug build: an intact EBP chain).
func TestLLDBFizzbuzz(t *testing.T) {
	f, err := dump.Open(corpus(t, "llvm-mirror__lldb/unittests/Process/minidump/Inputs/fizzbuzz_no_heap.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	th := &f.Threads[0]
	frames, err := Walk(f, th, nil, nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	logFrames(t, f, frames)
	want := []uint64{0x00164d14, 0x00167c79, 0x00167e6d, 0x7510336a, 0x77759882, 0x77759855}
	agree := 0
	for i, pc := range want {
		if i < len(frames) && frames[i].IP == pc {
			agree++
			if i > 0 && frames[i].How != FoundByFramePointer {
				t.Errorf("frame %d found by %s, want frame pointer", i, frames[i].How)
			}
			continue
		}
		t.Errorf("frame %d: want pc %#x", i, pc)
	}
	if len(frames) != len(want) {
		t.Errorf("%d frames, lldb has %d (last stop: %q)", len(frames), len(want), frames[len(frames)-1].Stop)
	}
	t.Logf("fizzbuzz_no_heap.dmp: %d/%d frame PCs agree with lldb", agree, len(want))
}
