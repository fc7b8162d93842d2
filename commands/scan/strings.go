package scan

import (
	"encoding/binary"
	"iter"
)

// StringOptions selects what Strings reports.
type StringOptions struct {
	// MinLen is the shortest run of printable characters reported (WinDbg's
	// s -[l N]sa; default 3).
	MinLen int
	// MaxLen splits longer runs into several hits so that one huge text
	// block does not become one huge line; 0 means DefaultMaxString.
	MaxLen int
	// Unicode looks for UTF-16LE characters (high byte zero) at even
	// addresses instead of ASCII bytes.
	Unicode bool
	// CheckEvery and Check work as in Scanner.
	CheckEvery int
	Check      func(scanned uint64) bool
}

// DefaultMaxString is the longest string Strings reports as one hit.
const DefaultMaxString = 256

// printable marks the bytes s -sa treats as string characters: printable
// ASCII, space included; tabs and line breaks end a string.
var printable = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	return
}()

// Strings reports every run of at least MinLen printable characters, with
// its address and text (UTF-16 strings are returned as their ASCII text). It
// returns the bytes scanned and whether the scan went to the end.
func Strings(chunks iter.Seq2[uint64, []byte], opt StringOptions, hit func(addr uint64, s string) bool) (scanned uint64, complete bool) {
	st := strState{opt: opt, hit: hit}
	if st.opt.MinLen <= 0 {
		st.opt.MinLen = 3
	}
	if st.opt.MaxLen <= 0 {
		st.opt.MaxLen = DefaultMaxString
	}
	st.opt.MaxLen = max(st.opt.MaxLen, st.opt.MinLen)
	every := opt.CheckEvery
	if every <= 0 {
		every = DefaultCheckEvery
	}
	for addr, data := range chunks {
		if opt.Check != nil && !opt.Check(scanned) {
			return scanned, false
		}
		if addr != st.next || !st.started {
			if !st.end() {
				return scanned, false
			}
			st.hasHalf = false
		}
		st.started = true
		for i := 0; i < len(data); i += every {
			blk := data[i:min(len(data), i+every)]
			var ok bool
			if opt.Unicode {
				ok = st.feedUnicode(addr+uint64(i), blk)
			} else {
				ok = st.feedASCII(addr+uint64(i), blk)
			}
			scanned += uint64(len(blk))
			if !ok {
				return scanned, false
			}
			if i+every < len(data) && opt.Check != nil && !opt.Check(scanned) {
				return scanned, false
			}
		}
		st.next = addr + uint64(len(data))
	}
	return scanned, st.end()
}

type strState struct {
	opt     StringOptions
	hit     func(uint64, string) bool
	run     []byte // characters of the current run
	start   uint64 // address of its first character
	next    uint64 // address that continues the previous chunk
	started bool
	half    byte // Unicode: low byte at an even address, its pair in the next chunk
	hasHalf bool
}

// end closes the current run, reporting it when long enough.
func (st *strState) end() bool {
	if len(st.run) == 0 {
		return true
	}
	ok := true
	if len(st.run) >= st.opt.MinLen {
		ok = st.hit(st.start, string(st.run))
	}
	st.run = st.run[:0]
	return ok
}

// add appends one character at addr, splitting at MaxLen.
func (st *strState) add(addr uint64, c byte) bool {
	if len(st.run) == 0 {
		st.start = addr
	}
	st.run = append(st.run, c)
	if len(st.run) >= st.opt.MaxLen {
		return st.end()
	}
	return true
}

// hasPrintable reports whether any byte of x is in 0x20..0x7e (the
// "has a byte between m and n" bit trick), so binary words are skipped eight
// bytes at a time.
func hasPrintable(x uint64) bool {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	const m, n = 0x1f, 0x7f // exclusive bounds
	lo7 := x & (ones * 127)
	return (ones*(127+n)-lo7)&^x&(lo7+ones*(127-m))&high != 0
}

// feedASCII finds runs with tight loops (words without printable bytes
// skipped eight bytes at a time, printable bytes by table) and touches the run state only at run
// boundaries, so binary memory scans at several hundred MB/s or more.
func (st *strState) feedASCII(addr uint64, b []byte) bool {
	i := 0
	if len(st.run) > 0 {
		// Continue the run carried over from the previous chunk.
		j := 0
		for j < len(b) && printable[b[j]] {
			j++
		}
		if !st.addRun(addr, b[:j]) {
			return false
		}
		if j == len(b) {
			return true
		}
		if !st.end() {
			return false
		}
		i = j + 1
	}
	for i < len(b) {
		for i < len(b) {
			if i+8 <= len(b) && !hasPrintable(binary.LittleEndian.Uint64(b[i:])) {
				i += 8
			} else if !printable[b[i]] {
				i++
			} else {
				break
			}
		}
		j := i
		for j < len(b) && printable[b[j]] {
			j++
		}
		if j == len(b) {
			// The run may go on in the next chunk.
			return st.addRun(addr+uint64(i), b[i:j])
		}
		if j-i >= st.opt.MinLen {
			if !st.addRun(addr+uint64(i), b[i:j]) || !st.end() {
				return false
			}
		}
		i = j + 1
	}
	return true
}

// addRun appends printable characters starting at addr, splitting at MaxLen.
func (st *strState) addRun(addr uint64, p []byte) bool {
	for len(p) > 0 {
		if len(st.run) == 0 {
			st.start = addr
		}
		n := min(len(p), st.opt.MaxLen-len(st.run))
		st.run = append(st.run, p[:n]...)
		p, addr = p[n:], addr+uint64(n)
		if len(st.run) >= st.opt.MaxLen && !st.end() {
			return false
		}
	}
	return true
}

func (st *strState) feedUnicode(addr uint64, b []byte) bool {
	i := 0
	if st.hasHalf && len(b) > 0 {
		st.hasHalf = false
		if !st.unit(addr-1, st.half, b[0]) {
			return false
		}
		i = 1
	} else if addr%2 == 1 && len(b) > 0 {
		i = 1 // characters sit at even addresses
	}
	for ; i+1 < len(b); i += 2 {
		if !st.unit(addr+uint64(i), b[i], b[i+1]) {
			return false
		}
	}
	if i < len(b) {
		st.half, st.hasHalf = b[i], true
	}
	return true
}

func (st *strState) unit(addr uint64, lo, hi byte) bool {
	if hi == 0 && printable[lo] {
		return st.add(addr, lo)
	}
	return st.end()
}
