package dump

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const corpusDir = "../../shared/corpus"

// manifestDump is one row of the corpus MANIFEST's minidump table: the facts
// another parser measured on the file.
type manifestDump struct {
	path     string
	arch     string // x86, amd64, ppc, ?
	os       string // "WinNT 10.0.22631 (4751)", "?"
	modules  string
	threads  string
	ranges   string // "ML 3 (5884 B)", "M64 35 (...)", "—"
	memInfo  string // "984 (IMAGE 330, MAPPED 105, PRIVATE 461, free/none 88)", "—"
	malforme bool
}

func readManifest(t *testing.T) []manifestDump {
	t.Helper()
	fh, err := os.Open(filepath.Join(corpusDir, "MANIFEST.md"))
	if err != nil {
		t.Skipf("corpus not available (%v): the shared corpus is expected at %s", err, corpusDir)
	}
	defer fh.Close()
	var out []manifestDump
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cols := strings.Split(line, "|")
		if len(cols) < 17 {
			continue
		}
		for i := range cols {
			cols[i] = strings.TrimSpace(cols[i])
		}
		arch := cols[8]
		if arch == "oracle" || arch == "oracle-derived" || arch == "pe/pdb" || strings.Contains(cols[1], "kdlibcpp") {
			continue
		}
		d := manifestDump{path: strings.Trim(cols[1], "`"), arch: arch, os: cols[9], modules: cols[11], threads: cols[12], ranges: cols[13], memInfo: cols[14]}
		d.malforme = strings.Contains(d.path, "/fuzzed/") || strings.Contains(d.path, "/invalid-r") || strings.Contains(d.path, "/bad_") || strings.Contains(d.path, "/trunc_")
		out = append(out, d)
	}
	if len(out) < 40 {
		t.Fatalf("MANIFEST lists %d dumps; the table format changed?", len(out))
	}
	return out
}

var (
	buildRE   = regexp.MustCompile(`^(?:WinNT|MacOSX|Linux) \d+\.\d+\.(\d+)`)
	rangesRE  = regexp.MustCompile(`^(ML|M64) (\d+)`)
	memInfoRE = regexp.MustCompile(`^(\d+) \(IMAGE (\d+), MAPPED (\d+), PRIVATE (\d+)`)
)

