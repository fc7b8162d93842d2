package commands

import (
	"bytes"
	"strings"
	"testing"

	"wdb/dump/dumpbuild"
)

func TestEvaluateGolden(t *testing.T) { runGoldenTopic(t, "evaluate") }

func TestEvaluateNumbers(t *testing.T) {
	s64, out64 := synthSession(t, dumpbuild.X64)
	s32, out32 := synthSession(t, dumpbuild.X86)
	for _, c := range []struct {
		x86       bool
		cmd, want string
	}{
		{true, "? 8f", "Evaluate expression: 143 = 0000008f"},
		{false, "? 0n1033", "Evaluate expression: 1033 = 00000000`00000409"},
		{false, "? 409", "Evaluate expression: 1033 = 00000000`00000409"},
		{false, "? 0x409", "Evaluate expression: 1033 = 00000000`00000409"},
		{false, "? 409h", "Evaluate expression: 1033 = 00000000`00000409"},
		{false, "? 0t17", "Evaluate expression: 15 = 00000000`0000000f"},
		{false, "? 0y101", "Evaluate expression: 5 = 00000000`00000005"},
		{false, "? 0n10 + 0t10 + 0y10", "Evaluate expression: 20 = 00000000`00000014"},
		{false, "? -1", "Evaluate expression: -1 = ffffffff`ffffffff"},
		{false, "? fffff806`5c416ae0", "Evaluate expression: -8768775427360 = fffff806`5c416ae0"},
		{false, "? @rip", "Evaluate expression: 140720308490240 = 00007ffc`00001000"},
		{true, "? -1", "Evaluate expression: -1 = ffffffff"},
		{true, "? ffffffff", "Evaluate expression: 4294967295 = ffffffff"},
		{true, "? 1`00000000", "Evaluate expression: 4294967296 = 00000001`00000000"},
		// 32-bit registers are sign extended: the decimal is negative.
		{true, "? @eax", "Evaluate expression: -2147483648 = 80000000"},
		{true, "? 12fedc", "Evaluate expression: 1244892 = 0012fedc"},
		{true, "? 1+1)", "            ^ Extra character error in '? 1+1)'"},
		{true, "? nosuch", "Couldn't resolve error at 'nosuch'"},
	} {
		s, out := s64, out64
		if c.x86 {
			s, out = s32, out32
		}
		if got := strings.TrimSuffix(synthRun(s, out, c.cmd), "\n"); got != c.want {
			t.Errorf("x86=%v %s = %q, want %q", c.x86, c.cmd, got, c.want)
		}
	}
}

func TestEvaluateHelp(t *testing.T) {
	s, out := synthSession(t, dumpbuild.X64)
	got := synthRun(s, out, "?")
	for _, want := range []string{"? <expr> - display expression\n", "lm[", "r [<reg> [= <expr>]][, ...] - view or set registers\n", "<expr> unary ops:"} {
		if !strings.Contains(got, want) {
			t.Errorf("? help lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, ".formats") {
		t.Errorf("? help lists meta-commands, which belong to .help")
	}
}

// The .formats samples of §2.6, with the Time line in UTC (WinDbg uses the
// local zone of the machine it runs on).
func TestFormatsSamples(t *testing.T) {
	for _, c := range []struct {
		ptr  int
		v    uint64
		want string
	}{
		{4, 0x1c407e62, `Evaluate expression:
  Hex:     1c407e62
  Decimal: 473988706
  Decimal (unsigned) : 473988706
  Octal:   03420077142
  Binary:  00011100 01000000 01111110 01100010
  Chars:   .@~b
  Time:    Mon Jan 07 23:31:46 1985
  Float:   low 6.36908e-022 high 0
  Double:  2.34182e-315
`},
		{8, 0x1e240, `Evaluate expression:
  Hex:     00000000` + "`" + `0001e240
  Decimal: 123456
  Decimal (unsigned) : 123456
  Octal:   0000000000000000361100
  Binary:  00000000 00000000 00000000 00000000 00000000 00000001 11100010 01000000
  Chars:   .......@
  Time:    Fri Jan 02 10:17:36 1970
  Float:   low 1.72999e-040 high 0
  Double:  6.09954e-319
`},
		{8, 0x57724231, `Evaluate expression:
  Hex:     00000000` + "`" + `57724231
  Decimal: 1467105841
  Decimal (unsigned) : 1467105841
  Octal:   0000000000012734441061
  Binary:  00000000 00000000 00000000 00000000 01010111 01110010 01000010 00110001
  Chars:   ....WrB1
  Time:    Tue Jun 28 09:24:01 2016
  Float:   low 2.66366e+014 high 0
  Double:  7.24847e-315
`},
	} {
		var b bytes.Buffer
		formatsOf(c.ptr, c.v).WriteText(&b)
		if b.String() != c.want {
			t.Errorf(".formats %#x =\n%s\nwant\n%s", c.v, b.String(), c.want)
		}
	}
}

func TestFormatsCommand(t *testing.T) {
	s, out := synthSession(t, dumpbuild.X64)
	got := synthRun(s, out, ".formats 01d5f0e5`0e0ff3f0")
	if !strings.Contains(got, "  Time:    Mon Mar 02 22:51:05.140 2020 (UTC + 0:00)\n") {
		t.Errorf("a 64-bit value is a FILETIME:\n%s", got)
	}
	if got := synthRun(s, out, ".formats -1"); !strings.Contains(got, "  Decimal: -1\n  Decimal (unsigned) : 18446744073709551615\n") ||
		!strings.Contains(got, "  Time:    ***** Invalid\n") {
		t.Errorf(".formats -1:\n%s", got)
	}
	if got := synthRun(s, out, ".formats"); got != "Numeric expression missing from '<EOL>'\n" {
		t.Errorf(".formats without expression: %q", got)
	}
}

func TestCFloat(t *testing.T) {
	for _, c := range []struct {
		x    float64
		want string
	}{
		{0, "0"}, {1, "1"}, {1.5, "1.5"}, {-2.25, "-2.25"}, {100000, "100000"}, {1e6, "1e+006"},
		{123456789, "1.23457e+008"}, {0.0001, "0.0001"}, {0.00001, "1e-005"}, {1e-300, "1e-300"},
	} {
		if got := cFloat(c.x); got != c.want {
			t.Errorf("cFloat(%g) = %q, want %q", c.x, got, c.want)
		}
	}
}
