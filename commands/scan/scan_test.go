package scan

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// span is one chunk of test memory.
type span struct {
	addr uint64
	data []byte
}

func chunksOf(spans []span) iter.Seq2[uint64, []byte] {
	return func(yield func(uint64, []byte) bool) {
		for _, s := range spans {
			if !yield(s.addr, s.data) {
				return
			}
		}
	}
}

// bruteForce lists matches the slow way: every aligned address of every
// maximal contiguous run of spans.
func bruteForce(spans []span, p []byte, align int) []uint64 {
	var out []uint64
	for i := 0; i < len(spans); {
		start := spans[i].addr
		buf := append([]byte(nil), spans[i].data...)
		j := i + 1
		for j < len(spans) && spans[j].addr == start+uint64(len(buf)) {
			buf = append(buf, spans[j].data...)
			j++
		}
		for o := 0; o+len(p) <= len(buf); o++ {
			if (start+uint64(o))%uint64(max(align, 1)) == 0 && bytes.Equal(buf[o:o+len(p)], p) {
				out = append(out, start+uint64(o))
			}
		}
		i = j
	}
	return out
}

// randomSpans cuts random memory over a small alphabet (so patterns recur)
// into chunks of random sizes, some contiguous, some with gaps, some odd.
func randomSpans(r *rand.Rand) []span {
	var spans []span
	addr := uint64(r.IntN(64))
	for n := r.IntN(12) + 1; n > 0; n-- {
		size := r.IntN(200)
		if r.IntN(4) == 0 {
			size = r.IntN(4)
		}
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(r.IntN(3))
		}
		spans = append(spans, span{addr, data})
		addr += uint64(size)
		if r.IntN(3) == 0 {
			addr += uint64(r.IntN(9))
		}
	}
	return spans
}

func TestScanMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 20000; iter++ {
		spans := randomSpans(r)
		align := []int{1, 2, 4, 8}[r.IntN(4)]
		m := r.IntN(10) + 1
		if align > 1 {
			m = align * (1 + r.IntN(2))
		}
		p := make([]byte, m)
		for i := range p {
			p[i] = byte(r.IntN(2))
		}
		want := bruteForce(spans, p, align)
		var got []uint64
		sc := Scanner{Pattern: p, Align: align, CheckEvery: 1 + r.IntN(64)}
		checks := 0
		sc.Check = func(uint64) bool { checks++; return true }
		_, done := sc.Scan(chunksOf(spans), func(a uint64) bool { got = append(got, a); return true })
		if !done || !slices.Equal(got, want) {
			t.Fatalf("iteration %d: pattern %x align %d spans %v:\n got %x\nwant %x", iter, p, align, spans, got, want)
		}
	}
}

func TestScanStopsAndCancels(t *testing.T) {
	data := make([]byte, 1<<20)
	for i := 0; i < len(data); i += 4096 {
		binary.LittleEndian.PutUint32(data[i:], 0x12345678)
	}
	spans := []span{{0x10000, data}}
	n := 0
	_, done := (&Scanner{Pattern: []byte{0x78, 0x56, 0x34, 0x12}, Align: 4}).Scan(chunksOf(spans), func(uint64) bool { n++; return n < 3 })
	if done || n != 3 {
		t.Fatalf("stop after 3 hits: done=%v n=%d", done, n)
	}
	n = 0
	sc := Scanner{Pattern: []byte{0x78, 0x56, 0x34, 0x12}, Align: 4, CheckEvery: 64 << 10}
	sc.Check = func(scanned uint64) bool { return scanned < 128<<10 }
	scanned, done := sc.Scan(chunksOf(spans), func(uint64) bool { n++; return true })
	if done || n != 32 || scanned != 128<<10 {
		t.Fatalf("cancel after 128 KiB: done=%v hits=%d scanned=%d", done, n, scanned)
	}
}

