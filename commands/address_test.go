package commands

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"wdb/dump"
	"wdb/dump/dumpbuild"
)

// addressJSON runs a !address command in JSON mode and decodes its result.
func addressJSON(t *testing.T, s *Session, line string, v any) {
	t.Helper()
	s.JSON = true
	defer func() { s.JSON = false }()
	out := run(t, s, line)
	var rec struct {
		Result json.RawMessage `json:"result"`
		Error  string          `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("%s: output is not one JSON object: %v\n%s", line, err, out)
	}
	if rec.Error != "" {
		t.Fatalf("%s: %s", line, rec.Error)
	}
	if err := json.Unmarshal(rec.Result, v); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
}

func summaryRow(rows []SummaryRow, name string) (SummaryRow, bool) {
	for _, r := range rows {
		if r.Name == name {
			return r, true
		}
	}
	return SummaryRow{}, false
}

// The MANIFEST counts 984 MemoryInfoList entries in stability-report.dmp:
// 330 MEM_IMAGE, 105 MEM_MAPPED, 461 MEM_PRIVATE.
func TestAddressStabilityReportCounts(t *testing.T) {
	s, _ := openSession(t, corpusDump(t, goldenStability))
	var sum AddressSummary
	addressJSON(t, s, "!address -summary", &sum)
	for name, want := range map[string]int{"MEM_IMAGE": 330, "MEM_MAPPED": 105, "MEM_PRIVATE": 461} {
		if r, ok := summaryRow(sum.Type, name); !ok || r.Count != want {
			t.Errorf("type %s: %d regions, want %d", name, r.Count, want)
		}
	}
	if sum.Derived {
		t.Errorf("stability-report has a MemoryInfoList; regions must not be derived")
	}
	var list struct {
		Regions []RegionRow `json:"regions"`
	}
	addressJSON(t, s, "!address -f:MEM_MAPPED", &list)
	if len(list.Regions) != 105 {
		t.Fatalf("!address -f:MEM_MAPPED lists %d regions, want 105", len(list.Regions))
	}
	for _, r := range list.Regions {
		if r.Type != "MEM_MAPPED" {
			t.Errorf("filtered list holds a %s region at %#x", r.Type, r.Base)
		}
	}
	text := run(t, s, "!address -f:MEM_MAPPED")
	if n := strings.Count(text, " MEM_MAPPED "); n != 105 {
		t.Errorf("text list has %d MEM_MAPPED rows, want 105", n)
	}
	if strings.Contains(text, "\n+") {
		t.Errorf("filtered lists carry no '+' markers")
	}
}

// The manticore dumps are full-memory Windows 7 x86 dumps: the usage table
// has Heap, Stack, Image, TEB and PEB rows, and the three process heaps
// (0x90000 and the two in MEM_MAPPED regions at 0x10000 and 0x20000) are found.
func TestAddressManticoreUsage(t *testing.T) {
	s, _ := openSession(t, corpusDump(t, simpleParseDump))
	var sum AddressSummary
	addressJSON(t, s, "!address -summary", &sum)
	for _, u := range []string{"Heap", "Stack", "Image", "TEB", "PEB", "Free"} {
		if _, ok := summaryRow(sum.Usage, u); !ok {
			t.Errorf("usage %s missing from the summary", u)
		}
	}
	if r, _ := summaryRow(sum.Type, "MEM_MAPPED"); r.Count != 7 {
		t.Errorf("MEM_MAPPED regions: %d, want 7 (MANIFEST)", r.Count)
	}
	var list struct {
		Regions []RegionRow `json:"regions"`
	}
	addressJSON(t, s, "!address -f:Heap", &list)
	handles := map[string]bool{}
	for _, r := range list.Regions {
		handles[r.Detail[strings.Index(r.Detail, "Handle:"):]] = true
	}
	for _, h := range []string{"Handle: 00090000; Type: Segment", "Handle: 00010000; Type: Segment", "Handle: 00020000; Type: Segment"} {
		if !handles[h] {
			t.Errorf("no Heap region for %s; have %v", h, handles)
		}
	}
	// Sizes add up to the 32-bit user address space.
	var total uint64
	for _, r := range sum.State {
		total += r.Size
	}
	if total != sum.Total || total < 0x7fff0000 || total > 0x80000000 {
		t.Errorf("regions cover %#x bytes, want the 2 GB user space", total)
	}
}

func TestAddressTextLayout(t *testing.T) {
	s, _ := openSession(t, corpusDump(t, simpleParseDump))
	out := run(t, s, "!address")
	lines := strings.Split(out, "\n")
	if lines[1] != "  BaseAddr EndAddr+1 RgnSize     Type       State                 Protect             Usage" {
		t.Fatalf("header: %q", lines[1])
	}
	want := "+        0    10000    10000             MEM_FREE    PAGE_NOACCESS                      Free       "
	if lines[3] != want {
		t.Errorf("first row\n got %q\nwant %q", lines[3], want)
	}
	if !strings.Contains(out, "    2dd000   2de000     1000 MEM_PRIVATE MEM_COMMIT  PAGE_READWRITE | PAGE_GUARD        Stack      [~0; 478.dec]\n") {
		t.Errorf("guard page row of the stack not found:\n%s", out)
	}
	sum := run(t, s, "!address -summary")
	for _, l := range []string{
		"--- Usage Summary ---------------- RgnCount ----------- Total Size -------- %ofBusy %ofTotal",
		"TEB                                       1              1000 (  4.000 kB)   0.06%    0.00%",
		"--- Largest Region by Usage ----------- Base Address -------- Region Size ----------",
		"Stack                                         1e0000             fd000 (1012.000 kB)",
	} {
		if !strings.Contains(sum, l+"\n") {
			t.Errorf("summary lacks line %q:\n%s", l, sum)
		}
	}
	detail := run(t, s, "!address 2de100")
	for _, l := range []string{"Usage:                  Stack", "Base Address:           002de000", "State:                  00001000          MEM_COMMIT", "More info:              ~0k"} {
		if !strings.Contains(detail, l+"\n") {
			t.Errorf("!address 2de100 lacks %q:\n%s", l, detail)
		}
	}
}

func TestAddressDerivedRegions(t *testing.T) {
	s, _ := openSession(t, corpusDump(t, goldenWow64))
	out := run(t, s, "!address -summary")
	if !strings.Contains(out, "derived") {
		t.Errorf("a dump without MemoryInfoList must say its regions are derived:\n%s", out)
	}
	for _, u := range []string{"Heap32", "Heap64", "Stack32", "Stack64", "Image"} {
		if !strings.Contains(out, "\n"+u+" ") {
			t.Errorf("WOW64 usage %s missing:\n%s", u, out)
		}
	}
	// nt-heap.md: 64-bit heaps 0xa60000 and 0x2c0000, 32-bit heap 0x720000.
	list := run(t, s, "!address -f:Heap")
	for _, h := range []string{"Handle: 0000000000a60000", "Handle: 00000000002c0000", "Handle: 00720000"} {
		if !strings.Contains(list, h) {
			t.Errorf("heap %s not found:\n%s", h, list)
		}
	}
}

func TestAddressFilterErrors(t *testing.T) {
	s, _ := openSession(t, corpusDump(t, simpleParseDump))
	if out := run(t, s, "!address -f:NOPE"); !strings.Contains(out, "Invalid filter 'NOPE'") {
		t.Errorf("bad filter: %q", out)
	}
	out := run(t, s, `!address -f:Stack -c:".echo %1 %3 %5 %7"`)
	if !strings.Contains(out, "0x1e0000 0xfd000 MEM_RESERVE Stack\n") {
		t.Errorf("-c: expansion:\n%s", out)
	}
}

func TestAddressGolden(t *testing.T) { runGoldenTopic(t, "address") }

// BenchmarkAddressSummary100k runs !address -summary on a dump with 100 000
// MemoryInfoList regions (budget: < 100 ms), opening the dump outside the timer.
func BenchmarkAddressSummary100k(b *testing.B) {
	bld := dumpbuild.New(dumpbuild.X64)
	base := uint64(0x10000000)
	for i := 0; i < 100000; i++ {
		typ := uint32(dump.MemPrivate)
		if i%3 == 0 {
			typ = dump.MemMapped
		}
		bld.Memory64Zero(base, 0x1000)
		bld.Region(dumpbuild.Region{Base: base, AllocBase: base, Size: 0x1000, State: dump.MemCommit, Protect: dump.PageReadWrite, Type: typ})
		base += 0x11000
	}
	p := filepath.Join(b.TempDir(), "regions.dmp")
	if err := bld.WriteFile(p); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, out := openSession(b, p)
		b.StartTimer()
		s.Execute("!address -summary")
		if !strings.Contains(out.String(), "MEM_MAPPED                            33334") {
			b.Fatalf("summary:\n%s", out.String())
		}
	}
}

// A dump shaped like Wine's MiniDumpWriteDump output: no MemoryInfoList and
// no CodeView records. !address still lists regions, derived and said so.
func TestAddressWineShapedDump(t *testing.T) {
	b := dumpbuild.New(dumpbuild.X64)
	b.Module(dumpbuild.Module{Name: `C:\windows\system32\ntdll.dll`, Base: 0x7bc00000, Size: 0x100000})
	b.Module(dumpbuild.Module{Name: `C:\leak\leak.exe`, Base: 0x140000000, Size: 0x20000})
	b.Thread(dumpbuild.Thread{ID: 0x20, TEB: 0x7ffd8000, StackStart: 0x21f000, Stack: make([]byte, 0x1000), Regs: map[string]uint64{"rsp": 0x21f800, "rip": 0x140001000}})
	for i := uint64(0); i < 3; i++ {
		b.Memory(0x1000000+i*0x40000, make([]byte, 0x1000))
	}
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := dump.OpenBytes(raw, "wine.dmp")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	s := NewSession(f, &out, &out)
	s.Execute("!address")
	text := out.String()
	for _, want := range []string{derivedNote, "Image      [leak; \"C:\\leak\\leak.exe\"]", "Stack      [~0; 0.20]", "MEM_IMAGE   MEM_COMMIT"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
	if f.Modules[0].CodeView != nil {
		t.Errorf("no CodeView expected")
	}
}
