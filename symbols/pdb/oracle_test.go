package pdb

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestOracleLLVMPdbutil compares every public, global datum, procedure,
// thunk, label and line entry with llvm-pdbutil's dump of the same file.
// It runs only where llvm-pdbutil is installed; the values other tests pin
// were taken from it.
func TestOracleLLVMPdbutil(t *testing.T) {
	tool, err := exec.LookPath("llvm-pdbutil")
	if err != nil {
		t.Skip("llvm-pdbutil not installed; pinned values in the corpus tests still apply")
	}
	paths := []string{crashPDB, srcsrvPDB, cwePDB, sigsegvPDB}
	for _, d := range []string{"targetapp_test_cv_allreg_amd64", "targetapp_test_cv_allreg_i386", "targetapp_stacktest_wow64"} {
		paths = append(paths, kdlibDumps+"/"+d+"/targetapp.pdb")
	}
	syn, _ := basicSyn(4096).build()
	synPath := filepath.Join(t.TempDir(), "syn.pdb")
	if err := os.WriteFile(synPath, syn, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, rel := range append(paths, "synthetic") {
		t.Run(filepath.Base(filepath.Dir(rel))+"/"+filepath.Base(rel), func(t *testing.T) {
			path := synPath
			if rel != "synthetic" {
				path = corpusFile(t, rel)
			}
			out, err := exec.Command(tool, "dump", "-section-headers", "-publics", "-globals", "-symbols", "-l", path).CombinedOutput()
			if err != nil && rel != "synthetic" {
				t.Fatalf("llvm-pdbutil: %v\n%s", err, out)
			}
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			compareOracle(t, f, string(out))
		})
	}
}

var (
	reSection = regexp.MustCompile(`^\s+([0-9A-F]+) virtual address`)
	reRecord  = regexp.MustCompile("^\\s*\\d+ \\| (S_[A-Z0-9_]+) \\[size = \\d+\\] `(.*)`(?: \\(addr = (\\d{4}):(\\d+)\\))?$")
	reAddr    = regexp.MustCompile(`addr = (\d{4}):(\d+)(?:, code size = (\d+))?`)
	reThunk   = regexp.MustCompile(`size = (\d+), addr = (\d{4}):(\d+)`)
	reMod     = regexp.MustCompile(`^\s*Mod (\d{4}) \|`)
	reBlock   = regexp.MustCompile(`^\s+(\d{4}):([0-9A-F]{8})-([0-9A-F]{8}), line/`)
	reFile    = regexp.MustCompile(`^(\S.*) \((?:MD5: [0-9A-F]+|SHA1: [0-9A-F]+|SHA256: [0-9A-F]+|no checksum)\)$`)
)

func compareOracle(t *testing.T, f *File, out string) {
	var vas []uint32
	section := ""
	mod := -1
	file := ""
	var seg uint64
	type want struct {
		name      string
		rva, size uint32
		kind      SymKind
	}
	var wants []want
	// Line blocks as llvm-pdbutil prints them (one per file per
	// subsection); identical-code folding can make blocks of different
	// modules cover the same code, so an address may have several answers.
	type oline struct {
		rva  uint32
		text string
	}
	type oblock struct {
		mod        int
		start, end uint32
		entries    []oline
	}
	var blocks []*oblock
	lines := map[uint32]bool{}
	nLines := 0
	rva := func(segS, offS string) (uint32, bool) {
		s, _ := strconv.Atoi(segS)
		o, _ := strconv.ParseUint(offS, 10, 32)
		if s < 1 || s > len(vas) {
			return 0, false
		}
		return vas[s-1] + uint32(o), true
	}
	ls := strings.Split(out, "\n")
	// llvm-pdbutil prints the section headers last; read them first.
	for _, l := range ls {
		if strings.Contains(l, "Section Headers") {
			section = "sections"
			if strings.Contains(l, "Original") {
				break
			}
		}
		if m := reSection.FindStringSubmatch(l); m != nil && section == "sections" {
			v, _ := strconv.ParseUint(m[1], 16, 32)
			vas = append(vas, uint32(v))
		}
	}
	section = ""
	for i, l := range ls {
		next := ""
		if i+1 < len(ls) {
			next = ls[i+1]
		}
		switch {
		case strings.Contains(l, "Section Headers") && !strings.Contains(l, "Original"):
			section = "sections"
			continue
		case strings.Contains(l, "Original Section Headers"), strings.Contains(l, "Public Symbols"),
			strings.Contains(l, "Global Symbols"), strings.TrimSpace(l) == "Symbols", strings.TrimSpace(l) == "Lines":
			section = strings.TrimSpace(l)
			continue
		}
		if m := reMod.FindStringSubmatch(l); m != nil {
			mod, _ = strconv.Atoi(m[1])
			continue
		}
		switch section {
		case "Public Symbols", "Global Symbols", "Symbols":
			m := reRecord.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			kind, name := m[1], m[2]
			switch kind {
			case "S_PUB32":
				if a := reAddr.FindStringSubmatch(next); a != nil {
					if r, ok := rva(a[1], a[2]); ok {
						wants = append(wants, want{name, r, 0, Public})
					}
				}
			case "S_GDATA32", "S_LDATA32":
				if section == "Symbols" {
					continue // module data: only top-level ones are indexed
				}
				if a := reAddr.FindStringSubmatch(next); a != nil {
					if r, ok := rva(a[1], a[2]); ok {
						wants = append(wants, want{name, r, 0, Data})
					}
				}
			case "S_GPROC32", "S_LPROC32", "S_GPROC32_ID", "S_LPROC32_ID":
				if a := reAddr.FindStringSubmatch(next); a != nil && a[3] != "" {
					size, _ := strconv.ParseUint(a[3], 10, 32)
					if r, ok := rva(a[1], a[2]); ok {
						wants = append(wants, want{name, r, uint32(size), Function})
					}
				}
			case "S_THUNK32":
				if i+2 < len(ls) && name != "" {
					if a := reThunk.FindStringSubmatch(ls[i+2]); a != nil {
						size, _ := strconv.ParseUint(a[1], 10, 32)
						if r, ok := rva(a[2], a[3]); ok {
							wants = append(wants, want{name, r, uint32(size), Thunk})
						}
					}
				}
			case "S_LABEL32":
				if m[3] != "" && name != "" {
					if r, ok := rva(m[3], m[4]); ok {
						wants = append(wants, want{name, r, 0, Label})
					}
				}
			}
		case "Lines":
			if m := reFile.FindStringSubmatch(l); m != nil {
				file = m[1]
				continue
			}
			if m := reBlock.FindStringSubmatch(l); m != nil {
				seg, _ = strconv.ParseUint(m[1], 10, 16)
				a, _ := strconv.ParseUint(m[2], 16, 32)
				b, _ := strconv.ParseUint(m[3], 16, 32)
				s, ok1 := rva(m[1], strconv.FormatUint(a, 10))
				e, ok2 := rva(m[1], strconv.FormatUint(b, 10))
				if ok1 && ok2 {
					blocks = append(blocks, &oblock{mod: mod, start: s, end: e})
				}
				continue
			}
			fs := strings.Fields(l)
			if len(fs) == 0 || len(fs)%2 != 0 || mod < 0 {
				continue
			}
			for k := 0; k+1 < len(fs); k += 2 {
				off, err := strconv.ParseUint(fs[k+1], 16, 32)
				if err != nil || len(fs[k+1]) != 8 {
					break
				}
				line := strings.SplitN(fs[k], ":", 2)[0]
				switch line {
				case "ASI":
					line = strconv.Itoa(LineAlwaysStepInto)
				case "NSI":
					line = strconv.Itoa(LineNeverStepInto)
				}
				r, ok := rva(strconv.Itoa(int(seg)), strconv.FormatUint(off, 10))
				if !ok {
					continue
				}
				if len(blocks) > 0 {
					blk := blocks[len(blocks)-1]
					blk.entries = append(blk.entries, oline{r, file + ":" + line})
				}
				lines[r] = true
				nLines++
			}
		}
	}
	if len(vas) == 0 {
		t.Fatal("no section headers in the llvm-pdbutil output")
	}
	if err := f.LoadProcs(); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, s := range f.Symbols() {
		have[fmt.Sprintf("%s@%x+%x/%s", s.Name, s.RVA, s.Size, s.Kind)] = true
	}
	counts := map[SymKind]int{}
	for _, w := range wants {
		key := fmt.Sprintf("%s@%x+%x/%s", w.name, w.rva, w.size, w.kind)
		counts[w.kind]++
		if !have[key] {
			t.Errorf("llvm-pdbutil has %s, we do not", key)
		}
	}
	checked := 0
	// Subsections with several files print one block per file with the same
	// range: merge them as the reader does.
	merged := map[[3]uint32]*oblock{}
	key := func(b *oblock) [3]uint32 { return [3]uint32{uint32(b.mod), b.start, b.end} }
	for _, b := range blocks {
		if m, ok := merged[key(b)]; ok {
			m.entries = append(m.entries, b.entries...)
		} else {
			merged[key(b)] = b
		}
	}
	// Folded functions of one module give identical ranges too; either
	// reading (merged or per block) is accepted.
	answers := func(r uint32) []string {
		var out []string
		var all []*oblock
		for _, b := range blocks {
			all = append(all, b, &oblock{mod: b.mod, start: b.start, end: b.end, entries: b.entries})
		}
		for i, b := range all {
			if i%2 == 0 && merged[key(b)] != b || r < b.start || r >= b.end {
				continue
			}
			best := -1
			for i, e := range b.entries {
				if e.rva <= r && (best < 0 || e.rva >= b.entries[best].rva) {
					best = i
				}
			}
			if best >= 0 {
				out = append(out, b.entries[best].text)
			}
		}
		return out
	}
	for r := range lines {
		cands := answers(r)
		file, line, ok := f.LineAt(r)
		got := fmt.Sprintf("%s:%d", file, line)
		found := false
		for _, c := range cands {
			found = found || c == got
		}
		if !ok || !found {
			t.Errorf("LineAt(%#x) = %s %v, llvm-pdbutil says %v", r, got, ok, cands)
		}
		checked++
	}
	t.Logf("checked %d publics, %d data, %d functions, %d thunks, %d labels, %d line entries at %d addresses",
		counts[Public], counts[Data], counts[Function], counts[Thunk], counts[Label], nLines, checked)
	if counts[Public] == 0 || counts[Function] == 0 || nLines == 0 {
		t.Error("the oracle output was not understood")
	}
}
