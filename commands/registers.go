package commands

import (
	"fmt"
	"io"
	"strings"

	"wdb/dump"
)

// The r command: the register block of the current thread (windbg-commands.md
// §12), single registers, and pseudo-register assignment (r $t0 = expr).

func init() {
	Register(&Command{
		Name:    "r",
		Usage:   "r [<reg> [= <expr>]][, ...]",
		Summary: "view or set registers",
		Help: "r                 all integer registers, flags and segments of the current thread\n" +
			"r eax             one register (r rax, rbx for several)\n" +
			"r $t0 = <expr>    set a user pseudo-register ($t0-$t19); r $t0 shows it\n" +
			"r eax = <expr>    change a register in wdb's copy of the context (the dump is not written)\n" +
			"~N r, ~* r        registers of thread N / of every thread",
		Run: runRegisters,
	})
}

// CurrentInstructionLines is the hook for the last two lines of the register
// block: "module!symbol+0xoff:" and the disassembly line of the instruction
// at the context's PC. It stays nil until the disassembler (u command) sets
// it from its own init; until then r prints no location.
// TODO(disasm): set this from the u command's file.
var CurrentInstructionLines func(s *Session, ctx *dump.Context) []string

// RegisterValue is one named register value.
type RegisterValue struct {
	Name  string `json:"name"`
	Value uint64 `json:"value"`
	text  string // as r prints it after "name="
}

// RegisterDump is the full r display of one thread's context.
type RegisterDump struct {
	Thread    int             `json:"thread"`
	Arch      string          `json:"arch"`
	Registers []RegisterValue `json:"registers"`
	IOPL      int             `json:"iopl"`
	Flags     []string        `json:"flags"` // nv up ei pl zr na pe nc (+ vip/vif when set)
	Location  []string        `json:"location,omitempty"`
	lines     []string
}

// WriteText prints the block exactly as WinDbg lays it out.
func (r *RegisterDump) WriteText(w io.Writer) {
	for _, l := range r.lines {
		fmt.Fprintln(w, l)
	}
	for _, l := range r.Location {
		fmt.Fprintln(w, l)
	}
}

// RegisterList is the answer to "r eax, ebx" or an assignment (nothing).
type RegisterList struct {
	Registers []RegisterValue `json:"registers"`
}

// WriteText prints "name=value" pairs on one line, separated by a space
// (several registers on one line is UNCONFIRMED; single ones are sampled).
func (r *RegisterList) WriteText(w io.Writer) {
	if len(r.Registers) == 0 {
		return
	}
	parts := make([]string, len(r.Registers))
	for i, v := range r.Registers {
		parts[i] = v.Name + "=" + v.text
	}
	fmt.Fprintln(w, strings.Join(parts, " "))
}

