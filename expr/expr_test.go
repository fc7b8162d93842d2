package expr

import (
	"errors"
	"strings"
	"testing"
)

// fakeEnv is a small x64 (or x86) process: a few registers, symbols and
// readable memory regions.
type fakeEnv struct {
	ptr    int
	regs   map[string]uint64
	pseudo map[string]uint64
	syms   map[string]uint64
	mem    map[uint64][]byte // region start -> contents
	lines  map[string]uint64
}

func (e *fakeEnv) PointerSize() int { return e.ptr }

func (e *fakeEnv) ReadMemory(addr uint64, size int) ([]byte, error) {
	for base, b := range e.mem {
		if addr >= base && addr-base <= uint64(len(b)) && uint64(size) <= uint64(len(b))-(addr-base) {
			return b[addr-base : addr-base+uint64(size)], nil
		}
	}
	return nil, errors.New("not in dump")
}

func (e *fakeEnv) Register(name string) (uint64, bool) {
	v, ok := e.regs[name]
	return v, ok
}

func (e *fakeEnv) PseudoRegister(name string) (uint64, bool) {
	v, ok := e.pseudo[name]
	return v, ok
}

func (e *fakeEnv) Symbol(name string) (uint64, bool) {
	v, ok := e.syms[strings.ToLower(name)]
	return v, ok
}

func (e *fakeEnv) SourceLine(spec string) (uint64, bool) {
	v, ok := e.lines[spec]
	return v, ok
}

func le(v uint64, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return b
}

func newEnv(ptr int) *fakeEnv {
	low := make([]byte, 0x40)
	copy(low[0x00:], le(0x00007ff807829fe1, 8))
	copy(low[0x08:], le(0x80001234, 4))
	copy(low[0x10:], []byte{0x09, 0x04, 0x00, 0x00})
	copy(low[0x18:], le(0x1010, 8))
	pe := make([]byte, 0x100)
	copy(pe[0x3c:], le(0x80, 4))
	copy(pe[0x80+0x28:], le(0x1234, 4))
	return &fakeEnv{
		ptr: ptr,
		regs: map[string]uint64{
			"rax": 0x1000, "eax": 0x80000000, "rbx": 0x1018, "rsp": 0x1000,
			"esp": 0x1000, "rip": 0x7ff807829fe1, "r8": 0x1111, "r8d": 0xffffffff,
			"zf": 1, "efl": 0x246, "cl": 5, "ah": 3, "rsi": 0x5151,
		},
		pseudo: map[string]uint64{
			"$ip": 0x7ff807829fe1, "$csp": 0x1000, "$peb": 0x7ffdf000,
			"$teb": 0x7ffde000, "$tid": 0x1a4, "$tpid": 0x2b8, "$t0": 7,
			"$t19": 0x19, "$exentry": 0x140001000,
		},
		syms: map[string]uint64{
			"app":                           0x140000000,
			"app!main":                      0x140001000,
			"main":                          0x140001000,
			"app!cmmfserializer::`vftable'": 0x140005000,
			"app!cfoo::~cfoo":               0x140002000,
			"app!cfoo::bar":                 0x140002100,
			"cfoo::bar":                     0x140002100,
			"app!add":                       0x140003000,
			"add":                           0x140003000,
			"eax":                           0x99,
			"rsi":                           0x140004000,
			"foo.bar":                       0x20,
			"app!main.main":                 0x140006000,
			"app!_func@8":                   0x140007000,
			"app!??_7cfoo@@6b@":             0x140008000,
			"app!operator<":                 0x140009000,
			"1":                             0x1,
			"kernel32!createfilew":          0x7ff800001000,
		},
		mem:   map[uint64][]byte{0x1000: low, 0x2000: pe},
		lines: map[string]uint64{"main.c:43": 0x140001040},
	}
}

