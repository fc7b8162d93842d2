package commands

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"strconv"
	"strings"
	"unicode/utf16"

	"wdb/symbols"
	"wdb/symbols/pdb"
)

// dt (Display Type), windbg-commands.md §16: a structure's layout from a
// module's PDB ("dt mod!Type"), or an instance read from the dump
// ("dt mod!Type addr"), with -r recursion into embedded structures, field
// selection, and built-in layouts of the NT structures (_PEB, _TEB, _HEAP,
// ...) when ntdll's PDB is not available (nttypes.go).

func init() {
	Register(&Command{
		Name:    "dt",
		Usage:   "dt [-r[N]] [-b] [-o] [-i] [-n] [module!]Name [Field ...] [Address]",
		Summary: "display type",
		Help: "Name is a structure, class, union or enum from a module's PDB, a typedef, or a\n" +
			"global variable (displayed at its address). Without module!, the loaded PDBs\n" +
			"are searched first, then the other modules' PDBs are loaded.\n" +
			"With an Address the fields' values are read from the dump (???? where the dump\n" +
			"lacks the memory). Fields after the name restrict the display (Name* matches a\n" +
			"prefix, a.b selects a nested field, a. expands one level). dt module!Pattern*\n" +
			"lists the matching type names.\n" +
			"  -r[N]  expand embedded structures N levels (1-9; -r alone: 9)\n" +
			"  -b     expand embedded structures fully\n" +
			"  -o     omit offsets\n" +
			"  -i     do not indent expanded structures\n" +
			"  -n     the next word is a name even if it looks like a number\n" +
			"_PEB, _TEB, _NT_TIB, _CLIENT_ID, _PEB_LDR_DATA, _LDR_DATA_TABLE_ENTRY,\n" +
			"_LIST_ENTRY, _UNICODE_STRING, _HEAP, _HEAP_SEGMENT, _HEAP_ENTRY and\n" +
			"_HEAP_COUNTERS work without ntdll symbols: wdb then shows its built-in layout\n" +
			"for the dump's bitness and build, which lists only the fields whose offsets\n" +
			"are known (the rest of the structure is left out).",
		Run: runDisplayType,
	})
}

// TypeDisplay is dt's result: the header ("ntdll!_PEB", printed when the
// module was not named), one line per field, and the address of the last
// failed read.
type TypeDisplay struct {
	Type      string     `json:"type"` // module!Name
	Address   *uint64    `json:"address,omitempty"`
	Builtin   bool       `json:"builtin,omitempty"` // wdb's partial NT layout, not a PDB type
	Lines     []TypeLine `json:"lines"`
	ReadError *uint64    `json:"readError,omitempty"`

	header  bool
	ptrSize int
}

// TypeLine is one line of dt output: a field (offset, name, type or value),
// a static member (address instead of offset) or an enumerator.
type TypeLine struct {
	Depth  int     `json:"depth"`
	Offset *uint64 `json:"offset,omitempty"`
	Static *uint64 `json:"static,omitempty"`
	Name   string  `json:"name"`
	Value  string  `json:"value"` // the type in a layout, the value in an instance
	text   string
}

// WriteText prints the lines as WinDbg does.
func (d *TypeDisplay) WriteText(w io.Writer) {
	if d.header {
		fmt.Fprintln(w, d.Type)
	}
	for _, l := range d.Lines {
		fmt.Fprintln(w, l.text)
	}
	if d.ReadError != nil {
		if d.ptrSize == 4 {
			fmt.Fprintf(w, "Memory read error %08x\n", *d.ReadError)
		} else {
			fmt.Fprintf(w, "Memory read error %016x\n", *d.ReadError)
		}
	}
}

// dtOptions are the display switches.
type dtOptions struct {
	recurse     int  // levels of embedded structures to expand
	omitOffsets bool // -o
	noIndent    bool // -i
}

// dtSubject is what a name resolved to.
type dtSubject struct {
	ty      *pdb.Type
	module  string    // WinDbg module name for the header and static members
	pdbFile *pdb.File // nil for built-in layouts
	base    uint64    // module base (static members)
	builtin bool
	global  *uint64 // a global variable: its address
}

// Limits that keep dt bounded on damaged or cyclic type graphs.
const (
	dtMaxDepth  = 16
	dtMaxLines  = 20000
	dtMaxString = 256 // characters shown for char* and wchar_t* fields
)

var errNoFields = errors.New("Cannot find specified field members.")

