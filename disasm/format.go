package disasm

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

// Line names and formats a decoded instruction in dbgeng's Intel syntax.
//
// Rules (windbg-commands.md §10.2 unless marked otherwise):
//   - lower-case mnemonic; prefixes are part of it ("lock cmpxchg",
//     "rep stos", "rep movs"; uf samples);
//   - operands joined by "," without spaces;
//   - numbers are MASM hex: upper-case digits, "h" suffix, a leading 0 when
//     the first digit is a letter, and no suffix below 10 ("0C0h",
//     "0FFFFFFFFFFFFFFFEh", "[rsp+8]", "push 0");
//   - immediates are shown as unsigned values of the operand size, so a
//     sign-extended imm8 -1 on a dword is "0FFFFFFFFh" (MessageBoxW sample
//     "or dword ptr [rsp+28h],0FFFFFFFFh");
//   - displacements are signed: "[ebp-18h]";
//   - memory operands carry "byte/word/dword/qword/xmmword/ymmword ptr";
//     lea has none ("lea rcx,[rsp+20h]");
//   - branch and call targets print "module!sym+0xoff (address)", or the bare
//     address when nothing is known (SOS transcript "je 01f10087");
//   - RIP-relative operands become "[module!sym (address)]";
//   - x86 absolute memory operands: "[module!sym (address)]" when named,
//     "fs:[00000018h]" with 8 digits otherwise (uf GetLastError sample);
//   - an x86 disp32 that names something next to a register prints as
//     "dword ptr ntdll!memcpy+0x61 (7eb31e14)[eax*4]" (uf memcpy sample);
//   - an immediate that names something prints as
//     "offset launcher!CreateInterface+0x5e5249 (019e6638)" (uf sample);
//   - x64 absolute operands are plain displacements: "gs:[30h]" (samples),
//     hence "dword ptr [0]" (the lldb sigsegv instruction).
//
// Assumptions where no sample was found (dbgeng behaviour from memory):
// "ds:" before an unnamed x86 absolute operand ("dword ptr ds:[00401000h]");
// an unnamed RIP-relative operand or x64 moffs prints the address with its
// backtick ("[00007ff6`12345678]"); push imm8 in 64-bit code shows the
// 64-bit value; "xchg ax,ax" for 66 90; "rep ret"; x87 registers as "st"
// and "st(1)"; "tbyte ptr" for 80-bit operands; EVEX masks as "{k1}".
func (in Inst) Line(sym Symbolizer) Line {
	l := Line{Addr: in.Addr, Bytes: in.Bytes, Invalid: in.Invalid, Unreadable: in.Unreadable}
	if in.Invalid || in.Unreadable {
		l.Text = "???"
		return l
	}
	f := formatter{in: &in, x: &in.X86, sym: sym}
	l.Mnemonic, l.Operands = f.format()
	l.Text = joinText(l.Mnemonic, l.Operands)
	l.MemTarget = f.memTarget
	l.Mem = f.memRef

	x := &in.X86
	switch x.Op {
	case x86asm.CALL, x86asm.LCALL:
		l.IsCall = true
	case x86asm.JMP, x86asm.LJMP:
		l.IsJump = true
	case x86asm.RET, x86asm.LRET, x86asm.IRET, x86asm.IRETD, x86asm.IRETQ:
		l.IsRet = true
	default:
		if isCondJump(x.Op) {
			l.IsJump, l.Conditional = true, true
		}
	}
	if l.IsCall || l.IsJump {
		if r, ok := x.Args[0].(x86asm.Rel); ok {
			l.Target = relTarget(&in, r)
		} else {
			l.Indirect = true
		}
	}
	return l
}

// joinText is the Text of a line whose bytes fit their column: the mnemonic
// padded to 7 and one space, then the operands.
func joinText(mn, ops string) string {
	if ops == "" {
		return mn
	}
	if len(mn) < 7 {
		mn += strings.Repeat(" ", 7-len(mn))
	}
	return mn + " " + ops
}

