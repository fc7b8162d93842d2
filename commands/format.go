package commands

import "fmt"

// FormatAddr prints an address as WinDbg does for the target: 8 hex digits
// on 32-bit targets, "xxxxxxxx`xxxxxxxx" on 64-bit ones.
func FormatAddr(ptrSize int, v uint64) string {
	if ptrSize == 4 {
		return fmt.Sprintf("%08x", uint32(v))
	}
	return fmt.Sprintf("%08x`%08x", v>>32, uint32(v))
}

// Addr formats an address for the session's target.
func (s *Session) Addr(v uint64) string { return FormatAddr(s.PointerSize(), v) }

// FormatShortAddr prints the !address style: high half unpadded
// ("7ff7`966d0000", "0`00001000") on 64-bit targets, unpadded hex on 32-bit.
func FormatShortAddr(ptrSize int, v uint64) string {
	if ptrSize == 4 {
		return fmt.Sprintf("%x", v)
	}
	return fmt.Sprintf("%x`%08x", v>>32, uint32(v))
}

// FormatNumber prints a value as the ? command does: 32-bit when the high
// half is zero or a sign extension (see windbg-commands.md §0.1), else 64-bit
// with a backtick; on 64-bit targets always 64-bit.
func FormatNumber(ptrSize int, v uint64) string {
	if ptrSize == 8 {
		return FormatAddr(8, v)
	}
	if v>>32 == 0 || (v>>32 == 0xffffffff && v&0x80000000 != 0) {
		return fmt.Sprintf("%08x", uint32(v))
	}
	return FormatAddr(8, v)
}

// HumanSize prints a byte count as !address does: "( 45.156 MB)" without
// the parentheses — 3 decimals, 1024-based, kB/MB/GB/TB.
func HumanSize(n uint64) string {
	units := []string{"kB", "MB", "GB", "TB", "PB"}
	v := float64(n) / 1024
	u := 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	return fmt.Sprintf("%7.3f %s", v, units[u])
}