func runDisplayType(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	words := strings.Fields(inv.Args)
	var opt dtOptions
	var rest []string
	forceName := false
	for i := 0; i < len(words); i++ {
		w := words[i]
		if forceName || !strings.HasPrefix(w, "-") || len(w) < 2 {
			rest = append(rest, words[i:]...)
			break
		}
		switch c := w[1]; {
		case c == 'r':
			opt.recurse = 9
			if len(w) > 2 {
				n, err := strconv.Atoi(w[2:])
				if err != nil || n < 0 || n > 9 {
					return nil, fmt.Errorf("dt: bad recursion depth %q (use -r1 .. -r9)", w)
				}
				opt.recurse = n
			}
		case c == 'b' && len(w) == 2:
			opt.recurse = dtMaxDepth
		case c == 'o' && len(w) == 2:
			opt.omitOffsets = true
		case c == 'i' && len(w) == 2:
			opt.noIndent = true
		case c == 'n' && len(w) == 2:
			forceName = true
		case c == 'h' && len(w) == 2:
			c, _ := Lookup("dt")
			return helpResult{c}, nil
		case c == 'v' && len(w) == 2:
			// Verbose sizes are not shown; the listing is the same.
		default:
			return nil, fmt.Errorf("dt: option %s is not supported by wdb (see dt -h)", w)
		}
	}
	if len(rest) == 0 {
		return nil, errors.New("dt: a type name is required (dt -h for help)")
	}
	name, args := rest[0], rest[1:]
	if strings.ContainsAny(name, "*?") && len(args) == 0 {
		return s.listDtTypes(name)
	}
	subj, err := s.resolveDtName(name)
	if err != nil && len(rest) > 1 {
		// "dt Address Type": the type comes last.
		if alt, err2 := s.resolveDtName(rest[len(rest)-1]); err2 == nil && alt.global == nil {
			addr, e := s.Eval(strings.Join(rest[:len(rest)-1], " "))
			if e == nil {
				subj, err, name, args = alt, nil, rest[len(rest)-1], []string{fmt.Sprintf("0x%x", addr)}
			}
		}
	}
	if err != nil {
		return nil, err
	}
	// The remaining words are field selectors and at most one address.
	var fields []string
	var addr *uint64
	if subj.global != nil {
		a := *subj.global
		addr = &a
	}
	for i := 0; i < len(args); i++ {
		w := args[i]
		if w == "-n" || w == "-y" {
			if i+1 < len(args) {
				fields = append(fields, args[i+1])
				i++
			}
			continue
		}
		if subj.ty.Kind.IsUDT() && dtFieldExists(subj.ty, w) {
			fields = append(fields, w)
			continue
		}
		if addr != nil && subj.global == nil {
			return nil, fmt.Errorf("dt: unexpected %q after the address", w)
		}
		v, err := s.Eval(w)
		if err != nil {
			if subj.ty.Kind.IsUDT() && !looksNumeric(w) {
				return nil, errNoFields
			}
			return nil, exprError(s, inv, w, err)
		}
		addr = &v
	}

	d := &TypeDisplay{Type: subj.module + "!" + subj.ty.WinDbgName(), Address: addr, Builtin: subj.builtin, ptrSize: s.PointerSize()}
	if subj.global == nil && (subj.ty.Kind.IsUDT() || subj.ty.Kind == pdb.KindEnum) {
		d.header = !strings.Contains(name, "!") || !strings.EqualFold(strings.SplitN(name, "!", 2)[0], subj.module)
	}
	c := &dtCtx{s: s, opt: opt, d: d, subj: subj, inst: addr != nil, pad: len(fields) == 0}
	if subj.builtin {
		fmt.Fprintf(s.Stderr(), "wdb: no %s symbols: %s is wdb's built-in layout (only fields with known offsets)\n", subj.module, subj.ty.Name)
	}
	var base uint64
	if addr != nil {
		base = *addr
	}
	switch {
	case subj.ty.Kind.IsUDT():
		if !c.walk(subj.ty, base, 0, fields) && len(fields) > 0 {
			return nil, errNoFields
		}
	case c.inst && subj.ty.Kind == pdb.KindPointer && subj.ty.Elem != nil && subj.ty.Elem.Kind.IsUDT():
		// A pointer variable: its value, then the structure it points to.
		if v, ok := c.readUint(base, subj.ty.Size); ok {
			c.add(TypeLine{Name: subj.ty.WinDbgName(), Value: dtHex(v, subj.ty.Size), text: dtHex(v, subj.ty.Size) + " "})
			if v != 0 {
				c.walk(subj.ty.Elem, v, 0, fields)
			}
		}
	case subj.ty.Kind == pdb.KindEnum && !c.inst:
		for _, e := range subj.ty.Enumerators {
			c.add(TypeLine{Name: e.Name, Value: "0n" + strconv.FormatInt(e.Value, 10), text: "   " + e.Name + " = 0n" + strconv.FormatInt(e.Value, 10)})
		}
	default:
		v := subj.ty.WinDbgName()
		if c.inst {
			v = c.value(subj.ty, base, 0)
		}
		c.add(TypeLine{Name: subj.ty.WinDbgName(), Value: v, text: v})
	}
	if c.failed {
		a := c.failAt
		d.ReadError = &a
	}
	return d, nil
}

