package commands

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"wdb/dump"
	"wdb/dump/dumpbuild"
)

func TestSearchGolden(t *testing.T) {
	runGolden(t, simpleParseDump, "simple_parse_search.txt")
	runGolden(t, goldenStability, "stability-report_search.txt")
}

// capturedRuns returns the dump's memory as maximal address-contiguous runs
// (ranges that touch are joined, as a pattern may straddle them).
func capturedRuns(t *testing.T, f *dump.File) map[uint64][]byte {
	t.Helper()
	runs := map[uint64][]byte{}
	var start uint64
	var cur []byte
	for _, r := range f.MemoryRanges() {
		b := make([]byte, r.Size)
		if n, err := f.ReadMemory(r.Start, b); n != len(b) {
			t.Fatalf("read range %#x: %v", r.Start, err)
		}
		if cur != nil && start+uint64(len(cur)) == r.Start {
			cur = append(cur, b...)
			continue
		}
		if cur != nil {
			runs[start] = cur
		}
		start, cur = r.Start, b
	}
	if cur != nil {
		runs[start] = cur
	}
	return runs
}

// bruteSearch lists every aligned occurrence of p, the slow way.
func bruteSearch(runs map[uint64][]byte, p []byte, align uint64) []uint64 {
	var out []uint64
	for start, b := range runs {
		for o := 0; o+len(p) <= len(b); o++ {
			if (start+uint64(o))%align == 0 && bytes.Equal(b[o:o+len(p)], p) {
				out = append(out, start+uint64(o))
			}
		}
	}
	slices.Sort(out)
	return out
}

// searchAddrs runs an s -[1] command and parses the addresses it prints.
func searchAddrs(t *testing.T, s *Session, out *bytes.Buffer, cmd string) []uint64 {
	t.Helper()
	out.Reset()
	if err := s.Execute(cmd); err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	var got []uint64
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if l == "" {
			continue
		}
		v, err := strconv.ParseUint(strings.ReplaceAll(strings.TrimPrefix(l, "0x"), "`", ""), 16, 64)
		if err != nil {
			t.Fatalf("%s: bad line %q", cmd, l)
		}
		got = append(got, v)
	}
	return got
}

// s -d/-q/-w/-b must find every occurrence the dump holds: compare with a
// brute-force scan of all captured memory for values picked from the dump
// itself (so that there are hits), zero included (hundreds of thousands).
func TestSearchFindsEveryHit(t *testing.T) {
	for _, d := range []struct {
		path string
		end  string
	}{{simpleParseDump, "L?ffffffff"}, {goldenStability, "L?ffffffffffffffff"}} {
		var out bytes.Buffer
		s := openCorpusSession(t, d.path, &out)
		runs := capturedRuns(t, s.Target)
		var pick []byte
		for _, b := range runs {
			if len(b) > len(pick) {
				pick = b
			}
		}
		check := func(typ string, unit int, p []byte) {
			t.Helper()
			var vals []string
			for k := 0; k < len(p); k += unit {
				var v uint64
				for j := unit - 1; j >= 0; j-- {
					v = v<<8 | uint64(p[k+j])
				}
				vals = append(vals, fmt.Sprintf("%x", v))
			}
			cmd := fmt.Sprintf("s -[1]%s 0 %s %s", typ, d.end, strings.Join(vals, " "))
			align := uint64(unit)
			if typ == "b" {
				align = 1
			}
			got := searchAddrs(t, s, &out, cmd)
			want := bruteSearch(runs, p, align)
			if !slices.Equal(got, want) {
				t.Errorf("%s: %d hits, brute force %d", cmd, len(got), len(want))
			} else if len(want) == 0 {
				t.Errorf("%s: no hits at all, the test picks values from the dump", cmd)
			}
		}
		check("d", 4, make([]byte, 4))
		for _, off := range []int{0x7a4, len(pick) - 8} {
			off &^= 7
			check("d", 4, pick[off:off+4])
			check("q", 8, pick[off:off+8])
			check("w", 2, pick[off+2:off+4])
			check("b", 1, pick[off+1:off+4])
		}
	}
}

