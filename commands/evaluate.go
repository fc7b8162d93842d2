package commands

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"wdb/expr"
)

// Expression commands: ? (evaluate a MASM expression, or help when bare) and
// .formats (one value in every number format). windbg-commands.md §2.1, §2.6.

func init() {
	Register(&Command{
		Name:    "?",
		Usage:   "? <expr>",
		Summary: "display expression",
		Help: "Evaluates a MASM expression and prints it as signed decimal and hex:\n" +
			"  ? 8f            Evaluate expression: 143 = 0000008f\n" +
			"  ? @rip+0x10\n" +
			"  ? poi(@$teb+0x30)\n" +
			"Without an expression, ? lists the commands and the expression syntax.",
		Run: runEvaluate,
	})
	Register(&Command{
		Name:    ".formats",
		Usage:   ".formats <expr>",
		Summary: "displays expression result in many formats",
		Help: "Shows a value as hex, decimal, octal, binary, characters, a time stamp\n" +
			"(32-bit values as CRT time, larger ones as FILETIME), and as float/double.",
		Run: runFormats,
	})
}

// Evaluation is the result of ?: the value and how WinDbg shows it.
type Evaluation struct {
	Value   uint64 `json:"value"`
	Decimal int64  `json:"decimal"`
	Hex     string `json:"hex"`
}

// WriteText prints "Evaluate expression: 143 = 0000008f".
func (e *Evaluation) WriteText(w io.Writer) {
	fmt.Fprintf(w, "Evaluate expression: %d = %s\n", e.Decimal, e.Hex)
}

func runEvaluate(s *Session, inv *Invocation) (Result, error) {
	if strings.TrimSpace(inv.Args) == "" {
		return evaluateHelp(), nil
	}
	v, err := s.Eval(inv.Args)
	if err != nil {
		return nil, exprError(s, inv, inv.Args, err)
	}
	// The decimal is the value read as a signed 64-bit number: WinDbg prints
	// sign-extended 32-bit values (a 32-bit register holding 80000000) as
	// negative, with the 8-digit hex that FormatNumber chooses for them.
	return &Evaluation{Value: v, Decimal: int64(v), Hex: FormatNumber(s.PointerSize(), v)}, nil
}

// exprError turns an expression error into the line WinDbg prints. Errors
// that WinDbg reports against the whole command ("Extra character error in
// '? 1+1)'") get the caret under the failing column; the column counts the
// prompt, which CDB echoes before the command.
func exprError(s *Session, inv *Invocation, text string, err error) error {
	var ee *expr.Error
	if !errors.As(err, &ee) || !ee.InCommand() {
		return err
	}
	col := len(s.Prompt())
	if i := strings.Index(inv.Line, text); i >= 0 {
		col += i
	}
	return errors.New(ee.Report(inv.Line, col))
}

// evaluateHelp is the bare "?" summary (§19.6), listing wdb's standard
// commands; meta (.cmd) and extension (!cmd) commands are listed by .help,
// as WinDbg splits them between ? and .help.
func evaluateHelp() Text {
	var b strings.Builder
	b.WriteString("\nwdb: WinDbg-style commands for Windows minidumps (\".help\" lists . and ! commands;\n\"<command> /?\" gives details)\n\n")
	for _, c := range All() {
		if strings.HasPrefix(c.Name, ".") || strings.HasPrefix(c.Name, "!") {
			continue
		}
		fmt.Fprintf(&b, "%s - %s\n", c.Usage, c.Summary)
	}
	b.WriteString(`
<expr> unary ops: + - not by wo dwo qwo poi hi low
       binary ops: + - * / mod(%) and(&) xor(^) or(|) << >> >>>
       comparisons: == (=) < > <= >= !=
       operands: number in current radix, public symbol, <reg>, $t0-$t19,
                 $ip $csp $peb $teb $tid $tpid $ptrsize
<number> : 0x (hex), 0n (decimal), 0t (octal), 0y (binary) prefixes; default radix 16
<range> : <address> <address>
        : <address> L <count>
<pattern> : [<module>!]<name> (<name> can include ? and *)

User-mode options:
~ - list threads status
~#s - set default thread
~* <cmd> - run a command for each thread
| - list processes status
`)
	return Text(b.String())
}

// Formats is the result of .formats: one value in every representation.
type Formats struct {
	Value     uint64 `json:"value"`
	Wide      bool   `json:"wide"` // printed in the 64-bit layout
	Hex       string `json:"hex"`
	Decimal   int64  `json:"decimal"`
	Unsigned  uint64 `json:"unsigned"`
	Octal     string `json:"octal"`
	Binary    string `json:"binary"`
	Chars     string `json:"chars"`
	Time      string `json:"time"`
	FloatLow  string `json:"floatLow"`
	FloatHigh string `json:"floatHigh"`
	Double    string `json:"double"`
}

// WriteText prints the block of §2.6.
func (f *Formats) WriteText(w io.Writer) {
	fmt.Fprintf(w, "Evaluate expression:\n")
	fmt.Fprintf(w, "  Hex:     %s\n", f.Hex)
	fmt.Fprintf(w, "  Decimal: %d\n", f.Decimal)
	fmt.Fprintf(w, "  Decimal (unsigned) : %d\n", f.Unsigned)
	fmt.Fprintf(w, "  Octal:   %s\n", f.Octal)
	fmt.Fprintf(w, "  Binary:  %s\n", f.Binary)
	fmt.Fprintf(w, "  Chars:   %s\n", f.Chars)
	fmt.Fprintf(w, "  Time:    %s\n", f.Time)
	fmt.Fprintf(w, "  Float:   low %s high %s\n", f.FloatLow, f.FloatHigh)
	fmt.Fprintf(w, "  Double:  %s\n", f.Double)
}

