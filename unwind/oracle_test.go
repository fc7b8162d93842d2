package unwind

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"wdb/dump"
)

// corpusRoot is the shared corpus of real dumps and their oracles.
const corpusRoot = "../../shared/corpus"

// corpus returns the path of a corpus file, skipping the test when the
// corpus is not checked out next to the repository.
func corpus(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(corpusRoot, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("corpus file %s not present (%v); the oracle comparison needs ../../shared/corpus", rel, err)
	}
	return p
}

// oracleFrame is one frame of a breakpad-style walk.
type oracleFrame struct {
	Module string
	Regs   map[string]uint64
	Found  string // breakpad's "Found by" text or a trust name
}

var (
	frameLine = regexp.MustCompile(`^\s*(\d+)\s+(\S+?)(?:!|\s|$)`)
	regPair   = regexp.MustCompile(`(\w+) = (0x[0-9a-fA-F]+)`)
)

// parseBreakpadHuman reads the crashed thread's frames from minidump_stackwalk
// human output (breakpad's .out or rust-minidump's human snapshot).
func parseBreakpadHuman(t *testing.T, path string) []oracleFrame {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var frames []oracleFrame
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Thread ") {
			in = strings.Contains(line, "(crashed)")
			continue
		}
		if !in {
			continue
		}
		if strings.HasPrefix(line, "Loaded modules") {
			break
		}
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "Found by:"):
			frames[len(frames)-1].Found = strings.TrimSpace(strings.TrimPrefix(trimmed, "Found by:"))
		case regPair.MatchString(trimmed) && len(frames) > 0 && !frameLine.MatchString(line):
			for _, m := range regPair.FindAllStringSubmatch(trimmed, -1) {
				v, _ := strconv.ParseUint(m[2][2:], 16, 64)
				frames[len(frames)-1].Regs[m[1]] = v
			}
		case frameLine.MatchString(line):
			m := frameLine.FindStringSubmatch(line)
			frames = append(frames, oracleFrame{Module: m[2], Regs: map[string]uint64{}})
		}
	}
	return frames
}

// trustOf maps breakpad's "Found by" phrases to trust names.
func trustOf(found string) string {
	switch found {
	case "given as instruction pointer in context", "context":
		return TrustContext
	case "call frame info", "cfi":
		return TrustCFI
	case "previous frame's frame pointer", "frame_pointer", "fp":
		return TrustFramePointer
	case "call frame info with scanning", "cfi_scan":
		return TrustCFIScan
	case "stack scanning", "scan":
		return TrustScan
	}
	return found
}

// moduleName names the module holding addr as breakpad does (file name).
func moduleName(f *dump.File, addr uint64) string {
	for i := range f.Modules {
		if m := &f.Modules[i]; addr >= m.Base && addr < m.End() {
			return m.BaseName()
		}
	}
	return "?"
}

// exceptionWalk walks the crashed thread from the exception context, as
// breakpad's stackwalk does.
func exceptionWalk(t *testing.T, f *dump.File, src ModuleSource, fd FrameDataSource) ([]Frame, *dump.Thread) {
	t.Helper()
	if f.Exception == nil || f.Exception.Context == nil {
		t.Fatal("dump has no exception context")
	}
	for i := range f.Threads {
		if f.Threads[i].ID == f.Exception.ThreadID {
			th := &f.Threads[i]
			frames, err := Walk(f, th, f.Exception.Context, src, fd, 0)
			if err != nil {
				t.Fatal(err)
			}
			return frames, th
		}
	}
	t.Fatalf("exception thread %#x not in the thread list", f.Exception.ThreadID)
	return nil, nil
}

// compareX86 compares a walk with oracle frames: module, eip, esp, ebp and
// the callee-saved registers the oracle lists, and the trust. It returns how
// many frames agree and logs every difference.
func compareX86(t *testing.T, name string, f *dump.File, got []Frame, want []oracleFrame) (agree int) {
	t.Helper()
	for i, w := range want {
		if i >= len(got) {
			t.Errorf("%s: frame %d missing (walk has %d frames, stopped: %q)", name, i, len(got), got[len(got)-1].Stop)
			continue
		}
		g := got[i]
		var diffs []string
		if mod := moduleName(f, g.LookupPC()); !strings.EqualFold(mod, w.Module) {
			diffs = append(diffs, fmt.Sprintf("module %s, want %s", mod, w.Module))
		}
		regs := map[string]uint64{"eip": g.Context.Rip, "esp": g.Context.Rsp, "ebp": g.Context.Rbp, "ebx": g.Context.Rbx, "esi": g.Context.Rsi, "edi": g.Context.Rdi}
		for _, r := range []string{"eip", "esp", "ebp", "ebx", "esi", "edi"} {
			if v, ok := w.Regs[r]; ok && regs[r] != v {
				diffs = append(diffs, fmt.Sprintf("%s %#x, want %#x", r, regs[r], v))
			}
		}
		if tr := trustOf(w.Found); tr != g.Trust {
			diffs = append(diffs, fmt.Sprintf("trust %s (%s), want %s", g.Trust, g.How, tr))
		}
		if len(diffs) > 0 {
			t.Errorf("%s: frame %d: %s", name, i, strings.Join(diffs, "; "))
			continue
		}
		agree++
	}
	return agree
}

func logFrames(t *testing.T, f *dump.File, frames []Frame) {
	t.Helper()
	for _, fr := range frames {
		mod := moduleName(f, fr.LookupPC())
		off := uint64(0)
		for i := range f.Modules {
			if m := &f.Modules[i]; fr.LookupPC() >= m.Base && fr.LookupPC() < m.End() {
				off = fr.IP - m.Base
			}
		}
		t.Logf("  %02d ip=%#x (%s+%#x) sp=%#x fp=%#x ret=%#x %-13s %-13s %s%s", fr.Index, fr.IP, mod, off, fr.SP, fr.FP, fr.RetAddr, fr.How, fr.Trust, fr.Note,
			map[bool]string{true: " STOP: " + fr.Stop, false: ""}[fr.Stop != ""])
	}
}