// On simple_parse the dump splits the stack at 2dfdc4 (Memory64List below,
// thread stack above): a byte pattern across that seam must be found.
func TestSearchStraddlesRanges(t *testing.T) {
	var out bytes.Buffer
	s := openCorpusSession(t, simpleParseDump, &out)
	var p [4]byte
	if n, _ := s.Target.ReadMemory(0x2dfdc2, p[:]); n != 4 {
		t.Fatal("2dfdc2 not readable")
	}
	cmd := fmt.Sprintf("s -[1]b 2dfdc0 L8 %x %x %x %x", p[0], p[1], p[2], p[3])
	if got := searchAddrs(t, s, &out, cmd); !slices.Contains(got, 0x2dfdc2) {
		t.Errorf("%s: %x, want 2dfdc2 among the hits", cmd, got)
	}
}

// searchTestDump builds an x64 dump:
//
//	0x10000 (MemoryList) and 0x10100 (Memory64List): contiguous addresses,
//	  separate file areas, so they arrive as two chunks; "abcdef" straddles
//	0x20000 and 0x20200 (a gap between): "ghijkl" is split by the gap
//	0x30000 writable, 0x40000 read-only, both holding the qword 1122334455667788
//	  at an aligned and at an unaligned address
func searchTestDump(t *testing.T) (*Session, *bytes.Buffer) {
	t.Helper()
	b := dumpbuild.New(dumpbuild.X64)
	lo := make([]byte, 0x100)
	copy(lo[0xfd:], "abc")
	hi := make([]byte, 0x100)
	copy(hi, "def")
	b.Memory(0x10000, lo)
	b.Memory64(0x10100, hi)
	g1 := make([]byte, 0x100)
	copy(g1[0xfd:], "ghi")
	g2 := make([]byte, 0x100)
	copy(g2, "jkl")
	b.Memory(0x20000, g1)
	b.Memory(0x20200, g2)
	for _, base := range []uint64{0x30000, 0x40000} {
		m := make([]byte, 0x1000)
		binary.LittleEndian.PutUint64(m[0x10:], 0x1122334455667788)
		binary.LittleEndian.PutUint64(m[0x23:], 0x1122334455667788)
		b.Memory(base, m)
	}
	for _, r := range []dumpbuild.Region{
		{Base: 0x10000, AllocBase: 0x10000, Size: 0x1000, State: dump.MemCommit, Protect: dump.PageReadWrite, Type: dump.MemPrivate},
		{Base: 0x20000, AllocBase: 0x20000, Size: 0x1000, State: dump.MemCommit, Protect: dump.PageReadWrite, Type: dump.MemPrivate},
		{Base: 0x30000, AllocBase: 0x30000, Size: 0x1000, State: dump.MemCommit, Protect: dump.PageReadWrite, Type: dump.MemPrivate},
		{Base: 0x40000, AllocBase: 0x40000, Size: 0x1000, State: dump.MemCommit, Protect: dump.PageReadOnly, Type: dump.MemPrivate},
	} {
		b.Region(r)
	}
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := dump.OpenBytes(raw, "search.dmp")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	return NewSession(f, &out, &out), &out
}