func runFormats(s *Session, inv *Invocation) (Result, error) {
	if strings.TrimSpace(inv.Args) == "" {
		return nil, fmt.Errorf("Numeric expression missing from '<EOL>'")
	}
	v, err := s.Eval(inv.Args)
	if err != nil {
		return nil, exprError(s, inv, inv.Args, err)
	}
	return formatsOf(s.PointerSize(), v), nil
}

// formatsOf builds the .formats block. A 64-bit target always gets the
// 64-bit layout (§2.6 samples); a 32-bit target gets the 32-bit layout of
// the docs sample unless the value needs more than 32 bits (the FormatNumber
// rule). The "Decimal (unsigned)" line of newer engines is printed in both
// layouts — UNCONFIRMED for 32-bit targets, where only an old sample exists.
func formatsOf(ptrSize int, v uint64) *Formats {
	wide := ptrSize == 8 || len(FormatNumber(ptrSize, v)) > 8
	f := &Formats{Value: v, Wide: wide}
	if wide {
		f.Hex = FormatAddr(8, v)
		f.Decimal = int64(v)
		f.Unsigned = v
		f.Octal = fmt.Sprintf("%022o", v)
		f.Binary = formatsBinary(v, 8)
		f.Chars = formatsChars(v, 8)
	} else {
		lo := uint32(v)
		f.Hex = fmt.Sprintf("%08x", lo)
		f.Decimal = int64(int32(lo))
		f.Unsigned = uint64(lo)
		f.Octal = fmt.Sprintf("%011o", lo)
		f.Binary = formatsBinary(uint64(lo), 4)
		f.Chars = formatsChars(uint64(lo), 4)
		v = uint64(lo)
	}
	f.Time = formatsTime(v)
	f.FloatLow = cFloat(float64(math.Float32frombits(uint32(v))))
	f.FloatHigh = cFloat(float64(math.Float32frombits(uint32(v >> 32))))
	f.Double = cFloat(math.Float64frombits(v))
	return f
}

// formatsBinary prints n bytes of v, most significant first, in groups of 8 bits.
func formatsBinary(v uint64, n int) string {
	parts := make([]string, n)
	for i := 0; i < n; i++ {
		parts[i] = fmt.Sprintf("%08b", byte(v>>(8*(n-1-i))))
	}
	return strings.Join(parts, " ")
}

// formatsChars prints n bytes of v, most significant first, '.' for
// anything that is not printable ASCII.
func formatsChars(v uint64, n int) string {
	b := make([]byte, n)
	for i := range b {
		c := byte(v >> (8 * (n - 1 - i)))
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		b[i] = c
	}
	return string(b)
}

// filetimeEpoch is 1970-01-01 in FILETIME units (100 ns since 1601).
const filetimeEpoch = 116444736000000000

// formatsTime follows the docs rule: a 32-bit value is a CRT time_t shown as
// ctime does ("Mon Jan 07 15:31:46 1985"), a larger one a FILETIME, shown
// with milliseconds and the zone ("Tue Mar 10 18:27:31.913 2020 (UTC + 0:00)";
// that layout is UNCONFIRMED, recalled from real sessions). WinDbg uses the
// debugger machine's local zone; wdb prints UTC so that the output does not
// depend on where the dump is read. FILETIMEs past what FileTimeToSystemTime
// accepts print as "***** Invalid" (UNCONFIRMED wording).
func formatsTime(v uint64) string {
	if v <= math.MaxUint32 {
		return time.Unix(int64(v), 0).UTC().Format("Mon Jan 02 15:04:05 2006")
	}
	if int64(v) < 0 {
		return "***** Invalid"
	}
	d := int64(v) - filetimeEpoch
	t := time.Unix(d/1e7, (d%1e7)*100).UTC() // Unix normalises a negative remainder
	return t.Format("Mon Jan 02 15:04:05.000 2006") + " (UTC + 0:00)"
}

// cFloat prints x as the Microsoft C runtime's printf("%g") does, which is
// what .formats uses: 6 significant digits, trailing zeros dropped, and a
// three-digit exponent ("6.36908e-022", "2.66366e+014").
func cFloat(x float64) string {
	switch {
	case math.IsInf(x, 1):
		return "1.#INF"
	case math.IsInf(x, -1):
		return "-1.#INF"
	case math.IsNaN(x):
		// The old CRT spelling, like the three-digit exponents of the samples.
		if math.Signbit(x) {
			return "-1.#QNAN"
		}
		return "1.#QNAN"
	}
	s := strconv.FormatFloat(x, 'g', 6, 64)
	i := strings.IndexByte(s, 'e')
	if i < 0 {
		return s
	}
	mant, sign, digits := s[:i], s[i+1:i+2], s[i+2:]
	for len(digits) < 3 {
		digits = "0" + digits
	}
	return mant + "e" + sign + digits
}