func TestEval(t *testing.T) {
	env := newEnv(8)
	tests := []struct {
		in   string
		want uint64
	}{
		// numbers: default radix 16, prefixes, h suffix, backticks
		{"10", 0x10},
		{"0x10", 0x10},
		{"0X4aB3", 0x4ab3},
		{"4aB3H", 0x4ab3},
		{"0n10", 10},
		{"0t10", 8},
		{"0y101", 5},
		{"0x", 0},
		{"0n", 0},
		{"010", 0x10},
		{"ab", 0xab},
		{"ah", 0xa}, // hex with h suffix wins over register ah
		{"1ah", 0x1a},
		{"00007ff8`07829fe1", 0x00007ff807829fe1},
		{"7ff8`07829fe1", 0x00007ff807829fe1},
		{"1`", 1},
		{"1`1", 0x11},
		{"0x1`0000", 0x10000},
		{"ffffffff`ffffffff", ^uint64(0)},
		{"80000000", 0x80000000}, // constants are never sign extended in user mode
		{"'A'", 0x41},
		{"'abcd'", 0x61626364},
		{"'it''s'", 0x69742773},
		// unary operators
		{"-1", ^uint64(0)},
		{"--1", 1},
		{"+-1", ^uint64(0)},
		{"+1", 1},
		{"-0n123", uint64(1<<64 - 123)},
		{"0n-123", uint64(1<<64 - 0x123)}, // 0n then -123 in hex: a well-known MASM trap
		{"not 0", 1},
		{"not 5", 0},
		{"~0", 1}, // ~ is dbgeng's logical not
		{"~5", 0},
		{"hi 12345678", 0x1234},
		{"low 12345678", 0x5678},
		{"hi 0xffffffff`12345678", 0x1234},
		// binary operators
		{"2*3", 6},
		{"7/2", 3},
		{"-4/2", uint64(1<<64 - 2)}, // signed division
		{"8 mod 3", 2},
		{"8 % 3", 2},
		{"8 MOD 3", 2},
		{"1+2", 3},
		{"1-2", ^uint64(0)},
		{"1 << 4", 0x10},
		{"100 >> 4", 0x10},
		{"-8 >> 1", 0x7ffffffffffffffc},
		{"-8 >>> 1", uint64(1<<64 - 4)},
		{"1 << 0n64", 1}, // count modulo 64
		{"5 == 5", 1},
		{"5 = 5", 1},
		{"5 != 5", 0},
		{"-1 < 1", 1}, // signed comparison
		{"1 > -1", 1},
		{"2 <= 2", 1},
		{"3 >= 4", 0},
		{"6 and 3", 2},
		{"6 & 3", 2},
		{"6 xor 3", 5},
		{"6 ^ 3", 5},
		{"6 or 3", 7},
		{"6 | 3", 7},
		// precedence
		{"1 + 2 * 3", 7},
		{"(1+1) * 2", 4},
		{"[1+1] * 2", 4},
		{"1 + (1 * 2)", 3},
		{"1 + 2 * 3 + 4", 11},
		{"1 + 2 * 3 / 4", 2},
		{"1 << 2 + 1", 8},
		{"1 + 1 == 2", 1},
		{"1 == 1 & 2", 0}, // comparisons bind tighter than and
		{"1 | 2 & 0", 1},  // and before or
		{"1 | 3 ^ 3", 1},  // xor before or
		{"3 ^ 1 & 1", 2},  // and before xor
		{"-2 * 3", uint64(1<<64 - 6)},
		{"not 0 + 1", 2}, // unary binds tighter than +
		{"1 + 2 * 3 - 4 / 2 mod 3", 5},
		{"  1  +  2  ", 3},
		{"%10", 0x10}, // address-mode prefix ignored
		// memory
		{"poi(1000)", 0x00007ff807829fe1},
		{"poi 1000", 0x00007ff807829fe1},
		{"poi(@rax)", 0x00007ff807829fe1},
		{"poi(@rbx) ", 0x1010},
		{"poi poi @rbx", 0x409},
		{"qwo(1000)", 0x00007ff807829fe1},
		{"dwo(1008)", 0x80001234},
		{"wo(1010)", 0x409},
		{"by(1010)", 9},
		{"by 1010+1", 0xa}, // by(1010)+1
		{"poi(1000+8) & 0xffffffff", 0x80001234},
		{"poi(rax+0x10)==0x409", 1},
		{"$vvalid(1000, 40)", 1},
		{"$vvalid(1000, 41)", 0},
		{"$vvalid(5000, 1)", 0},
		{"$iment(2000)", 0x3234},
		// registers
		{"@rax", 0x1000},
		{"rax", 0x1000},
		{"@RAX", 0x1000},
		{"eax", 0xffffffff80000000}, // 32-bit registers are sign extended
		{"@eax", 0xffffffff80000000},
		{"@r8d", 0xffffffffffffffff},
		{"r8", 0x1111},
		{"@zf", 1},
		{"@efl", 0x246},
		{"cl", 5},
		{"@ah", 3},
		{"rsi", 0x140004000}, // a symbol wins over a register that is not x86-reserved
		{"@rsi", 0x5151},
		{"@rax+@rax", 0x2000},
		// pseudo-registers
		{"$ip", 0x7ff807829fe1},
		{"@$ip", 0x7ff807829fe1},
		{".", 0x7ff807829fe1},
		{". + 1", 0x7ff807829fe2},
		{"$csp", 0x1000},
		{"@$peb", 0x7ffdf000},
		{"$teb", 0x7ffde000},
		{"$tid", 0x1a4},
		{"$tpid", 0x2b8},
		{"$t0", 7},
		{"@$t0 * 2", 0xe},
		{"@$t19", 0x19},
		{"$ptrsize", 8},
		{"@$exentry", 0x140001000},
		// symbols
		{"app", 0x140000000},
		{"app!main", 0x140001000},
		{"APP!Main", 0x140001000},
		{"main", 0x140001000},
		{"app!main+0x10", 0x140001010},
		{"app!main + 10", 0x140001010},
		{"app!main+10-app", 0x1010},
		{"app!CMMFSerializer::`vftable'", 0x140005000},
		{"app!CMMFSerializer::`vftable'+8", 0x140005008},
		{"app!CFoo::~CFoo", 0x140002000},
		{"app!CFoo::Bar", 0x140002100},
		{"CFoo::Bar", 0x140002100},
		{"add", 0xadd},        // a hex number wins over a symbol
		{"!add", 0x140003000}, // '!' forces the symbol
		{"app!add", 0x140003000},
		{"eax", 0xffffffff80000000}, // x86 register names win over symbols
		{"!eax", 0x99},
		{"!1", 1},
		{"foo.bar", 0x20},
		{"app!main.main", 0x140006000},
		{"app!_func@8", 0x140007000},
		{"app!??_7CFoo@@6B@", 0x140008000},
		{`@!"app!operator<"`, 0x140009000},
		{`@!"app!operator<"+1`, 0x140009001},
		{"kernel32!CreateFileW", 0x7ff800001000},
		{"app!main != app", 1},
		{"`main.c:43`", 0x140001040},
		{"@@masm(1+2)*2", 6},
		// string functions, with the examples of ---evaluate-expression-.md
		{`$spat( "c:\dir\name.txt", "*name*" )`, 0}, // \n is a newline
		{`$spat( @"c:\dir\name.txt", "*name*" )`, 1},
		{`$spat( @"c:\dir\", "*filename*" )`, 0},
		{`$spat("Program", "Prog[er-t7]am") + 1`, 2},
		{`$scmp("a", "b")`, ^uint64(0)},
		{`$scmp("b", "b")`, 0},
		{`$scmp("b", "B")`, 1},
		{`$sicmp("b", "B")`, 0},
		{`$scmp("a\\b", @"a\b")`, 0},
	}
	for _, tt := range tests {
		got, err := Eval(tt.in, env)
		if err != nil {
			t.Errorf("Eval(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Eval(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
}

func TestEvalRadix(t *testing.T) {
	env := newEnv(8)
	tests := []struct {
		radix int
		in    string
		want  uint64
	}{
		{10, "10", 10},
		{10, "0x10", 0x10},
		{10, "10h", 0x10},
		{10, "ffh", 0xff},
		{10, "0n10", 10},
		{8, "10", 8},
		{8, "0y11", 3},
		{16, "10", 0x10},
		{0, "10", 0x10},
		{7, "10", 0x10}, // unsupported radix falls back to 16
	}
	for _, tt := range tests {
		got, err := Evaluator{Env: env, Radix: tt.radix}.Eval(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("radix %d Eval(%q) = %#x, %v; want %#x", tt.radix, tt.in, got, err, tt.want)
		}
	}
	// In radix 10 "a" is no longer a number, so it is resolved as a name.
	_, err := Evaluator{Env: env, Radix: 10}.Eval("a")
	if err == nil || err.Error() != "Couldn't resolve error at 'a'" {
		t.Errorf("radix 10 Eval(a) error = %v", err)
	}
}

func TestEval32(t *testing.T) {
	env := newEnv(4)
	env.regs = map[string]uint64{"eax": 0x80000000, "esp": 0x1000, "eip": 0x401000}
	env.pseudo = map[string]uint64{"$ip": 0x401000}
	tests := []struct {
		in   string
		want uint64
	}{
		{"eax", 0xffffffff80000000},
		{"80000000", 0x80000000},
		{"poi(1000)", 0x07829fe1},
		{"poi(1008)", 0xffffffff80001234}, // 32-bit pointers are sign extended
		{"dwo(1008)", 0x80001234},
		{"poi(ffffffff`00001008)", 0xffffffff80001234}, // the address is truncated to 32 bits
		{"$ptrsize", 4},
		{"poi(esp)", 0x07829fe1},
	}
	for _, tt := range tests {
		got, err := Eval(tt.in, env)
		if err != nil || got != tt.want {
			t.Errorf("x86 Eval(%q) = %#x, %v; want %#x", tt.in, got, err, tt.want)
		}
	}
}

func TestErrors(t *testing.T) {
	env := newEnv(8)
	tests := []struct {
		in   string
		want string
		pos  int
	}{
		{"", "Numeric expression missing from '<EOL>'", 0},
		{"   ", "Numeric expression missing from '<EOL>'", 3},
		{"1+", "Numeric expression missing from '<EOL>'", 2},
		{"1*", "Numeric expression missing from '<EOL>'", 2},
		{"*1", "Numeric expression missing from '*1'", 0},
		{"1 + * 2", "Numeric expression missing from '* 2'", 4},
		{"()", "Numeric expression missing from ')'", 1},
		{"foo", "Couldn't resolve error at 'foo'", 0},
		{"foo + 1", "Couldn't resolve error at 'foo + 1'", 0},
		{"1 + foo", "Couldn't resolve error at 'foo'", 4},
		{"kernel32!createprocessw", "Couldn't resolve error at 'kernel32!createprocessw'", 0},
		{"app!1", "Couldn't resolve error at 'app!1'", 0},
		{"nomod!main", "Couldn't resolve error at 'nomod!main'", 0},
		{"!nosuch", "Couldn't resolve error at '!nosuch'", 0},
		{"!2", "Couldn't resolve error at '!2'", 0}, // ! is not a unary operator in MASM
		{"$nosuch", "Couldn't resolve error at '$nosuch'", 0},
		{"CFoo::`vftable'", "Couldn't resolve error at 'CFoo::`vftable''", 0}, // ` needs module!
		{"app!", "Syntax error at 'app!'", 0},
		{"`1", "Syntax error at '`1'", 0},
		{"`nosuch.c:1`", "Couldn't resolve error at '`nosuch.c:1`'", 0},
		{"12xyz", "Syntax error at '12xyz'", 0},
		{`"abc"`, `Syntax error at '"abc"'`, 0},
		{"'abc", "Syntax error at ''abc'", 0},
		{"@foo", "Bad register error at '@foo'", 0},
		{"@$foo", "Bad register error at '@$foo'", 0},
		{"@", "Bad register error at '@'", 0},
		{"@1", "Bad register error at '@1'", 0},
		{"1 + @r99 + 2", "Bad register error at '@r99 + 2'", 4},
		{"poi 1", "Memory access error at '1'", 4},
		{"poi(1)", "Memory access error at ')'", 5},
		{"dwo(1) == 0x100", "Memory access error at ') == 0x100'", 5},
		{"poi(@$teb + 0x108) == 0x409", "Memory access error at ') == 0x409'", 17},
		{"poi(00007ff8`07829fe1)", "Memory access error at ')'", 21},
		{"$iment(app)", "Memory access error at ')'", 10},
		{"(1+1", "Syntax error at '<EOL>'", 4},
		{"(1+1]", "Syntax error at ']'", 4},
		{"(1 foo", "Couldn't resolve error at 'foo'", 3},
		{"$vvalid(1000)", "Syntax error at ')'", 12},
		{"1/0", "Operand error at '0'", 2},
		{"1 % (3-3)", "Operand error at ')'", 8},
		{"1 mod 0 + 1", "Operand error at '0 + 1'", 6},
		{"123456789abcdef012", "Overflow error at '123456789abcdef012'", 0},
		{"0n99999999999999999999", "Overflow error at '0n99999999999999999999'", 0},
		{"@@c++(1)", "Syntax error at '@@c++(1)'", 0},
		{`$spat( "c:\dir\", "*filename*" )`, `Syntax error at '( "c:\dir\", "*filename*" )'`, 5},
		{`$scmp("a")`, `Syntax error at '("a")'`, 5},
		{`$scmp("a", b)`, `Syntax error at '("a", b)'`, 5},
		{`$scmp "a"`, `Couldn't resolve error at '$scmp "a"'`, 0}, // a function only before '('
		{"@@masm(1", "Syntax error at '<EOL>'", 8},
		{`@!"app!nosuch"`, `Couldn't resolve error at '@!"app!nosuch"'`, 0},
		{`@!"app!nosuch`, `Syntax error at '@!"app!nosuch'`, 0},
		{strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300), "Overflow error at '" + strings.Repeat("(", 44) + "1" + strings.Repeat(")", 300) + "'", 256},
	}
	for _, tt := range tests {
		_, err := Eval(tt.in, env)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Eval(%q) error = %v, want %q", tt.in, err, tt.want)
			continue
		}
		if e.Error() != tt.want || e.Pos != tt.pos {
			t.Errorf("Eval(%q) error = %q at %d, want %q at %d", tt.in, e.Error(), e.Pos, tt.want, tt.pos)
		}
	}
	// Backticks are digit separators of hex numbers only.
	if _, err := (Evaluator{Env: env, Radix: 10}).Eval("1`0"); err == nil || err.Error() != "Syntax error at '1`0'" {
		t.Errorf("radix 10 Eval(1`0) error = %v", err)
	}
}

func TestExtraCharacter(t *testing.T) {
	env := newEnv(8)
	for _, tt := range []struct {
		in  string
		pos int
	}{
		{"1+1)", 3},
		{"1 2", 2},
		{"app!main foo", 9},
		{"1 ; 2", 2},
		{"poi(1000) :", 10},
	} {
		_, err := Eval(tt.in, env)
		var e *Error
		if !errors.As(err, &e) || e.Kind != ErrExtraCharacter || e.Pos != tt.pos || e.At != tt.in {
			t.Errorf("Eval(%q) = %#v, want extra character at %d", tt.in, err, tt.pos)
			continue
		}
		if got, want := e.Error(), "Extra character error in '"+tt.in+"'"; got != want {
			t.Errorf("Error() = %q, want %q", got, want)
		}
	}
	// The command layer prints it against the whole command with a caret
	// under the extra character: prompt "0:000> " (7) + "? " (2).
	_, err := Eval("1+1)", env)
	got := err.(*Error).Report("? 1+1)", 7+2)
	want := strings.Repeat(" ", 12) + "^ Extra character error in '? 1+1)'"
	if got != want {
		t.Errorf("Report = %q, want %q", got, want)
	}
	_, err = Eval("foo", env)
	if got := err.(*Error).Report("? foo", 9); got != "Couldn't resolve error at 'foo'" {
		t.Errorf("Report = %q", got)
	}
}

func TestParseExpr(t *testing.T) {
	env := newEnv(8)
	tests := []struct {
		in   string
		want uint64
		rest string
	}{
		{"1 + 2", 3, ""},
		{"1 + 2  ", 3, ""},
		{"1 2", 1, "2"},
		{"esp L10", 0x1000, "L10"},
		{"0 L?100 41414141", 0, "L?100 41414141"},
		{"app!main foo", 0x140001000, "foo"},
		{"poi(1000) \"text\"", 0x00007ff807829fe1, "\"text\""},
		{"10;dd 20", 0x10, ";dd 20"},
		{"10, 20", 0x10, ", 20"},
		{"10 -5", 0xb, ""},                           // spaces do not end an expression
		{"-d 0 L4 1", uint64(1<<64 - 0xd), "0 L4 1"}, // "-d" is minus 0xd: callers must strip options first
		{"1 == 1 x", 1, "x"},
		{"a b c", 0xa, "b c"},
	}
	for _, tt := range tests {
		got, rest, err := ParseExpr(tt.in, env)
		if err != nil || got != tt.want || rest != tt.rest {
			t.Errorf("ParseExpr(%q) = %#x, %q, %v; want %#x, %q", tt.in, got, rest, err, tt.want, tt.rest)
		}
	}
	if _, _, err := ParseExpr("", env); err == nil || err.Error() != "Numeric expression missing from '<EOL>'" {
		t.Errorf("ParseExpr(\"\") error = %v", err)
	}
	if _, _, err := ParseAddress("", env); err == nil || err.Error() != "Address expression missing from '<EOL>'" {
		t.Errorf("ParseAddress(\"\") error = %v", err)
	}
	if v, rest, err := ParseAddress("eax 1", newEnv(4)); err != nil || v != 0x80000000 || rest != "1" {
		t.Errorf("x86 ParseAddress(eax 1) = %#x, %q, %v", v, rest, err)
	}
}

func TestParseRange(t *testing.T) {
	env := newEnv(8)
	tests := []struct {
		in   string
		want Range
		rest string
	}{
		{"10", Range{Start: 0x10}, ""},
		{"10 L4", Range{Start: 0x10, Length: 4, HasLength: true}, ""},
		{"10 l4", Range{Start: 0x10, Length: 4, HasLength: true}, ""},
		{"10 L 4", Range{Start: 0x10, Length: 4, HasLength: true}, ""},
		{"10 L0n10", Range{Start: 0x10, Length: 10, HasLength: true}, ""},
		{"10 l0n10", Range{Start: 0x10, Length: 10, HasLength: true}, ""},
		{"10 L?100000000", Range{Start: 0x10, Length: 0x100000000, HasLength: true, NoLimit: true}, ""},
		{"80000000 L-20", Range{Start: 0x80000000, Length: 0x20, HasLength: true, Backward: true}, ""},
		{"10 L-?20", Range{Start: 0x10, Length: 0x20, HasLength: true, Backward: true, NoLimit: true}, ""},
		{"10 20", Range{Start: 0x10, End: 0x20, Length: 0x11, HasLength: true, ByteLength: true}, ""},
		{"0x00001000 0x00001007", Range{Start: 0x1000, End: 0x1007, Length: 8, HasLength: true, ByteLength: true}, ""},
		{"esp L10", Range{Start: 0x1000, Length: 0x10, HasLength: true}, ""},
		{"@rsp L10", Range{Start: 0x1000, Length: 0x10, HasLength: true}, ""},
		{"poi(@rbx) L2", Range{Start: 0x1010, Length: 2, HasLength: true}, ""},
		{"app!main+10 L(2*3)", Range{Start: 0x140001010, Length: 6, HasLength: true}, ""},
		{"0 L?100 41414141", Range{Start: 0, Length: 0x100, HasLength: true, NoLimit: true}, "41414141"},
		{"0 L?7fffffffffff \"<svg\"", Range{Start: 0, Length: 0x7fffffffffff, HasLength: true, NoLimit: true}, "\"<svg\""},
		{"0 1000 41414141", Range{Start: 0, End: 0x1000, Length: 0x1001, HasLength: true, ByteLength: true}, "41414141"},
		{"0 1000 \"hello Lisa\"", Range{Start: 0, End: 0x1000, Length: 0x1001, HasLength: true, ByteLength: true}, "\"hello Lisa\""},
		{"0 \"hello Lisa\"", Range{Start: 0}, "\"hello Lisa\""},
		{"10 L4 1", Range{Start: 0x10, Length: 4, HasLength: true}, "1"},
		{"10 L4;dd", Range{Start: 0x10, Length: 4, HasLength: true}, ";dd"},
		{"  10   L4  ", Range{Start: 0x10, Length: 4, HasLength: true}, ""},
	}
	for _, tt := range tests {
		got, rest, err := ParseRange(tt.in, env)
		got.text, got.pos = "", 0
		if err != nil || got != tt.want || rest != tt.rest {
			t.Errorf("ParseRange(%q) = %+v, %q, %v; want %+v, %q", tt.in, got, rest, err, tt.want, tt.rest)
		}
	}
	// x86: the start is a 32-bit address even when a register is sign extended.
	r, _, err := ParseRange("eax L1", newEnv(4))
	if err != nil || r.Start != 0x80000000 {
		t.Errorf("x86 ParseRange(eax L1) = %+v, %v", r, err)
	}
}

func TestParseRangeErrors(t *testing.T) {
	env := newEnv(8)
	tests := []struct {
		in   string
		want string
		pos  int
	}{
		{"", "Address expression missing from '<EOL>'", 0},
		{"(", "Address expression missing from '<EOL>'", 1},
		{"10 L", "Length of range missing from '<EOL>'", 4},
		{"10 L?", "Length of range missing from '<EOL>'", 5},
		{"foo L4", "Couldn't resolve error at 'foo '", 0}, // dbgeng cuts the line at the L
		{"10 foo", "Couldn't resolve error at 'foo'", 3},
		{"20 10", "Range error in '20 10'", 4},
		{"10 20 L4", "Extra character error in '10 20 L4'", 3},
	}
	for _, tt := range tests {
		_, _, err := ParseRange(tt.in, env)
		var e *Error
		if !errors.As(err, &e) || e.Error() != tt.want || e.Pos != tt.pos {
			t.Errorf("ParseRange(%q) error = %v (%#v), want %q at %d", tt.in, err, e, tt.want, tt.pos)
		}
	}
}

func TestRangeItems(t *testing.T) {
	env := newEnv(8)
	tests := []struct {
		in           string
		size, deflt  uint64
		start, count uint64
		err          string
	}{
		{"10", 4, 0x20, 0x10, 0x20, ""},
		{"10 L2", 4, 0x20, 0x10, 2, ""},
		{"1000 1007", 1, 0x80, 0x1000, 8, ""},
		{"1000 1007", 4, 0x20, 0x1000, 2, ""},
		{"1000 1008", 4, 0x20, 0x1000, 3, ""},
		{"80000000 L-20", 1, 0x80, 0x7fffffe0, 0x20, ""},
		{"80000000 L-2", 4, 0x20, 0x7ffffff8, 2, ""},
		{"10 L4000000", 4, 0x20, 0x10, 0x4000000, ""},                  // exactly 256 MB
		{"10 L4000001", 4, 0x20, 0, 0, "Range error in '10 L4000001'"}, // one item more
		{"10 L?4000001", 4, 0x20, 0x10, 0x4000001, ""},
		{"10 L?ffffffffffffffff", 8, 0x20, 0x10, ^uint64(0), ""},
		{"0 L?7fffffffffff", 1, 0x80, 0, 0x7fffffffffff, ""},
		{"0 7fffffff", 1, 0x80, 0, 0, "Range error in '0 7fffffff'"},
		{"10 L-20", 1, 0x80, 0, 0, "Range error in '10 L-20'"},
		{"10 L4000000000000000", 4, 0x20, 0, 0, "Range error in '10 L4000000000000000'"}, // no wraparound
	}
	for _, tt := range tests {
		r, _, err := ParseRange(tt.in, env)
		if err != nil {
			t.Errorf("ParseRange(%q): %v", tt.in, err)
			continue
		}
		start, count, err := r.Items(tt.size, tt.deflt)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%q.Items(%d) error = %v, want %q", tt.in, tt.size, err, tt.err)
			}
			continue
		}
		if err != nil || start != tt.start || count != tt.count {
			t.Errorf("%q.Items(%d) = %#x, %#x, %v; want %#x, %#x", tt.in, tt.size, start, count, err, tt.start, tt.count)
		}
	}
	// The caret of a Range error sits under the last character of the
	// count, as in "db @$ip l0xffffffff".
	r, _, _ := ParseRange("@$ip l0xffffffff", env)
	_, _, err := r.Items(1, 0x80)
	got := err.(*Error).Report("db @$ip l0xffffffff", 7+3)
	want := strings.Repeat(" ", 25) + "^ Range error in 'db @$ip l0xffffffff'"
	if got != want {
		t.Errorf("Report = %q, want %q", got, want)
	}
}

