package dump

import (
	"io"
	"os"
)

// source gives access to the bytes of the dump file. When the file is
// memory-mapped, slice returns views into the mapping without copying; the
// ReadAt fallback copies.
type source struct {
	f     *os.File
	data  []byte // the whole file when mapped, else nil
	size  int64
	unmap func() error
}

func openSource(path string) (*source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	s := &source{f: f, size: st.Size()}
	if data, unmap, err := mapFile(f, st.Size()); err == nil {
		s.data, s.unmap = data, unmap
	}
	return s, nil
}

func bytesSource(b []byte) *source { return &source{data: b, size: int64(len(b))} }

// mapped reports whether slice returns zero-copy views.
func (s *source) mapped() bool { return s.data != nil }

// slice returns the n bytes at off, or false if they are not all in the file.
func (s *source) slice(off int64, n int64) ([]byte, bool) {
	if off < 0 || n < 0 || off > s.size || n > s.size-off {
		return nil, false
	}
	if s.data != nil {
		return s.data[off : off+n : off+n], true
	}
	b := make([]byte, n)
	if _, err := s.f.ReadAt(b, off); err != nil && err != io.EOF {
		return nil, false
	}
	return b, true
}

// readAt copies bytes at off into p.
func (s *source) readAt(p []byte, off int64) (int, error) {
	if s.data != nil {
		if off < 0 || off >= s.size {
			return 0, io.EOF
		}
		n := copy(p, s.data[off:])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	return s.f.ReadAt(p, off)
}

func (s *source) close() error {
	var err error
	if s.unmap != nil {
		err = s.unmap()
		s.unmap = nil
	}
	s.data = nil
	if s.f != nil {
		if e := s.f.Close(); err == nil {
			err = e
		}
		s.f = nil
	}
	return err
}