// looksNumeric reports words that read as a number or an expression rather
// than a field name.
func looksNumeric(w string) bool {
	if w == "" {
		return false
	}
	switch w[0] {
	case '@', '$', '(', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '-', '+', '*':
		return true
	}
	return strings.ContainsAny(w, "!+()`")
}

// dtFieldExists reports whether a selector names a field of t (see matchField).
func dtFieldExists(t *pdb.Type, sel string) bool {
	head, _, _ := strings.Cut(sel, ".")
	for _, f := range dtAllFields(t, 0) {
		if matchField(head, f.Name) {
			return true
		}
	}
	return false
}

// dtAllFields lists t's fields and those of its base classes.
func dtAllFields(t *pdb.Type, depth int) []pdb.Field {
	if t == nil || depth > dtMaxDepth {
		return nil
	}
	var out []pdb.Field
	for _, f := range t.Fields {
		if f.Kind == pdb.FieldBase {
			out = append(out, dtAllFields(f.Type, depth+1)...)
			continue
		}
		out = append(out, f)
	}
	return out
}

// matchField matches a selector against a field name: exact (ignoring
// case) or a wildcard pattern.
func matchField(sel, name string) bool {
	if strings.EqualFold(sel, name) {
		return true
	}
	if strings.ContainsAny(sel, "*?") {
		ok, _ := path.Match(strings.ToLower(sel), strings.ToLower(name))
		return ok
	}
	return false
}

// resolveDtName finds a type (or global variable) for dt.
func (s *Session) resolveDtName(name string) (*dtSubject, error) {
	notFound := fmt.Errorf("Symbol %s not found.", name)
	if s.Symbols == nil {
		return nil, notFound
	}
	modName, typeName, qualified := strings.Cut(name, "!")
	if !qualified {
		modName, typeName = "", name
	}
	if typeName == "" {
		return nil, notFound
	}
	tryModule := func(m *symbols.ModuleSymbols, load bool) *dtSubject {
		var p *pdb.File
		if load {
			p = s.Symbols.PDB(m)
		} else {
			p = s.Symbols.LoadedPDB(m)
		}
		if p == nil {
			return nil
		}
		if subj := lookupDtType(p, typeName); subj != nil {
			subj.module, subj.base = m.Name, m.Module.Base
			return subj
		}
		return nil
	}
	tryGlobal := func(m *symbols.ModuleSymbols) *dtSubject {
		p := s.Symbols.LoadedPDB(m)
		if p == nil {
			return nil
		}
		g, ok := p.GlobalVariable(typeName)
		if !ok || !g.HasRVA() {
			return nil
		}
		tt, err := p.Types()
		if err != nil {
			return nil
		}
		ty, ok := tt.ByIndex(g.Type)
		if !ok {
			return nil
		}
		a := m.Module.Base + uint64(g.RVA)
		return &dtSubject{ty: ty, module: m.Name, pdbFile: p, base: m.Module.Base, global: &a}
	}
	builtin := func() *dtSubject {
		ty, ok := ntLayoutsFor(s.Target).lookup(typeName)
		if !ok {
			return nil
		}
		mod := "ntdll"
		if m, ok := s.Symbols.ModuleByName("ntdll"); ok {
			mod = m.Name
		}
		return &dtSubject{ty: ty, module: mod, builtin: true}
	}
	_, isNT := isNTTypeName(typeName)

	if qualified {
		m, ok := s.Symbols.ModuleByName(modName)
		if !ok && strings.EqualFold(modName, "nt") {
			m, ok = s.Symbols.ModuleByName("ntdll")
		}
		if ok {
			if subj := tryModule(m, true); subj != nil {
				return subj, nil
			}
			if subj := tryGlobal(m); subj != nil {
				return subj, nil
			}
		}
		ntdll := strings.EqualFold(modName, "ntdll") || strings.EqualFold(modName, "nt") || ok && strings.EqualFold(m.Module.BaseName(), "ntdll.dll")
		if isNT && ntdll {
			if subj := builtin(); subj != nil {
				return subj, nil
			}
		}
		return nil, notFound
	}
	mods := s.Symbols.Modules()
	for _, m := range mods {
		if subj := tryModule(m, false); subj != nil {
			return subj, nil
		}
	}
	if isNT {
		if m, ok := s.Symbols.ModuleByName("ntdll"); ok {
			if subj := tryModule(m, true); subj != nil {
				return subj, nil
			}
		}
		if subj := builtin(); subj != nil {
			return subj, nil
		}
	}
	for _, m := range mods {
		if m.Status() == symbols.Deferred {
			if subj := tryModule(m, true); subj != nil {
				return subj, nil
			}
		}
	}
	for _, m := range mods {
		if subj := tryGlobal(m); subj != nil {
			return subj, nil
		}
	}
	return nil, notFound
}

