package cab

// The cabinets in testdata/ are made by the generators below:
//
//	go test ./symbols/cab/ -run TestFixtures -update
//
// rewrites them (gcab_mszip.cab only where the gcab tool is installed).
// TestFixturesReproducible checks that the committed files are what the
// generators produce, and TestFixturesCabextract, where cabextract
// (libmspack) is installed, checks that an independent reader extracts the
// same bytes from every fixture.

import (
	"bytes"
	"compress/flate"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "regenerate testdata/*.cab")

type fixture struct {
	file string
	spec func() cabSpec // nil for cabinets written by an outside tool
	want func() []wFile // expected files in CFFILE order
}

func (f fixture) files() []wFile {
	if f.want != nil {
		return f.want()
	}
	var out []wFile
	for _, fo := range f.spec().folders {
		out = append(out, fo.files...)
	}
	return out
}

// fillerBytes is a 5000-byte text pattern repeated, with a random byte
// changed every few KB: long matches, mostly at a repeated offset (R0).
func fillerBytes(seed uint64, n int) []byte {
	unit := textBytes(seed, 5000)
	b := make([]byte, 0, n+len(unit))
	for len(b) < n {
		b = append(b, unit...)
	}
	b = b[:n]
	r := rng(seed + 1)
	for p := r.intn(3000); p < n; p += 1000 + r.intn(4000) {
		b[p] = byte(r.next())
	}
	return b
}

var fixtures = []fixture{
	{
		// Window 2^15, E8 translation, verbatim/aligned/uncompressed blocks
		// spanning frames, several files including an empty one.
		file: "lzx15.cab",
		spec: func() cabSpec {
			return cabSpec{folders: []wFolder{{
				comp: LZX,
				lzx: lzxEncOptions{windowBits: 15, e8Size: 12000000, plan: []lzxPlanBlock{
					{lzxBlockVerbatim, 50001}, {lzxBlockAligned, 30000}, {lzxBlockUncompress, 20001}, {lzxBlockVerbatim, 0}}},
				files: []wFile{
					{name: "text.txt", data: textBytes(10, 70000)},
					{name: "code.bin", data: codeBytes(11, 50000, 70000)},
					{name: "empty.txt", data: []byte{}},
					{name: "tiny", data: []byte("abc")},
				},
			}}}
		},
	},
	{
		// Window 2^21: a 20000-byte random run repeated about 2 MB later,
		// so offsets use the top position slots (17 extra bits), in aligned
		// and verbatim blocks; no E8 header.
		file: "lzx21.cab",
		spec: func() cabSpec {
			rnd := randomBytes(20, 20000)
			data := slices.Concat(rnd, fillerBytes(21, 1000000), randomBytes(22, 3001),
				fillerBytes(23, 1060000), rnd, textBytes(24, 7000))
			return cabSpec{folders: []wFolder{{
				comp: LZX,
				lzx: lzxEncOptions{windowBits: 21, plan: []lzxPlanBlock{
					{lzxBlockAligned, 1020000}, {lzxBlockUncompress, 3001}, {lzxBlockVerbatim, 900000}, {lzxBlockAligned, 0}}},
				files: []wFile{
					{name: "a.bin", data: data[:1500000]},
					{name: "b.bin", data: data[1500000:]},
				},
			}}}
		},
	},
	{
		// One LZX folder per window size 2^16..2^20 (matches reach past
		// 32 KB), without CFDATA checksums. At 2^17 an odd-sized
		// uncompressed block ends a frame (its pad byte opens the next
		// CFDATA); at 2^19 an uncompressed block header ends on a word
		// boundary, so a whole padding word follows (length found by trial).
		file: "lzxwin.cab",
		spec: func() cabSpec {
			s := cabSpec{noChecksum: true}
			for bits := 16; bits <= 20; bits++ {
				rnd := randomBytes(uint64(30+bits), 3000)
				data := slices.Concat(rnd, textBytes(uint64(40+bits), 40000), rnd, codeBytes(uint64(50+bits), 5000, 0))
				var e8 int32 // E8 on for even sizes; small enough at 2^16 that targets wrap
				switch bits {
				case 16:
					e8 = 20000
				case 18, 20:
					e8 = 1 << 20
				}
				plan := []lzxPlanBlock{{lzxBlockAligned, 20000}, {lzxBlockVerbatim, 0}}
				switch bits {
				case 17:
					plan = []lzxPlanBlock{{lzxBlockAligned, 20000}, {lzxBlockVerbatim, 3001}, {lzxBlockUncompress, 9767}, {lzxBlockVerbatim, 0}}
				case 19:
					plan = []lzxPlanBlock{{lzxBlockAligned, 20000}, {lzxBlockVerbatim, 3011}, {lzxBlockUncompress, 777}, {lzxBlockVerbatim, 0}}
				}
				s.folders = append(s.folders, wFolder{
					comp:  LZX,
					lzx:   lzxEncOptions{windowBits: bits, e8Size: e8, plan: plan},
					files: []wFile{{name: "win" + string(rune('0'+bits/10)) + string(rune('0'+bits%10)) + ".bin", data: data}},
				})
			}
			return s
		},
	},
	{
		// MSZIP whose blocks refer back into the previous block (preset
		// dictionary), two folders. (No incompressible stretch: Go's
		// deflate writes those as Huffman-only blocks with a one-code
		// distance tree, which libmspack rejects.)
		file: "mszip.cab",
		spec: func() cabSpec {
			unit := textBytes(60, 20000)
			data := slices.Concat(unit, codeBytes(61, 30000, 0), unit, unit, textBytes(62, 30000))
			return cabSpec{folders: []wFolder{
				{comp: MSZIP, files: []wFile{{name: "dict.txt", data: data}, {name: "code.bin", data: codeBytes(63, 40000, 0)}}},
				{comp: MSZIP, level: flate.BestSpeed, files: []wFile{{name: "second/one.txt", data: textBytes(64, 1000)}}},
			}}
		},
	},
	{
		// Stored folders with header, folder and data reserve areas, a
		// UTF-8 name, an ISO-8859-1 name and a file spanning 3 blocks.
		file: "stored_reserve.cab",
		spec: func() cabSpec {
			return cabSpec{
				headerRes: []byte("wdb reserve 20 bytes"),
				folderRes: 4,
				dataRes:   8,
				setID:     0x1234,
				folders: []wFolder{
					{comp: None, files: []wFile{
						{name: "docs\\readme.txt", data: textBytes(70, 1234)},
						{name: "ünïcödé.txt", data: []byte("utf-8 name\n"), attrs: AttrNameIsUTF8},
						{name: "caf\xe9.txt", data: []byte("latin-1 name\n")},
					}},
					{comp: None, files: []wFile{
						{name: "random.bin", data: randomBytes(71, 70000)},
						{name: "zero", data: []byte{}},
					}},
				},
			}
		},
	},
	{
		// MSZIP written by gcab (GNOME's libgcab), an independent writer.
		file: "gcab_mszip.cab",
		want: func() []wFile {
			return []wFile{
				{name: "gcab-text.txt", data: textBytes(80, 90000)},
				{name: "gcab-code.bin", data: codeBytes(81, 30000, 0)},
			}
		},
	},
}

