package unwind

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// FrameType is the kind of an x86 frame record: FPO_DATA's cbFrame values,
// then FRAMEDATA and a record that only knows a function's parameter size.
type FrameType uint8

const (
	FrameFPO        FrameType = 0 // FRAME_FPO: frame-pointer-omitted function
	FrameTrap       FrameType = 1 // FRAME_TRAP: kernel trap frame
	FrameTSS        FrameType = 2 // FRAME_TSS: task gate
	FrameNonFPO     FrameType = 3 // FRAME_NONFPO: ordinary EBP frame
	FrameFrameData  FrameType = 4 // FRAMEDATA with its program string
	FrameParamsOnly FrameType = 5 // only ParamsSize is known (a function's symbol record)
)

// FrameData is one x86 FPO_DATA or FRAMEDATA record, sizes in bytes. It is
// what a PDB's FPO and "new FPO" debug streams and Breakpad's STACK WIN
// lines hold.
type FrameData struct {
	Type          FrameType
	RVA, Size     uint32 // code range the record covers
	PrologSize    uint32
	EpilogSize    uint32
	ParamsSize    uint32 // .cbParams
	SavedRegsSize uint32 // .cbSavedRegs
	LocalsSize    uint32 // .cbLocals
	MaxStackSize  uint32
	HasSEH        bool
	HasEH         bool // C++ exception handling
	FunctionStart bool
	// AllocatesBasePointer: the function sets up EBP for its own use (FPO
	// fUseBP); the caller's EBP is then in the saved-register area.
	AllocatesBasePointer bool
	// Program is the FRAMEDATA program string ("$T0 $ebp = $eip $T0 4 + ^ =
	// ..."); "" when none.
	Program string
}

// FrameDataSource supplies x86 frame records by module and RVA, from a PDB
// or Breakpad symbols; nil means none.
type FrameDataSource interface {
	FrameData(base uint64, rva uint32) (FrameData, bool)
}

// FrameTable holds one module's records and finds the one for an RVA the way
// dbghelp and breakpad do: FRAMEDATA before FPO before anything else, and
// among those the innermost record covering the RVA.
type FrameTable struct {
	recs   [6][]FrameData
	maxEnd [6][]uint64 // prefix maximum of record ends, to stop the backward search
	sorted bool
}

// Add adds a record.
func (t *FrameTable) Add(d FrameData) {
	k := int(d.Type)
	if k >= len(t.recs) {
		k = int(FrameNonFPO)
	}
	t.recs[k] = append(t.recs[k], d)
	t.sorted = false
}

// Len is the number of records.
func (t *FrameTable) Len() int {
	n := 0
	for _, r := range t.recs {
		n += len(r)
	}
	return n
}

func (t *FrameTable) sort() {
	for k := range t.recs {
		r := t.recs[k]
		sort.SliceStable(r, func(i, j int) bool { return r[i].RVA < r[j].RVA })
		t.maxEnd[k] = make([]uint64, len(r))
		var m uint64
		for i, d := range r {
			m = max(m, uint64(d.RVA)+uint64(d.Size))
			t.maxEnd[k][i] = m
		}
	}
	t.sorted = true
}

// Lookup returns the record for rva. Call Add for all records first; Lookup
// sorts once and is then safe for concurrent use.
func (t *FrameTable) Lookup(rva uint32) (FrameData, bool) {
	if !t.sorted {
		t.sort()
	}
	for _, k := range []FrameType{FrameFrameData, FrameFPO, FrameNonFPO, FrameTrap, FrameTSS, FrameParamsOnly} {
		r := t.recs[k]
		i := sort.Search(len(r), func(i int) bool { return r[i].RVA > rva }) - 1
		for ; i >= 0 && t.maxEnd[k][i] > uint64(rva); i-- {
			if uint64(rva) < uint64(r[i].RVA)+uint64(r[i].Size) {
				return r[i], true
			}
		}
	}
	return FrameData{}, false
}

// FrameTables is a FrameDataSource with one table per module base.
type FrameTables map[uint64]*FrameTable

// FrameData implements FrameDataSource.
func (ft FrameTables) FrameData(base uint64, rva uint32) (FrameData, bool) {
	if t := ft[base]; t != nil {
		return t.Lookup(rva)
	}
	return FrameData{}, false
}

// ParseFPO decodes a PDB's FPO debug stream: 16-byte FPO_DATA records.
func ParseFPO(b []byte) []FrameData {
	le := binary.LittleEndian
	out := make([]FrameData, 0, len(b)/16)
	for ; len(b) >= 16; b = b[16:] {
		attr := le.Uint16(b[14:])
		out = append(out, FrameData{
			Type:                 FrameType(attr >> 14),
			RVA:                  le.Uint32(b),
			Size:                 le.Uint32(b[4:]),
			LocalsSize:           le.Uint32(b[8:]) * 4,
			ParamsSize:           uint32(le.Uint16(b[12:])) * 4,
			PrologSize:           uint32(attr & 0xff),
			SavedRegsSize:        uint32(attr>>8&7) * 4,
			HasSEH:               attr&(1<<11) != 0,
			AllocatesBasePointer: attr&(1<<12) != 0,
		})
	}
	return out
}