func TestSearchSynthetic(t *testing.T) {
	s, out := searchTestDump(t)
	if n := len(s.Target.MemoryRanges()); n < 5 {
		t.Fatalf("expected separate ranges, got %d", n)
	}
	for _, c := range []struct {
		cmd  string
		want []uint64
	}{
		{`s -[1]a 0 L?ffffffff "abcdef"`, []uint64{0x100fd}},
		{`s -[1]b 10000 L200 63 64`, []uint64{0x100ff}},
		{`s -[1]a 0 L?ffffffff "ghijkl"`, nil}, // split by uncaptured memory
		{`s -[1]a 0 L?ffffffff "ghi"`, []uint64{0x200fd}},
		// Aligned hits only for -q/-d/-w; -b finds the unaligned copy too.
		{"s -[1]q 0 L?ffffffff 11223344`55667788", []uint64{0x30010, 0x40010}},
		{`s -[1]q 0 L?ffffffff 1122334455667788`, []uint64{0x30010, 0x40010}},
		{`s -[1]d 0 L?ffffffff 11223344`, []uint64{0x30014, 0x40014}},
		{`s -[1]d 0 L?ffffffff 55667788 11223344`, []uint64{0x30010, 0x40010}},
		{`s -[1]w 0 L?ffffffff 1122`, []uint64{0x30016, 0x40016}},
		{`s -[1]b 0 L?ffffffff 88 77 66 55 44 33 22 11`, []uint64{0x30010, 0x30023, 0x40010, 0x40023}},
		// A match must lie wholly inside the range.
		{`s -[1]q 30010 L7 1122334455667788`, nil},
		{`s -[1]q 30010 L8 1122334455667788`, []uint64{0x30010}},
		{`s -[1]q 30010 30017 1122334455667788`, []uint64{0x30010}},
		// -[w]: the read-only copy at 40000 is skipped.
		{`s -[w1]q 0 L?ffffffff 1122334455667788`, []uint64{0x30010}},
		{`s -[1w]b 0 L?ffffffff 88 77 66 55`, []uint64{0x30010, 0x30023}},
	} {
		if got := searchAddrs(t, s, out, c.cmd); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %x want %x", c.cmd, got, c.want)
		}
	}
	// The hit line of -q is dq-like; -d dc-like; bytes past the dump are ??.
	for _, c := range []struct{ cmd, want string }{
		{`s -q 30000 L100 1122334455667788`, "00000000`00030010  11223344`55667788 00000000`00000000\n"},
		{`s -d 30000 L100 11223344`, "00000000`00030014  11223344 00000000 00000000 88000000  D3\".............\n"},
		{`s -a 100f0 L100 "def"`, "00000000`00010100  64 65 66 00 00 00 00 00-00 00 00 00 00 00 00 00  def.............\n"},
		{`s -a 200f0 L100 "ghi"`, "00000000`000200fd  67 68 69 ?? ?? ?? ?? ??-?? ?? ?? ?? ?? ?? ?? ??  ghi?????????????\n"},
		{`s -sa 10000 L20000`, "00000000`000100fd  \"abcdef\"\n00000000`000200fd  \"ghi\"\n00000000`00020200  \"jkl\"\n"},
	} {
		if got := dispRun(s, out, c.cmd); got != c.want {
			t.Errorf("%s:\ngot  %q\nwant %q", c.cmd, got, c.want)
		}
	}
}

// cancelAfter is a context that reports Ctrl-C after n checks.
type cancelAfter struct {
	context.Context
	n int
}

func (c *cancelAfter) Err() error {
	if c.n--; c.n < 0 {
		return context.Canceled
	}
	return nil
}

// Ctrl-C between chunks keeps the hits found so far and ends with WinDbg's
// interruption line.
func TestSearchInterrupted(t *testing.T) {
	s, out := searchTestDump(t)
	// Checks run before each chunk: 0x10000, 0x10100, 0x20000, 0x20200,
	// 0x30000 (a hit), 0x40000 (stopped before it).
	s.Ctx = &cancelAfter{Context: context.Background(), n: 5}
	got := dispRun(s, out, `s -q 0 L?ffffffff 1122334455667788`)
	want := "00000000`00030010  11223344`55667788 00000000`00000000\n" +
		strings.Repeat(" ", len("0:000> s -q 0 L?ffffffff 1122334455667788")) + "^ User interrupted operation error in 's -q 0 l?ffffffff 1122334455667788'\n"
	if got != want {
		t.Errorf("interrupted search:\ngot  %q\nwant %q", got, want)
	}
	s.Ctx = &cancelAfter{Context: context.Background(), n: 0}
	got = dispRun(s, out, `s -a 0 L?ffffffff "abc"`)
	if want := strings.Repeat(" ", len(`0:000> s -a 0 L?ffffffff "abc`)) + `^ User interrupted operation error in 's -a 0 l?ffffffff "abc'` + "\n"; got != want {
		t.Errorf("interrupted string search:\ngot  %q\nwant %q", got, want)
	}
	s.JSON = true
	s.Ctx = &cancelAfter{Context: context.Background(), n: 5}
	got = dispRun(s, out, `s -q 0 L?ffffffff 1122334455667788`)
	if !strings.Contains(got, `"interrupted":true`) || !strings.Contains(got, `"address":196624`) || !strings.Contains(got, `"error":`) {
		t.Errorf("interrupted search JSON: %s", got)
	}
}

