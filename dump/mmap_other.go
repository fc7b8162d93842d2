//go:build !unix

package dump

import (
	"errors"
	"os"
)

// mapFile is not available here; the reader falls back to ReadAt.
func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	return nil, nil, errors.New("mmap not supported on this platform")
}
