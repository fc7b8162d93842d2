package dumpbuild

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"wdb/dump"
)

func TestImageReadAtWriteTo(t *testing.T) {
	b := richX64()
	b.Memory64(0x1000, bytes.Repeat([]byte{7}, 100))
	b.Memory64Zero(0x2000, 5000)
	b.Memory64(0x4000, []byte{9, 9})
	im, err := b.Image()
	if err != nil {
		t.Fatal(err)
	}
	all, err := im.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(all)) != im.Size() {
		t.Fatalf("Bytes %d, Size %d", len(all), im.Size())
	}
	var buf bytes.Buffer
	if n, err := im.WriteTo(&buf); err != nil || n != im.Size() || !bytes.Equal(buf.Bytes(), all) {
		t.Fatalf("WriteTo n=%d err=%v equal=%v", n, err, bytes.Equal(buf.Bytes(), all))
	}
	// Reads at every offset, straddling piece boundaries, match Bytes.
	for _, n := range []int{1, 7, 64, 5003} {
		p := make([]byte, n)
		for off := int64(0); off < im.Size(); off += 37 {
			got, err := im.ReadAt(p, off)
			want := min(int64(n), im.Size()-off)
			if int64(got) != want || (want < int64(n) && err != io.EOF) || (want == int64(n) && err != nil) {
				t.Fatalf("ReadAt(%d, %d) = %d, %v", n, off, got, err)
			}
			if !bytes.Equal(p[:got], all[off:off+int64(got)]) {
				t.Fatalf("ReadAt(%d, %d) bytes differ", n, off)
			}
		}
	}
	if _, err := im.ReadAt(make([]byte, 1), im.Size()); err != io.EOF {
		t.Errorf("read at EOF: %v", err)
	}
}

// TestSparseFourGiB writes a full-memory dump holding 4 GiB of zero pages
// and checks that neither RAM nor disk paid for them.
func TestSparseFourGiB(t *testing.T) {
	const zero = 4 << 30
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	b := New(X64)
	b.Memory64(0x10000, bytes.Repeat([]byte{0x5a}, 0x1000))
	b.Memory64Zero(0x11000, zero)
	b.Memory64(0x1_0001_1000, []byte("tail"))
	b.Region(Region{Base: 0x10000, AllocBase: 0x10000, Size: 0x1000 + zero + 0x1000, State: dump.MemCommit,
		Protect: dump.PageReadWrite, Type: dump.MemPrivate})
	path := filepath.Join(t.TempDir(), "big.dmp")
	if err := b.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Bytes(); err == nil {
		t.Error("Bytes materialized a 4 GiB dump")
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("building and writing allocated %d MiB", alloc>>20)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := b.Image()
	if fi.Size() != im.Size() || fi.Size() < zero {
		t.Fatalf("file size %d, image size %d", fi.Size(), im.Size())
	}
	if used, ok := diskUsage(fi); ok && sparseSupported(t) && used > 16<<20 {
		t.Errorf("4 GiB sparse dump uses %d MiB of disk", used>>20)
	}

	// Spot-check the file: header, Memory64List and the data at both ends.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 4096)
	if _, err := f.ReadAt(head, 0); err != nil {
		t.Fatal(err)
	}
	r := raw{t, head}
	o, _ := find(r, dump.StreamMemory64List)
	base := r.u64(o + 8)
	if r.u64(o) != 3 || r.u64(o+16+16+8) != zero {
		t.Fatalf("Memory64List % x", head[o:o+64])
	}
	if base+0x1000+zero+4 != uint64(fi.Size()) {
		t.Errorf("data does not end at EOF: base %#x size %#x", base, fi.Size())
	}
	tail := make([]byte, 8)
	if _, err := f.ReadAt(tail, fi.Size()-8); err != nil || string(tail) != "\x00\x00\x00\x00tail" {
		t.Errorf("tail %q %v", tail, err)
	}
	first := make([]byte, 2)
	if _, err := f.ReadAt(first, int64(base)+0xfff); err != nil || first[0] != 0x5a || first[1] != 0 {
		t.Errorf("first page edge % x %v", first, err)
	}
}

// sparseSupported reports whether the temp filesystem keeps holes, so the
// disk check is skipped rather than failed on filesystems without them.
func sparseSupported(t *testing.T) bool {
	path := filepath.Join(t.TempDir(), "probe")
	f, err := os.Create(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := f.Truncate(64 << 20); err != nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	used, ok := diskUsage(fi)
	if !ok || used >= 1<<20 {
		t.Log("temp filesystem does not keep holes; disk usage not checked")
		return false
	}
	return true
}