func TestSearchJSON(t *testing.T) {
	s, out := searchTestDump(t)
	s.JSON = true
	got := dispRun(s, out, `s -a 200f0 L100 "ghi"`)
	var rec struct {
		Result struct {
			Type    string
			Pattern string
			Hits    []struct {
				Address uint64
				Values  []*uint64
				ASCII   string
			}
		}
	}
	if err := json.Unmarshal([]byte(got), &rec); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	r := rec.Result
	if r.Type != "a" || r.Pattern != "676869" || len(r.Hits) != 1 || r.Hits[0].Address != 0x200fd ||
		len(r.Hits[0].Values) != 16 || *r.Hits[0].Values[0] != 'g' || r.Hits[0].Values[3] != nil || r.Hits[0].ASCII != "ghi?????????????" {
		t.Errorf("s -a JSON: %s", got)
	}
	if got := dispRun(s, out, `s -sa 20000 L1000`); !strings.Contains(got, `"hits":[{"address":131325,"string":"ghi"},{"address":131584,"string":"jkl"}]`) {
		t.Errorf("s -sa JSON: %s", got)
	}
	if got := dispRun(s, out, `s -d 0 L10 1`); !strings.Contains(got, `"hits":[]`) {
		t.Errorf("no hits is an empty list: %s", got)
	}
}

// The progress line appears on stderr only for interactive scans longer
// than a second, and is erased at the end.
func TestSearchProgress(t *testing.T) {
	var out, errout bytes.Buffer
	s := NewSession(nil, &out, &errout)
	p := newSearchProgress(s, 3<<30)
	p.started = time.Now().Add(-2 * time.Second)
	p.update(1 << 30)
	if errout.Len() != 0 {
		t.Errorf("progress without a terminal: %q", errout.String())
	}
	s.Interactive = true
	p.update(1 << 30)
	p.clear()
	want := "\rSearching... 33% (1.0 GB of 3.0 GB)\r" + strings.Repeat(" ", len("Searching... 33% (1.0 GB of 3.0 GB)")) + "\r"
	if errout.String() != want {
		t.Errorf("progress:\ngot  %q\nwant %q", errout.String(), want)
	}
	errout.Reset()
	q := newSearchProgress(s, 3<<30)
	q.update(1 << 30) // under a second: nothing
	q.clear()
	if errout.Len() != 0 {
		t.Errorf("short scan drew progress: %q", errout.String())
	}
}

