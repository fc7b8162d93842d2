package pdb

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// bigPublics appends n S_PUB32 records (16 bytes apart in .text, in hash
// order rather than address order, as linkers write them) straight into
// the symbol record stream.
func bigPublics(n int) func(*buf) {
	return func(out *buf) {
		rec := make([]byte, 0, 64)
		for i := 0; i < n; i++ {
			j := (i * 7919) % n // scatter addresses
			name := fmt.Sprintf("?func%07d@ns%d@@YAXHPEAX@Z", j, j%97)
			payload := 4 + 4 + 2 + len(name) + 1
			reclen := 2 + payload
			pad := (4 - (reclen+2)%4) % 4
			rec = rec[:0]
			rec = binary.LittleEndian.AppendUint16(rec, uint16(reclen+pad))
			rec = binary.LittleEndian.AppendUint16(rec, sPub32)
			rec = binary.LittleEndian.AppendUint32(rec, uint32(PubFunction))
			rec = binary.LittleEndian.AppendUint32(rec, uint32(j)*16)
			rec = binary.LittleEndian.AppendUint16(rec, 1)
			rec = append(rec, name...)
			rec = append(rec, 0)
			for k := 0; k < pad; k++ {
				rec = append(rec, 0xF1+byte(k))
			}
			out.Write(rec)
		}
	}
}

// bigSyn is a PDB of about totalBytes with n publics, a module with a few
// procedures and lines, and filler standing in for types and other modules.
func bigSyn(n, totalBytes int, scramble bool) *synPDB {
	p := basicSyn(4096)
	p.scramble = scramble
	p.sections[0].VirtualSize = uint32(n*16 + 0x1000)
	p.sections[1].VirtualAddress = 0x1000 + (p.sections[0].VirtualSize+0xfff)&^0xfff
	p.sections[2].VirtualAddress = p.sections[1].VirtualAddress + 0x1000
	p.gssHook = bigPublics(n)
	gss := n * 40
	if totalBytes > gss {
		p.padding = totalBytes - gss
	}
	return p
}

var (
	bigOnce sync.Once
	bigPath string
	bigErr  error
	bigDir  string
)

const (
	bigPublicsN = 1_000_000
	bigBytes    = 100 << 20
)

// bigPDB writes the 100 MB PDB once per test binary run.
func bigPDB(tb testing.TB) string {
	bigOnce.Do(func() {
		start := time.Now()
		bigDir, bigErr = os.MkdirTemp("", "wdb-pdb-bench")
		if bigErr != nil {
			return
		}
		b, _ := bigSyn(bigPublicsN, bigBytes, false).build()
		bigPath = filepath.Join(bigDir, "big.pdb")
		bigErr = os.WriteFile(bigPath, b, 0o644)
		tb.Logf("built %d MB PDB with %d publics in %v", len(b)>>20, bigPublicsN, time.Since(start))
	})
	if bigErr != nil {
		tb.Fatal(bigErr)
	}
	return bigPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bigDir != "" {
		os.RemoveAll(bigDir)
	}
	os.Exit(code)
}

// BenchmarkPublicsFirstLookup measures what a debugger pays for its first
// symbol in a module with a 100 MB PDB: open, load ~1M publics, answer one
// address query and one name query. Budget: < 1 s.
func BenchmarkPublicsFirstLookup(b *testing.B) {
	path := bigPDB(b)
	st, _ := os.Stat(path)
	b.SetBytes(st.Size())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		s, ok := f.Nearest(0x1000 + 123457*16 + 5)
		if !ok || s.Name != "?func0123457@ns73@@YAXHPEAX@Z" {
			b.Fatalf("Nearest = %v %v", s, ok)
		}
		if got := f.Lookup("?func0999999@ns26@@YAXHPEAX@Z"); len(got) != 1 || got[0].RVA != 0x1000+999999*16 {
			b.Fatalf("Lookup = %v", got)
		}
		f.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/first-lookup")
}

// BenchmarkPublicsNearestOnly skips the name index: the cost of the first
// address query (ln, k) alone.
func BenchmarkPublicsNearestOnly(b *testing.B) {
	path := bigPDB(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := f.Nearest(0x1000 + 5*16); !ok {
			b.Fatal("no symbol")
		}
		f.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/first-nearest")
}

// BenchmarkNearestWarm is the steady-state cost of one address query.
func BenchmarkNearestWarm(b *testing.B) {
	p, _ := bigSyn(100_000, 0, false).build()
	f := openBytes(b, p)
	f.LoadPublics()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.Nearest(0x1000 + uint32(i%100_000)*16 + 3)
	}
}

// The big-PDB generator at a small scale, checked for content, and the
// fragmented (descending block) layout.
func TestBigSynSmall(t *testing.T) {
	for _, scramble := range []bool{false, true} {
		b, _ := bigSyn(20_000, 4<<20, scramble).build()
		f := openBytes(t, b)
		syms := f.Symbols()
		if len(syms) < 20_000 {
			t.Fatalf("%d symbols", len(syms))
		}
		// 20k entries go through the radix sort; basicSyn's publics share
		// addresses with generated ones, exercising the tie order.
		if !slices.IsSortedFunc(syms, cmpSymbol) {
			t.Error("Symbols not sorted by (RVA, kind, name)")
		}
		if s, _ := f.Nearest(0x1100); s.Name != "main" || s.Kind != Function {
			t.Errorf("Nearest(0x1100) = %v", s)
		}
		s, ok := f.Nearest(0x1000 + 12345*16 + 15)
		if !ok || s.Name != "?func0012345@ns26@@YAXHPEAX@Z" {
			t.Errorf("Nearest = %v", s)
		}
		if got := f.Lookup("?func0019999@ns17@@YAXHPEAX@Z"); len(got) != 1 || got[0].RVA != 0x1000+19999*16 {
			t.Errorf("Lookup = %v", got)
		}
	}
}
