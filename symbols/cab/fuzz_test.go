package cab

import (
	"bytes"
	"cmp"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzOpen parses arbitrary bytes and extracts every file in folder order
// (as an "extract all" would): no panic, hang or unbounded allocation, and
// a file that extracts without error has exactly its declared size.
// Seeds are small on purpose (the fuzzer minimizes every new input): the
// shared corpus's real cabinet (unless WDB_FUZZ_NO_CORPUS is set) and
// generated cabinets of each kind, a few KB each; the large fixtures are
// covered by TestFixtures. Use -fuzzminimizetime=10s for quicker runs.
func FuzzOpen(f *testing.F) {
	if os.Getenv("WDB_FUZZ_NO_CORPUS") == "" {
		paths, _ := filepath.Glob(filepath.Join(corpusDir, "*/*/*/*/*/*.cab"))
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	const maxOut = 64 << 20
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		order := make([]int, len(c.Files))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(i, j int) int {
			a, b := &c.Files[i], &c.Files[j]
			return cmp.Or(cmp.Compare(a.Folder, b.Folder), cmp.Compare(a.Offset, b.Offset))
		})
		budget := int64(256 << 20) // bytes a fresh decode may have to produce
		for _, i := range order[:min(len(order), 64)] {
			file := &c.Files[i]
			if budget -= int64(file.Offset) + int64(file.Size); budget < 0 {
				break
			}
			r, err := c.Open(file)
			if err != nil {
				continue
			}
			n, err := io.Copy(io.Discard, io.LimitReader(r, maxOut))
			if err == nil && n != int64(file.Size) && n < maxOut {
				t.Fatalf("file %d: %d bytes without error, declared %d", i, n, file.Size)
			}
		}
	})
}

// fuzzSeeds are small cabinets covering each method and LZX block type.
func fuzzSeeds() [][]byte {
	text := fillerBytes(7, 70000)
	code := codeBytes(8, 3000, 0)
	lzx := func(bits int, e8 int32, plan ...lzxPlanBlock) wFolder {
		return wFolder{comp: LZX, lzx: lzxEncOptions{windowBits: bits, e8Size: e8, plan: plan}}
	}
	specs := []cabSpec{
		{folders: []wFolder{{comp: None, files: []wFile{{name: "a", data: text[:300]}, {name: "b", data: nil}}}}},
		{folders: []wFolder{{comp: MSZIP, files: []wFile{{name: "t", data: text}, {name: "c", data: code}}}}},
		{headerRes: []byte("res"), folderRes: 2, dataRes: 3, folders: []wFolder{
			{comp: MSZIP, files: []wFile{{name: "r", data: text[:500]}}},
			{comp: None, files: []wFile{{name: "s", data: code[:100], attrs: AttrNameIsUTF8}}}}},
	}
	for _, fo := range []wFolder{
		lzx(15, 0),
		lzx(16, 1<<20, lzxPlanBlock{lzxBlockAligned, 30000}, lzxPlanBlock{lzxBlockUncompress, 33}, lzxPlanBlock{lzxBlockVerbatim, 0}),
		lzx(21, 5000, lzxPlanBlock{lzxBlockUncompress, 101}, lzxPlanBlock{lzxBlockAligned, 0}),
	} {
		fo.files = []wFile{{name: "t", data: text}, {name: "c", data: code}}
		specs = append(specs, cabSpec{folders: []wFolder{fo}})
	}
	var out [][]byte
	for _, s := range specs {
		out = append(out, writeCab(s))
	}
	return out
}
