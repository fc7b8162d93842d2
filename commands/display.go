package commands

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"

	"wdb/dump"
	"wdb/expr"
	"wdb/symbols"
)

// Display commands: d, db, dw, dW, dd, dc, dq, dp, da, du, dyb and the
// symbol forms dds, dqs, dps (windbg-commands.md §5). One implementation
// serves the family: a layout table says what a line holds, and the rest is
// shared (ranges, continuation, "????????" for bytes the dump lacks).

// dispLayout describes one display form.
type dispLayout struct {
	name     string
	unit     int    // bytes per item
	perLine  int    // items per line
	defCount uint64 // items shown for a bare address (128 bytes, except dyb)
	ascii    bool   // character column after the items (db, dc, dW)
	kind     int
}

const (
	dispHex     = iota // hex items
	dispBinary         // dyb: bits, then hex bytes
	dispSymbols        // dds/dqs/dps: one value per line and its symbol
	dispASCII          // da
	dispUnicode        // du
)

// dispStringMax is how many characters da/du show without an L count. The
// doc leaves this UNCONFIRMED (§20, "da/du maximum length when no terminator
// is found"); 256 characters covers any path or message one asks for by
// address and stays readable (8 lines).
const dispStringMax = 256

// dispLayoutFor returns the layout of a display command as typed (dW and dw
// differ only in case, so the raw name is needed).
func dispLayoutFor(raw string, ptrSize int) (dispLayout, bool) {
	name := strings.ToLower(raw)
	switch name {
	case "dp":
		name = "dd"
		if ptrSize == 8 {
			name = "dq"
		}
	case "dps":
		name = "dds"
		if ptrSize == 8 {
			name = "dqs"
		}
	}
	if raw == "dW" {
		return dispLayout{name: "dW", unit: 2, perLine: 8, defCount: 64, ascii: true}, true
	}
	switch name {
	case "db":
		return dispLayout{name: name, unit: 1, perLine: 16, defCount: 128, ascii: true}, true
	case "dw":
		return dispLayout{name: name, unit: 2, perLine: 8, defCount: 64}, true
	case "dd":
		return dispLayout{name: name, unit: 4, perLine: 4, defCount: 32}, true
	case "dc":
		return dispLayout{name: name, unit: 4, perLine: 4, defCount: 32, ascii: true}, true
	case "dq":
		return dispLayout{name: name, unit: 8, perLine: 2, defCount: 16}, true
	case "dyb":
		return dispLayout{name: name, unit: 1, perLine: 4, defCount: 32, kind: dispBinary}, true
	case "dds":
		return dispLayout{name: name, unit: 4, perLine: 1, defCount: 32, kind: dispSymbols}, true
	case "dqs":
		return dispLayout{name: name, unit: 8, perLine: 1, defCount: 16, kind: dispSymbols}, true
	case "da":
		return dispLayout{name: name, unit: 1, perLine: 32, defCount: dispStringMax, kind: dispASCII}, true
	case "du":
		return dispLayout{name: name, unit: 2, perLine: 32, defCount: dispStringMax, kind: dispUnicode}, true
	}
	return dispLayout{}, false
}