func isCondJump(op x86asm.Op) bool {
	switch op {
	case x86asm.JA, x86asm.JAE, x86asm.JB, x86asm.JBE, x86asm.JE, x86asm.JNE,
		x86asm.JG, x86asm.JGE, x86asm.JL, x86asm.JLE, x86asm.JO, x86asm.JNO,
		x86asm.JP, x86asm.JNP, x86asm.JS, x86asm.JNS,
		x86asm.JCXZ, x86asm.JECXZ, x86asm.JRCXZ,
		x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE:
		return true
	}
	return false
}

// relTarget is the destination of a relative branch; in 32-bit mode the
// instruction pointer wraps at 4 GiB.
func relTarget(in *Inst, r x86asm.Rel) uint64 {
	t := in.Addr + uint64(in.X86.Len) + uint64(int64(r))
	if in.Mode != 64 {
		t &= 0xffffffff
		if in.X86.DataSize == 16 {
			t &= 0xffff
		}
	}
	return t
}

type formatter struct {
	in        *Inst
	x         *x86asm.Inst
	sym       Symbolizer
	memTarget uint64
	memRef    *MemRef
}

// MemRef is the first memory operand of an instruction, for callers that
// work out its effective address from registers (the annotation r and
// .ecxr print, §14.1).
type MemRef struct {
	Segment string // "fs", "gs", "es", ...; "" for the default segment
	Base    string // register name, "" when none (RIP-relative operands are resolved into Disp)
	Index   string
	Scale   int
	Disp    int64
	Size    int // bytes accessed; 0 for lea and unknown sizes
}

// Offset is the operand's offset in its segment; reg gives register values
// by name ("eax", "r9"). For fs/gs operands the segment base (the TEB) is
// not added, matching "gs:00000000`00000030" in WinDbg's annotation.
func (m MemRef) Offset(reg func(name string) (uint64, bool), mode int) (uint64, bool) {
	a := uint64(m.Disp)
	for _, r := range []struct {
		name  string
		scale int
	}{{m.Base, 1}, {m.Index, m.Scale}} {
		if r.name == "" {
			continue
		}
		v, ok := reg(r.name)
		if !ok {
			return 0, false
		}
		a += v * uint64(max(r.scale, 1))
	}
	if mode == 32 {
		a &= 0xffffffff
	}
	return a, true
}

func sizeOf(ptr string) int {
	switch ptr {
	case "byte ptr ":
		return 1
	case "word ptr ":
		return 2
	case "dword ptr ":
		return 4
	case "fword ptr ":
		return 6
	case "qword ptr ":
		return 8
	case "tbyte ptr ":
		return 10
	case "xmmword ptr ":
		return 16
	case "ymmword ptr ":
		return 32
	case "zmmword ptr ":
		return 64
	}
	return 0
}

func (f *formatter) format() (mn, ops string) {
	x := f.x
	mn = f.mnemonic()
	var args []string
	regArgs := 0
	for _, a := range x.Args {
		if a == nil {
			break
		}
		if _, ok := a.(x86asm.Reg); ok {
			regArgs++
		}
	}
	for i, a := range x.Args {
		if a == nil {
			break
		}
		if r, ok := a.(x86asm.Reg); ok && r >= x86asm.K0 && r <= x86asm.K7 && i > 0 && !strings.HasPrefix(mn, "k") {
			// EVEX opmask: dbgeng's form is unconfirmed; use the
			// assembler convention "zmm0{k1}".
			if len(args) > 0 && r != x86asm.K0 {
				args[len(args)-1] += "{" + regName(r, false) + "}"
			}
			continue
		}
		args = append(args, f.arg(i, a, regArgs))
	}
	switch x.Op {
	case x86asm.NOP:
		if x.Opcode>>24 == 0x90 && x.DataSize == 16 {
			// 66 90: dbgeng shows the real encoding, "xchg ax,ax".
			mn, args = "xchg", []string{"ax", "ax"}
		}
	case x86asm.OUTSB, x86asm.OUTSW, x86asm.OUTSD:
		// x86asm lists the memory source second; Intel order is dx first
		// ("outs dx,byte ptr [rsi]", §10.2).
		if len(args) == 2 {
			args = []string{"dx", args[1]}
		}
	case x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ,
		x86asm.SCASB, x86asm.SCASW, x86asm.SCASD, x86asm.SCASQ:
		// dbgeng prints only the memory operand: "lods byte ptr [esi]",
		// "scas byte ptr es:[edi]" (assumed like "stos dword ptr es:[edi]").
		if len(args) == 2 {
			args = args[1:]
		}
	case x86asm.STOSB, x86asm.STOSW, x86asm.STOSD, x86asm.STOSQ:
		if len(args) == 2 {
			args = args[:1]
		}
	}
	return mn, strings.Join(args, ",")
}

