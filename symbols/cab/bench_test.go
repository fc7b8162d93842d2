package cab

import (
	"bytes"
	"io"
	"slices"
	"sync"
	"testing"
)

// benchData is 4 MB of mixed text, x86-like code and random bytes.
var benchData = sync.OnceValue(func() []byte {
	var parts [][]byte
	for i := range 8 {
		parts = append(parts, textBytes(uint64(100+i), 256<<10), codeBytes(uint64(200+i), 192<<10, 0), randomBytes(uint64(300+i), 64<<10))
	}
	return slices.Concat(parts...)
})

func benchCab(b *testing.B, fo wFolder) {
	data := benchData()
	fo.files = []wFile{{name: "bench.bin", data: data}}
	raw := writeCab(cabSpec{folders: []wFolder{fo}})
	c, err := Open(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		b.Fatal(err)
	}
	f := &c.Files[0]
	var out bytes.Buffer
	if err := c.Extract(f, &out); err != nil || !bytes.Equal(out.Bytes(), data) {
		b.Fatalf("round trip failed: %v", err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if err := c.Extract(f, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(raw))/float64(len(data)), "ratio")
}

func BenchmarkExtractStored(b *testing.B) { benchCab(b, wFolder{comp: None}) }
func BenchmarkExtractMSZIP(b *testing.B)  { benchCab(b, wFolder{comp: MSZIP}) }
func BenchmarkExtractLZX15(b *testing.B) {
	benchCab(b, wFolder{comp: LZX, lzx: lzxEncOptions{windowBits: 15}})
}
func BenchmarkExtractLZX21(b *testing.B) {
	benchCab(b, wFolder{comp: LZX, lzx: lzxEncOptions{windowBits: 21, e8Size: 12000000,
		plan: []lzxPlanBlock{{lzxBlockAligned, 1 << 20}, {lzxBlockVerbatim, 1 << 20}}}})
}