func init() {
	forms := []struct{ name, usage, summary string }{
		{"d", "d [/c width] [range]", "display memory in the last d* format (db at first)"},
		{"db", "db [/c width] [range]", "display bytes and ASCII characters"},
		{"dw", "dw [/c width] [range]", "display words (dW adds ASCII characters)"},
		{"dd", "dd [/c width] [range]", "display double words"},
		{"dc", "dc [/c width] [range]", "display double words and ASCII characters"},
		{"dq", "dq [/c width] [range]", "display quad words"},
		{"dp", "dp [/c width] [range]", "display pointer-sized values"},
		{"da", "da [range]", "display an ASCII string"},
		{"du", "du [range]", "display a Unicode (UTF-16) string"},
		{"dyb", "dyb [/c width] [range]", "display bytes in binary and hex"},
		{"dds", "dds [/c width] [range]", "display double words and their symbols"},
		{"dqs", "dqs [/c width] [range]", "display quad words and their symbols"},
		{"dps", "dps [/c width] [range]", "display pointers and their symbols"},
	}
	for _, f := range forms {
		Register(&Command{
			Name:    f.name,
			Usage:   f.usage,
			Summary: f.summary,
			Help: "Range: addr (default length: 128 bytes; da/du up to the terminator or 256\n" +
				"characters; dyb 32 bytes), addr L count (in items), addr L?count (over 256 MB),\n" +
				"addr L-count (ending at addr) or start end (inclusive).\n" +
				"Without a range the display continues where the last one ended; the first\n" +
				"one starts at the instruction pointer (dds/dqs/dps: at the stack pointer).\n" +
				"Bytes the dump does not hold print as ?? / ????????. Enter repeats.",
			Run:        runDisplay,
			Repeatable: true,
		})
	}
}

func runDisplay(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	raw := inv.Raw
	if strings.EqualFold(raw, "d") {
		// d repeats the last d* form.
		raw = "db"
		if s.Next.Valid && dispIsDisplay(s.Next.Command) {
			raw = s.Next.Command
		}
	}
	ptr := s.PointerSize()
	lay, ok := dispLayoutFor(raw, ptr)
	if !ok {
		return nil, fmt.Errorf("Couldn't resolve error at '%s'", inv.Line)
	}
	args := strings.TrimSpace(inv.Args)
	var err error
	if args, err = dispOptions(&lay, args); err != nil {
		return nil, err
	}

	var start, count uint64
	if args == "" {
		start, err = dispContinue(s, lay)
		if err != nil {
			return nil, err
		}
		count = lay.defCount
	} else {
		r, rest, err := s.ParseRange(args)
		if err != nil {
			return nil, exprError(s, inv, args, err)
		}
		if rest != "" {
			pos := len(args) - len(rest)
			return nil, exprError(s, inv, args, &expr.Error{Kind: expr.ErrExtraCharacter, At: args, Pos: pos})
		}
		if start, count, err = r.Items(uint64(lay.unit), lay.defCount); err != nil {
			return nil, exprError(s, inv, args, err)
		}
	}
	if ptr == 4 {
		start = uint64(uint32(start))
	}
	// Never run past the top of the address space.
	if last := ^uint64(0) - start; count > 0 && (count-1) > last/uint64(lay.unit) {
		count = last/uint64(lay.unit) + 1
	}

	var res Result
	var end uint64
	switch lay.kind {
	case dispASCII, dispUnicode:
		sr := dispString(s, lay, start, count)
		res, end = sr, sr.next
	default:
		md := &MemoryDisplay{Format: dispCommandName(raw), Unit: lay.unit, Start: start, Count: count,
			lay: lay, f: s.Target, ptr: ptr, syms: s.Symbols, cancelled: s.Cancelled}
		res, end = md, start+count*uint64(lay.unit)
	}
	s.Next = Continuation{Command: dispCommandName(raw), Addr: end, Valid: true}
	return res, nil
}

// dispCommandName is the form as typed (dp stays dp), which "d" repeats.
func dispCommandName(raw string) string {
	if raw == "dW" {
		return raw
	}
	return strings.ToLower(raw)
}

// dispIsDisplay reports whether a continuation was left by a d* command
// (u and others share Session.Next).
func dispIsDisplay(cmd string) bool {
	_, ok := dispLayoutFor(cmd, 8)
	return ok
}

// dispOptions reads "/c width" options before the range.
func dispOptions(lay *dispLayout, args string) (string, error) {
	for strings.HasPrefix(args, "/") {
		if len(args) < 2 || (args[1] != 'c' && args[1] != 'C') {
			return args, fmt.Errorf("Unknown option '%s'", strings.Fields(args)[0])
		}
		rest := strings.TrimLeft(args[2:], " \t")
		end := strings.IndexAny(rest, " \t")
		if end < 0 {
			end = len(rest)
		}
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(rest[:end]), "0x"), 16, 32)
		if err != nil || n == 0 || n > 1024 {
			return args, fmt.Errorf("Syntax error at '%s'", args)
		}
		lay.perLine = int(n)
		args = strings.TrimSpace(rest[end:])
	}
	return args, nil
}