// mnemonic maps x86asm's op names to dbgeng's and adds the prefixes dbgeng
// spells out.
func (f *formatter) mnemonic() string {
	x := f.x
	var mn string
	switch x.Op {
	case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ:
		mn = "movs"
	case x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ:
		mn = "cmps"
	case x86asm.STOSB, x86asm.STOSW, x86asm.STOSD, x86asm.STOSQ:
		mn = "stos"
	case x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ:
		mn = "lods"
	case x86asm.SCASB, x86asm.SCASW, x86asm.SCASD, x86asm.SCASQ:
		mn = "scas"
	case x86asm.INSB, x86asm.INSW, x86asm.INSD:
		mn = "ins"
	case x86asm.OUTSB, x86asm.OUTSW, x86asm.OUTSD:
		mn = "outs"
	case x86asm.MOVSD_XMM:
		mn = "movsd"
	case x86asm.CMPSD_XMM:
		mn = "cmpsd"
	case x86asm.XLATB:
		mn = "xlat"
	case x86asm.FWAIT:
		mn = "wait"
	case x86asm.LRET:
		mn = "retf"
	case x86asm.LCALL:
		mn = "call"
	case x86asm.LJMP:
		mn = "jmp"
	case x86asm.ICEBP:
		mn = "int1" // UNCONFIRMED spelling for F1
	default:
		mn = strings.ToLower(x.Op.String())
	}

	var lock, rep, repne bool
	for _, p := range x.Prefix {
		if p == 0 {
			break
		}
		if x.Op == x86asm.RET && p&0xff == x86asm.PrefixREP {
			rep = true // "rep ret", which x86asm marks as ignored
		}
		if p&(x86asm.PrefixImplicit|x86asm.PrefixIgnored) != 0 {
			continue
		}
		switch p &^ (x86asm.PrefixImplicit | x86asm.PrefixIgnored) {
		case x86asm.PrefixLOCK:
			lock = true
		case x86asm.PrefixREP:
			rep = true
		case x86asm.PrefixREPN:
			repne = true
		}
	}
	pre := ""
	if lock {
		pre += "lock "
	}
	switch {
	case rep && isStringOp(x.Op) && (mn == "cmps" || mn == "scas"):
		pre += "repe "
	case rep && (isStringOp(x.Op) || x.Op == x86asm.RET):
		pre += "rep " // "rep stos dword ptr es:[edi]" (§10 uf sample), "rep ret"
	case repne && isStringOp(x.Op):
		pre += "repne "
	}
	return pre + mn
}

func isStringOp(op x86asm.Op) bool {
	switch op {
	case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ,
		x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ,
		x86asm.STOSB, x86asm.STOSW, x86asm.STOSD, x86asm.STOSQ,
		x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ,
		x86asm.SCASB, x86asm.SCASW, x86asm.SCASD, x86asm.SCASQ,
		x86asm.INSB, x86asm.INSW, x86asm.INSD,
		x86asm.OUTSB, x86asm.OUTSW, x86asm.OUTSD:
		return true
	}
	return false
}

