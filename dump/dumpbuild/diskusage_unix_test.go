//go:build unix

package dumpbuild

import (
	"os"
	"syscall"
)

// diskUsage is the space a file occupies on disk (st_blocks * 512).
func diskUsage(fi os.FileInfo) (int64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int64(st.Blocks) * 512, true
}
