package dumpbuild

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
)

// MaxBytes bounds Image.Bytes: larger dumps (typically ones with big
// Memory64Zero ranges) must be read through the Image or written to a file.
const MaxBytes = 1 << 30

// Image is a laid-out dump that is not necessarily in memory: zero ranges
// are kept as lengths. It serves reads (io.ReaderAt), streams (io.WriterTo)
// and writes sparse files, so tests can open a multi-gigabyte dump cheaply.
type Image struct {
	pieces []piece // contiguous, in file order
	size   int64
}

// piece is a run of the file: data, or zeros zero bytes when data is nil.
type piece struct {
	off   int64
	data  []byte
	zeros int64
}

func (p piece) len() int64 {
	if p.data != nil {
		return int64(len(p.data))
	}
	return p.zeros
}

// Image lays the dump out. Later calls on the Builder do not change the
// returned Image (it only reads the Builder's private copies of memory).
func (b *Builder) Image() (*Image, error) {
	if b.err != nil {
		return nil, b.err
	}
	w := newWriter(b)
	w.breakBefore()
	l, err := w.layout()
	if err != nil {
		return nil, err
	}
	dir := b.directory(l.dir)
	l.finish(b, dir)
	size := int64(len(l.buf)) + l.m64Size
	b.breakAfter(l, dir, size)
	return l.image(size), nil
}

func (l *layout) image(size int64) *Image {
	im := &Image{size: size}
	im.pieces = append(im.pieces, piece{off: 0, data: l.buf})
	off := int64(len(l.buf))
	for _, m := range l.m64 {
		n := m.len()
		if n == 0 {
			continue
		}
		// Ranges given as data are copied already; nil data means zeros.
		if m.data != nil {
			im.pieces = append(im.pieces, piece{off: off, data: m.data})
		} else {
			im.pieces = append(im.pieces, piece{off: off, zeros: n})
		}
		off += n
	}
	return im
}

// Size is the length of the dump file in bytes.
func (im *Image) Size() int64 { return im.size }

// ReadAt implements io.ReaderAt over the laid-out file.
func (im *Image) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("dumpbuild: negative offset")
	}
	if off >= im.size {
		return 0, io.EOF
	}
	i := sort.Search(len(im.pieces), func(i int) bool {
		pc := im.pieces[i]
		return pc.off+pc.len() > off
	})
	n := 0
	for ; i < len(im.pieces) && n < len(p); i++ {
		pc := im.pieces[i]
		rel := off + int64(n) - pc.off
		avail := pc.len() - rel
		want := int64(len(p) - n)
		if want > avail {
			want = avail
		}
		if pc.data != nil {
			copy(p[n:], pc.data[rel:rel+want])
		} else {
			clear(p[n : n+int(want)])
		}
		n += int(want)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteTo streams the whole file to w, zero ranges included.
func (im *Image) WriteTo(w io.Writer) (int64, error) {
	var total int64
	zeros := make([]byte, 64<<10)
	for _, pc := range im.pieces {
		if pc.data != nil {
			n, err := w.Write(pc.data)
			total += int64(n)
			if err != nil {
				return total, err
			}
			continue
		}
		for left := pc.zeros; left > 0; {
			chunk := zeros
			if int64(len(chunk)) > left {
				chunk = chunk[:left]
			}
			n, err := w.Write(chunk)
			total += int64(n)
			left -= int64(n)
			if err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// Bytes materializes the file; it refuses images larger than MaxBytes.
func (im *Image) Bytes() ([]byte, error) {
	if im.size > MaxBytes {
		return nil, fmt.Errorf("dumpbuild: %d-byte dump exceeds MaxBytes; use WriteFile or the Image", im.size)
	}
	out := make([]byte, im.size)
	if _, err := im.ReadAt(out, 0); err != nil && im.size > 0 {
		return nil, err
	}
	return out, nil
}

// WriteFile writes the file at path. Data runs are written in place and zero
// runs are skipped, the final Truncate giving the file its full length; on
// filesystems with holes (ext4, xfs, tmpfs, APFS, ...) zero ranges take no
// disk. On NTFS the file is not marked sparse, so holes are filled by the OS.
func (im *Image) WriteFile(path string) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	for _, pc := range im.pieces {
		if pc.data == nil {
			continue
		}
		if _, err := f.WriteAt(pc.data, pc.off); err != nil {
			return err
		}
	}
	return f.Truncate(im.size)
}