func (f *formatter) arg(i int, a x86asm.Arg, regArgs int) string {
	switch a := a.(type) {
	case x86asm.Reg:
		// x87: "fadd st,st(1)" but "fstp st(1)" and "fld st(0)".
		return regName(a, regArgs >= 2)
	case x86asm.Imm:
		return f.imm(i, a)
	case x86asm.Rel:
		return f.addrOperand(relTarget(f.in, a))
	case x86asm.Mem:
		return f.mem(a)
	}
	return strings.ToLower(a.String())
}

// regName spells registers as dbgeng does: r8d/r8w/r8b, spl/sil, mm0,
// st(1), and a bare "st" for st(0) next to another x87 register.
func regName(r x86asm.Reg, pairedST bool) string {
	switch {
	case r >= x86asm.F0 && r <= x86asm.F7:
		if r == x86asm.F0 && pairedST {
			return "st"
		}
		return "st(" + strconv.Itoa(int(r-x86asm.F0)) + ")"
	case r >= x86asm.M0 && r <= x86asm.M7:
		return "mm" + strconv.Itoa(int(r-x86asm.M0))
	case r >= x86asm.X0 && r <= x86asm.X31:
		return "xmm" + strconv.Itoa(int(r-x86asm.X0))
	case r >= x86asm.Y0 && r <= x86asm.Y31:
		return "ymm" + strconv.Itoa(int(r-x86asm.Y0))
	case r >= x86asm.Z0 && r <= x86asm.Z31:
		return "zmm" + strconv.Itoa(int(r-x86asm.Z0))
	case r >= x86asm.R8L && r <= x86asm.R15L:
		return "r" + strconv.Itoa(int(r-x86asm.R8L)+8) + "d"
	}
	switch r {
	case x86asm.SPB:
		return "spl"
	case x86asm.BPB:
		return "bpl"
	case x86asm.SIB:
		return "sil"
	case x86asm.DIB:
		return "dil"
	}
	return strings.ToLower(r.String())
}

// imm prints an immediate as an unsigned value of its operand's size, or as
// "offset name (address)" when it is an address the symbolizer knows.
func (f *formatter) imm(i int, v x86asm.Imm) string {
	bits := f.immBits(i)
	u := uint64(v)
	if bits < 64 {
		u &= 1<<bits - 1
	}
	// Only values that can be addresses are looked up: small numbers never
	// are, and sign-extended imm8 values (-128..-1) are constants.
	if f.sym != nil && bits >= 32 && u >= 0x10000 && !(v < 0 && v >= -128) {
		if name := f.sym.Format(u); name != "" {
			return "offset " + name + " (" + fmtAddr(u, f.in.Mode) + ")"
		}
	}
	return masm(u)
}

// immBits is the width an immediate is shown in.
func (f *formatter) immBits(i int) int {
	x := f.x
	switch x.Op {
	case x86asm.RET, x86asm.LRET:
		return 16
	case x86asm.ENTER:
		if i == 0 {
			return 16
		}
		return 8
	case x86asm.INT, x86asm.AAM, x86asm.AAD, x86asm.IN, x86asm.OUT,
		x86asm.ROL, x86asm.ROR, x86asm.RCL, x86asm.RCR, x86asm.SHL, x86asm.SHR, x86asm.SAR,
		x86asm.SHLD, x86asm.SHRD, x86asm.BT, x86asm.BTS, x86asm.BTR, x86asm.BTC:
		return 8
	case x86asm.PUSH:
		if x.DataSize == 16 {
			return 16
		}
		if f.in.Mode == 64 {
			return 64
		}
		return 32
	}
	for _, a := range x.Args {
		if r, ok := a.(x86asm.Reg); ok && (r >= x86asm.M0 && r <= x86asm.Z31 || r >= x86asm.K0 && r <= x86asm.K7) {
			return 8 // SSE/AVX/MMX immediates are imm8 selectors
		}
	}
	if i > 0 {
		switch a := x.Args[0].(type) {
		case x86asm.Reg:
			if b := gprBits(a); b > 0 {
				return b
			}
		case x86asm.Mem:
			switch x.MemBytes {
			case 1, 2, 4, 8:
				return x.MemBytes * 8
			}
		}
	}
	if x.DataSize > 0 {
		return x.DataSize
	}
	return 32
}

