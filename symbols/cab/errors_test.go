package cab

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// smallCab is a two-block stored cabinet: header 36, folder 8, file at 44.
func smallCab(comp Compression) []byte {
	fo := wFolder{comp: comp, files: []wFile{{name: "a.txt", data: textBytes(5, 40000)}, {name: "b", data: []byte("bee")}}}
	if comp == LZX {
		fo.lzx = lzxEncOptions{windowBits: 16}
	}
	return writeCab(cabSpec{folders: []wFolder{fo}})
}

func openErr(b []byte) error {
	_, err := Open(bytes.NewReader(b), int64(len(b)))
	return err
}

func extractErr(t *testing.T, b []byte, i int) error {
	t.Helper()
	c := openBytes(t, b)
	return c.Extract(&c.Files[i], io.Discard)
}

func TestOpenErrors(t *testing.T) {
	le := binary.LittleEndian
	base := smallCab(None)
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(base)) }
	cases := []struct {
		name string
		b    []byte
		is   error
		msg  string
	}{
		{"not a cab", []byte("hello, this is not a cabinet file at all"), ErrNotCab, "no MSCF"},
		{"tiny not a cab", []byte("PK\x03\x04"), ErrNotCab, ""},
		{"short header", base[:20], ErrFormat, "shorter than"},
		{"version 2", mod(func(b []byte) []byte { b[25] = 2; return b }), ErrFormat, "format version 2.3"},
		{"prev cabinet", mod(func(b []byte) []byte { le.PutUint16(b[30:], flagPrev); return b }), ErrMultiCabinet, "flags 0x1"},
		{"next cabinet", mod(func(b []byte) []byte { le.PutUint16(b[30:], flagNext); return b }), ErrMultiCabinet, "continues in another cabinet"},
		{"iFolder continued", mod(func(b []byte) []byte { le.PutUint16(b[44+8:], 0xFFFD); return b }), ErrMultiCabinet, "CFFILE 0 (\"a.txt\") at 0x2c"},
		{"folder out of range", mod(func(b []byte) []byte { le.PutUint16(b[44+8:], 3); return b }), ErrFormat, "folder 3 out of range"},
		{"coffFiles past end", mod(func(b []byte) []byte { le.PutUint32(b[16:], 1<<30); return b }), ErrFormat, "coffFiles"},
		{"folders past end", mod(func(b []byte) []byte { le.PutUint16(b[26:], 60000); return b }), ErrFormat, "CFFOLDER"},
		{"files past end", mod(func(b []byte) []byte { le.PutUint16(b[28:], 60000); return b }), ErrFormat, "CFFILE"},
		{"name unterminated", mod(func(b []byte) []byte { return b[:44+16+3] }), ErrFormat, "CFFILE 0 at 0x2c"},
		{"reserve past end", mod(func(b []byte) []byte { le.PutUint16(b[30:], flagReserve); return b[:38] }), ErrFormat, "reserve"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := openErr(tc.b)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "cab: ") {
				t.Fatalf("error %q, want errors.Is %v and %q", err, tc.is, tc.msg)
			}
		})
	}
}

