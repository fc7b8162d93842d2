package commands

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The leak analysis of the walk-through, on a real dump written by Wine's MiniDumpWriteDump
// (testdata/wine: leak.c run under Wine 8.0, cut down by shrink.py). Wine writes no
// MemoryInfoList and no CodeView records, leaves PEB.ProcessHeaps empty, and its process
// heap is not an NT heap (it only imitates a few NT header fields: 0xffeeffee at +0x10,
// Flags at +0x70). leak.txt is leak.exe's own account of what it allocated.

const (
	wineDump    = "../testdata/wine/leak.dmp"
	wineListing = "../testdata/wine/leak.txt"
)

type wineFacts struct {
	heap, vftable, globals uint64
	views, serializers     []uint64
}

func readWineFacts(t *testing.T) wineFacts {
	t.Helper()
	f, err := os.Open(wineListing)
	if err != nil {
		t.Fatalf("open %s: %v", wineListing, err)
	}
	defer f.Close()
	hex := func(s string) uint64 {
		v, err := strconv.ParseUint(s, 16, 64)
		if err != nil {
			t.Fatalf("%s: bad address %q", wineListing, s)
		}
		return v
	}
	var w wineFacts
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "heap":
			w.heap = hex(f[1])
		case len(f) == 2 && f[0] == "vftable":
			w.vftable = hex(f[1])
		case len(f) == 2 && f[0] == "g_leak":
			w.globals = hex(f[1])
		case len(f) == 4 && f[0] == "view" && f[2] == "serializer":
			w.views = append(w.views, hex(f[1]))
			w.serializers = append(w.serializers, hex(f[3]))
		}
	}
	if w.heap == 0 || w.vftable == 0 || w.globals == 0 || len(w.views) != 64 {
		t.Fatalf("%s: incomplete (heap %#x vftable %#x g_leak %#x, %d views)",
			wineListing, w.heap, w.vftable, w.globals, len(w.views))
	}
	return w
}

// ticked formats a 64-bit address the way WinDbg prints it: 00000000`013a0000.
func ticked(v uint64) string { return fmt.Sprintf("%08x`%08x", v>>32, v&0xffffffff) }

func openWine(t *testing.T) (*Session, wineFacts) {
	t.Helper()
	if _, err := os.Stat(wineDump); err != nil {
		t.Skipf("%s: %v (testdata/wine/build.sh makes it)", wineDump, err)
	}
	w := readWineFacts(t)
	s, _ := openSession(t, wineDump)
	return s, w
}

func TestWineModules(t *testing.T) {
	s, _ := openWine(t)
	out := run(t, s, "lm")
	for _, m := range []string{"leak", "ntdll", "kernel32", "kernelbase", "DBGHELP"} {
		if !strings.Contains(out, " "+m+" ") {
			t.Errorf("lm does not list %s:\n%s", m, out)
		}
	}
	if !strings.Contains(out, "00000001`40000000") {
		t.Errorf("lm does not show leak at 1`40000000:\n%s", out)
	}
}

func TestWineAddressSummarySaysRegionsAreDerived(t *testing.T) {
	s, _ := openWine(t)
	out := run(t, s, "!address -summary")
	if !strings.Contains(out, "no MemoryInfoList") {
		t.Errorf("!address -summary does not say the regions are derived (no MemoryInfoList):\n%s", out)
	}
	if !strings.Contains(out, "Usage Summary") {
		t.Errorf("!address -summary printed no usage summary:\n%s", out)
	}
}

// Without a MemoryInfoList no region is known to be MEM_MAPPED; the filter must say so
// rather than print an empty table as if the process had no mapped views.
func TestWineAddressMappedFilterSaysWhy(t *testing.T) {
	s, w := openWine(t)
	out := run(t, s, "!address -f:MEM_MAPPED")
	if strings.Contains(out, ticked(w.views[0])) {
		return // listed after all (e.g. a derived type): fine
	}
	said := false
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "MEM_MAPPED") || strings.Contains(strings.ToLower(line), "type") &&
			!strings.Contains(line, "BaseAddress") {
			said = true
		}
	}
	if !said {
		t.Errorf("!address -f:MEM_MAPPED lists no view and does not say that region types are unknown:\n%s", out)
	}
}

func TestWinePointerSearchFindsHolders(t *testing.T) {
	s, w := openWine(t)
	view := w.views[0]
	out := run(t, s, fmt.Sprintf("s -q 0 L?7fffffffffff %x", view))
	holders := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[1] == ticked(view) {
			holders[f[0]] = true
		}
	}
	if len(holders) < 10 {
		t.Errorf("s -q found %d holders of view %#x, want >= 10 (leak.c stores it in 12 places):\n%s",
			len(holders), view, out)
	}
	for what, at := range map[string]uint64{
		"CMMFSerializer.view":   w.serializers[0] + 8,
		"CMMFSerializer.cursor": w.serializers[0] + 0x10,
		"g_leak.viewCache[0]":   w.globals + 0x10,
	} {
		if !holders[ticked(at)] {
			t.Errorf("s -q does not find holder %s at %s:\n%s", what, ticked(at), out)
		}
	}
}

func TestWineDqsShowsVftable(t *testing.T) {
	s, w := openWine(t)
	holder := w.serializers[0] + 8
	out := run(t, s, fmt.Sprintf("dqs %x-8 L4", holder))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("dqs printed %d lines, want 4:\n%s", len(lines), out)
	}
	first := lines[0]
	if !strings.HasPrefix(first, ticked(w.serializers[0])) || !strings.Contains(first, ticked(w.vftable)) {
		t.Errorf("dqs first line is not the serializer's vftable pointer %s:\n%s", ticked(w.vftable), out)
	}
	// No CodeView record and no PDB: the vftable can only be named module+offset.
	if want := fmt.Sprintf("leak+0x%x", w.vftable-0x140000000); !strings.Contains(first, want) {
		t.Errorf("dqs does not name the vftable %s:\n%s", want, out)
	}
	if !strings.Contains(lines[1], ticked(w.views[0])) {
		t.Errorf("dqs second line does not hold the view %s:\n%s", ticked(w.views[0]), out)
	}
}

// Wine's process heap is not an NT heap and PEB.ProcessHeaps is empty: !heap must say so
// plainly, naming the heap it looked at, and print no NT-heap tables.
func TestWineHeapIsNotNTHeap(t *testing.T) {
	s, w := openWine(t)
	for _, cmd := range []string{"!heap", "!heap -s", fmt.Sprintf("!heap %x", w.heap)} {
		out := run(t, s, cmd)
		if !strings.Contains(strings.ToLower(out), "not an nt heap") {
			t.Errorf("%s does not say the heap is not an NT heap:\n%s", cmd, out)
		}
		if !strings.Contains(out, fmt.Sprintf("%x", w.heap)) {
			t.Errorf("%s does not name the process heap %x:\n%s", cmd, w.heap, out)
		}
		for _, garbage := range []string{"NT HEAP STATS", "Termination on corruption", "NT/Segment Heap"} {
			if strings.Contains(out, garbage) {
				t.Errorf("%s prints NT-heap output %q for a heap that is not one:\n%s", cmd, garbage, out)
			}
		}
	}
}