func gprBits(r x86asm.Reg) int {
	switch {
	case r >= x86asm.AL && r <= x86asm.R15B:
		return 8
	case r >= x86asm.AX && r <= x86asm.R15W:
		return 16
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return 32
	case r >= x86asm.RAX && r <= x86asm.R15:
		return 64
	}
	return 0
}

// sizePtr is the "dword ptr " style prefix of a memory operand.
func (f *formatter) sizePtr() string {
	x := f.x
	n := x.MemBytes
	switch x.Op {
	case x86asm.LEA:
		return ""
	case x86asm.MOVSB, x86asm.CMPSB, x86asm.STOSB, x86asm.LODSB, x86asm.SCASB, x86asm.INSB, x86asm.OUTSB, x86asm.XLATB:
		n = 1
	case x86asm.MOVSW, x86asm.CMPSW, x86asm.STOSW, x86asm.LODSW, x86asm.SCASW, x86asm.INSW, x86asm.OUTSW:
		n = 2
	case x86asm.MOVSD, x86asm.CMPSD, x86asm.STOSD, x86asm.LODSD, x86asm.SCASD, x86asm.INSD, x86asm.OUTSD:
		n = 4
	case x86asm.MOVSQ, x86asm.CMPSQ, x86asm.STOSQ, x86asm.LODSQ, x86asm.SCASQ:
		n = 8
	case x86asm.FLD, x86asm.FSTP, x86asm.FBLD, x86asm.FBSTP:
		if n == 0 {
			n = 10 // m80: x86asm leaves MemBytes 0
		}
	}
	switch n {
	case 1:
		return "byte ptr "
	case 2:
		return "word ptr "
	case 4:
		return "dword ptr "
	case 6:
		return "fword ptr "
	case 8:
		return "qword ptr "
	case 10:
		return "tbyte ptr "
	case 16:
		return "xmmword ptr "
	case 32:
		return "ymmword ptr "
	case 64:
		return "zmmword ptr "
	}
	return ""
}

// explicitSegment reports whether the instruction carries a segment
// override prefix (as opposed to x86asm's implied ES/DS of string ops).
func (f *formatter) explicitSegment() bool {
	for _, p := range f.x.Prefix {
		if p == 0 {
			break
		}
		switch p &^ (x86asm.PrefixImplicit | x86asm.PrefixIgnored) {
		case x86asm.PrefixES, x86asm.PrefixCS, x86asm.PrefixSS, x86asm.PrefixDS, x86asm.PrefixFS, x86asm.PrefixGS:
			return true
		}
	}
	return false
}