// expectedName maps a writer's raw name bytes to what Open reports.
func expectedName(f wFile) string {
	return decodeName([]byte(f.name), f.attrs&AttrNameIsUTF8 != 0)
}

func TestFixtures(t *testing.T) {
	if *update {
		regenerate(t)
	}
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", fx.file))
			if err != nil {
				t.Fatal(err)
			}
			c := openBytes(t, raw)
			want := fx.files()
			if len(c.Files) != len(want) {
				t.Fatalf("%d files, want %d", len(c.Files), len(want))
			}
			for i := range c.Files {
				f := &c.Files[i]
				if f.Name != expectedName(want[i]) || int(f.Size) != len(want[i].data) {
					t.Errorf("file %d: %q %d bytes, want %q %d bytes", i, f.Name, f.Size, expectedName(want[i]), len(want[i].data))
					continue
				}
				got := extract(t, c, f)
				if !bytes.Equal(got, want[i].data) {
					t.Errorf("%s: extracted bytes differ", f.Name)
				}
			}
			if fx.spec != nil {
				for _, f := range c.Files {
					if !f.Time.Equal(time.Date(2024, 5, 6, 7, 8, 10, 0, time.UTC)) {
						t.Errorf("%s: time %v", f.Name, f.Time)
					}
				}
			}
		})
	}
}

// regenerate rewrites the fixtures (go test -run TestFixtures -update).
func regenerate(t *testing.T) {
	for _, fx := range fixtures {
		path := filepath.Join("testdata", fx.file)
		if fx.spec != nil {
			if err := os.WriteFile(path, writeCab(fx.spec()), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		gcab, err := exec.LookPath("gcab")
		if err != nil {
			t.Logf("gcab not installed: keeping %s", path)
			continue
		}
		dir := t.TempDir()
		var names []string
		for _, f := range fx.want() {
			p := filepath.Join(dir, f.name)
			if err := os.WriteFile(p, f.data, 0o644); err != nil {
				t.Fatal(err)
			}
			mt := time.Date(2024, 5, 6, 7, 8, 10, 0, time.Local)
			os.Chtimes(p, mt, mt)
			names = append(names, f.name)
		}
		abs, _ := filepath.Abs(path)
		cmd := exec.Command(gcab, append([]string{"-c", "-z", "-n", abs}, names...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gcab: %v\n%s", err, out)
		}
	}
}

func TestFixturesReproducible(t *testing.T) {
	for _, fx := range fixtures {
		if fx.spec == nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("testdata", fx.file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(raw, writeCab(fx.spec())) {
			t.Errorf("%s differs from what its generator writes now; run with -update if the change is intended", fx.file)
		}
	}
}

// TestFixturesCabextract checks every fixture with libmspack's cabextract,
// an implementation independent of this package and of the test encoder.
func TestFixturesCabextract(t *testing.T) {
	tool, err := exec.LookPath("cabextract")
	if err != nil {
		t.Skip("cabextract not installed (apt-get install cabextract): skipping the independent check")
	}
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			dir := t.TempDir()
			src, _ := filepath.Abs(filepath.Join("testdata", fx.file))
			out, err := exec.Command(tool, "-q", "-d", dir, src).CombinedOutput()
			if err != nil {
				t.Fatalf("cabextract: %v\n%s", err, out)
			}
			for _, f := range fx.files() {
				name := expectedName(f)
				if f.attrs&AttrNameIsUTF8 == 0 && name != f.name {
					continue // cabextract's rendering of non-UTF-8 names varies
				}
				got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(cabextractPath(name))))
				if errors.Is(err, os.ErrNotExist) && len(f.data) == 0 {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, f.data) {
					t.Errorf("%s: cabextract's bytes differ from the generator's", name)
				}
			}
		})
	}
}

// cabextractPath is where cabextract puts a CAB name (it turns '\' into '/').
func cabextractPath(name string) string {
	b := []byte(name)
	for i, c := range b {
		if c == '\\' {
			b[i] = '/'
		}
	}
	return string(b)
}