func TestMatchWildcard(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*name*", "c:\\dir\\name.txt", true},
		{"*NAME*", "c:\\dir\\name.txt", true},
		{"*filename*", "c:\\dir\\", false},
		{"Prog[er-t7]am", "Progeam", true},
		{"Prog[er-t7]am", "Program", true},
		{"Prog[er-t7]am", "Progtam", true},
		{"Prog[er-t7]am", "Prog7am", true},
		{"Prog[er-t7]am", "Progfam", false},
		{"Lo#p", "Lp", true},
		{"Lo#p", "Looop", true},
		{"Lo+p", "Lp", false},
		{"Lo+p", "Loop", true},
		{"m[ia]#n", "mn", true},
		{"m[ia]#n", "miain", true},
		{"m[ia]+n", "mn", false},
		{"a?+b", "ab", false},
		{"a?+b", "axyb", true},
		{"a?b", "axb", true},
		{"a?b", "ab", false},
		{"\\*", "*", true},
		{"\\*", "x", false},
		{"a-b", "a-b", true},
		{"CMMF*::`vftable'", "cmmfserializer::`vftable'", true},
		{"*a*a*a*a*a*a*b", strings.Repeat("a", 200), false},
		{"[", "[", true},
		{"#", "#", true},
	}
	for _, tt := range tests {
		if got := MatchWildcard(tt.pattern, tt.s); got != tt.want {
			t.Errorf("MatchWildcard(%q, %q) = %v", tt.pattern, tt.s, got)
		}
	}
}

