package pdb

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	fixtureX64PDB = "../../testdata/fixtures/x64/app.pdb"
	fixtureX86PDB = "../../testdata/fixtures/x86/app.pdb"
)

// tpiPDBs are the PDBs whose TPI streams the tests read: the project's
// fixtures and the corpus PDBs (skipped when the corpus is absent).
var tpiPDBs = []string{
	fixtureX64PDB, fixtureX86PDB,
	crashPDB, cwePDB, sigsegvPDB,
	kdlibDumps + "/targetapp_test_cv_allreg_amd64/targetapp.pdb",
	kdlibDumps + "/targetapp_test_cv_allreg_i386/targetapp.pdb",
	kdlibDumps + "/targetapp_stacktest_wow64/targetapp.pdb",
}

func tpiPath(t testing.TB, rel string) string {
	if strings.HasPrefix(rel, "../../testdata/") {
		return rel
	}
	return corpusFile(t, rel)
}

func openTypes(t testing.TB, rel string) *TypeTable {
	t.Helper()
	f, err := Open(tpiPath(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	tt, err := f.Types()
	if err != nil {
		t.Fatal(err)
	}
	return tt
}

// layout renders a structure as "+0x008 m_viewBase : Ptr64 Void" lines.
func layout(ty *Type) string {
	var b strings.Builder
	for _, f := range ty.Fields {
		fmt.Fprintf(&b, "+0x%03x %s : %s", f.Offset, f.Name, f.Type.WinDbgName())
		if f.BitLen > 0 {
			fmt.Fprintf(&b, " bits %d,%d", f.BitPos, f.BitLen)
		}
		switch f.Kind {
		case FieldStatic:
			b.WriteString(" static")
		case FieldBase:
			b.WriteString(" base")
		case FieldVirtualBase:
			b.WriteString(" vbase")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// Facts pinned from llvm-pdbutil 14 ("dump -types") on the fixtures and the
// corpus; TestTPIOracle re-derives them wherever the tool is installed.
func TestTPIFacts(t *testing.T) {
	counts := map[string]int{
		fixtureX64PDB: 63, fixtureX86PDB: 65, crashPDB: 7449, cwePDB: 3899, sigsegvPDB: 82,
		tpiPDBs[5]: 7195, tpiPDBs[6]: 7447, tpiPDBs[7]: 8711,
	}
	for _, rel := range tpiPDBs {
		t.Run(filepath.Base(filepath.Dir(rel))+"/"+filepath.Base(rel), func(t *testing.T) {
			tt := openTypes(t, rel)
			if tt.Len() != counts[rel] {
				t.Errorf("%d records, llvm-pdbutil shows %d", tt.Len(), counts[rel])
			}
			if b, e := tt.Range(); b != 0x1000 || e != 0x1000+uint32(counts[rel]) {
				t.Errorf("range %#x..%#x", b, e)
			}
			if w := tt.Warnings(); len(w) > 0 {
				t.Errorf("warnings: %v", w)
			}
		})
	}

	// The fixture's classes (x64): forward reference 0x1002 resolves to the
	// definition 0x100F; the vfptr, the static member and the data members.
	tt := openTypes(t, fixtureX64PDB)
	cases := []struct {
		name   string
		index  uint32
		size   uint64
		layout string
	}{
		{"CMMFSerializer", 0x100f, 32, "+0x000 __VFN_table : Ptr64 \n+0x000 s_openViews : Int4B static\n+0x008 m_viewBase : Ptr64 Void\n+0x010 m_viewSize : Uint8B\n+0x018 m_mapping : Ptr64 Void\n"},
		{"MessageBuffer", 0x1021, 32, "+0x000 __VFN_table : Ptr64 \n+0x008 m_base : Ptr64 UChar\n+0x010 m_length : Uint8B\n+0x018 m_capacity : Uint8B\n"},
		{"CommunicatorObj", 0x1034, 40, "+0x000 __VFN_table : Ptr64 \n+0x008 m_serializer : Ptr64 CMMFSerializer\n+0x010 m_buffer : Ptr64 MessageBuffer\n+0x018 m_viewSize : Uint8B\n+0x020 m_id : Int4B\n"},
	}
	for _, c := range cases {
		ty, ok := tt.Lookup(c.name)
		if !ok {
			t.Errorf("%s not found", c.name)
			continue
		}
		if ty.Index != c.index || ty.Size != c.size || ty.Kind != KindClass || ty.Forward || ty.UniqueName != ".?AV"+c.name+"@@" {
			t.Errorf("%s: %v forward=%v unique=%q", c.name, ty, ty.Forward, ty.UniqueName)
		}
		if got := layout(ty); got != c.layout {
			t.Errorf("%s layout:\n%s\nwant:\n%s", c.name, got, c.layout)
		}
	}
	// Forward reference by index, pointer to it, array of wchar_t.
	if ty, ok := tt.ByIndex(0x1002); !ok || ty.Index != 0x100f {
		t.Errorf("ByIndex(0x1002) = %v", ty)
	}
	if ty, _ := tt.ByIndex(0x1024); ty.Kind != KindPointer || ty.Size != 8 || ty.Elem.Index != 0x100f || ty.WinDbgName() != "Ptr64 CMMFSerializer" {
		t.Errorf("0x1024 = %v", ty)
	}
	if ty, _ := tt.ByIndex(0x1025); ty.WinDbgName() != "[64] Wchar" || ty.Size != 128 || ty.Count != 64 {
		t.Errorf("0x1025 = %v count %d", ty, ty.Count)
	}
	if ty, _ := tt.ByIndex(0x103b); ty.WinDbgName() != "[2] Ptr64 Void" {
		t.Errorf("0x103b (array of const void*) = %v", ty)
	}
	if ty, _ := tt.ByIndex(0x1038); ty.Kind != KindFunction || ty.WinDbgName() != "    CommunicatorObj* " || len(ty.Params) != 1 || ty.Params[0].WinDbgName() != "Uint8B" {
		t.Errorf("0x1038 = %q %v", ty.WinDbgName(), ty.Params)
	}
	if ty, _ := tt.ByIndex(0x1007); ty.Kind != KindFunction || ty.Class == nil || ty.Class.Name != "CMMFSerializer" {
		t.Errorf("0x1007 = %v", ty)
	}
	if ty, _ := tt.Lookup("CMMFSerializer"); strings.Join(ty.Methods, ",") != "CMMFSerializer,~CMMFSerializer,Open,View,Close" {
		t.Errorf("methods %v", ty.Methods)
	}

	// x86: 4-byte pointers move CommunicatorObj's members.
	tt = openTypes(t, fixtureX86PDB)
	if ty, ok := tt.Lookup("CommunicatorObj"); !ok || ty.Size != 32 || layout(ty) != "+0x000 __VFN_table : Ptr32 \n+0x008 m_serializer : Ptr32 CMMFSerializer\n+0x00c m_buffer : Ptr32 MessageBuffer\n+0x010 m_viewSize : Uint8B\n+0x018 m_id : Int4B\n" {
		t.Errorf("x86 CommunicatorObj %v:\n%s", ty, layout(ty))
	}
}

// kdlibcpp's targetapp: bitfields, unions, enums, base classes, virtual
// bases, LF_INDEX continuations (llvm-pdbutil dump -types).
func TestTPITargetapp(t *testing.T) {
	tt := openTypes(t, tpiPDBs[7]) // wow64 (x86) targetapp.pdb
	check := func(name string, size uint64, want string) {
		t.Helper()
		ty, ok := tt.Lookup(name)
		if !ok {
			t.Errorf("%s not found", name)
			return
		}
		if ty.Size != size || layout(ty) != want {
			t.Errorf("%s: %v\n%s\nwant size %d:\n%s", name, ty, layout(ty), size, want)
		}
	}
	check("structWithBits", 12, "+0x000 m_bit0_4 : Uint4B bits 0,5\n+0x000 m_bit5 : Uint4B bits 5,1\n+0x000 m_bit6_8 : Uint4B bits 6,3\n+0x004 m_bit0_60 : Uint8B bits 0,60\n")
	check("structWithSignBits", 12, "+0x000 m_bit0_4 : Int4B bits 0,5\n+0x000 m_bit5 : Int4B bits 5,1\n+0x000 m_bit6_8 : Int4B bits 6,3\n+0x004 m_bit0_60 : Uint8B bits 0,60\n")
	check("structTest", 20, "+0x000 m_field0 : Uint4B\n+0x004 m_field1 : Uint8B\n+0x00c m_field2 : Bool\n+0x00e m_field3 : Uint2B\n+0x010 m_field4 : Ptr32 structTest\n")
	check("unionTest", 20, "+0x000 m_value : Int4B\n+0x000 m_doubleValue : Double\n+0x000 m_structValue : structTest\n")
	check("classChild", 52, "+0x000 classBase1 : classBase1 base\n+0x008 classBase2 : classBase2 base\n+0x000 m_staticConst : Int4B static\n+0x000 m_staticField : Int4B static\n+0x014 m_childField : Int4B\n+0x018 m_childField2 : Int4B\n+0x01c m_childField3 : structTest\n+0x030 m_enumField : enumType\n")
	check("virtualChild", 36, "+0x004 virtualBase1 : virtualBase1 base\n+0x00c virtualBase2 : virtualBase2 base\n+0x000 classBase1 : classBase1 vbase\n+0x000 __VFN_table : Ptr32 \n+0x014 m_member : Int4B\n")
	if ty, ok := tt.Lookup("enumType"); !ok || ty.Kind != KindEnum || ty.Size != 4 || ty.Elem.Name != "Int4B" || fmt.Sprint(ty.Enumerators) != "[{ONE 1} {TWO 2} {THREE 3}]" {
		t.Errorf("enumType %v %v", ty, ty.Enumerators)
	}
	// CV_HREG_e is split by LF_INDEX into two field lists: 0x2D1D then its
	// continuation 0x2D1C.
	if ty, ok := tt.Lookup("CV_HREG_e"); !ok || len(ty.Enumerators) < 1000 || ty.Enumerators[0].Name != "CV_ALLREG_ERR" || ty.Enumerators[0].Value != 30000 {
		t.Errorf("CV_HREG_e: %v", ty)
	} else if e := ty.Enumerators[len(ty.Enumerators)-1]; e.Name == "" {
		t.Errorf("CV_HREG_e last %v", e)
	}
	// x64 targetapp: the union _UNWIND_CODE with 4-bit fields at byte 1.
	tt = openTypes(t, tpiPDBs[5])
	if ty, ok := tt.Lookup("_UNWIND_CODE"); !ok || ty.Kind != KindUnion || ty.Size != 2 || layout(ty) != "+0x000 CodeOffset : UChar\n+0x001 UnwindOp : UChar bits 0,4\n+0x001 OpInfo : UChar bits 4,4\n+0x000 FrameOffset : Uint2B\n" {
		t.Errorf("_UNWIND_CODE %v\n%s", ty, layout(ty))
	}
	if ty, ok := tt.LookupFold("_unwind_code"); !ok || ty.Name != "_UNWIND_CODE" {
		t.Errorf("LookupFold: %v", ty)
	}
	var names []string
	for _, ty := range tt.Match("_tp_c*") {
		names = append(names, ty.Name)
	}
	if strings.Join(names, ",") != "_TP_CALLBACK_ENVIRON_V3,_TP_CALLBACK_ENVIRON_V3::<unnamed-type-u>,_TP_CALLBACK_ENVIRON_V3::<unnamed-type-u>::<unnamed-type-s>,_TP_CALLBACK_INSTANCE,_TP_CALLBACK_PRIORITY,_TP_CLEANUP_GROUP" {
		t.Errorf("Match(_tp_*) = %v", names)
	}
}

func TestSimpleTypes(t *testing.T) {
	for ti, want := range map[uint32]string{
		0x0003: "Void", 0x0070: "Char", 0x0020: "UChar", 0x0071: "Wchar", 0x0011: "Int2B", 0x0021: "Uint2B",
		0x0074: "Int4B", 0x0075: "Uint4B", 0x0012: "Int4B", 0x0022: "Uint4B", 0x0013: "Int8B", 0x0023: "Uint8B",
		0x0030: "Bool", 0x0040: "Float", 0x0041: "Double", 0x0403: "Ptr32 Void", 0x0603: "Ptr64 Void",
		0x0670: "Ptr64 Char", 0x0422: "Ptr32 Uint4B",
	} {
		if got := SimpleType(ti).WinDbgName(); got != want {
			t.Errorf("SimpleType(%#x) = %q, want %q", ti, got, want)
		}
	}
	if s := SimpleType(0x0603); s.Size != 8 || s.Elem.Base != BaseVoid {
		t.Errorf("%v", s)
	}
	if s := SimpleType(0x0074); !s.Signed || s.Size != 4 || s.CName != "int" || !s.IsInteger() {
		t.Errorf("%v", s)
	}
	if s := SimpleType(0x00ee); s.Kind != KindNone {
		t.Errorf("unknown simple type %v", s)
	}
}

// llvm-pdbutil "dump -types" records, as much as the comparison needs.
type llvmRec struct {
	leaf, name, unique string
	fwdTo              uint32 // forward ref (-> 0x...) or (<- 0x...): the definition
	fwd                bool
	size               uint64
	ref, elem          uint32 // referent / element / return / underlying
	fieldList          uint32
	kind               string // ptr32, ptr64
	bitOff, bits       int
	members            []llvmMember
	cont               uint32 // LF_INDEX continuation
	nparams            int
}

type llvmMember struct {
	leaf, name string
	typ        uint32
	offset     uint64
	value      int64
}

var (
	reLRec    = regexp.MustCompile("^\\s+0x([0-9A-F]+) \\| (LF_[A-Z0-9_]+) \\[size = \\d+\\](?: `(.*)`)?$")
	reLMember = regexp.MustCompile("^\\s+- (LF_[A-Z_]+)(.*)$")
	reLName   = regexp.MustCompile("name = `([^`]*)`")
	reLType   = regexp.MustCompile(`(?:^|[ \[,])[Tt]ype = 0x([0-9A-F]+)`)
	reLOffset = regexp.MustCompile(`offset = (\d+)`)
	reLCont   = regexp.MustCompile(`continuation = 0x([0-9A-F]+)`)
	reLEnum   = regexp.MustCompile(`^\s+- LF_ENUMERATE \[(.*) = (-?\d+)\]$`)
	reHex     = regexp.MustCompile(`0x([0-9A-F]+)`)
)

func hexU32(s string) uint32 { v, _ := strconv.ParseUint(s, 16, 32); return uint32(v) }

func parseLLVMTypes(t *testing.T, out string) map[uint32]*llvmRec {
	recs := map[uint32]*llvmRec{}
	var cur *llvmRec
	var lastMember *llvmMember
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	after := func(line, key string) string {
		i := strings.Index(line, key)
		if i < 0 {
			return ""
		}
		return line[i+len(key):]
	}
	for sc.Scan() {
		line := sc.Text()
		if m := reLRec.FindStringSubmatch(line); m != nil {
			cur = &llvmRec{leaf: m[2], name: m[3]}
			recs[hexU32(m[1])] = cur
			lastMember = nil
			continue
		}
		if cur == nil {
			continue
		}
		trim := strings.TrimSpace(line)
		if m := reLEnum.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseInt(m[2], 10, 64)
			if m[2][0] != '-' {
				u, _ := strconv.ParseUint(m[2], 10, 64)
				v = int64(u)
			}
			cur.members = append(cur.members, llvmMember{leaf: "LF_ENUMERATE", name: m[1], value: v})
			continue
		}
		if strings.HasPrefix(trim, "- LF_") {
			m := reLMember.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("unparsed member line %q", line)
			}
			mem := llvmMember{leaf: m[1]}
			if n := reLName.FindStringSubmatch(m[2]); n != nil {
				mem.name = n[1]
			}
			if n := reLType.FindStringSubmatch(m[2]); n != nil {
				mem.typ = hexU32(n[1])
			}
			if n := reLOffset.FindStringSubmatch(m[2]); n != nil {
				mem.offset, _ = strconv.ParseUint(n[1], 10, 64)
			}
			if n := reLCont.FindStringSubmatch(m[2]); n != nil {
				cur.cont = hexU32(n[1])
				continue
			}
			cur.members = append(cur.members, mem)
			lastMember = &cur.members[len(cur.members)-1]
			continue
		}
		// Continuation lines of a member (LF_BCLASS, LF_ONEMETHOD, LF_VBCLASS).
		if lastMember != nil {
			switch {
			case strings.HasPrefix(trim, "type = 0x") && lastMember.leaf == "LF_BCLASS":
				lastMember.typ = hexU32(reHex.FindStringSubmatch(trim)[1])
				lastMember.offset, _ = strconv.ParseUint(strings.Split(after(trim, "offset = "), ",")[0], 10, 64)
			case strings.HasPrefix(trim, "base = 0x"):
				lastMember.typ = hexU32(reHex.FindStringSubmatch(trim)[1])
			}
			continue
		}
		switch cur.leaf {
		case "LF_POINTER", "LF_MODIFIER":
			if s := after(trim, "referent = 0x"); s != "" {
				cur.ref = hexU32(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })[0])
			}
			if s := after(trim, "kind = "); s != "" {
				cur.kind = s
			}
		case "LF_ARRAY":
			if s := after(trim, "size: "); s != "" {
				cur.size, _ = strconv.ParseUint(strings.Split(s, ",")[0], 10, 64)
				cur.elem = hexU32(reHex.FindStringSubmatch(after(trim, "element type: "))[1])
			}
		case "LF_BITFIELD":
			if s := after(trim, "type = 0x"); s != "" {
				cur.ref = hexU32(strings.Fields(s)[0])
				cur.bitOff, _ = strconv.Atoi(strings.Split(after(trim, "bit offset = "), ",")[0])
				cur.bits, _ = strconv.Atoi(after(trim, "# bits = "))
			}
		case "LF_CLASS", "LF_STRUCTURE", "LF_UNION", "LF_INTERFACE", "LF_ENUM":
			if s := after(trim, "unique name: `"); s != "" {
				cur.unique = strings.TrimSuffix(s, "`")
			}
			if s := after(trim, "field list: 0x"); s != "" {
				cur.fieldList = hexU32(strings.Split(s, ",")[0])
			}
			if s := after(trim, "underlying type: 0x"); s != "" {
				cur.ref = hexU32(strings.Fields(s)[0])
			}
			if strings.HasPrefix(trim, "options:") {
				cur.fwd = strings.Contains(trim, "forward ref")
				for _, arrow := range []string{"forward ref (-> 0x", "forward ref (<- 0x"} {
					if s := after(trim, arrow); s != "" {
						cur.fwdTo = hexU32(strings.Split(s, ")")[0])
					}
				}
				if s := after(trim, "sizeof "); s != "" {
					cur.size, _ = strconv.ParseUint(s, 10, 64)
				}
			}
		case "LF_PROCEDURE", "LF_MFUNCTION":
			if s := after(trim, "return type = 0x"); s != "" {
				cur.ref = hexU32(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })[0])
				cur.nparams, _ = strconv.Atoi(strings.Split(after(trim, "# args = "), ",")[0])
			}
		}
	}
	return recs
}