// dispContinue picks the start of an argument-less display: where the last
// display ended, else the instruction pointer (MS docs), or the stack
// pointer for dds/dqs/dps, since a pointer display is almost always meant
// for the stack (our choice; WinDbg documents only the instruction pointer).
func dispContinue(s *Session, lay dispLayout) (uint64, error) {
	if s.Next.Valid && dispIsDisplay(s.Next.Command) {
		return s.Next.Addr, nil
	}
	c := s.Context()
	if c == nil {
		return 0, errors.New("No previous display and no thread context to start from: give an address")
	}
	if lay.kind == dispSymbols {
		return c.SP(), nil
	}
	return c.PC(), nil
}

// readSparse fills p with target memory at addr and ok with which bytes the
// dump holds; gaps are skipped range by range, not byte by byte.
func readSparse(f *dump.File, addr uint64, p []byte, ok []bool) {
	off := 0
	for off < len(p) {
		n, _ := f.ReadMemory(addr+uint64(off), p[off:])
		for i := off; i < off+n; i++ {
			ok[i] = true
		}
		off += n
		if off >= len(p) {
			return
		}
		a := addr + uint64(off)
		rs := f.MemoryRanges()
		i := sort.Search(len(rs), func(i int) bool { return rs[i].Start > a })
		skip := len(p) - off
		if i < len(rs) && rs[i].Start-a < uint64(skip) {
			skip = int(rs[i].Start - a)
		}
		for k := off; k < off+skip; k++ {
			ok[k], p[k] = false, 0
		}
		off += skip
	}
}

// MemoryDisplay is the result of db/dw/dd/dq/dc/dyb/dds/dqs/dps. Its rows are
// produced as they are printed, from the read-only dump, so a large L?
// display never holds the whole range in memory.
type MemoryDisplay struct {
	Format string `json:"format"` // the command: db, dw, dW, dd, dc, dq, dp, dyb, dds, dqs, dps
	Unit   int    `json:"unit"`   // bytes per value (dp/dps: the pointer size)
	Start  uint64 `json:"start"`
	Count  uint64 `json:"count"` // values

	lay       dispLayout
	f         *dump.File
	ptr       int
	syms      symbols.Resolver
	cancelled func() bool
}

// DisplayRow is one line of a memory display.
type DisplayRow struct {
	Address uint64    `json:"address"`
	Values  []*uint64 `json:"values"`          // null where the dump lacks the bytes
	ASCII   string    `json:"ascii,omitempty"` // db/dc/dW character column ('?' for missing bytes)
	Symbol  string    `json:"symbol,omitempty"`
}

// eachRow reads the display line by line.
func (m *MemoryDisplay) eachRow(yield func(DisplayRow, []byte, []bool) bool) {
	unit, per := uint64(m.lay.unit), uint64(m.lay.perLine)
	buf := make([]byte, per*unit)
	ok := make([]bool, per*unit)
	for i := uint64(0); i < m.Count; i += per {
		if m.cancelled != nil && i%(per*4096) == 0 && i > 0 && m.cancelled() {
			return
		}
		n := min(per, m.Count-i)
		addr := m.Start + i*unit
		b, k := buf[:n*unit], ok[:n*unit]
		readSparse(m.f, addr, b, k)
		row := DisplayRow{Address: addr, Values: make([]*uint64, n)}
		for j := uint64(0); j < n; j++ {
			if v, good := dispItem(b, k, j, unit); good {
				row.Values[j] = &v
			}
		}
		if m.lay.ascii {
			row.ASCII = dispChars(b, k)
		}
		if m.lay.kind == dispSymbols && row.Values[0] != nil {
			row.Symbol = symbols.Format(m.syms, *row.Values[0])
		}
		if !yield(row, b, k) {
			return
		}
	}
}