// listDtTypes is "dt [module!]Pattern": the matching structures, classes,
// unions and enums, one "          module!Name" line each (MS docs sample).
// Without a module only the PDBs already loaded are searched.
func (s *Session) listDtTypes(pattern string) (Result, error) {
	modName, typePat, qualified := strings.Cut(pattern, "!")
	if !qualified {
		modName, typePat = "", pattern
	}
	var lines []string
	for _, m := range s.Symbols.Modules() {
		if qualified && !matchModule(modName, m) {
			continue
		}
		p := s.Symbols.LoadedPDB(m)
		if qualified {
			p = s.Symbols.PDB(m)
		}
		if p == nil {
			continue
		}
		tt, err := p.Types()
		if err != nil {
			continue
		}
		for _, ty := range tt.Match(typePat) {
			lines = append(lines, "          "+m.Name+"!"+ty.Name)
		}
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("Symbol %s not found.", pattern)
	}
	return Lines(lines...), nil
}

// matchModule matches a module name or wildcard pattern (case ignored).
func matchModule(pat string, m *symbols.ModuleSymbols) bool {
	if strings.EqualFold(pat, m.Name) || strings.EqualFold(pat, m.Module.BaseName()) {
		return true
	}
	ok, _ := path.Match(strings.ToLower(pat), strings.ToLower(m.Name))
	return ok
}

// lookupDtType finds a type by name in one PDB: a structure, class, union
// or enum (exact, then ignoring case), else a typedef.
func lookupDtType(p *pdb.File, name string) *dtSubject {
	tt, err := p.Types()
	if err != nil {
		return nil
	}
	ty, ok := tt.Lookup(name)
	if !ok {
		ty, ok = tt.LookupFold(name)
	}
	if !ok {
		if ti, found := p.Typedef(name); found {
			ty, ok = tt.ByIndex(ti)
		}
	}
	if !ok || ty == nil {
		return nil
	}
	return &dtSubject{ty: ty, pdbFile: p}
}

// dtCtx renders one dt command.
type dtCtx struct {
	s      *Session
	opt    dtOptions
	d      *TypeDisplay
	subj   *dtSubject
	inst   bool // values from memory
	pad    bool // pad names to 16 columns (full listings)
	failed bool
	failAt uint64
}

func (c *dtCtx) add(l TypeLine) bool {
	if len(c.d.Lines) >= dtMaxLines {
		return false
	}
	c.d.Lines = append(c.d.Lines, l)
	return true
}

// walk prints t's fields at base (ignored without an instance). filter
// restricts the fields (nil: all); it reports whether any field matched.
func (c *dtCtx) walk(t *pdb.Type, base uint64, depth int, filter []string) bool {
	if t == nil || depth > dtMaxDepth {
		return false
	}
	matched := false
	for _, f := range t.Fields {
		if f.Kind == pdb.FieldVirtualBase {
			continue // no fixed offset
		}
		var sub []string
		expand := false
		if filter != nil {
			hit := false
			for _, sel := range filter {
				head, tail, dotted := strings.Cut(sel, ".")
				if f.Kind == pdb.FieldBase {
					// Selectors reach into base classes.
					if c.walkBase(f, base, depth, filter) {
						matched = true
					}
					break
				}
				if !matchField(head, f.Name) {
					continue
				}
				hit = true
				if dotted {
					expand = true
					if tail != "" {
						sub = append(sub, tail)
					}
				}
			}
			if !hit {
				continue
			}
		}
		matched = true
		if !c.field(t, f, base, depth) {
			return matched
		}
		if f.Type == nil || !(f.Type.Kind.IsUDT()) || f.BitLen > 0 {
			continue
		}
		switch {
		case len(sub) > 0:
			c.walk(f.Type, base+f.Offset, depth+1, sub)
		case expand || depth < c.opt.recurse:
			c.walk(f.Type, base+f.Offset, depth+1, nil)
		}
	}
	return matched
}