func TestStrings(t *testing.T) {
	mem := []byte("\x00caca fantasmas\x00caca-fantasmas\x00ca\xc3\xa7a fantasmas\x00ab\x00")
	// Split inside a string: contiguous chunks must join it.
	spans := []span{{0x1000, mem[:7]}, {0x1007, mem[7:]}, {0x2000, []byte("xyz")}, {0x2003, []byte("w\x00")}}
	var got []string
	Strings(chunksOf(spans), StringOptions{}, func(a uint64, s string) bool {
		got = append(got, formatHit(a, s))
		return true
	})
	want := []string{"1001 caca fantasmas", "1010 caca-fantasmas", "1023 a fantasmas", "2000 xyzw"}
	if !slices.Equal(got, want) {
		t.Fatalf("ascii strings:\n got %q\nwant %q", got, want)
	}

	u := utf16("\x00Hello\x00hi\x00World")
	spans = []span{{0x3000, u[:5]}, {0x3005, u[5:]}}
	got = nil
	Strings(chunksOf(spans), StringOptions{Unicode: true}, func(a uint64, s string) bool {
		got = append(got, formatHit(a, s))
		return true
	})
	want = []string{"3002 Hello", "3014 World"}
	if !slices.Equal(got, want) {
		t.Fatalf("unicode strings:\n got %q\nwant %q", got, want)
	}

	got = nil
	long := bytes.Repeat([]byte("A"), 600)
	Strings(chunksOf([]span{{0, long}}), StringOptions{MinLen: 5}, func(a uint64, s string) bool {
		got = append(got, formatHit(a, s[:1]))
		return true
	})
	if want := []string{"0 A", "100 A", "200 A"}; !slices.Equal(got, want) {
		t.Fatalf("long run split at 256: got %q want %q", got, want)
	}
}

func formatHit(a uint64, s string) string { return fmt.Sprintf("%x %s", a, s) }

func utf16(s string) []byte {
	var b []byte
	for _, c := range []byte(s) {
		b = append(b, c, 0)
	}
	return b
}

// benchMemory is 1 GiB shaped like a process: most pages zero, some with
// scattered pointers and small integers, some dense random data.
var benchMemory = sync.OnceValue(func() []byte {
	b := make([]byte, 1<<30)
	r := rand.New(rand.NewPCG(42, 42))
	for page := 0; page < len(b); page += 4096 {
		p := b[page : page+4096]
		switch k := r.IntN(8); {
		case k < 4: // zero page
		case k < 7: // sparse words: pointers and small numbers
			for i := 0; i < 64; i++ {
				off := r.IntN(4096/8) * 8
				v := r.Uint64()
				if i%2 == 0 {
					v = 0x00007ff600000000 | v&0xffffffff
				} else {
					v &= 0xffff
				}
				binary.LittleEndian.PutUint64(p[off:], v)
			}
		default: // dense random bytes
			for i := 0; i < 4096; i += 8 {
				binary.LittleEndian.PutUint64(p[i:], r.Uint64())
			}
		}
	}
	return b
})

// benchChunks yields the memory as 64 MiB chunks, as a dump's ranges would.
func benchChunks(b []byte) iter.Seq2[uint64, []byte] {
	return func(yield func(uint64, []byte) bool) {
		const n = 64 << 20
		for i := 0; i < len(b); i += n {
			if !yield(0x10000000+uint64(i), b[i:min(len(b), i+n)]) {
				return
			}
		}
	}
}