// dispItem decodes item j (little-endian) when all its bytes are present.
func dispItem(b []byte, ok []bool, j, unit uint64) (uint64, bool) {
	var v uint64
	for k := unit; k > 0; k-- {
		if !ok[j*unit+k-1] {
			return 0, false
		}
		v = v<<8 | uint64(b[j*unit+k-1])
	}
	return v, true
}

// dispChars is the character column: printable ASCII as is, other bytes
// '.', bytes not in the dump '?'.
func dispChars(b []byte, ok []bool) string {
	out := make([]byte, len(b))
	for i, c := range b {
		switch {
		case !ok[i]:
			out[i] = '?'
		case c >= 0x20 && c < 0x7f:
			out[i] = c
		default:
			out[i] = '.'
		}
	}
	return string(out)
}

// Rows returns every row (tests and JSON).
func (m *MemoryDisplay) Rows() []DisplayRow {
	var rows []DisplayRow
	m.eachRow(func(r DisplayRow, _ []byte, _ []bool) bool { rows = append(rows, r); return true })
	return rows
}

// MarshalJSON gives {"format","unit","start","count","rows":[...]}.
func (m *MemoryDisplay) MarshalJSON() ([]byte, error) {
	type plain MemoryDisplay
	return json.Marshal(struct {
		*plain
		Rows []DisplayRow `json:"rows"`
	}{(*plain)(m), m.Rows()})
}

// WriteText prints the WinDbg layout: address, two spaces, the items, and
// for db/dc/dW two spaces and the characters, aligned on short last lines.
func (m *MemoryDisplay) WriteText(w io.Writer) {
	var line []byte
	if m.lay.kind == dispBinary {
		// dyb labels the bit columns (layout from memory of WinDbg's
		// output; no sample in the doc, UNCONFIRMED).
		pad := strings.Repeat(" ", len(FormatAddr(m.ptr, 0))+2)
		bits := strings.TrimSuffix(strings.Repeat("76543210 ", m.lay.perLine), " ")
		dash := strings.TrimSuffix(strings.Repeat("-------- ", m.lay.perLine), " ")
		fmt.Fprintf(w, "%s%s\n%s%s\n", pad, bits, pad, dash)
	}
	m.eachRow(func(r DisplayRow, b []byte, ok []bool) bool {
		line = m.formatRow(line[:0], r, b, ok)
		w.Write(line)
		return true
	})
}

// formatRow appends one text line.
func (m *MemoryDisplay) formatRow(out []byte, r DisplayRow, b []byte, ok []bool) []byte {
	lay := m.lay
	out = append(out, FormatAddr(m.ptr, r.Address)...)
	out = append(out, "  "...)
	itemWidth := dispItemWidth(lay.unit)
	if lay.kind == dispBinary {
		itemWidth = 8
	}
	mark := len(out)
	for j, v := range r.Values {
		if j > 0 {
			if lay.unit == 1 && lay.kind == dispHex && j == 8 && lay.perLine == 16 {
				out = append(out, '-')
			} else {
				out = append(out, ' ')
			}
		}
		switch {
		case lay.kind == dispBinary && v != nil:
			out = fmt.Appendf(out, "%08b", *v)
		case lay.kind == dispBinary:
			out = append(out, "????????"...)
		default:
			out = dispAppendHex(out, v, lay.unit)
		}
	}
	switch {
	case lay.ascii || lay.kind == dispBinary:
		full := lay.perLine*(itemWidth+1) - 1
		for len(out)-mark < full {
			out = append(out, ' ')
		}
		out = append(out, "  "...)
		if lay.kind == dispBinary {
			for j, v := range r.Values {
				if j > 0 {
					out = append(out, ' ')
				}
				out = dispAppendHex(out, v, 1)
			}
		} else {
			out = append(out, r.ASCII...)
		}
	case lay.kind == dispSymbols && r.Symbol != "":
		out = append(out, ' ')
		out = append(out, r.Symbol...)
	}
	return append(out, '\n')
}