// TestTPIOracle compares every type record of the fixture and corpus PDBs
// with llvm-pdbutil's dump: pointers, arrays, structure/class/union/enum
// definitions with each member (offset, type, bitfield), static members,
// base classes, vfptrs, enumerators, methods and functions.
func TestTPIOracle(t *testing.T) {
	tool, err := exec.LookPath("llvm-pdbutil")
	if err != nil {
		t.Skip("llvm-pdbutil not installed; TestTPIFacts pins what it showed")
	}
	for _, rel := range tpiPDBs {
		t.Run(filepath.Base(filepath.Dir(rel))+"/"+filepath.Base(rel), func(t *testing.T) {
			path := tpiPath(t, rel)
			out, err := exec.Command(tool, "dump", "-types", path).Output()
			if err != nil {
				t.Fatal(err)
			}
			recs := parseLLVMTypes(t, string(out))
			tt := openTypes(t, rel)
			if len(recs) != tt.Len() {
				t.Errorf("llvm shows %d records, we have %d", len(recs), tt.Len())
			}
			compareTPI(t, tt, recs)
		})
	}
}

func compareTPI(t *testing.T, tt *TypeTable, recs map[uint32]*llvmRec) {
	errs := 0
	fail := func(format string, a ...any) {
		errs++
		if errs <= 20 {
			t.Errorf(format, a...)
		}
	}
	// resolve follows llvm's modifiers and forward references.
	resolve := func(ti uint32) uint32 {
		for i := 0; i < 32 && ti >= 0x1000; i++ {
			r := recs[ti]
			switch {
			case r == nil:
				return ti
			case r.leaf == "LF_MODIFIER":
				ti = r.ref
			case r.fwd && r.fwdTo != 0:
				ti = r.fwdTo
			default:
				return ti
			}
		}
		return ti
	}
	// sig identifies a type across both sides: structures by name and size
	// (duplicate definitions of one type may differ in index), the rest by
	// resolved index.
	llvmSig := func(ti uint32) string {
		ti = resolve(ti)
		if r := recs[ti]; r != nil {
			switch r.leaf {
			case "LF_CLASS", "LF_STRUCTURE", "LF_UNION", "LF_INTERFACE":
				return fmt.Sprintf("udt %s %d", r.name, r.size)
			case "LF_ENUM":
				return "enum " + r.name
			}
		}
		return fmt.Sprintf("0x%x", ti)
	}
	ourSig := func(ty *Type) string {
		switch {
		case ty == nil:
			return "nil"
		case ty.Kind.IsUDT():
			return fmt.Sprintf("udt %s %d", ty.Name, ty.Size)
		case ty.Kind == KindEnum:
			return "enum " + ty.Name
		}
		return fmt.Sprintf("0x%x", ty.Index)
	}
	checked := map[string]int{}
	for ti, r := range recs {
		i := ti - tt.begin
		if ti < tt.begin || ti >= tt.end {
			fail("0x%x outside our range", ti)
			continue
		}
		ty := tt.types[i]
		switch r.leaf {
		case "LF_POINTER":
			want := uint64(4)
			if r.kind == "ptr64" {
				want = 8
			}
			if ty == nil || ty.Kind != KindPointer || ty.Size != want || ourSig(ty.Elem) != llvmSig(r.ref) {
				fail("0x%x pointer: %v elem %s, llvm %s -> %s", ti, ty, ourSig(ty.Elem), r.kind, llvmSig(r.ref))
			}
		case "LF_ARRAY":
			if ty == nil || ty.Kind != KindArray || ty.Size != r.size || ourSig(ty.Elem) != llvmSig(r.elem) {
				fail("0x%x array: %v, llvm size %d elem %s", ti, ty, r.size, llvmSig(r.elem))
			}
		case "LF_PROCEDURE", "LF_MFUNCTION":
			if ty == nil || ty.Kind != KindFunction || ourSig(ty.Elem) != llvmSig(r.ref) || len(ty.Params) != r.nparams {
				fail("0x%x function: %v returns %s params %d, llvm %s %d", ti, ty, ourSig(ty.Elem), len(ty.Params), llvmSig(r.ref), r.nparams)
			}
		case "LF_CLASS", "LF_STRUCTURE", "LF_UNION", "LF_INTERFACE", "LF_ENUM":
			if ty == nil || ty.Name != r.name || ty.UniqueName != r.unique || ty.Forward != r.fwd || r.leaf != "LF_ENUM" && ty.Size != r.size {
				fail("0x%x %s %q: ours %v unique %q fwd %v; llvm unique %q fwd %v size %d", ti, r.leaf, r.name, ty, ty.UniqueName, ty.Forward, r.unique, r.fwd, r.size)
				continue
			}
			if r.fwd {
				continue
			}
			// The llvm member list, with continuations.
			var mems []llvmMember
			seen := map[uint32]bool{}
			for fl := r.fieldList; fl != 0 && !seen[fl]; {
				seen[fl] = true
				lr := recs[fl]
				if lr == nil {
					break
				}
				mems = append(mems, lr.members...)
				fl = lr.cont
			}
			if r.leaf == "LF_ENUM" {
				if ourSig(ty.Elem) != llvmSig(r.ref) {
					fail("0x%x enum underlying %s, llvm %s", ti, ourSig(ty.Elem), llvmSig(r.ref))
				}
				var want []Enumerator
				for _, m := range mems {
					want = append(want, Enumerator{m.name, m.value})
				}
				if fmt.Sprint(want) != fmt.Sprint(ty.Enumerators) {
					fail("0x%x enum %s: %d enumerators, llvm %d", ti, r.name, len(ty.Enumerators), len(want))
				}
				checked["enumerator"] += len(want)
				continue
			}
			var want, got []string
			var methods []string
			for _, m := range mems {
				switch m.leaf {
				case "LF_MEMBER":
					s := fmt.Sprintf("member %s +%d %s", m.name, m.offset, llvmSig(m.typ))
					if br := recs[resolve(m.typ)]; br != nil && br.leaf == "LF_BITFIELD" {
						s = fmt.Sprintf("member %s +%d %s bits %d,%d", m.name, m.offset, llvmSig(br.ref), br.bitOff, br.bits)
					}
					want = append(want, s)
				case "LF_STMEMBER":
					want = append(want, fmt.Sprintf("static %s %s", m.name, llvmSig(m.typ)))
				case "LF_BCLASS":
					want = append(want, fmt.Sprintf("base +%d %s", m.offset, llvmSig(m.typ)))
				case "LF_VBCLASS", "LF_IVBCLASS":
					want = append(want, "vbase "+llvmSig(m.typ))
				case "LF_VFUNCTAB":
					want = append(want, "vfptr "+llvmSig(m.typ))
				case "LF_ONEMETHOD", "LF_METHOD":
					methods = append(methods, m.name)
				}
			}
			for _, f := range ty.Fields {
				switch f.Kind {
				case FieldMember:
					s := fmt.Sprintf("member %s +%d %s", f.Name, f.Offset, ourSig(f.Type))
					if f.BitLen > 0 {
						s += fmt.Sprintf(" bits %d,%d", f.BitPos, f.BitLen)
					}
					got = append(got, s)
				case FieldStatic:
					got = append(got, fmt.Sprintf("static %s %s", f.Name, ourSig(f.Type)))
				case FieldBase:
					got = append(got, fmt.Sprintf("base +%d %s", f.Offset, ourSig(f.Type)))
				case FieldVirtualBase:
					got = append(got, "vbase "+ourSig(f.Type))
				case FieldVFTable:
					got = append(got, "vfptr "+ourSig(f.Type))
				}
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				fail("0x%x %s members:\n%s\nllvm:\n%s", ti, r.name, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if strings.Join(methods, ",") != strings.Join(ty.Methods, ",") {
				fail("0x%x %s methods %v, llvm %v", ti, r.name, ty.Methods, methods)
			}
			checked["udt"]++
			checked["field"] += len(got)
		}
		checked[r.leaf]++
	}
	t.Logf("checked %v; %d mismatches", checked, errs)
}

// tpiBuilder writes a TPI stream: the 56-byte header and records.
type tpiBuilder struct {
	recs bytes.Buffer
	n    uint32
}

func (b *tpiBuilder) add(leaf uint16, payload ...[]byte) uint32 {
	var p []byte
	for _, x := range payload {
		p = append(p, x...)
	}
	for (len(p)+4)%4 != 0 {
		p = append(p, byte(0xf0+(4-(len(p)+4)%4)))
	}
	binary.Write(&b.recs, binary.LittleEndian, uint16(len(p)+2))
	binary.Write(&b.recs, binary.LittleEndian, leaf)
	b.recs.Write(p)
	b.n++
	return 0x1000 + b.n - 1
}

func (b *tpiBuilder) bytes() []byte {
	h := make([]byte, 56)
	le := binary.LittleEndian
	le.PutUint32(h, 20040203)
	le.PutUint32(h[4:], 56)
	le.PutUint32(h[8:], 0x1000)
	le.PutUint32(h[12:], 0x1000+b.n)
	le.PutUint32(h[16:], uint32(b.recs.Len()))
	return append(h, b.recs.Bytes()...)
}

func u16b(v uint16) []byte  { return binary.LittleEndian.AppendUint16(nil, v) }
func u32b(v uint32) []byte  { return binary.LittleEndian.AppendUint32(nil, v) }
func cstrb(s string) []byte { return append([]byte(s), 0) }

// Damaged and hostile streams stay bounded: modifier and LF_INDEX loops,
// self-referencing pointers and structures, absurd counts, truncation.
func TestTPICorrupt(t *testing.T) {
	var b tpiBuilder
	selfMod := b.add(lfModifier, u32b(0x1000), u16b(1))                                    // 0x1000: const of itself
	selfPtr := b.add(lfPointer, u32b(0x1001), u32b(0x0c|8<<13))                            // 0x1001: pointer to itself
	loopFL := b.add(lfFieldList, u16b(lfMember), u16b(0), u32b(0x74), u16b(4), cstrb("a"), // 0x1002
		u16b(lfIndex), u16b(0), u32b(0x1002)) // continuation: itself
	node := b.add(lfStructure, u16b(1), u16b(0), u32b(loopFL), u32b(0), u32b(0), u16b(8), cstrb("node"))              // 0x1003
	bigArr := b.add(lfArray, u32b(node), u32b(0x23), u16b(lfUQuadword), []byte{0, 0, 0, 0, 0, 0, 0, 0x80}, cstrb("")) // 0x1004: 2^63 bytes
	selfArr := b.add(lfArray, u32b(0x1005), u32b(0x23), u16b(16), cstrb(""))                                          // 0x1005: array of itself
	badFL := b.add(lfFieldList, u16b(0x1234), u16b(0))                                                                // 0x1006: unknown leaf
	bad := b.add(lfStructure, u16b(1), u16b(0), u32b(badFL), u32b(0), u32b(0), u16b(4), cstrb("bad"))                 // 0x1007
	outside := b.add(lfPointer, u32b(0x9999), u32b(0x0a))                                                             // 0x1008: referent outside
	selfStruct := b.add(lfFieldList, u16b(lfMember), u16b(0), u32b(0x100a), u16b(0), cstrb("me"))                     // 0x1009
	b.add(lfStructure, u16b(1), u16b(0), u32b(selfStruct), u32b(0), u32b(0), u16b(4), cstrb("self"))                  // 0x100a: contains itself
	tt, err := ParseTypes(b.bytes(), "corrupt")
	if err != nil {
		t.Fatal(err)
	}
	if ty, ok := tt.ByIndex(selfMod); ok {
		t.Errorf("self modifier resolved to %v", ty)
	}
	if ty, _ := tt.ByIndex(selfPtr); ty.Elem != ty || ty.WinDbgName() == "" {
		t.Errorf("self pointer %v", ty)
	}
	if ty, _ := tt.Lookup("node"); len(ty.Fields) != 1 {
		t.Errorf("LF_INDEX loop: %d fields", len(ty.Fields))
	}
	if ty, _ := tt.ByIndex(bigArr); ty.Count != 1<<63/8 {
		t.Errorf("big array count %d", ty.Count)
	}
	if ty, _ := tt.ByIndex(selfArr); ty.Count != 1 || !strings.HasSuffix(ty.WinDbgName(), "...") {
		t.Errorf("self array %v %q", ty, ty.WinDbgName())
	}
	if ty, _ := tt.ByIndex(bad); len(ty.Fields) != 0 || len(tt.Warnings()) == 0 {
		t.Errorf("unknown member leaf: %v %v", ty.Fields, tt.Warnings())
	}
	if ty, _ := tt.ByIndex(outside); ty.Elem.Kind != KindNone || ty.Elem.Name != "<type 0x9999>" {
		t.Errorf("outside referent %v", ty.Elem)
	}
	if ty, _ := tt.Lookup("self"); ty.Fields[0].Type != ty {
		t.Errorf("self struct %v", ty.Fields)
	}
	// Truncations: every prefix parses without panicking.
	full := b.bytes()
	for n := 0; n < len(full); n++ {
		tt, err := ParseTypes(full[:n], "cut")
		if n < 56 && err == nil {
			t.Errorf("%d bytes: no error", n)
		}
		if tt != nil {
			exerciseTypes(tt)
		}
	}
	// Header lies.
	h := append([]byte(nil), full...)
	binary.LittleEndian.PutUint32(h[12:], 0x1000+1<<30)
	if tt, err := ParseTypes(h, "count"); err != nil || tt.Len() != int(b.n) || len(tt.Warnings()) == 0 {
		t.Errorf("huge count: %v %v", tt, err)
	}
	binary.LittleEndian.PutUint32(h[4:], 1<<31)
	if _, err := ParseTypes(h, "hdr"); err == nil {
		t.Error("huge header size accepted")
	}
}

// exerciseTypes touches everything a consumer would.
func exerciseTypes(tt *TypeTable) {
	for i := tt.begin; i < tt.end+2; i++ {
		ty, ok := tt.ByIndex(i)
		if !ok {
			continue
		}
		_ = ty.WinDbgName() + ty.CTypeName() + ty.String()
		for _, f := range ty.Fields {
			_ = f.Type.WinDbgName()
		}
		ty.Field("a")
	}
	for _, n := range tt.Names() {
		tt.Lookup(n)
	}
	tt.Match("*")
}

func FuzzTPI(f *testing.F) {
	var b tpiBuilder
	fl := b.add(lfFieldList, u16b(lfMember), u16b(0), u32b(0x74), u16b(4), cstrb("a"),
		u16b(lfBClass), u16b(0), u32b(0x1003), u16b(0),
		u16b(lfVFuncTab), u16b(0), u32b(0x1004),
		u16b(lfEnumerate), u16b(0), u16b(lfLong), u32b(0xffffffff), cstrb("neg"))
	b.add(lfBitfield, u32b(0x22), []byte{3, 2})
	b.add(lfStructure, u16b(1), u16b(0x200), u32b(fl), u32b(0), u32b(0), u16b(8), cstrb("s"), cstrb(".?AUs@@"))
	b.add(lfPointer, u32b(0x1002), u32b(0x0c|8<<13))
	b.add(lfArray, u32b(0x1002), u32b(0x23), u16b(16), cstrb(""))
	b.add(lfEnum, u16b(1), u16b(0), u32b(0x74), u32b(fl), cstrb("e"))
	f.Add(b.bytes())
	if p, err := filepath.Abs(fixtureX64PDB); err == nil {
		if pf, err := Open(p); err == nil {
			if raw, err := pf.readStream(tpiStream); err == nil {
				f.Add(raw)
			}
			pf.Close()
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tt, err := ParseTypes(data, "fuzz")
		if err != nil {
			return
		}
		exerciseTypes(tt)
	})
}

// Globals and typedefs from the symbol record stream (llvm-pdbutil dump
// -globals: S_GDATA32 `g_structTest` type 0x1EAA addr 0004:0376, S_UDT
// `ULONG` 0x0022).
func TestTPIGlobals(t *testing.T) {
	f := openCorpus(t, tpiPDBs[7])
	tt, err := f.Types()
	if err != nil {
		t.Fatal(err)
	}
	g, ok := f.GlobalVariable("g_structTest")
	if ty, _ := tt.ByIndex(g.Type); !ok || !g.HasRVA() || g.Type != 0x1eaa || g.RVA != 0x37178 || ty.Name != "structTest" {
		t.Errorf("g_structTest = %+v %v", g, ty)
	}
	if g, ok := f.GlobalVariable("classChild::m_staticField"); !ok || g.Type != 0x74 {
		t.Errorf("static member %+v %v", g, ok)
	}
	if ti, ok := f.Typedef("ULONG"); !ok || ti != 0x22 {
		t.Errorf("ULONG = %#x %v", ti, ok)
	}
	if _, ok := f.GlobalVariable("no_such_global"); ok {
		t.Error("no_such_global found")
	}
	// The fixture's static member.
	fx, err := Open(fixtureX64PDB)
	if err != nil {
		t.Fatal(err)
	}
	defer fx.Close()
	if g, ok := fx.GlobalVariable("CMMFSerializer::s_openViews"); !ok || g.RVA != 12596 || g.Type != 0x74 {
		t.Errorf("s_openViews = %+v %v", g, ok)
	}
}

// Types and globals load once and may be asked for from many goroutines.
func TestTPIConcurrent(t *testing.T) {
	f, err := Open(fixtureX64PDB)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	done := make(chan *TypeTable)
	for i := 0; i < 8; i++ {
		go func() {
			tt, _ := f.Types()
			f.GlobalVariable("CMMFSerializer::s_openViews")
			tt.Lookup("CMMFSerializer")
			done <- tt
		}()
	}
	first := <-done
	for i := 1; i < 8; i++ {
		if tt := <-done; tt != first {
			t.Error("Types returned different tables")
		}
	}
}

// The per-File cache does not keep a File alive: once it is collected its
// entry goes away.
func TestTPICacheReleased(t *testing.T) {
	count := func() int {
		typeTables.mu.Lock()
		defer typeTables.mu.Unlock()
		return len(typeTables.m)
	}
	before := count()
	func() {
		f, err := Open(fixtureX64PDB)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Types(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}()
	for i := 0; i < 100 && count() > before; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := count(); n > before {
		t.Errorf("%d cache entries remain, %d before", n, before)
	}
}