// walkBase applies a field filter to a base class's fields.
func (c *dtCtx) walkBase(f pdb.Field, base uint64, depth int, filter []string) bool {
	if f.Type == nil {
		return false
	}
	return c.walk(f.Type, base+f.Offset, depth, filter)
}

// indent is the prefix of a line at depth.
func (c *dtCtx) indent(depth int) string {
	if c.opt.noIndent {
		depth = 0
	}
	return strings.Repeat("   ", depth+1)
}

// label formats "name : " with WinDbg's 16-column name field.
func (c *dtCtx) label(name string) string {
	if c.pad && name != "__VFN_table" {
		return fmt.Sprintf("%-16s : ", name)
	}
	return name + " : "
}

// field prints one field line (and returns false when the line budget is spent).
func (c *dtCtx) field(owner *pdb.Type, f pdb.Field, base uint64, depth int) bool {
	off := f.Offset
	l := TypeLine{Depth: depth, Name: f.Name}
	var b strings.Builder
	b.WriteString(c.indent(depth))
	switch f.Kind {
	case pdb.FieldStatic:
		addr, ok := c.staticAddr(owner, f)
		if ok {
			l.Static = &addr
			b.WriteString("=" + FormatAddr(c.ptrWidth(), addr) + " ")
		} else {
			b.WriteString("=" + strings.Repeat("?", 8))
			if c.ptrWidth() == 8 {
				b.WriteString("`????????")
			}
			b.WriteString(" ")
		}
		b.WriteString(c.label(f.Name))
		switch {
		case !c.inst:
			l.Value = f.Type.WinDbgName()
		case ok:
			l.Value = c.value(f.Type, addr, depth)
		default:
			l.Value = "????"
		}
	case pdb.FieldBase:
		l.Offset = &off
		l.Name = "__BaseClass"
		kw := "struct"
		if f.Type != nil && f.Type.Kind == pdb.KindClass {
			kw = "class"
		} else if f.Type != nil && f.Type.Kind == pdb.KindUnion {
			kw = "union"
		}
		if !c.opt.omitOffsets {
			fmt.Fprintf(&b, "+0x%03x ", off)
		}
		l.Value = kw + " " + f.Type.WinDbgName()
		b.WriteString("__BaseClass " + l.Value)
		l.text = b.String()
		return c.add(l)
	default:
		l.Offset = &off
		if !c.opt.omitOffsets {
			fmt.Fprintf(&b, "+0x%03x ", off)
		}
		b.WriteString(c.label(f.Name))
		switch {
		case f.BitLen > 0 && !c.inst:
			l.Value = fmt.Sprintf("Pos %d, %d Bit", f.BitPos, f.BitLen)
			if f.BitLen > 1 {
				l.Value += "s"
			}
		case f.BitLen > 0:
			l.Value = c.bitfield(f, base+off)
		case f.Kind == pdb.FieldVFTable && c.inst:
			l.Value = c.vfptr(f.Type, base+off)
		case !c.inst:
			l.Value = f.Type.WinDbgName()
		default:
			l.Value = c.value(f.Type, base+off, depth)
		}
	}
	b.WriteString(l.Value)
	l.text = b.String()
	return c.add(l)
}

// ptrWidth is the pointer size of the displayed type's module: 4 for the
// 32-bit PDB of a WOW64 process (from the DBI header's machine), else the
// target's.
func (c *dtCtx) ptrWidth() int {
	if p := c.subj.pdbFile; p != nil {
		if h, ok := p.DBI(); ok {
			switch h.Machine {
			case 0x14c, 0x1c0, 0x1c2, 0x1c4: // x86, ARM, Thumb, ARMNT
				return 4
			case 0x8664, 0xaa64:
				return 8
			}
		}
	}
	return c.s.PointerSize()
}

// staticAddr finds a static member's address through the PDB's globals
// ("Class::member").
func (c *dtCtx) staticAddr(owner *pdb.Type, f pdb.Field) (uint64, bool) {
	if c.subj.pdbFile == nil || owner == nil {
		return 0, false
	}
	g, ok := c.subj.pdbFile.GlobalVariable(owner.Name + "::" + f.Name)
	if !ok || !g.HasRVA() {
		return 0, false
	}
	return c.subj.base + uint64(g.RVA), true
}