func benchScan(b *testing.B, mem, pattern []byte, align int, lanes bool) {
	b.SetBytes(int64(len(mem)))
	b.ResetTimer()
	for b.Loop() {
		hits := 0
		if lanes {
			f := newFinder(pattern, align)
			f.forceLanes = true
			for addr, data := range benchChunks(mem) {
				f.find(data, addr, len(data)-len(pattern)+1, func(int) bool { hits++; return true })
			}
		} else {
			sc := Scanner{Pattern: pattern, Align: align, Check: func(uint64) bool { return true }}
			sc.Scan(benchChunks(mem), func(uint64) bool { hits++; return true })
		}
	}
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// adversarial is 256 MiB of one byte that the patterns below pick as their
// rare byte: the IndexByte pass must hand over to the word loops.
var adversarial = sync.OnceValue(func() []byte { return bytes.Repeat([]byte{0xc7}, 256<<20) })

// The pattern values do not occur in benchMemory's generator on purpose
// (apart from chance): the scan rate, not the hit printing, is measured.
// The *Lanes variants run the word loops alone, for comparison.

func BenchmarkScanDword(b *testing.B)      { benchScan(b, benchMemory(), le32(0x7ff6c771), 4, false) }
func BenchmarkScanDwordLanes(b *testing.B) { benchScan(b, benchMemory(), le32(0x7ff6c771), 4, true) }
func BenchmarkScanDwordSmall(b *testing.B) { benchScan(b, benchMemory(), le32(0x00001234), 4, false) }
func BenchmarkScanDwordAdversarial(b *testing.B) {
	benchScan(b, adversarial(), le32(0x7ff6c771), 4, false)
}
func BenchmarkScanQword(b *testing.B) {
	benchScan(b, benchMemory(), le64(0x00007ff6c7712da3), 8, false)
}
func BenchmarkScanQwordLanes(b *testing.B) {
	benchScan(b, benchMemory(), le64(0x00007ff6c7712da3), 8, true)
}
func BenchmarkScanQwordAdversarial(b *testing.B) {
	benchScan(b, adversarial(), le64(0x00007ff6c7712da3), 8, false)
}
func BenchmarkScanWord(b *testing.B)  { benchScan(b, benchMemory(), []byte{0x34, 0x12}, 2, false) }
func BenchmarkScanBytes(b *testing.B) { benchScan(b, benchMemory(), []byte("ntdll"), 1, false) }
func BenchmarkScanBytesBinary(b *testing.B) {
	benchScan(b, benchMemory(), []byte{0x58, 0xc3}, 1, false)
}
func BenchmarkScanBytesAdversarial(b *testing.B) {
	benchScan(b, adversarial(), []byte{0xc7, 0xc7, 0x58}, 1, false)
}

// BenchmarkScanBytesIndex is plain bytes.Index, the baseline for findBytes.
func BenchmarkScanBytesIndex(b *testing.B) {
	mem := benchMemory()
	p := []byte("ntdll")
	b.SetBytes(int64(len(mem)))
	for b.Loop() {
		for _, data := range benchChunks(mem) {
			for o := 0; ; o++ {
				j := bytes.Index(data[o:], p)
				if j < 0 {
					break
				}
				o += j
			}
		}
	}
}

func BenchmarkScanStrings(b *testing.B) {
	mem := benchMemory()[:256<<20]
	b.SetBytes(int64(len(mem)))
	for b.Loop() {
		Strings(benchChunks(mem), StringOptions{}, func(uint64, string) bool { return true })
	}
}

// A buffer whose second half is full of the pattern's rare byte makes the
// IndexByte pass hand over to the word loops (or bytes.Index) mid-buffer;
// the hits must not change.
func TestScanSwitchesMethod(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, c := range []struct {
		p     []byte
		align int
	}{
		{le64(0x00007ff6c7712da3), 8},
		{le32(0xc7712da3), 4},
		{[]byte{0xa3, 0x2d}, 2},
		{[]byte{0xa3, 0x2d, 0x71}, 1},
		{append(le32(0xc7712da3), le32(0x12345678)...), 4},
	} {
		data := make([]byte, 1<<20)
		for i := len(data) / 2; i < len(data); i++ {
			data[i] = 0xa3
		}
		for k := 0; k < 200; k++ {
			copy(data[r.IntN(len(data)-16):], c.p)
		}
		spans := []span{{0x1000, data[:300000]}, {0x1000 + 300000, data[300000:]}}
		want := bruteForce(spans, c.p, c.align)
		var got []uint64
		Bytes(chunksOf(spans), c.p, c.align, func(a uint64) bool { got = append(got, a); return true })
		if !slices.Equal(got, want) {
			t.Errorf("pattern %x align %d: %d hits, brute force %d", c.p, c.align, len(got), len(want))
		}
	}
}

func TestHasPrintable(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for k := 0; k < 200000; k++ {
		var b [8]byte
		for i := range b {
			switch r.IntN(4) {
			case 0:
				b[i] = 0
			case 1:
				b[i] = byte(0x1e + r.IntN(4)) // around the lower bound
			case 2:
				b[i] = byte(0x7d + r.IntN(4)) // around the upper bound
			default:
				b[i] = byte(r.IntN(256))
			}
		}
		want := false
		for _, c := range b {
			want = want || printable[c]
		}
		if got := hasPrintable(binary.LittleEndian.Uint64(b[:])); got != want {
			t.Fatalf("hasPrintable(% x) = %v", b, got)
		}
	}
}