// TestCorpusConformance opens every dump of the corpus and checks what the
// MANIFEST recorded: architecture, build, module/thread counts, memory list
// descriptors and MemoryInfoList entries by type. Malformed files must give
// one clear error or open with warnings — never panic.
func TestCorpusConformance(t *testing.T) {
	for _, d := range readManifest(t) {
		t.Run(filepath.Base(d.path), func(t *testing.T) {
			p := filepath.Join(corpusDir, d.path)
			f, err := Open(p)
			if d.malforme {
				if err == nil {
					defer f.Close()
					if len(f.Warnings) == 0 && !strings.Contains(d.path, "/bad_") {
						t.Errorf("malformed file opened without a warning")
					}
					for _, w := range f.Warnings {
						if strings.Contains(w.Error(), "\n") {
							t.Errorf("warning spans lines: %q", w)
						}
					}
					_ = f.Regions()
				} else if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), " at 0x") {
					t.Errorf("error should be one line naming the offset: %q", err)
				}
				if err == nil && strings.Contains(d.path, "/bad_") && len(f.Warnings) == 0 {
					t.Errorf("%s: duplicate/overlapping streams must be warned about", d.path)
				}
				return
			}
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer f.Close()
			if len(f.Warnings) > 0 {
				t.Errorf("warnings on a well-formed dump: %v", f.Warnings)
			}
			want := map[string]Arch{"x86": ArchX86, "amd64": ArchAMD64}[d.arch]
			if want != ArchUnknown && f.Arch() != want {
				t.Errorf("arch %v, MANIFEST says %s", f.Arch(), d.arch)
			}
			if m := buildRE.FindStringSubmatch(d.os); m != nil {
				if f.System == nil || strconv.Itoa(int(f.System.BuildNumber)) != m[1] {
					t.Errorf("build: MANIFEST says %s, SystemInfo %+v", m[1], f.System)
				}
				if i := strings.Index(d.os, "("); i > 0 && f.System != nil {
					csd := strings.TrimSuffix(d.os[i+1:], ")")
					if !strings.Contains(f.System.CSDVersion, csd) {
						t.Errorf("CSD version %q, MANIFEST says %q", f.System.CSDVersion, csd)
					}
				}
			}
			if n, err := strconv.Atoi(d.modules); err == nil && len(f.Modules) != n {
				t.Errorf("modules: %d, MANIFEST says %d", len(f.Modules), n)
			}
			if n, err := strconv.Atoi(d.threads); err == nil && len(f.Threads) != n {
				t.Errorf("threads: %d, MANIFEST says %d", len(f.Threads), n)
			}
			if m := rangesRE.FindStringSubmatch(d.ranges); m != nil {
				n, _ := strconv.Atoi(m[2])
				got := f.MemoryListCount
				if m[1] == "M64" {
					got = f.Memory64ListCount
				}
				if got != n {
					t.Errorf("%s descriptors: %d, MANIFEST says %d", m[1], got, n)
				}
			}
			if m := memInfoRE.FindStringSubmatch(d.memInfo); m != nil {
				counts := map[uint32]int{}
				for _, mi := range f.MemoryInfo {
					counts[mi.Type]++
				}
				total, _ := strconv.Atoi(m[1])
				img, _ := strconv.Atoi(m[2])
				mapped, _ := strconv.Atoi(m[3])
				priv, _ := strconv.Atoi(m[4])
				if len(f.MemoryInfo) != total || counts[MemImage] != img || counts[MemMapped] != mapped || counts[MemPrivate] != priv {
					t.Errorf("MemoryInfoList: %d entries (image %d, mapped %d, private %d), MANIFEST says %s",
						len(f.MemoryInfo), counts[MemImage], counts[MemMapped], counts[MemPrivate], d.memInfo)
				}
			} else if d.memInfo == "—" && f.HasMemoryInfo {
				t.Errorf("MemoryInfoList present, MANIFEST says none")
			}
			// Regions cover the user address space without gaps or overlaps.
			var at uint64
			for _, r := range f.Regions() {
				if r.Base != at {
					t.Fatalf("region at %#x, expected %#x: gap or overlap", r.Base, at)
				}
				at = r.End()
			}
			if at != f.UserSpaceEnd() {
				t.Errorf("regions end at %#x, user space at %#x", at, f.UserSpaceEnd())
			}
		})
	}
}

// The Windows 10 WOW64 full dump (kdlibcpp) has no MemoryInfoList; its heaps
// are known (nt-heap.md §8): PEB64 0x5d7000 → 0xa60000, 0x2c0000; PEB32
// 0x5d8000 → 0x720000.
func TestWow64Heaps(t *testing.T) {
	p := filepath.Join(corpusDir, "ivellioscolin__kdlibcpp/kdlib/tests/dumps/targetapp_stacktest_wow64/targetapp_stacktest_wow64.cab.dmp")
	f, err := Open(p)
	if os.IsNotExist(err) {
		t.Skipf("corpus not available: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !f.IsWow64() || f.HasMemoryInfo || f.Memory64ListCount != 84 || len(f.Modules) != 12 || len(f.Threads) != 4 {
		t.Fatalf("wow64=%v meminfo=%v m64=%d modules=%d threads=%d", f.IsWow64(), f.HasMemoryInfo, f.Memory64ListCount, len(f.Modules), len(f.Threads))
	}
	peb, err := f.PEB()
	if err != nil || peb != 0x5d7000 {
		t.Fatalf("PEB64 %#x %v", peb, err)
	}
	heaps, err := f.ProcessHeaps(peb, &Layout64)
	if err != nil || len(heaps) != 2 || heaps[0] != 0xa60000 || heaps[1] != 0x2c0000 {
		t.Errorf("64-bit heaps %#x %v", heaps, err)
	}
	peb32, err := f.PEB32()
	if err != nil || peb32 != 0x5d8000 {
		t.Fatalf("PEB32 %#x %v", peb32, err)
	}
	heaps32, err := f.ProcessHeaps(peb32, &Layout32)
	if err != nil || len(heaps32) != 1 || heaps32[0] != 0x720000 {
		t.Errorf("32-bit heaps %#x %v", heaps32, err)
	}
	if f.Exception == nil || f.Exception.Code != 0x4000001f || f.Exception.Address != 0x875f5d {
		t.Errorf("exception %+v", f.Exception)
	}
}
