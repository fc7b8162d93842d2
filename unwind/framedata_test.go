package unwind

import (
	"bufio"
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"wdb/dump"
	"wdb/symbols/pdb"
)

func TestEvaluator(t *testing.T) {
	mem := map[uint32]uint32{0x1000: 0x2000, 0x1004: 0x401234, 0x0ff0: 7}
	read := func(a uint32) (uint32, bool) { v, ok := mem[a]; return v, ok }
	ev := &Evaluator{Vars: map[string]uint32{"$ebp": 0x1000, "$esp": 0xf00, ".cbSavedRegs": 8}, Read: read}
	if err := ev.Run("$T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + = $L $T0 .cbSavedRegs - ="); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]uint32{"$eip": 0x401234, "$ebp": 0x2000, "$esp": 0x1008, "$T0": 0x1000, "$L": 0xff8} {
		if ev.Vars[k] != v || !ev.Assigned[k] {
			t.Errorf("%s = %#x (assigned %v), want %#x", k, ev.Vars[k], ev.Assigned[k], v)
		}
	}
	// Arithmetic, alignment, hex and negative literals, and an '=' glued to
	// the next token as some compilers emit it.
	ev = &Evaluator{Vars: map[string]uint32{"$esp": 0x1007}, Read: read}
	if err := ev.Run("$T1 $esp 16 @ =$T2 7 3 % 10 * 5 / -1 + 0x10 + = $T3 0xff0 ^ ="); err != nil {
		t.Fatal(err)
	}
	if ev.Vars["$T1"] != 0x1000 || ev.Vars["$T2"] != (7%3)*10/5-1+16 || ev.Vars["$T3"] != 7 {
		t.Errorf("vars %v", ev.Vars)
	}
	for _, bad := range []string{
		"$eip $T9 =",       // undefined variable
		"$eip +",           // underflow
		"$eip 4",           // operands left over
		"$eip 4 0 / =",     // division by zero
		"4 5 =",            // assignment to a value
		"$eip 0x2000 ^ =",  // unreadable memory
		"$eip 4 zz + =",    // not a number
		".raSearch $esp =", // assignment to a constant
	} {
		ev := &Evaluator{Vars: map[string]uint32{"$esp": 0}, Read: read}
		if err := ev.Run(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestFrameTable(t *testing.T) {
	var tab FrameTable
	tab.Add(FrameData{Type: FrameParamsOnly, RVA: 0x1000, Size: 0x100, ParamsSize: 12})
	tab.Add(FrameData{Type: FrameFPO, RVA: 0x1000, Size: 0x100, ParamsSize: 8})
	tab.Add(FrameData{Type: FrameFrameData, RVA: 0x1000, Size: 0x80, Program: "outer"})
	tab.Add(FrameData{Type: FrameFrameData, RVA: 0x1001, Size: 0x7f, Program: "inner"})
	tab.Add(FrameData{Type: FrameFrameData, RVA: 0x2000, Size: 0x1000, Program: "big"})
	tab.Add(FrameData{Type: FrameFrameData, RVA: 0x2100, Size: 0x10, Program: "small"})
	for _, c := range []struct {
		rva  uint32
		want string
		typ  FrameType
	}{
		{0x1000, "outer", FrameFrameData},
		{0x1001, "inner", FrameFrameData},
		{0x107f, "inner", FrameFrameData},
		{0x1080, "", FrameFPO}, // past the FRAMEDATA records: the FPO record
		{0x2108, "small", FrameFrameData},
		{0x2200, "big", FrameFrameData}, // after a nested record, the outer one
	} {
		d, ok := tab.Lookup(c.rva)
		if !ok || d.Program != c.want || d.Type != c.typ {
			t.Errorf("%#x: %+v %v, want %q type %d", c.rva, d, ok, c.want, c.typ)
		}
	}
	if _, ok := tab.Lookup(0x3000); ok {
		t.Error("0x3000 found")
	}
	if tab.Len() != 6 {
		t.Errorf("len %d", tab.Len())
	}
}

func TestParseFPO(t *testing.T) {
	b := make([]byte, 16)
	le := binary.LittleEndian
	le.PutUint32(b, 0x1000)
	le.PutUint32(b[4:], 0x40)
	le.PutUint32(b[8:], 3)  // dwords of locals
	le.PutUint16(b[12:], 2) // dwords of params
	le.PutUint16(b[14:], 0x05|2<<8|1<<11|1<<12|3<<14)
	d := ParseFPO(b)
	want := FrameData{Type: FrameNonFPO, RVA: 0x1000, Size: 0x40, LocalsSize: 12, ParamsSize: 8, PrologSize: 5, SavedRegsSize: 8, HasSEH: true, AllocatesBasePointer: true}
	if len(d) != 1 || d[0] != want {
		t.Errorf("%+v", d)
	}
	fd := make([]byte, 4+32)
	r := fd[4:]
	le.PutUint32(r, 0x2000)
	le.PutUint32(r[4:], 0x30)
	le.PutUint32(r[8:], 0x10)
	le.PutUint32(r[12:], 4)
	le.PutUint32(r[16:], 0x100)
	le.PutUint32(r[20:], 9)
	le.PutUint16(r[24:], 6)
	le.PutUint16(r[26:], 8)
	le.PutUint32(r[28:], 5)
	got := ParseFrameData(fd, func(off uint32) (string, bool) { return "$T0 $ebp = ", off == 9 })
	want = FrameData{Type: FrameFrameData, RVA: 0x2000, Size: 0x30, LocalsSize: 0x10, ParamsSize: 4, MaxStackSize: 0x100, PrologSize: 6, SavedRegsSize: 8,
		HasSEH: true, FunctionStart: true, Program: "$T0 $ebp ="}
	if len(got) != 1 || got[0] != want {
		t.Errorf("%+v", got)
	}
}

// pdbFrameData reads a PDB's FRAMEDATA ("new FPO") records the way the PDB
// reader will supply them: the DBI stream's optional debug header names the
// stream (slot 9), program strings are offsets into /names.
func pdbFrameData(t *testing.T, path string) []FrameData {
	t.Helper()
	p, err := pdb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	read := func(i int) []byte {
		st, err := p.Stream(i)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, st.Size())
		if _, err := st.ReadAt(b, 0); err != nil {
			t.Fatal(err)
		}
		return b
	}
	// The optional debug header follows six substreams whose sizes are in
	// the DBI header.
	dbi := read(3)
	le := binary.LittleEndian
	off := 64
	for _, field := range []int{24, 28, 32, 36, 40, 52} {
		off += int(le.Uint32(dbi[field:]))
	}
	dbg := dbi[off : off+int(le.Uint32(dbi[48:]))]
	newFPO := int(le.Uint16(dbg[9*2:]))
	names, err := p.NamedStream("/names")
	if err != nil {
		t.Fatal(err)
	}
	nb := make([]byte, names.Size())
	names.ReadAt(nb, 0)
	strs := nb[12 : 12+le.Uint32(nb[8:])]
	str := func(o uint32) (string, bool) {
		if int(o) >= len(strs) {
			return "", false
		}
		s := strs[o:]
		if i := strings.IndexByte(string(s), 0); i >= 0 {
			s = s[:i]
		}
		return string(s), true
	}
	return ParseFrameData(read(newFPO), str)
}

// TestPDBFrameData reads crash.pdb's FRAMEDATA stream with ParseFrameData
// and compares the records with the STACK WIN 4 lines breakpad's dump_syms
// wrote from the same PDB into crash.sym.
func TestPDBFrameData(t *testing.T) {
	dir := "getsentry__symbolic/symbolic-testutils/fixtures/windows/"
	recs := pdbFrameData(t, corpus(t, dir+"crash.pdb"))
	if len(recs) == 0 {
		t.Fatal("no FRAMEDATA records")
	}
	// crash.sym's STACK WIN 4 lines, by RVA.
	f, err := os.Open(corpus(t, dir+"crash.sym"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sym []FrameData
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "STACK WIN 4 ") {
			d, _ := parseStackWin(sc.Text())
			sym = append(sym, d)
		}
	}
	same := func(r, s FrameData) bool {
		return r.RVA == s.RVA && r.Size == s.Size && r.PrologSize == s.PrologSize && r.ParamsSize == s.ParamsSize &&
			r.SavedRegsSize == s.SavedRegsSize && r.LocalsSize == s.LocalsSize && r.MaxStackSize == s.MaxStackSize && r.Program == s.Program
	}
	// Every STACK WIN line must be a PDB record. The PDB may hold more: for
	// an address with several records (folded identical functions) dump_syms
	// writes one line.
	agree := 0
	for _, s := range sym {
		found := false
		for _, r := range recs {
			if same(r, s) {
				found = true
				break
			}
		}
		if found {
			agree++
		} else {
			t.Errorf("STACK WIN at %#x (%+v) has no equal PDB record", s.RVA, s)
		}
	}
	extra := 0
	for _, r := range recs {
		found := false
		for _, s := range sym {
			if same(r, s) {
				found = true
				break
			}
		}
		if !found {
			extra++
			t.Logf("PDB record at %#x (params %d) has no STACK WIN line: another record at that address was written", r.RVA, r.ParamsSize)
		}
	}
	t.Logf("crash.pdb: %d FRAMEDATA records; %d/%d STACK WIN 4 lines of crash.sym equal a PDB record; %d PDB records are same-address duplicates", len(recs), agree, len(sym), extra)
}

// x86Stack builds a 32-bit dump around stack words, with app.exe at 0x400000
// (not captured: any address in it counts as code).
func x86Stack(t *testing.T, words map[uint64]uint32, regs map[string]uint64) *dump.File {
	t.Helper()
	s := newStack(0x100000, 0x1000)
	for a, v := range words {
		s.put32(a, v)
	}
	return x86Dump(t, s.start, s.b, regs)
}

// TestX86FPO unwinds FPO functions: one that keeps EBP (the return address
// above locals and saved registers), one that uses EBP for itself (the
// caller's EBP in the saved-register area), and one whose program aligns
// the stack ('@', so only EBP can find the return address).
func TestX86FPO(t *testing.T) {
	const app = 0x400000
	tab := &FrameTable{}
	tab.Add(FrameData{Type: FrameFPO, RVA: 0x1000, Size: 0x100, LocalsSize: 0x10, SavedRegsSize: 8, ParamsSize: 8})
	tab.Add(FrameData{Type: FrameFPO, RVA: 0x2000, Size: 0x100, LocalsSize: 0x10, SavedRegsSize: 8, AllocatesBasePointer: true})
	tab.Add(FrameData{Type: FrameFrameData, RVA: 0x3000, Size: 0x100, Program: "$T1 .raSearch = $T0 $T1 4 - 8 @ = $ebp $T1 4 - ^ = $eip $T1 ^ = $esp $T1 4 + ="})
	fd := FrameTables{app: tab}
	sp := uint64(0x100100)
	// Frame 0 in 0x1000 (EBP untouched): ra at sp+0x18.
	// Frame 1 in 0x2000, called with 8 bytes of arguments (the callee's
	// params): its ra at its esp + 8 + 0x18; its saved EBP at esp+8+8-8.
	// Frame 2 in 0x3000: aligned frame, ra at ebp+4, saved ebp at ebp.
	f1sp := sp + 0x18 + 4
	f2sp := f1sp + 8 + 0x18 + 4
	f2ebp := f2sp + 0x40
	words := map[uint64]uint32{
		sp + 0x18:       app + 0x2010,
		f1sp + 8:        uint32(f2ebp), // saved EBP, first saved register
		f1sp + 8 + 0x18: app + 0x3010,
		f2ebp:           0x100800,
		f2ebp + 4:       app + 0x5000,
	}
	f := x86Stack(t, words, map[string]uint64{"eip": app + 0x1010, "esp": sp, "ebp": 0xbad})
	w := &Walker{File: f, FrameData: fd, NoScan: true}
	frames, err := w.Walk(&f.Threads[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	logFrames(t, f, frames)
	want := []struct {
		ip, sp, ebp uint64
		how         FoundBy
	}{
		{app + 0x1010, sp, 0xbad, FoundByContext},
		{app + 0x2010, f1sp, 0xbad, FoundByFPO},
		{app + 0x3010, f2sp, f2ebp, FoundByFPO},
		{app + 0x5000, f2ebp + 8, 0x100800, FoundByFrameData},
	}
	for i, w := range want {
		if i >= len(frames) {
			t.Fatalf("frame %d missing: stop %q", i, frames[len(frames)-1].Stop)
		}
		g := frames[i]
		if g.IP != w.ip || g.SP != w.sp || g.Context.Rbp != w.ebp || g.How != w.how {
			t.Errorf("frame %d: ip %#x sp %#x ebp %#x %s, want %#x %#x %#x %s", i, g.IP, g.SP, g.Context.Rbp, g.How, w.ip, w.sp, w.ebp, w.how)
		}
	}
	if frames[1].FrameData == nil || frames[1].FrameData.RVA != 0x2000 {
		t.Errorf("frame 1 frame data %+v", frames[1].FrameData)
	}
	// ChildEBP (FP) is the return address slot minus 4; kb's arguments follow.
	if frames[0].FP != sp+0x18-4 || frames[0].RetAddrLoc != sp+0x18 {
		t.Errorf("frame 0 ChildEBP %#x, return address at %#x", frames[0].FP, frames[0].RetAddrLoc)
	}
}
