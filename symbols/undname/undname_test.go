package undname

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func init() { strictPanics = true } // a real panic is a bug, not ErrInvalid

// row is one line of a testdata table.
type row struct {
	line                int
	mangled, full, name string
	extra               string // PDB list or note
}

// loadTable reads "mangled \t full \t name [\t extra]" lines; '#' starts a comment.
func loadTable(t testing.TB, path string) []row {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []row
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) < 3 {
			t.Fatalf("%s:%d: want >= 3 columns, got %q", path, n, line)
		}
		r := row{line: n, mangled: c[0], full: c[1], name: c[2]}
		if len(c) > 3 {
			r.extra = c[3]
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// result renders (s, err) as the tables do: "!ERR" for an error.
func result(s string, err error) string {
	if err != nil {
		return "!ERR"
	}
	return s
}

func checkTable(t *testing.T, path string) (n, same int) {
	for _, r := range loadTable(t, path) {
		n++
		if got := result(Full(r.mangled)); got != r.full {
			t.Errorf("%s:%d: Full(%q)\n got  %s\n want %s", path, r.line, r.mangled, got, r.full)
		} else if !strings.HasPrefix(r.extra, "llvm-undname 14:") {
			same++
		}
		if got := result(Name(r.mangled)); got != r.name {
			t.Errorf("%s:%d: Name(%q)\n got  %s\n want %s", path, r.line, r.mangled, got, r.name)
		}
	}
	return n, same
}

// TestCorpusPublics pins every decorated public of the corpus PDBs: Full must
// equal llvm-undname's output for all of them.
func TestCorpusPublics(t *testing.T) {
	n, same := checkTable(t, "testdata/corpus_publics.tsv")
	t.Logf("corpus PDB publics: %d/%d undecorate identically to llvm-undname", same, n)
	if n < 900 {
		t.Errorf("only %d corpus names", n)
	}
}

// TestNames covers fixture-style, STL and special names, LLVM's own test names
// and malformed input; rows with a note differ from llvm-undname on purpose.
func TestNames(t *testing.T) {
	n, same := checkTable(t, "testdata/names.tsv")
	t.Logf("names.tsv: %d names, %d identical to llvm-undname 14", n, same)
	if n < 200 {
		t.Errorf("only %d names", n)
	}
}

// TestWinDbgForms checks the forms WinDbg prints (pdb-symbols.md §1.13,
// windbg-commands.md §6.2-6.3) next to llvm-undname's full undecoration.
func TestWinDbgForms(t *testing.T) {
	tests := []struct{ mangled, full, name string }{
		{"?Open@CMMFSerializer@@QEAAHPEBD@Z", "public: int __cdecl CMMFSerializer::Open(char const *)", "CMMFSerializer::Open"},
		{"?Open@CMMFSerializer@@QEAAHPEBD_K@Z", "public: int __cdecl CMMFSerializer::Open(char const *, unsigned __int64)", "CMMFSerializer::Open"},
		{"??0MessageBuffer@@QEAA@_K@Z", "public: __cdecl MessageBuffer::MessageBuffer(unsigned __int64)", "MessageBuffer::MessageBuffer"},
		{"??1CMMFSerializer@@UEAA@XZ", "public: virtual __cdecl CMMFSerializer::~CMMFSerializer(void)", "CMMFSerializer::~CMMFSerializer"},
		{"?Send@CommunicatorObj@@UEAAXPEBX_K@Z", "public: virtual void __cdecl CommunicatorObj::Send(void const *, unsigned __int64)", "CommunicatorObj::Send"},
		{"?Serialize@CMMFSerializer@@UEAAHPEAXH@Z", "public: virtual int __cdecl CMMFSerializer::Serialize(void *, int)", "CMMFSerializer::Serialize"},
		{"??_7CommunicatorObj@@6B@", "const CommunicatorObj::`vftable'", "CommunicatorObj::`vftable'"},
		{"??_7CAzMixertopoMiniport@@6B@", "const CAzMixertopoMiniport::`vftable'", "CAzMixertopoMiniport::`vftable'"},
		{"??_7?$CComObject@VCDXGIFactory@@@ATL@@6B@", "const ATL::CComObject<class CDXGIFactory>::`vftable'", "ATL::CComObject<CDXGIFactory>::`vftable'"},
		{"??_7Derived@@6BBase@@@", "const Derived::`vftable'{for `Base'}", "Derived::`vftable'{for `Base'}"},
		{"??_GFCB@@UEAAPEAXI@Z", "public: virtual void * __cdecl FCB::`scalar deleting dtor'(unsigned int)", "FCB::`scalar deleting destructor'"},
		{"??_EFCB@@UEAAPEAXI@Z", "public: virtual void * __cdecl FCB::`vector deleting dtor'(unsigned int)", "FCB::`vector deleting destructor'"},
		{"??0?$ConfigEntry@VTimeSpan@Common@@@Common@@QEAA@XZ", "public: __cdecl Common::ConfigEntry<class Common::TimeSpan>::ConfigEntry<class Common::TimeSpan>(void)", "Common::ConfigEntry<Common::TimeSpan>::ConfigEntry<Common::TimeSpan>"},
		{"??1?$ConfigEntry@VTimeSpan@Common@@@Common@@QEAA@XZ", "public: __cdecl Common::ConfigEntry<class Common::TimeSpan>::~ConfigEntry<class Common::TimeSpan>(void)", "Common::ConfigEntry<Common::TimeSpan>::~ConfigEntry<Common::TimeSpan>"},
		{"??_R0?AVCMMFSerializer@@@8", "class CMMFSerializer `RTTI Type Descriptor'", "CMMFSerializer `RTTI Type Descriptor'"},
		{"??_R4CMMFSerializer@@6B@", "const CMMFSerializer::`RTTI Complete Object Locator'", "CMMFSerializer::`RTTI Complete Object Locator'"},
		{"??_R1A@?0A@EA@Base@@8", "Base::`RTTI Base Class Descriptor at (0, -1, 0, 64)'", "Base::`RTTI Base Class Descriptor at (0,-1,0,64)'"},
		{"??_R2Base@@8", "Base::`RTTI Base Class Array'", "Base::`RTTI Base Class Array'"},
		{"??_R3Base@@8", "Base::`RTTI Class Hierarchy Descriptor'", "Base::`RTTI Class Hierarchy Descriptor'"},
		{"??_C@_05CJBACGMB@hello?$AA@", `"hello"`, "`string'"},
		{"??_C@_1K@KFOBIOMM@?$AAT?$AAE?$AAS?$AAT?$AA?$AA@", `L"TEST"`, "`string'"},
		{"?push_back@?$vector@HV?$allocator@H@std@@@std@@QEAAXAEBH@Z", "public: void __cdecl std::vector<int, class std::allocator<int>>::push_back(int const &)", "std::vector<int,std::allocator<int> >::push_back"},
		{"?Helper@?A0x1b2c3d4e@@YAHH@Z", "int __cdecl `anonymous namespace'::Helper(int)", "`anonymous namespace'::Helper"},
		{"?g_header@@3UHeader@@A", "struct Header g_header", "g_header"},
		{"?s_instances@CMMFSerializer@@0HA", "private: static int CMMFSerializer::s_instances", "CMMFSerializer::s_instances"},
		{"??__Eg_comm@@YAXXZ", "void __cdecl `dynamic initializer for 'g_comm''(void)", "`dynamic initializer for 'g_comm''"},
		{"??__Fg_comm@@YAXXZ", "void __cdecl `dynamic atexit destructor for 'g_comm''(void)", "`dynamic atexit destructor for 'g_comm''"},
		{"??2@YAPEAX_K@Z", "void * __cdecl operator new(unsigned __int64)", "operator new"},
		{"??_U@YAPEAX_K@Z", "void * __cdecl operator new[](unsigned __int64)", "operator new[]"},
		{"??HFoo@@QEBA?AV0@AEBV0@@Z", "public: class Foo __cdecl Foo::operator+(class Foo const &) const", "Foo::operator+"},
		{"??BFoo@@QEAAHXZ", "public: int __cdecl Foo::operator int(void)", "Foo::operator int"},
		{"?f@Foo@@W7EAAXXZ", "[thunk]: public: virtual void __cdecl Foo::f`adjustor{8}'(void)", "Foo::f`adjustor{8}'"},
		{"?x@?1??crash@@YAXXZ@4HA", "int `void __cdecl crash(void)'::`2'::x", "`crash'::`2'::x"},
		{"??_B?1??Instance@C@@SAAEAV1@XZ@51", "`public: static class C & __cdecl C::Instance(void)'::`2'::`local static guard'{2}", "`C::Instance'::`2'::`local static guard'{2}"},
		{"??@6f0a2eb2f5a8c03e1f7d35cbbd0c6d8e@", "??@6f0a2eb2f5a8c03e1f7d35cbbd0c6d8e@", "??@6f0a2eb2f5a8c03e1f7d35cbbd0c6d8e@"},
		{"?f@@YGXH@Z", "void __stdcall f(int)", "f"},
		{"?f@@YIXH@Z", "void __fastcall f(int)", "f"},
		{"?f@@YQXH@Z", "void __vectorcall f(int)", "f"},
		{"?f@C@@QAEXH@Z", "public: void __thiscall C::f(int)", "C::f"},
		{"?f@@YAX$$QEAH@Z", "void __cdecl f(int &&)", "f"},
		// dqs output quoted in windbg-commands.md §5: local scopes print as `Class::func'::`N'.
		{"??_7?$_Func_impl_no_alloc@V<lambda_1>@?1??make_reader@Session@@QEAA?AV?$function@$$A6AHXZ@std@@XZ@H$$V@std@@6B@",
			"const std::_Func_impl_no_alloc<class `public: class std::function<int __cdecl(void)> __cdecl Session::make_reader(void)'::`2'::<lambda_1>, int>::`vftable'",
			"std::_Func_impl_no_alloc<`Session::make_reader'::`2'::<lambda_1>,int>::`vftable'"},
		// Back-reference 0 names the template itself inside its own arguments (found by FuzzFull).
		{"??0?$Foo@V0N@@@@QEAA@XZ", "public: __cdecl Foo<class N::Foo>::Foo<class N::Foo>(void)", "Foo<N::Foo>::Foo<N::Foo>"},
	}
	for _, tt := range tests {
		if got, err := Full(tt.mangled); err != nil || got != tt.full {
			t.Errorf("Full(%q) = %q, %v; want %q", tt.mangled, got, err, tt.full)
		}
		if got, err := Name(tt.mangled); err != nil || got != tt.name {
			t.Errorf("Name(%q) = %q, %v; want %q", tt.mangled, got, err, tt.name)
		}
	}
}

func TestNotDecorated(t *testing.T) {
	for _, s := range []string{"", "?", "main", "_main", "_CreateFileW@28", "@__security_check_cookie@4", "__imp_?f@@YAXXZ", "_CT??_R0?AVexception@std@@@8??0exception@std@@QEAA@AEBV01@@Z24"} {
		if _, err := Full(s); !errors.Is(err, ErrNotDecorated) {
			t.Errorf("Full(%q) err = %v, want ErrNotDecorated", s, err)
		}
		if _, err := Name(s); !errors.Is(err, ErrNotDecorated) {
			t.Errorf("Name(%q) err = %v, want ErrNotDecorated", s, err)
		}
	}
	for _, s := range []string{"??", "?x", "?x@@3", "??_7X@@", "??$f@H"} {
		if _, err := Full(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("Full(%q) err = %v, want ErrInvalid", s, err)
		}
	}
}

func TestIsDecorated(t *testing.T) {
	for s, want := range map[string]bool{
		"?f@@YAXXZ": true, "??_7C@@6B@": true, "??@abc@": true,
		"?": false, "": false, "main": false, "_main": false, "_f@4": false, "@f@8": false, ".?AVC@@": false,
	} {
		if got := IsDecorated(s); got != want {
			t.Errorf("IsDecorated(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestStripC(t *testing.T) {
	for in, want := range map[string]string{
		"_main":                        "main",
		"_CreateProcessW@40":           "CreateProcessW",
		"_GetCurrentProcess@0":         "GetCurrentProcess",
		"@__security_check_cookie@4":   "__security_check_cookie",
		"@_RTC_CheckStackVars@8":       "_RTC_CheckStackVars",
		"___security_cookie":           "__security_cookie",
		"__imp__CreateSemaphoreW@16":   "_imp__CreateSemaphoreW",
		"VecFunc@@16":                  "VecFunc",
		"IsProcessorFeaturePresent":    "IsProcessorFeaturePresent",
		"_":                            "_",
		"@":                            "@",
		"_f@":                          "_f@",
		"@f@":                          "@f@",
		"_1abc":                        "_1abc",
		"__real@3f8ccccd":              "__real@3f8ccccd",
		"__IMPORT_DESCRIPTOR_api-ms-x": "__IMPORT_DESCRIPTOR_api-ms-x",
		"?f@@YAXXZ":                    "?f@@YAXXZ",
		"_CT??_R0PEAX@88":              "_CT??_R0PEAX@88",
		"___@@_PchSym_@00@Ufhvih@4B2008FD98C1DD4": "___@@_PchSym_@00@Ufhvih@4B2008FD98C1DD4",
	} {
		if got := StripC(in); got != want {
			t.Errorf("StripC(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDisplay(t *testing.T) {
	tests := []struct {
		raw  string
		x86  bool
		want string
	}{
		{"?Open@CMMFSerializer@@QEAAHPEBD@Z", false, "CMMFSerializer::Open"},
		{"?Open@CMMFSerializer@@QAEHPBD@Z", true, "CMMFSerializer::Open"},
		{"_main", true, "main"},
		{"_main", false, "_main"},
		{"_Sleep@4", true, "Sleep"},
		{"__chkstk", false, "__chkstk"},
		{"?broken@@YA", false, "?broken@@YA"},
	}
	for _, tt := range tests {
		if got := Display(tt.raw, tt.x86); got != tt.want {
			t.Errorf("Display(%q, %v) = %q, want %q", tt.raw, tt.x86, got, tt.want)
		}
	}
}

// TestLimits feeds inputs built to recurse deeply or to blow up through
// back-references; they must fail (or succeed) quickly, never hang or crash.
func TestLimits(t *testing.T) {
	deepTmpl := "?x@@3" + strings.Repeat("V?$A@", 5000) + "H" + strings.Repeat("@@", 5000) + "A"
	deepPtr := "?x@@3" + strings.Repeat("PEA", 20000) + "HA"
	// Each function-pointer parameter repeats the previous one 10 times.
	blowup := "?f@@YAXP6AXPEAH@Z"
	for i := 1; i < 9; i++ {
		blowup += "P6AX" + strings.Repeat(string(rune('0'+i)), 9) + "@Z"
	}
	blowup += "@Z"
	tmplBlowup := "?f@@YAXV?$A@" + strings.Repeat("V?$B@P6AXPEAH@ZP6AX000000000@Z@@", 200) + "@@@Z"
	for name, s := range map[string]string{
		"deep templates": deepTmpl, "deep pointers": deepPtr,
		"param back-reference blow-up": blowup, "template blow-up": tmplBlowup,
		"long garbage": "??" + strings.Repeat("?$", 100000),
	} {
		start := time.Now()
		full, err1 := Full(s)
		_, err2 := Name(s)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: took %v", name, d)
		}
		if err1 == nil && len(full) > maxOutput {
			t.Errorf("%s: %d bytes of output", name, len(full))
		}
		t.Logf("%s: Full err=%v Name err=%v", name, err1, err2)
	}
	if _, err := Full(deepTmpl); err == nil {
		t.Errorf("deep templates: want an error from the depth limit")
	}
}

// FuzzFull checks that no input panics or takes unbounded time.
func FuzzFull(f *testing.F) {
	for _, path := range []string{"testdata/corpus_publics.tsv", "testdata/names.tsv"} {
		for _, r := range loadTable(f, path) {
			f.Add(r.mangled)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		full, err := Full(s)
		if err == nil && len(full) > maxOutput {
			t.Fatalf("Full(%q): %d bytes", s, len(full))
		}
		Name(s)
		Display(s, true)
		if IsDecorated(s) && err == nil {
			if _, err := Name(s); err != nil {
				t.Fatalf("Full(%q) ok but Name failed: %v", s, err)
			}
		}
	})
}

func BenchmarkName(b *testing.B) {
	rows := loadTable(b, "testdata/corpus_publics.tsv")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Name(rows[i%len(rows)].mangled)
	}
}