// dispItemWidth is the printed width of one hex item.
func dispItemWidth(unit int) int {
	if unit == 8 {
		return 17 // xxxxxxxx`xxxxxxxx
	}
	return unit * 2
}

const hexDigits = "0123456789abcdef"

// dispAppendHex appends a zero-padded hex item, or question marks of the
// same width when the value is not in the dump.
func dispAppendHex(out []byte, v *uint64, unit int) []byte {
	if v == nil {
		if unit == 8 {
			return append(out, "????????`????????"...)
		}
		return append(out, strings.Repeat("?", unit*2)...)
	}
	for i := unit*2 - 1; i >= 0; i-- {
		out = append(out, hexDigits[(*v>>(4*uint(i)))&0xf])
		if unit == 8 && i == 8 {
			out = append(out, '`')
		}
	}
	return out
}

// StringDisplay is the result of da/du: the string cut into 32-character
// lines, each quoted.
type StringDisplay struct {
	Format string `json:"format"` // da or du
	Start  uint64 `json:"start"`
	// String is the whole text (nil when the first character is not in the
	// dump).
	String *string            `json:"string"`
	Rows   []StringDisplayRow `json:"rows"`

	ptr  int
	next uint64 // where a continuation starts: after the terminator
}

// StringDisplayRow is one line of da/du.
type StringDisplayRow struct {
	Address uint64  `json:"address"`
	Text    *string `json:"text"` // null: not in the dump
}

// dispString reads a NUL-terminated string of at most count characters.
func dispString(s *Session, lay dispLayout, start, count uint64) *StringDisplay {
	unit := uint64(lay.unit)
	res := &StringDisplay{Format: lay.name, Start: start, ptr: s.PointerSize()}
	var units []uint16
	addr, missing := start, false
	var buf [2]byte
	for uint64(len(units)) < count {
		if n, _ := s.Target.ReadMemory(addr, buf[:unit]); uint64(n) < unit {
			missing = true
			break
		}
		addr += unit
		c := uint16(buf[0])
		if unit == 2 {
			c |= uint16(buf[1]) << 8
		}
		if c == 0 {
			break
		}
		units = append(units, c)
	}
	res.next = addr
	if len(units) == 0 && missing {
		// The first character is not in the dump: one line of question
		// marks (form UNCONFIRMED).
		res.Rows = []StringDisplayRow{{Address: start}}
		return res
	}
	whole := dispDecode(units, lay.kind == dispUnicode)
	res.String = &whole
	per := lay.perLine
	for i := 0; i == 0 || i < len(units); i += per {
		text := dispDecode(units[i:min(len(units), i+per)], lay.kind == dispUnicode)
		res.Rows = append(res.Rows, StringDisplayRow{Address: start + uint64(i)*unit, Text: &text})
	}
	return res
}

// dispDecode renders characters as da/du print them: printable ASCII as is
// and control characters as '.'; du shows other printable Unicode (surrogate
// pairs joined) since wdb's terminals are UTF-8, da shows bytes above 0x7e
// as '.'.
func dispDecode(units []uint16, wide bool) string {
	var b strings.Builder
	if !wide {
		for _, c := range units {
			if c >= 0x20 && c < 0x7f {
				b.WriteByte(byte(c))
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	for _, r := range utf16.Decode(units) {
		switch {
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r >= 0xa0 && r != unicode.ReplacementChar && unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			b.WriteByte('.')
		}
	}
	return b.String()
}

// WriteText prints `address  "text"` lines.
func (d *StringDisplay) WriteText(w io.Writer) {
	for _, r := range d.Rows {
		if r.Text == nil {
			fmt.Fprintf(w, "%s  ????????\n", FormatAddr(d.ptr, r.Address))
			continue
		}
		fmt.Fprintf(w, "%s  \"%s\"\n", FormatAddr(d.ptr, r.Address), *r.Text)
	}
}
