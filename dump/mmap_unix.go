//go:build unix

package dump

import (
	"errors"
	"os"
	"syscall"
)

// mapFile maps the whole file read-only, so reading memory ranges costs no
// copies and no reads until a page is touched.
func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, nil, errors.New("cannot map")
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}