func runRegisters(s *Session, inv *Invocation) (Result, error) {
	args := strings.TrimSpace(inv.Args)
	if args == "" {
		ctx, err := registerContext(s)
		if err != nil {
			return nil, err
		}
		return registerDump(s, s.Thread, ctx), nil
	}
	list := &RegisterList{}
	rest := args
	for rest != "" {
		if rest[0] == '@' {
			rest = rest[1:]
		}
		n := 0
		for n < len(rest) && (isWord(rest[n]) || rest[n] == '$') {
			n++
		}
		name := strings.ToLower(rest[:n])
		if name == "" {
			return nil, fmt.Errorf("Bad register error at '%s'", rest)
		}
		rest = strings.TrimLeft(rest[n:], " \t")
		if strings.HasPrefix(rest, "=") {
			v, after, err := s.ParseExpr(strings.TrimLeft(rest[1:], " \t"))
			if err != nil {
				return nil, exprError(s, inv, rest[1:], err)
			}
			if err := setRegister(s, name, v); err != nil {
				return nil, err
			}
			rest = after
		} else {
			v, text, ok := showRegister(s, name)
			if !ok {
				if !strings.HasPrefix(name, "$") {
					if _, err := registerContext(s); err != nil {
						return nil, err
					}
				}
				return nil, fmt.Errorf("Bad register error at '%s'", name)
			}
			list.Registers = append(list.Registers, RegisterValue{Name: name, Value: v, text: text})
		}
		rest = strings.TrimLeft(rest, " \t")
		if rest == "" {
			break
		}
		if rest[0] != ',' {
			return nil, fmt.Errorf("Syntax error at '%s'", rest)
		}
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	return list, nil
}

// registerContext is the current thread's context, or WinDbg-style errors
// when there is no thread or the dump did not capture its registers.
func registerContext(s *Session) (*dump.Context, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	if _, ok := s.CurrentThread(); !ok {
		return nil, fmt.Errorf("Illegal thread error: the dump has no thread %d", s.Thread)
	}
	ctx := s.Context()
	if ctx == nil {
		// WinDbg prints an HRESULT-style failure here; the wording is wdb's.
		return nil, fmt.Errorf("Unable to get thread context: thread %d has no register context in the dump", s.Thread)
	}
	if ctx.Arch != dump.ArchAMD64 && ctx.Arch != dump.ArchX86 {
		return nil, fmt.Errorf("Registers of %s contexts are not supported", ctx.Arch)
	}
	return ctx, nil
}

// registerDump lays out the full register block (§12) for a context.
func registerDump(s *Session, thread int, c *dump.Context) *RegisterDump {
	r := &RegisterDump{Thread: thread, Arch: c.Arch.String(), IOPL: int(c.EFlags>>12) & 3, Flags: eflagsMnemonics(c.EFlags)}
	add := func(name string, v uint64, digits int) string {
		text := fmt.Sprintf("%0*x", digits, v)
		r.Registers = append(r.Registers, RegisterValue{Name: name, Value: v, text: text})
		return name + "=" + text
	}
	flags := fmt.Sprintf("iopl=%d %-3s %-3s %s", r.IOPL, flagIf(c.EFlags, 20, "vip"), flagIf(c.EFlags, 19, "vif"), strings.Join(r.Flags[len(r.Flags)-8:], " "))
	seg := func() string {
		return strings.Join([]string{
			add("cs", uint64(c.Cs), 4), add("ss", uint64(c.Ss), 4), add("ds", uint64(c.Ds), 4),
			add("es", uint64(c.Es), 4), add("fs", uint64(c.Fs), 4), add("gs", uint64(c.Gs), 4),
		}, "  ") + "             " + add("efl", uint64(c.EFlags), 8)
	}
	if c.Arch == dump.ArchAMD64 {
		q := func(name string, v uint64) string { return add(name, v, 16) }
		r.lines = []string{
			q("rax", c.Rax) + " " + q("rbx", c.Rbx) + " " + q("rcx", c.Rcx),
			q("rdx", c.Rdx) + " " + q("rsi", c.Rsi) + " " + q("rdi", c.Rdi),
			q("rip", c.Rip) + " " + q("rsp", c.Rsp) + " " + q("rbp", c.Rbp),
			" " + q("r8", c.R8) + "  " + q("r9", c.R9) + " " + q("r10", c.R10),
			q("r11", c.R11) + " " + q("r12", c.R12) + " " + q("r13", c.R13),
			q("r14", c.R14) + " " + q("r15", c.R15),
			flags,
			seg(),
		}
	} else {
		d := func(name string, v uint64) string { return add(name, uint64(uint32(v)), 8) }
		r.lines = []string{
			strings.Join([]string{d("eax", c.Rax), d("ebx", c.Rbx), d("ecx", c.Rcx), d("edx", c.Rdx), d("esi", c.Rsi), d("edi", c.Rdi)}, " "),
			strings.Join([]string{d("eip", c.Rip), d("esp", c.Rsp), d("ebp", c.Rbp), flags}, " "),
			seg(),
		}
	}
	if CurrentInstructionLines != nil {
		r.Location = CurrentInstructionLines(s, c)
	}
	return r
}

func flagIf(efl uint32, bit uint, name string) string {
	if efl&(1<<bit) != 0 {
		return name
	}
	return ""
}

// eflagsMnemonics gives the flag codes r prints, in WinDbg's order: of df if
// sf zf af pf cf as nv/ov up/dn di/ei pl/ng nz/zr na/ac po/pe nc/cy, preceded
// by vip/vif when those are set (the 9 spaces after "iopl=0" are their empty
// 3-character columns).
func eflagsMnemonics(efl uint32) []string {
	var out []string
	for _, f := range []struct {
		bit      uint
		set, clr string
	}{{20, "vip", ""}, {19, "vif", ""}} {
		if efl&(1<<f.bit) != 0 {
			out = append(out, f.set)
		}
	}
	for _, f := range []struct {
		bit      uint
		set, clr string
	}{{11, "ov", "nv"}, {10, "dn", "up"}, {9, "ei", "di"}, {7, "ng", "pl"}, {6, "zr", "nz"}, {4, "ac", "na"}, {2, "pe", "po"}, {0, "cy", "nc"}} {
		if efl&(1<<f.bit) != 0 {
			out = append(out, f.set)
		} else {
			out = append(out, f.clr)
		}
	}
	return out
}

// regWidths is the display width (hex digits) of registers printed padded.
// Full registers of the context's architecture and the segment, flag and
// control registers are zero padded; sub-registers (eax on x64, ax, al,
// r8d) print unpadded, as in "r eax" → "eax=55" and "r r15d" → "r15d=3079c78"
// (§12 samples).
func regWidth(c *dump.Context, name string) int {
	switch name {
	case "cs", "ds", "es", "fs", "gs", "ss":
		return 4
	case "efl", "mxcsr":
		return 8
	case "iopl":
		return 1
	}
	if _, isFlag := eflagBits[name]; isFlag {
		return 1
	}
	if c.Arch == dump.ArchAMD64 {
		switch name {
		case "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "rip",
			"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
			"dr0", "dr1", "dr2", "dr3", "dr6", "dr7":
			return 16
		}
		return 0
	}
	switch name {
	case "eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp", "eip",
		"dr0", "dr1", "dr2", "dr3", "dr6", "dr7":
		return 8
	}
	return 0
}

// eflagBits are the one-bit flag registers (r zf, r zf=0).
var eflagBits = map[string]uint{"cf": 0, "pf": 2, "af": 4, "zf": 6, "sf": 7, "tf": 8, "if": 9, "df": 10, "of": 11}

// showRegister reads a register or pseudo-register for "r name".
// Pseudo-registers print padded to the pointer size ("$peb=00c37000").
func showRegister(s *Session, name string) (uint64, string, bool) {
	if strings.HasPrefix(name, "$") {
		v, ok := s.PseudoRegister(name)
		if !ok {
			return 0, "", false
		}
		digits := 2 * s.PointerSize()
		if v>>32 != 0 {
			digits = 16
		}
		return v, fmt.Sprintf("%0*x", digits, v), true
	}
	c := s.Context()
	if c == nil {
		return 0, "", false
	}
	v, ok := c.Register(name)
	if !ok {
		return 0, "", false
	}
	return v, fmt.Sprintf("%0*x", regWidth(c, name), v), true
}

// setRegister assigns a user pseudo-register ($t0-$t19) or, like WinDbg on a
// dump, changes a register in the debugger's copy of the thread context.
func setRegister(s *Session, name string, v uint64) error {
	if strings.HasPrefix(name, "$") {
		var n int
		if _, err := fmt.Sscanf(name, "$t%d", &n); err == nil && n >= 0 && n < len(s.PseudoRegs) && name == fmt.Sprintf("$t%d", n) {
			s.PseudoRegs[n] = v
			return nil
		}
		if _, ok := s.PseudoRegister(name); ok {
			return fmt.Errorf("Bad register error at '%s': %s is read-only", name, name)
		}
		return fmt.Errorf("Bad register error at '%s'", name)
	}
	c, err := registerContext(s)
	if err != nil {
		return err
	}
	if !writeRegister(c, name, v) {
		return fmt.Errorf("Bad register error at '%s'", name)
	}
	return nil
}

// writeRegister stores v into a register of c: full registers, the 32-, 16-
// and 8-bit sub-registers (merged into the full one), segments, efl and the
// single flags.
func writeRegister(c *dump.Context, name string, v uint64) bool {
	if _, ok := c.Register(name); !ok {
		return false
	}
	full := map[string]*uint64{
		"ax": &c.Rax, "bx": &c.Rbx, "cx": &c.Rcx, "dx": &c.Rdx, "si": &c.Rsi, "di": &c.Rdi, "bp": &c.Rbp, "sp": &c.Rsp, "ip": &c.Rip,
		"r8": &c.R8, "r9": &c.R9, "r10": &c.R10, "r11": &c.R11, "r12": &c.R12, "r13": &c.R13, "r14": &c.R14, "r15": &c.R15,
		"dr0": &c.Dr0, "dr1": &c.Dr1, "dr2": &c.Dr2, "dr3": &c.Dr3, "dr6": &c.Dr6, "dr7": &c.Dr7,
	}
	merge := func(p *uint64, shift uint, mask uint64) bool {
		*p = *p&^(mask<<shift) | (v&mask)<<shift
		return true
	}
	segs := map[string]*uint16{"cs": &c.Cs, "ds": &c.Ds, "es": &c.Es, "fs": &c.Fs, "gs": &c.Gs, "ss": &c.Ss}
	if p, ok := segs[name]; ok {
		*p = uint16(v)
		return true
	}
	switch name {
	case "efl":
		c.EFlags = uint32(v)
		return true
	case "mxcsr":
		c.MxCsr = uint32(v)
		return true
	case "iopl":
		c.EFlags = c.EFlags&^(3<<12) | uint32(v&3)<<12
		return true
	}
	if bit, ok := eflagBits[name]; ok {
		c.EFlags = c.EFlags&^(1<<bit) | uint32(v&1)<<bit
		return true
	}
	if p, ok := full[name]; ok { // r8-r15, dr*, and the 16-bit ax…ip
		if len(name) == 2 && name[0] != 'r' {
			return merge(p, 0, 0xffff)
		}
		if c.Arch == dump.ArchX86 {
			return merge(p, 0, 0xffffffff)
		}
		*p = v
		return true
	}
	switch {
	case len(name) == 3 && name[0] == 'r' && full[name[1:]] != nil: // rax…rip
		*full[name[1:]] = v
		return true
	case len(name) == 3 && name[0] == 'e' && full[name[1:]] != nil: // eax…eip
		return merge(full[name[1:]], 0, 0xffffffff)
	case len(name) == 2 && (name[1] == 'l' || name[1] == 'h') && full[name[:1]+"x"] != nil: // al, ah
		if name[1] == 'h' {
			return merge(full[name[:1]+"x"], 8, 0xff)
		}
		return merge(full[name[:1]+"x"], 0, 0xff)
	case name == "sil" || name == "dil" || name == "bpl" || name == "spl":
		return merge(full[name[:2]], 0, 0xff)
	case len(name) >= 3 && name[0] == 'r' && full[name[:len(name)-1]] != nil: // r8d, r8w, r8b
		switch name[len(name)-1] {
		case 'd':
			return merge(full[name[:len(name)-1]], 0, 0xffffffff)
		case 'w':
			return merge(full[name[:len(name)-1]], 0, 0xffff)
		case 'b':
			return merge(full[name[:len(name)-1]], 0, 0xff)
		}
	}
	return false
}