func (f *formatter) mem(m x86asm.Mem) string {
	x, mode := f.x, f.in.Mode
	s := f.sizePtr()
	ref := &MemRef{Size: sizeOf(s), Scale: int(m.Scale)}
	if f.memRef == nil {
		f.memRef = ref
	}
	if m.Segment != 0 {
		ref.Segment = regName(m.Segment, false)
	}

	seg := ""
	switch {
	case m.Segment == 0:
	case mode == 64:
		if m.Segment == x86asm.FS || m.Segment == x86asm.GS {
			seg = regName(m.Segment, false) + ":"
		}
	case isStringOp(x.Op) && m.Segment == x86asm.ES:
		seg = "es:" // "rep stos dword ptr es:[edi]" (§10 uf sample)
	case isStringOp(x.Op) && m.Segment == x86asm.DS && !f.explicitSegment():
	default:
		seg = regName(m.Segment, false) + ":"
	}
	// The segment bases of fs/gs are per thread: their offsets are never
	// linear addresses and are never named.
	tls := m.Segment == x86asm.FS || m.Segment == x86asm.GS

	if m.Base == x86asm.RIP || m.Base == x86asm.EIP {
		a := f.in.Addr + uint64(x.Len) + uint64(m.Disp)
		if m.Base == x86asm.EIP {
			a &= 0xffffffff
		}
		f.memTarget = a
		ref.Disp = int64(a)
		return s + seg + "[" + f.addrOperand(a) + "]"
	}

	hasIndex := m.Index != 0 && m.Scale != 0
	if m.Base == 0 && !hasIndex {
		// Absolute address.
		ref.Disp = m.Disp
		if mode == 32 {
			ref.Disp = int64(uint32(m.Disp))
		}
		if mode == 64 {
			a := uint64(m.Disp)
			moffs := x.Opcode>>24&^3 == 0xA0
			if !tls {
				f.memTarget = a
				if name := f.name(a); name != "" {
					return s + seg + "[" + name + " (" + fmtAddr(a, 64) + ")]"
				}
			}
			if moffs {
				// UNCONFIRMED: a 64-bit moffs is shown like an address.
				return s + seg + "[" + fmtAddr(a, 64) + "]"
			}
			// "qword ptr gs:[30h]" (§10 uf samples), so presumably
			// "dword ptr [0]" without a segment.
			return s + seg + "[" + masm(a) + "]"
		}
		a := uint64(uint32(m.Disp))
		if !tls {
			f.memTarget = a
			if name := f.name(a); name != "" && seg == "" {
				return s + "[" + name + " (" + fmtAddr(a, 32) + ")]"
			}
		}
		if seg == "" {
			seg = "ds:" // UNCONFIRMED for the implicit segment; "fs:[00000018h]" is sampled
		}
		return s + seg + "[" + fmt.Sprintf("%08X", a) + "h]"
	}

	inner := ""
	if m.Base != 0 {
		inner = regName(m.Base, false)
		ref.Base = inner
	}
	if hasIndex {
		ref.Index = regName(m.Index, false)
	}
	if hasIndex {
		if inner != "" {
			inner += "+"
		}
		inner += regName(m.Index, false)
		if m.Scale > 1 {
			inner += "*" + strconv.Itoa(int(m.Scale))
		}
	}
	disp := m.Disp
	if x.AddrSize == 32 || mode == 32 && x.AddrSize != 16 {
		disp = int64(int32(disp))
	} else if x.AddrSize == 16 {
		disp = int64(int16(disp))
	}
	ref.Disp = disp
	// x86 tables and globals indexed by a register: the displacement is an
	// address, "dword ptr ntdll!memcpy+0x61 (7eb31e14)[eax*4]".
	if mode == 32 && !tls && disp >= 0x10000 {
		a := uint64(disp)
		if name := f.name(a); name != "" {
			f.memTarget = a
			return s + seg + name + " (" + fmtAddr(a, 32) + ")[" + inner + "]"
		}
	}
	switch {
	case disp < 0:
		inner += "-" + masm(uint64(-disp))
	case disp > 0:
		inner += "+" + masm(uint64(disp))
	}
	return s + seg + "[" + inner + "]"
}

func (f *formatter) name(a uint64) string {
	if f.sym == nil {
		return ""
	}
	return f.sym.Format(a)
}

// addrOperand prints a code or data address operand:
// "ntdll!NtQueryInformationThread (00007ff9`516d0430)" or the bare address.
func (f *formatter) addrOperand(a uint64) string {
	if name := f.name(a); name != "" {
		return name + " (" + fmtAddr(a, f.in.Mode) + ")"
	}
	return fmtAddr(a, f.in.Mode)
}

// masm prints v as MASM hex the way dbgeng does: "0", "9", "0Ah", "0C0h",
// "10h", "0FFFFFFFFh".
func masm(v uint64) string {
	if v < 10 {
		return strconv.FormatUint(v, 10)
	}
	s := strings.ToUpper(strconv.FormatUint(v, 16))
	if s[0] >= 'A' {
		s = "0" + s
	}
	return s + "h"
}

