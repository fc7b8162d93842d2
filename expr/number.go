package expr

// numStatus tells why a word is or is not a MASM number.
type numStatus int

const (
	numOK       numStatus = iota
	numInvalid            // not a number: resolve it as a symbol or register
	numOverflow           // all digits valid but more than 64 bits
)

// parseNumber reads a MASM numeric literal: digits of the default radix,
// prefixes 0x/0n/0t/0y (a bare prefix is 0), a trailing h for hex, and
// backticks between hex digits ("00007ff8`07829fe1"), which are ignored.
// Letters can only start a number in radix 16, where "ab" is always a number
// (type !ab or mod!ab for a symbol) and "eax" never is.
func parseNumber(w string, radix int) (uint64, numStatus) {
	if len(w) >= 2 && w[0] == '0' {
		base := 0
		switch w[1] | 0x20 {
		case 'x':
			base = 16
		case 'n':
			base = 10
		case 't':
			base = 8
		case 'y':
			base = 2
		}
		if base != 0 {
			return digits(w[2:], base, true)
		}
	}
	if w == "" {
		return 0, numInvalid
	}
	val, st := uint64(0), numInvalid
	if c := w[0]; isDigit(c) || (radix == 16 && isHexDigit(c)) {
		val, st = digits(w, radix, false)
	}
	if st == numInvalid && len(w) >= 2 && w[len(w)-1]|0x20 == 'h' && isHexDigit(w[0]) {
		// "4ab3h", and also "ah" = 10 although it looks like a register
		// (UNCONFIRMED: seen in a WinDbg-compatible evaluator's tests;
		// dbgeng's 2002 source had no h suffix and read ah as the register).
		return digits(w[:len(w)-1], 16, false)
	}
	return val, st
}

// digits accumulates s in base; started says a prefix was already read, which
// allows a backtick right after it.
func digits(s string, base int, started bool) (uint64, numStatus) {
	var v uint64
	overflow := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '`' {
			if base != 16 || !started {
				return 0, numInvalid
			}
			continue
		}
		d := digitValue(c)
		if d >= base {
			return 0, numInvalid
		}
		started = true
		if v > (^uint64(0)-uint64(d))/uint64(base) {
			overflow = true
		}
		v = v*uint64(base) + uint64(d)
	}
	if overflow {
		return 0, numOverflow
	}
	return v, numOK
}

func digitValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return 99
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHexDigit(c byte) bool {
	return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f')
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