func TestExtractErrors(t *testing.T) {
	le := binary.LittleEndian
	stored := smallCab(None)
	// Layout: header 36, CFFOLDER at 36, CFFILEs at 44 (a.txt 22 bytes, b 18 bytes), CFDATA at 84.
	const data0 = 84
	block1 := data0 + 8 + 32768
	cases := []struct {
		name string
		b    []byte
		file int
		is   error
		msg  string
	}{
		{"checksum", func() []byte {
			b := bytes.Clone(stored)
			b[block1+8+5] ^= 1
			return b
		}(), 0, ErrChecksum, "cab: CFDATA block 1 of folder 0 at 0x805c: checksum mismatch"},
		{"truncated data", stored[:len(stored)-100], 0, ErrFormat, "CFDATA block 1 of folder 0 at 0x805c: 7243-byte block runs past the end of the file (40003 bytes)"},
		{"cbUncomp too big", func() []byte {
			b := bytes.Clone(stored)
			le.PutUint16(b[data0+6:], 40000)
			return b
		}(), 0, ErrFormat, "cbUncomp 40000 exceeds 32768"},
		{"cbUncomp zero", func() []byte {
			b := bytes.Clone(stored)
			le.PutUint16(b[data0+6:], 0)
			return b
		}(), 1, ErrMultiCabinet, "cbUncomp is 0"},
		{"stored size mismatch", func() []byte {
			b := bytes.Clone(stored)
			le.PutUint16(b[data0+6:], 100)
			return b
		}(), 0, ErrFormat, "cbData 32768 != cbUncomp 100"},
		{"file past folder end", func() []byte {
			b := bytes.Clone(stored)
			le.PutUint32(b[44:], 50000)
			return b
		}(), 0, ErrFormat, "past the end of folder 0 (40003 bytes)"},
		{"quantum", func() []byte {
			b := bytes.Clone(stored)
			le.PutUint16(b[36+6:], 0x0402)
			return b
		}(), 0, ErrUnsupported, "folder 0: Quantum"},
		{"unknown method", func() []byte {
			b := bytes.Clone(stored)
			le.PutUint16(b[36+6:], 7)
			return b
		}(), 0, ErrUnsupported, "compression(7)"},
		{"lzx window 22", func() []byte {
			b := smallCab(LZX)
			le.PutUint16(b[36+6:], 0x1603)
			return b
		}(), 0, ErrFormat, "LZX window 2^22"},
		{"mszip without CK", func() []byte {
			b := smallCab(MSZIP)
			b[data0+8] = 'X'
			le.PutUint32(b[data0:], 0)
			return b
		}(), 0, ErrFormat, "CFDATA block 0 of folder 0 at 0x54: MSZIP block does not start with \"CK\""},
		{"mszip corrupt", func() []byte {
			b := smallCab(MSZIP)
			for i := data0 + 8 + 2; i < data0+40; i++ {
				b[i] = 0xFF
			}
			le.PutUint32(b[data0:], 0)
			return b
		}(), 0, ErrFormat, "MSZIP"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := extractErr(t, tc.b, tc.file)
			if err == nil {
				t.Fatal("Extract succeeded")
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q, want errors.Is %v and %q", err, tc.is, tc.msg)
			}
		})
	}
}

// TestLZXTruncated cuts the last CFDATA payload of an LZX folder short.
func TestLZXTruncated(t *testing.T) {
	b := smallCab(LZX)
	c := openBytes(t, b)
	ix, err := c.folderIndexFor(0)
	if err != nil {
		t.Fatal(err)
	}
	last := ix.blocks[len(ix.blocks)-1]
	cut := int(last.cbData) / 2
	le := binary.LittleEndian
	le.PutUint16(b[last.off+4:], uint16(cut))
	le.PutUint32(b[last.off:], 0)
	b = b[:int(last.off)+8+cut]
	err = extractErr(t, b, 0)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "LZX: compressed data ends early") {
		t.Fatalf("error %v", err)
	}
}

// TestOverlappingFolders: many folders sharing one CFDATA chain must be
// refused rather than each walked in full.
func TestOverlappingFolders(t *testing.T) {
	le := binary.LittleEndian
	const nFolders, nBlocks = 200, 2000
	hdr := headerSize + nFolders*folderSize
	var b []byte
	b = make([]byte, hdr)
	copy(b, "MSCF")
	b[24], b[25] = 3, 1
	le.PutUint16(b[26:], nFolders)
	le.PutUint16(b[28:], nFolders)
	le.PutUint32(b[16:], uint32(hdr))
	var files []byte
	for i := range nFolders {
		files = le.AppendUint32(files, 1)
		files = le.AppendUint32(files, 0)
		files = le.AppendUint16(files, uint16(i))
		files = append(files, 0, 0, 0, 0, 0, 0, 'x', 0)
	}
	b = append(b, files...)
	chain := len(b)
	for range nBlocks {
		b = append(b, 0, 0, 0, 0, 0, 0, 1, 0) // cbData 0, cbUncomp 1
	}
	for i := range nFolders {
		le.PutUint32(b[headerSize+i*folderSize:], uint32(chain))
		le.PutUint16(b[headerSize+i*folderSize+4:], nBlocks)
		le.PutUint16(b[headerSize+i*folderSize+6:], uint16(MSZIP))
	}
	c := openBytes(t, b)
	var errs int
	for i := range c.Files {
		err := c.Extract(&c.Files[i], io.Discard)
		if err != nil && strings.Contains(err.Error(), "folders overlap") {
			errs++
		}
	}
	if errs < nFolders-3 {
		t.Fatalf("only %d of %d overlapping folders refused", errs, nFolders)
	}
}