// ParseFrameData decodes a PDB's "new FPO" debug stream: 32-byte FRAMEDATA
// records, after the 4-byte relocation word the stream starts with (detected
// by the stream's length). str resolves a program string offset in the
// PDB's /names table; it may be nil.
func ParseFrameData(b []byte, str func(off uint32) (string, bool)) []FrameData {
	if len(b)%32 == 4 {
		b = b[4:]
	}
	le := binary.LittleEndian
	out := make([]FrameData, 0, len(b)/32)
	for ; len(b) >= 32; b = b[32:] {
		flags := le.Uint32(b[28:])
		d := FrameData{
			Type:          FrameFrameData,
			RVA:           le.Uint32(b),
			Size:          le.Uint32(b[4:]),
			LocalsSize:    le.Uint32(b[8:]),
			ParamsSize:    le.Uint32(b[12:]),
			MaxStackSize:  le.Uint32(b[16:]),
			PrologSize:    uint32(le.Uint16(b[24:])),
			SavedRegsSize: uint32(le.Uint16(b[26:])),
			HasSEH:        flags&1 != 0,
			HasEH:         flags&2 != 0,
			FunctionStart: flags&4 != 0,
		}
		if off := le.Uint32(b[20:]); str != nil {
			if p, ok := str(off); ok {
				d.Program = strings.Join(strings.Fields(p), " ")
			}
		}
		out = append(out, d)
	}
	return out
}

// Evaluator runs FRAMEDATA program strings: postfix expressions over 32-bit
// values with variables ($T0..$Tn, $eip, $esp, $ebp, ... and the constants
// .raSearch, .raSearchStart, .cbLocals, .cbSavedRegs, .cbParams,
// .cbCalleeParams), the operators + - * / % and @ (align down), ^
// (dereference) and = (assign to a $ variable).
type Evaluator struct {
	Vars map[string]uint32
	// Read reads a 32-bit word of target memory for ^.
	Read func(addr uint32) (uint32, bool)
	// Assigned records the variables the program assigned.
	Assigned map[string]bool
}

// operand is a value or a variable name not yet resolved (the target of =).
type operand struct {
	name string
	val  uint32
}

// Run evaluates prog, updating Vars and Assigned. A program that leaves
// operands on the stack is an error, as it is for breakpad.
func (e *Evaluator) Run(prog string) error {
	if e.Vars == nil {
		e.Vars = map[string]uint32{}
	}
	if e.Assigned == nil {
		e.Assigned = map[string]bool{}
	}
	var st []operand
	pop := func() (operand, error) {
		if len(st) == 0 {
			return operand{}, errors.New("stack underflow")
		}
		o := st[len(st)-1]
		st = st[:len(st)-1]
		return o, nil
	}
	value := func(o operand) (uint32, error) {
		if o.name == "" {
			return o.val, nil
		}
		v, ok := e.Vars[o.name]
		if !ok {
			return 0, fmt.Errorf("%s is not defined", o.name)
		}
		return v, nil
	}
	for _, tok := range tokens(prog) {
		switch tok {
		case "+", "-", "*", "/", "%", "@":
			bo, err := pop()
			if err != nil {
				return err
			}
			ao, err := pop()
			if err != nil {
				return err
			}
			a, err := value(ao)
			if err != nil {
				return err
			}
			b, err := value(bo)
			if err != nil {
				return err
			}
			var r uint32
			switch tok {
			case "+":
				r = a + b
			case "-":
				r = a - b
			case "*":
				r = a * b
			case "/", "%":
				if b == 0 {
					return errors.New("division by zero")
				}
				if tok == "/" {
					r = a / b
				} else {
					r = a % b
				}
			case "@":
				if b == 0 {
					return errors.New("alignment by zero")
				}
				r = a &^ (b - 1)
			}
			st = append(st, operand{val: r})
		case "^":
			o, err := pop()
			if err != nil {
				return err
			}
			a, err := value(o)
			if err != nil {
				return err
			}
			if e.Read == nil {
				return errors.New("no memory to dereference")
			}
			v, ok := e.Read(a)
			if !ok {
				return fmt.Errorf("memory at %#x not readable", a)
			}
			st = append(st, operand{val: v})
		case "=":
			vo, err := pop()
			if err != nil {
				return err
			}
			no, err := pop()
			if err != nil {
				return err
			}
			if no.name == "" || no.name[0] != '$' {
				return errors.New("assignment to something other than a $ variable")
			}
			v, err := value(vo)
			if err != nil {
				return err
			}
			e.Vars[no.name] = v
			e.Assigned[no.name] = true
		default:
			if tok[0] == '$' || tok[0] == '.' {
				st = append(st, operand{name: tok})
				continue
			}
			v, err := parseNumber(tok)
			if err != nil {
				return fmt.Errorf("token %q: %w", tok, err)
			}
			st = append(st, operand{val: v})
		}
	}
	if len(st) != 0 {
		return fmt.Errorf("%d operands left on the stack", len(st))
	}
	return nil
}

// tokens splits a program on white space; an '=' glued to the next token
// ("=$esp", as some compilers write) is split off.
func tokens(prog string) []string {
	var out []string
	for _, f := range strings.Fields(prog) {
		for len(f) > 1 && f[0] == '=' {
			out = append(out, "=")
			f = f[1:]
		}
		out = append(out, f)
	}
	return out
}

func parseNumber(s string) (uint32, error) {
	neg := false
	if len(s) > 1 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	var v uint64
	var err error
	if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
		v, err = strconv.ParseUint(s[2:], 16, 32)
	} else {
		v, err = strconv.ParseUint(s, 10, 32)
	}
	if err != nil {
		return 0, errors.New("not a number")
	}
	if neg {
		return uint32(-int64(v)), nil
	}
	return uint32(v), nil
}
