package cab

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// roundTrip writes data as one file in one folder and extracts it.
func roundTrip(t *testing.T, fo wFolder, data []byte) []byte {
	t.Helper()
	fo.files = []wFile{{name: "f.bin", data: data}}
	raw := writeCab(cabSpec{folders: []wFolder{fo}})
	c := openBytes(t, raw)
	return extract(t, c, &c.Files[0])
}

func TestLZXRoundTrip(t *testing.T) {
	text := textBytes(1, 150000)
	code := codeBytes(2, 90000, 0)
	rnd := randomBytes(3, 40001)
	mixed := append(append(append([]byte{}, text[:50000]...), rnd...), code...)
	cases := []struct {
		name string
		data []byte
		opt  lzxEncOptions
	}{
		{"tiny", []byte("hello, hello, hello"), lzxEncOptions{windowBits: 15}},
		{"one-byte", []byte{0xE8}, lzxEncOptions{windowBits: 15, e8Size: 1000}},
		{"verbatim15", text, lzxEncOptions{windowBits: 15}},
		{"aligned16", text, lzxEncOptions{windowBits: 16, plan: []lzxPlanBlock{{lzxBlockAligned, 1 << 30}}}},
		{"uncompressed-odd", rnd[:33333], lzxEncOptions{windowBits: 15, plan: []lzxPlanBlock{{lzxBlockUncompress, 1 << 30}}}},
		{"mixed-plan", mixed, lzxEncOptions{windowBits: 17, plan: []lzxPlanBlock{
			{lzxBlockVerbatim, 30001}, {lzxBlockUncompress, 5}, {lzxBlockAligned, 40000},
			{lzxBlockUncompress, 32767}, {lzxBlockVerbatim, 1}, {lzxBlockUncompress, 2}, {lzxBlockAligned, 1 << 30}}}},
		{"e8", code, lzxEncOptions{windowBits: 15, e8Size: 12000000}},
		{"e8-small-size", code, lzxEncOptions{windowBits: 18, e8Size: 5000, plan: []lzxPlanBlock{{lzxBlockAligned, 1 << 30}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := roundTrip(t, wFolder{comp: LZX, lzx: tc.opt}, tc.data)
			if !bytes.Equal(got, tc.data) {
				i := 0
				for i < len(got) && i < len(tc.data) && got[i] == tc.data[i] {
					i++
				}
				t.Fatalf("mismatch: got %d bytes, want %d, first difference at %d", len(got), len(tc.data), i)
			}
		})
	}
}

// TestLZXFixtureCoverage shows that the LZX fixtures exercise every part
// of the format (the encoder counts what it wrote; TestFixtures and
// TestFixturesCabextract show both decoders read it back).
func TestLZXFixtureCoverage(t *testing.T) {
	var total lzxStats
	windows := map[int]bool{}
	for _, fx := range fixtures {
		if fx.spec == nil {
			continue
		}
		for _, fo := range fx.spec().folders {
			if fo.comp != LZX {
				continue
			}
			var data []byte
			for _, f := range fo.files {
				data = append(data, f.data...)
			}
			s := lzxEncode(data, fo.lzx).stats
			t.Logf("%s window 2^%d: %d frames, blocks v/a/u %d/%d/%d (%d spanning frames, %d odd raw), %d literals, %d matches (R0/R1/R2 %v, %d aligned, %d long), max offset %d slot %d, %d E8 (%d negative)",
				fx.file, fo.lzx.windowBits, s.frames, s.blocks[1], s.blocks[2], s.blocks[3], s.spanning, s.oddRaw,
				s.literals, s.matches, s.repeats, s.alignedSyms, s.longLengths, s.maxOffset, s.maxSlot, s.e8, s.e8Wrapped)
			windows[fo.lzx.windowBits] = true
			for i := range s.blocks {
				total.blocks[i] += s.blocks[i]
			}
			for i := range s.repeats {
				total.repeats[i] += s.repeats[i]
			}
			for i := range s.pretree {
				total.pretree[i] += s.pretree[i]
			}
			total.spanning += s.spanning
			total.oddRaw += s.oddRaw
			total.rawWordPad += s.rawWordPad
			total.rawPadCut += s.rawPadCut
			total.alignedSyms += s.alignedSyms
			total.longLengths += s.longLengths
			total.e8 += s.e8
			total.e8Wrapped += s.e8Wrapped
			total.extraBits17 += s.extraBits17
			total.maxOffset = max(total.maxOffset, s.maxOffset)
		}
	}
	for bits := 15; bits <= 21; bits++ {
		if !windows[bits] {
			t.Errorf("no fixture with window 2^%d", bits)
		}
	}
	checks := []struct {
		what string
		n    int
	}{
		{"verbatim blocks", total.blocks[lzxBlockVerbatim]},
		{"aligned blocks", total.blocks[lzxBlockAligned]},
		{"uncompressed blocks", total.blocks[lzxBlockUncompress]},
		{"blocks spanning frames", total.spanning},
		{"odd-sized uncompressed blocks", total.oddRaw},
		{"uncompressed headers ending word-aligned", total.rawWordPad},
		{"odd uncompressed blocks ending a frame", total.rawPadCut},
		{"R0 matches", total.repeats[0]},
		{"R1 matches", total.repeats[1]},
		{"R2 matches", total.repeats[2]},
		{"aligned offset symbols", total.alignedSyms},
		{"length tree symbols", total.longLengths},
		{"pretree zero runs (17)", total.pretree[17]},
		{"pretree long zero runs (18)", total.pretree[18]},
		{"pretree same-length runs (19)", total.pretree[19]},
		{"E8 translations", total.e8},
		{"E8 targets stored as negative", total.e8Wrapped},
		{"offsets with 17 extra bits", total.extraBits17},
		{"offsets beyond 1 MB", int(total.maxOffset >> 20)},
	}
	for _, c := range checks {
		if c.n == 0 {
			t.Errorf("fixtures contain no %s", c.what)
		}
	}
}

func TestCopyMatch(t *testing.T) {
	r := rng(5)
	for range 2000 {
		size := 64
		win := randomBytes(r.next(), size)
		want := bytes.Clone(win)
		n := 1 + r.intn(20)
		dst := r.intn(size - n + 1)
		off := 1 + r.intn(size-1)
		src := dst - off
		if src < 0 {
			src += size
		}
		for i := range n {
			want[dst+i] = want[(src+i)%size]
		}
		copyMatch(win, dst, off, n)
		if !bytes.Equal(win, want) {
			t.Fatalf("dst %d off %d n %d: got %x want %x", dst, off, n, win, want)
		}
	}
}

// TestLZXRandomPlans encodes random content with random block plans, window
// sizes and E8 settings; this package and (where installed) cabextract must
// both return the input.
func TestLZXRandomPlans(t *testing.T) {
	tool, _ := exec.LookPath("cabextract")
	r := rng(2024)
	n := 40
	if testing.Short() {
		n = 8
	}
	for i := range n {
		size := 1 + r.intn(150000)
		var data []byte
		for len(data) < size {
			switch r.intn(4) {
			case 0:
				data = append(data, textBytes(r.next(), 1+r.intn(20000))...)
			case 1:
				data = append(data, codeBytes(r.next(), 1+r.intn(20000), len(data))...)
			case 2:
				data = append(data, randomBytes(r.next(), 1+r.intn(5000))...)
			default:
				if len(data) > 0 { // a long-distance repeat
					from := r.intn(len(data))
					data = append(data, data[from:from+min(len(data)-from, 1+r.intn(3000))]...)
				}
			}
		}
		data = data[:size]
		opt := lzxEncOptions{windowBits: 15 + r.intn(7)}
		if r.intn(2) == 0 {
			opt.e8Size = int32(1 + r.intn(1<<22))
		}
		for range r.intn(6) {
			opt.plan = append(opt.plan, lzxPlanBlock{1 + r.intn(3), 1 + r.intn(40000)})
		}
		name := fmt.Sprintf("case%d", i)
		raw := writeCab(cabSpec{folders: []wFolder{{comp: LZX, lzx: opt, files: []wFile{{name: name, data: data}}}}})
		c := openBytes(t, raw)
		if got := extract(t, c, &c.Files[0]); !bytes.Equal(got, data) {
			t.Fatalf("%s (%d bytes, %+v): round trip differs", name, size, opt)
		}
		if tool == "" {
			continue
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "x.cab")
		os.WriteFile(path, raw, 0o644)
		out, err := exec.Command(tool, "-q", "-p", path).Output()
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("%s (%d bytes, %+v): cabextract: %v, %d bytes, equal %v", name, size, opt, err, len(out), bytes.Equal(out, data))
		}
	}
	if tool == "" {
		t.Log("cabextract not installed: checked this package's decoder only")
	}
}