// read reads n bytes; a failure is remembered for the trailing
// "Memory read error" line.
func (c *dtCtx) read(addr uint64, n int) ([]byte, bool) {
	if n <= 0 || n > 1<<20 {
		return nil, false
	}
	b := make([]byte, n)
	got, _ := c.s.Target.ReadMemory(addr, b)
	if got < n {
		c.failed, c.failAt = true, addr
		return nil, false
	}
	return b, true
}

// readUint reads a little-endian integer of 1, 2, 4 or 8 bytes.
func (c *dtCtx) readUint(addr uint64, size uint64) (uint64, bool) {
	if size == 0 || size > 8 {
		return 0, false
	}
	b, ok := c.read(addr, int(size))
	if !ok {
		return 0, false
	}
	var buf [8]byte
	copy(buf[:], b)
	return binary.LittleEndian.Uint64(buf[:]), true
}

const dtUnreadable = "???? "

// dtHex is an address or a 64-bit value with WinDbg's 0x prefix: 8 digits
// for 4-byte pointers, "xxxxxxxx`xxxxxxxx" for 8-byte ones.
func dtHex(v uint64, size uint64) string {
	if size == 4 {
		return fmt.Sprintf("0x%08x", uint32(v))
	}
	return fmt.Sprintf("0x%08x`%08x", v>>32, uint32(v))
}

// dtUnsigned prints an unsigned value: a bare digit below 10, else minimal
// hex, with a backtick once it needs more than 32 bits.
func dtUnsigned(v uint64) string {
	switch {
	case v < 10:
		return strconv.FormatUint(v, 10)
	case v > math.MaxUint32:
		return fmt.Sprintf("0x%08x`%08x", v>>32, uint32(v))
	}
	return fmt.Sprintf("0x%x", v)
}

// dtQuoted is a character in quotes, empty for non-printable ones.
func dtQuoted(r rune) string {
	if r >= 0x20 && r < 0x7f {
		return "'" + string(r) + "'"
	}
	return "''"
}

func signExtend(v uint64, bits uint) int64 {
	if bits == 0 || bits >= 64 {
		return int64(v)
	}
	shift := 64 - bits
	return int64(v<<shift) >> shift
}

// value is an instance's display of a value of type t at addr.
func (c *dtCtx) value(t *pdb.Type, addr uint64, depth int) string {
	if t == nil {
		return ""
	}
	switch t.Kind {
	case pdb.KindBase:
		return c.baseValue(t, addr)
	case pdb.KindEnum:
		size := t.Size
		if size == 0 || size > 8 {
			size = 4
		}
		v, ok := c.readUint(addr, size)
		if !ok {
			return dtUnreadable
		}
		sv := signExtend(v, uint(8*size))
		if t.Elem != nil && t.Elem.Kind == pdb.KindBase && !t.Elem.Signed {
			sv = int64(v)
		}
		for _, e := range t.Enumerators {
			if e.Value == sv || uint64(e.Value)&mask(size) == v {
				return fmt.Sprintf("%d ( %s )", sv, e.Name)
			}
		}
		return fmt.Sprintf("%d ( No matching name )", sv)
	case pdb.KindPointer:
		return c.pointer(t, addr, depth)
	case pdb.KindArray:
		return c.array(t, addr, depth)
	case pdb.KindStruct, pdb.KindClass, pdb.KindUnion, pdb.KindInterface:
		return c.udtSummary(t, addr)
	}
	return t.WinDbgName()
}

func mask(size uint64) uint64 {
	if size >= 8 {
		return math.MaxUint64
	}
	return 1<<(8*size) - 1
}

func (c *dtCtx) baseValue(t *pdb.Type, addr uint64) string {
	if t.Size == 0 || t.Size > 8 {
		return t.WinDbgName()
	}
	v, ok := c.readUint(addr, t.Size)
	if !ok {
		return dtUnreadable
	}
	switch t.Base {
	case pdb.BaseChar:
		sv := signExtend(v, uint(8*t.Size))
		return strconv.FormatInt(sv, 10) + " " + dtQuoted(rune(v))
	case pdb.BaseUChar, pdb.BaseWChar:
		n := "0"
		if v != 0 {
			n = fmt.Sprintf("0x%x", v)
		}
		return n + " " + dtQuoted(rune(v))
	case pdb.BaseInt:
		return "0n" + strconv.FormatInt(signExtend(v, uint(8*t.Size)), 10)
	case pdb.BaseFloat:
		if t.Size == 4 {
			return strconv.FormatFloat(float64(math.Float32frombits(uint32(v))), 'g', -1, 32)
		}
		if t.Size == 8 {
			return strconv.FormatFloat(math.Float64frombits(v), 'g', -1, 64)
		}
		return t.WinDbgName()
	case pdb.BaseHRESULT:
		return fmt.Sprintf("0x%x", v)
	}
	return dtUnsigned(v)
}