func TestReaderContract(t *testing.T) {
	for _, name := range []string{"lzx15.cab", "mszip.cab", "stored_reserve.cab"} {
		raw := readFixture(t, name)
		c := openBytes(t, raw)
		for i := range c.Files {
			want := extract(t, c, &c.Files[i])
			r, err := c.Open(&c.Files[i])
			if err != nil {
				t.Fatal(err)
			}
			if err := iotest.TestReader(r, want); err != nil {
				t.Errorf("%s %s: %v", name, c.Files[i].Name, err)
			}
		}
	}
}

func TestConcurrentExtract(t *testing.T) {
	raw := readFixture(t, "lzxwin.cab")
	c := openBytes(t, raw)
	want := make([][]byte, len(c.Files))
	for i := range c.Files {
		want[i] = extract(t, c, &c.Files[i])
	}
	c = openBytes(t, raw) // fresh folder indexes, built concurrently
	done := make(chan error)
	for i := range c.Files {
		for range 3 {
			go func() {
				var buf bytes.Buffer
				err := c.Extract(&c.Files[i], &buf)
				if err == nil && !bytes.Equal(buf.Bytes(), want[i]) {
					err = errors.New("bytes differ")
				}
				done <- err
			}()
		}
	}
	for range 3 * len(c.Files) {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestCorruptLZX flips bytes in LZX payloads (checksums off): extraction
// may fail or produce other bytes, but must not panic or hang.
func TestCorruptLZX(t *testing.T) {
	raw := readFixture(t, "lzxwin.cab")
	c := openBytes(t, raw)
	ix, _ := c.folderIndexFor(0)
	r := rng(99)
	fails := 0
	for range 300 {
		b := bytes.Clone(raw)
		for range 1 + r.intn(3) {
			bi := ix.blocks[r.intn(len(ix.blocks))]
			p := int(bi.off) + 8 + r.intn(int(bi.cbData))
			b[p] ^= byte(1 << r.intn(8))
		}
		c := openBytes(t, b)
		if err := c.Extract(&c.Files[0], io.Discard); err != nil {
			fails++
			if !strings.HasPrefix(err.Error(), "cab: CFDATA block ") {
				t.Errorf("error without block context: %v", err)
			}
		}
	}
	t.Logf("%d of 300 corruptions detected", fails)
}

func TestEmptyFileNeedsNoData(t *testing.T) {
	raw := readFixture(t, "stored_reserve.cab")
	c := openBytes(t, raw)
	for i := range c.Files {
		if c.Files[i].Size == 0 {
			if err := c.Extract(&c.Files[i], io.Discard); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatal("no empty file")
}

func TestStoredReserveHeader(t *testing.T) {
	c := openBytes(t, readFixture(t, "stored_reserve.cab"))
	if string(c.Reserve) != "wdb reserve 20 bytes" || c.SetID != 0x1234 || len(c.Folders) != 2 {
		t.Fatalf("reserve %q set %#x folders %d", c.Reserve, c.SetID, len(c.Folders))
	}
	names := []string{}
	for _, f := range c.Files {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, "|"); got != "docs\\readme.txt|ünïcödé.txt|café.txt|random.bin|zero" {
		t.Fatalf("names %s", got)
	}
	if c.Files[3].Folder != 1 || c.Files[3].Offset != 0 || c.Folders[1].Blocks != 3 {
		t.Fatalf("file %+v folder %+v", c.Files[3], c.Folders[1])
	}
}

// TestExtractOrder: in order (reusing the parked decoder), reversed and
// repeated extraction all give the same bytes.
func TestExtractOrder(t *testing.T) {
	for _, name := range []string{"lzx15.cab", "mszip.cab", "gcab_mszip.cab"} {
		raw := readFixture(t, name)
		c := openBytes(t, raw)
		var want [][]byte
		for i := range c.Files {
			want = append(want, extract(t, c, &c.Files[i]))
		}
		if c.parked[0] == nil {
			t.Errorf("%s: no decoder parked after in-order extraction", name)
		}
		for i := len(c.Files) - 1; i >= 0; i-- {
			for range 2 {
				if got := extract(t, c, &c.Files[i]); !bytes.Equal(got, want[i]) {
					t.Errorf("%s: file %d differs when extracted out of order", name, i)
				}
			}
		}
	}
}