func TestSearchPatternTokens(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"58 c3", []string{"58", "c3"}},
		{"' ' 'a b'  poi(@rsp + 8) 1", []string{"' '", "'a b'", "poi(@rsp + 8)", "1"}},
	} {
		if got := patternTokens(c.in); !slices.Equal(got, c.want) {
			t.Errorf("patternTokens(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// benchSearchDump writes a 1 GiB full-memory x64 dump shaped like a
// process (4 MiB ranges: a third zero, a third sparse pointers and small
// numbers, a third dense data, with gaps) and opens it memory-mapped, so
// the s benchmarks measure the whole command from the page cache.
func benchSearchDump(b *testing.B) *Session {
	b.Helper()
	const rangeSize = 4 << 20
	bld := dumpbuild.New(dumpbuild.X64)
	addr := uint64(0x10000000)
	seed := uint64(0x9e3779b97f4a7c15)
	next := func() uint64 { // xorshift64*: deterministic and fast
		seed ^= seed >> 12
		seed ^= seed << 25
		seed ^= seed >> 27
		return seed * 2685821657736338717
	}
	for i := 0; i < (1<<30)/rangeSize; i++ {
		switch i % 3 {
		case 0:
			bld.Memory64Zero(addr, rangeSize)
		case 1:
			m := make([]byte, rangeSize)
			for off := 0; off < rangeSize; off += 64 {
				binary.LittleEndian.PutUint64(m[off:], 0x00007ff600000000|next()&0xffffffff)
				binary.LittleEndian.PutUint64(m[off+8:], next()&0xffff)
			}
			bld.Memory64(addr, m)
		default:
			m := make([]byte, rangeSize)
			for off := 0; off < rangeSize; off += 8 {
				binary.LittleEndian.PutUint64(m[off:], next())
			}
			bld.Memory64(addr, m)
		}
		addr += rangeSize
		if i%7 == 0 {
			addr += 1 << 20
		}
	}
	path := b.TempDir() + "/bench.dmp"
	if err := bld.WriteFile(path); err != nil {
		b.Fatal(err)
	}
	f, err := dump.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	var out bytes.Buffer
	return NewSession(f, &out, &out)
}

func benchSearch(b *testing.B, cmd string) {
	s := benchSearchDump(b)
	b.SetBytes(int64(s.Target.CapturedBytes()))
	b.ResetTimer()
	for b.Loop() {
		if err := s.Execute(cmd); err != nil {
			b.Fatal(err)
		}
	}
}

// The budgets: s -d/-q at 5 GB/s or more on one core, s -a/-b at 2 GB/s.
func BenchmarkSearchQword(b *testing.B) {
	benchSearch(b, "s -[1]q 0 L?7fffffffffff 00007ff6`c7712da3")
}
func BenchmarkSearchDword(b *testing.B) { benchSearch(b, "s -[1]d 0 L?7fffffffffff c7712da3") }
func BenchmarkSearchASCII(b *testing.B) { benchSearch(b, `s -[1]a 0 L?7fffffffffff "ntdll.dll"`) }
func BenchmarkSearchBytes(b *testing.B) { benchSearch(b, "s -[1]b 0 L?7fffffffffff 58 c3 90") }

func TestSearchChunksTotal(t *testing.T) {
	s, out := searchTestDump(t)
	for _, c := range []struct {
		sp   searchSpec
		want uint64
	}{
		{searchSpec{start: 0, end: ^uint64(0)}, 0x2400},
		{searchSpec{start: 0, end: ^uint64(0), writable: true}, 0x1400},
		{searchSpec{start: 0x10080, end: 0x30800}, 0xb80},
		{searchSpec{start: 0x10080, end: 0x30800, writable: true}, 0xb80},
		{searchSpec{start: 0x40800, end: 0x50000, writable: true}, 0},
	} {
		chunks, total := searchChunks(s.Target, &c.sp)
		var sum uint64
		for _, b := range chunks {
			sum += uint64(len(b))
		}
		if total != c.want || sum != c.want {
			t.Errorf("%+v: total %#x, chunks %#x, want %#x", c.sp, total, sum, c.want)
		}
	}
	// Flags: l takes a number in the current radix, up to a blank.
	if got := dispRun(s, out, `s -[l4 1]sa 10000 L20000`); got != "0x00000000`000100fd\n" {
		t.Errorf("s -[l4 1]sa: %q", got)
	}
	if got := dispRun(s, out, `s -[1l10]sa 10000 L?ffffffff`); got != "" {
		t.Errorf("s -[1l10]sa (16 characters at least): %q", got)
	}
}