// bitfield prints "0y" and the field's bits; fields of 5 bits and more add
// the value: "0y00011 (0x3)", "0y00000 (0)", signed "(0n-1)".
func (c *dtCtx) bitfield(f pdb.Field, addr uint64) string {
	size := uint64(4)
	if f.Type != nil && f.Type.Size > 0 && f.Type.Size <= 8 {
		size = f.Type.Size
	}
	raw, ok := c.readUint(addr, size)
	if !ok {
		return dtUnreadable
	}
	n := f.BitLen
	if n > 64 {
		n = 64
	}
	v := raw >> uint(f.BitPos&63)
	if n < 64 {
		v &= 1<<uint(n) - 1
	}
	s := fmt.Sprintf("0y%0*b", n, v)
	if n >= 5 {
		switch {
		case f.Type != nil && f.Type.Signed:
			s += fmt.Sprintf(" (0n%d)", signExtend(v, uint(n)))
		case v == 0:
			s += " (0)"
		default:
			s += fmt.Sprintf(" (0x%x)", v)
		}
	}
	return s
}

// vfptr prints a vftable pointer: "0x0114cc84 ".
func (c *dtCtx) vfptr(t *pdb.Type, addr uint64) string {
	size := uint64(c.ptrWidth())
	if t != nil && (t.Size == 4 || t.Size == 8) {
		size = t.Size
	}
	v, ok := c.readUint(addr, size)
	if !ok {
		return dtUnreadable
	}
	return dtHex(v, size) + " "
}

// pointer prints a pointer value and what it points to (§16.3, DebugDiag
// samples): "(null) ", "0x... Void", "0x... _PEB_LDR_DATA",
// "0x...  -> 0x... Void" for pointers to pointers and numbers,
// `0x...  "text"` for strings, "0x...     int  module!fn+0" for functions.
func (c *dtCtx) pointer(t *pdb.Type, addr uint64, depth int) string {
	size := t.Size
	if size != 4 && size != 8 {
		size = uint64(c.ptrWidth())
	}
	v, ok := c.readUint(addr, size)
	if !ok {
		return dtUnreadable
	}
	if v == 0 {
		return "(null) "
	}
	p := dtHex(v, size)
	e := t.Elem
	if e == nil || e.Kind == pdb.KindVTShape {
		return p + " "
	}
	switch e.Kind {
	case pdb.KindFunction:
		return p + " " + e.WinDbgName() + " " + c.symbol(v)
	case pdb.KindBase:
		switch e.Base {
		case pdb.BaseVoid:
			return p + " Void"
		case pdb.BaseChar, pdb.BaseUChar:
			return p + `  "` + c.str(v, 1, dtMaxString) + `"`
		case pdb.BaseWChar:
			return p + `  "` + c.str(v, 2, dtMaxString) + `"`
		case pdb.BaseUInt:
			if e.Size == 2 {
				return p + `  "` + c.str(v, 2, dtMaxString) + `"`
			}
		}
		return p + "  -> " + c.deref(e, v, depth)
	case pdb.KindPointer:
		return p + "  -> " + c.deref(e, v, depth)
	}
	return p + " " + e.WinDbgName()
}

// deref shows the target of a pointer to a number or a pointer: "??" when
// the dump lacks it (without counting as a failed field).
func (c *dtCtx) deref(e *pdb.Type, v uint64, depth int) string {
	if depth > 2 || e.Size == 0 || e.Size > 8 {
		return "??"
	}
	b := make([]byte, e.Size)
	if n, _ := c.s.Target.ReadMemory(v, b); n < len(b) {
		return "??"
	}
	return c.value(e, v, depth+1)
}

// str reads a NUL-terminated string of 1- or 2-byte characters, at most max.
func (c *dtCtx) str(addr uint64, width, max int) string {
	b := make([]byte, width*max)
	n, _ := c.s.Target.ReadMemory(addr, b)
	if n < width {
		return fmt.Sprintf("--- memory read error at address %s ---", dtHex(addr, uint64(c.ptrWidth())))
	}
	return decodeString(b[:n-n%width], width, true)
}