func TestNilEnv(t *testing.T) {
	if v, err := Eval("1+2", nil); err != nil || v != 3 {
		t.Errorf("Eval with nil env = %#x, %v", v, err)
	}
	if _, err := Eval("poi 0", nil); err == nil || err.Error() != "Memory access error at '0'" {
		t.Errorf("poi with nil env: %v", err)
	}
}

func FuzzEval(f *testing.F) {
	for _, s := range []string{
		"1+2*3", "poi(@rax+8)", "app!CMMFSerializer::`vftable'", "00007ff8`07829fe1",
		"@$t0 << 3 >>> 1", "dwo(1008) == 0x80001234", "(((1)))", "!add", "`main.c:43`",
		"'abc'", "$vvalid(1000, 40)", "$iment(2000)", `@!"app!operator<"`, "@@masm(1)",
		"10 L?100 41414141", "esp L10", "-d 0 L4 1", "1/0", "not ~-+1", "0n-123", "hi low by 1010",
		"eax xor eax or 1 and 2 mod 3", "ah bh ch", "[1]", "%&#1", "app!CFoo::~CFoo+0x10",
		`$spat(@"c:\\x", "*[a-z]#+\\?")`, `$scmp("a\"", "b")`,
	} {
		f.Add(s)
	}
	env := newEnv(8)
	f.Fuzz(func(t *testing.T, s string) {
		for _, radix := range []int{16, 10} {
			ev := Evaluator{Env: env, Radix: radix}
			_, err := ev.Eval(s)
			checkErr(t, s, err)
			_, rest, err := ev.ParseExpr(s)
			checkErr(t, s, err)
			if !strings.HasSuffix(s, rest) {
				t.Fatalf("ParseExpr(%q) rest %q is not a suffix", s, rest)
			}
			r, rest, err := ev.ParseRange(s)
			checkErr(t, s, err)
			if !strings.HasSuffix(s, rest) {
				t.Fatalf("ParseRange(%q) rest %q is not a suffix", s, rest)
			}
			if err == nil {
				_, _, err = r.Items(4, 0x20)
				checkErr(t, s, err)
			}
		}
		if len(s) < 200 {
			MatchWildcard(s, s)
			MatchWildcard(s, "abc*def")
		}
	})
}

func checkErr(t *testing.T, s string, err error) {
	if err == nil {
		return
	}
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("%q: error %T is not *Error", s, err)
	}
	if e.Pos < 0 || e.Pos > len(s) {
		t.Fatalf("%q: error position %d out of range", s, e.Pos)
	}
	if !e.InCommand() && !strings.HasPrefix(s[e.Pos:], e.At) {
		t.Fatalf("%q: At %q is not the text at %d", s, e.At, e.Pos)
	}
	_ = e.Error()
}