// fmtAddr prints an address as WinDbg does (§0.1): 8 digits on x86,
// 16 digits split by a backtick on x64.
func fmtAddr(a uint64, mode int) string {
	if mode == 64 {
		return fmt.Sprintf("%08x`%08x", a>>32, a&0xffffffff)
	}
	return fmt.Sprintf("%08x", a)
}

// FormatAddr prints an address in the width of a pointer of ptrSize bytes
// (4 or 8), as the address column of u/ub/uf does.
func FormatAddr(a uint64, ptrSize int) string {
	if ptrSize == 8 {
		return fmtAddr(a, 64)
	}
	return fmtAddr(a, 32)
}

// FormatLine lays one instruction out in WinDbg's columns (§10.2):
// address, a space, the opcode bytes in hex left-aligned in 15 columns, a
// space, the mnemonic left-aligned in 7, a space, the operands.
//
// When the bytes need 16 or more hex digits, the mnemonic follows them
// after one space and the operands start one column later than usual or
// after one space, whichever is further — measured on the samples
// "c744242050000000 mov     dword ptr", "65488b042530000000 mov   rax",
// "48b8f8ffffff7f000000 mov rax" and "c5fc2888c0000000 vmovaps ymm1".
// Memory that is not in the dump prints "??" and "???" (§14.1).
func FormatLine(l Line, ptrSize int) string {
	var b strings.Builder
	b.WriteString(FormatAddr(l.Addr, ptrSize))
	b.WriteByte(' ')
	var hexBytes string
	if l.Unreadable || len(l.Bytes) == 0 {
		hexBytes = "??"
	} else {
		hexBytes = fmt.Sprintf("%x", l.Bytes)
	}
	start := b.Len()
	b.WriteString(hexBytes)
	pad := func(col int) {
		for b.Len()-start < col {
			b.WriteByte(' ')
		}
	}
	mnCol := max(16, len(hexBytes)+1)
	pad(mnCol)
	mn, ops := l.Mnemonic, l.Operands
	if mn == "" {
		mn, ops = "???", ""
	}
	b.WriteString(mn)
	if ops != "" {
		opCol := 24
		if len(hexBytes) >= 16 {
			opCol = 25
		}
		pad(max(opCol, mnCol+len(mn)+1))
		b.WriteString(ops)
	}
	return b.String()
}

// FormatLineWithEA is FormatLine followed by the effective-address
// annotation that r and .ecxr print after the current instruction
// ("ds:002b:72727276=????????"; building it needs registers, so the caller
// does): the instruction text is padded to 28 columns from the mnemonic,
// then one space. Derived from the four §12/§14.1 samples ("dword ptr
// [ecx]  ds:" has two spaces, longer texts one).
func FormatLineWithEA(l Line, ptrSize int, ea string) string {
	s := FormatLine(l, ptrSize)
	if ea == "" {
		return s
	}
	hexLen := 2 * len(l.Bytes)
	if hexLen == 0 {
		hexLen = 2
	}
	mnStart := len(FormatAddr(l.Addr, ptrSize)) + 1 + max(16, hexLen+1)
	for len(s)-mnStart < 28 {
		s += " "
	}
	return s + " " + ea
}

// Render prints lines as u and ub do: a "module!sym+0xoff:" label before the
// first line and before every line that starts a symbol, then one
// FormatLine per instruction, each ending in a newline. No label is printed
// where the symbolizer knows nothing (§14.1).
func Render(lines []Line, ptrSize int, sym Symbolizer) string {
	var b strings.Builder
	for i, l := range lines {
		if sym != nil && (i == 0 || isSymbolStart(sym, l.Addr)) {
			if name := sym.Format(l.Addr); name != "" {
				b.WriteString(name)
				b.WriteString(":\n")
			}
		}
		b.WriteString(FormatLine(l, ptrSize))
		b.WriteByte('\n')
	}
	return b.String()
}