// decodeString decodes 1- or 2-byte characters up to the first NUL (when
// stopAtNUL), replacing non-printable characters with '?'.
func decodeString(b []byte, width int, stopAtNUL bool) string {
	var rs []rune
	if width == 2 {
		u := make([]uint16, 0, len(b)/2)
		for i := 0; i+1 < len(b); i += 2 {
			ch := binary.LittleEndian.Uint16(b[i:])
			if ch == 0 && stopAtNUL {
				break
			}
			u = append(u, ch)
		}
		rs = utf16.Decode(u)
	} else {
		for _, ch := range b {
			if ch == 0 && stopAtNUL {
				break
			}
			rs = append(rs, rune(ch))
		}
	}
	for i, r := range rs {
		if r < 0x20 || r == 0x7f || width == 1 && r >= 0x80 {
			rs[i] = '?'
		}
	}
	return string(rs)
}

// symbol names a code address as dt does after a function pointer:
// "module!name+0" or "+<hex>" when nothing is known.
func (c *dtCtx) symbol(v uint64) string {
	if c.s.Symbols != nil {
		if sym, d, ok := c.s.Symbols.Nearest(v); ok {
			return sym.FullName() + "+" + strconv.FormatUint(d, 16)
		}
	}
	return "+" + strconv.FormatUint(v, 16)
}

// array prints "[N] " and the first element; character arrays print as
// strings: `[4]  ""`.
func (c *dtCtx) array(t *pdb.Type, addr uint64, depth int) string {
	e := t.Elem
	head := "[" + strconv.FormatUint(t.Count, 10) + "] "
	if e == nil {
		return head
	}
	if e.Kind == pdb.KindBase && t.Count > 0 {
		width := 0
		switch e.Base {
		case pdb.BaseChar, pdb.BaseUChar:
			width = 1
		case pdb.BaseWChar:
			width = 2
		}
		if width > 0 {
			n := min(t.Count, dtMaxString)
			b, ok := c.read(addr, int(n)*width)
			if !ok {
				return head + dtUnreadable
			}
			return head + ` "` + decodeString(b, width, true) + `"`
		}
	}
	if t.Count == 0 {
		return head + e.WinDbgName()
	}
	return head + c.value(e, addr, depth)
}

// udtSummary is an embedded structure's value: its type name, with the
// contents for the structures WinDbg summarises.
func (c *dtCtx) udtSummary(t *pdb.Type, addr uint64) string {
	name := t.WinDbgName()
	switch t.Name {
	case "_LIST_ENTRY", "LIST_ENTRY":
		ps := t.Size / 2
		if ps != 4 && ps != 8 {
			return name
		}
		fl, ok1 := c.readUint(addr, ps)
		bl, ok2 := c.readUint(addr+ps, ps)
		if !ok1 || !ok2 {
			return name + " " + dtUnreadable
		}
		if ps == 4 {
			return fmt.Sprintf("%s [ 0x%x - 0x%x ]", name, fl, bl)
		}
		return fmt.Sprintf("%s [ %s - %s ]", name, dtHex(fl, 8), dtHex(bl, 8))
	case "_UNICODE_STRING", "_STRING", "_ANSI_STRING", "UNICODE_STRING":
		width := 1
		if t.Name == "_UNICODE_STRING" || t.Name == "UNICODE_STRING" {
			width = 2
		}
		buf, ok := t.Field("Buffer")
		if !ok || buf.Type == nil || (buf.Type.Size != 4 && buf.Type.Size != 8) {
			return name
		}
		n, ok1 := c.readUint(addr, 2)
		p, ok2 := c.readUint(addr+buf.Offset, buf.Type.Size)
		if !ok1 || !ok2 {
			return name + " " + dtUnreadable
		}
		if n == 0 {
			return name + ` ""`
		}
		b := make([]byte, min(n, 0x10000))
		if got, _ := c.s.Target.ReadMemory(p, b); got < len(b) {
			return fmt.Sprintf(`%s "--- memory read error at address %s ---"`, name, dtHex(p, buf.Type.Size))
		}
		return name + ` "` + decodeString(b, width, false) + `"`
	case "_LARGE_INTEGER", "_ULARGE_INTEGER", "LARGE_INTEGER", "ULARGE_INTEGER":
		v, ok := c.readUint(addr, 8)
		if !ok {
			return name + " " + dtUnreadable
		}
		if v > math.MaxUint32 {
			return name + " " + dtHex(v, 8)
		}
		return fmt.Sprintf("%s 0x%x", name, v)
	case "_GUID", "GUID":
		b, ok := c.read(addr, 16)
		if !ok {
			return name + " " + dtUnreadable
		}
		le := binary.LittleEndian
		return fmt.Sprintf("%s {%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x}", name,
			le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:]), b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])
	}
	return name
}
