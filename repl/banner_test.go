package repl

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"wdb/commands"
	"wdb/dump"
	"wdb/dump/dumpbuild"
)

var update = flag.Bool("update", false, "rewrite testdata/banner/*.golden from the current output")

// corpusDir is ../shared/corpus beside the repository (PRODUCT.md: CI has it).
const corpusDir = "../../shared/corpus"

// corpusPath returns a file of the shared corpus, skipping the test when the
// corpus is not there.
func corpusPath(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(corpusDir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("corpus file %s not available (%v); the shared corpus is expected at %s", rel, err, corpusDir)
	}
	return p
}

// bannerOptions are fixed so goldens do not depend on the environment.
var bannerOptions = Options{Version: "test", SymbolPath: `srv*C:\symbols*https://msdl.microsoft.com/download/symbols`}

// checkGolden compares got with testdata/banner/name.golden (or rewrites it
// with -update).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "banner", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./repl/ -run Banner -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("banner differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// bannerOf prints the banner with the dump's path replaced by <dump>, so the
// goldens do not depend on where the corpus is.
func bannerOf(f *dump.File) string {
	var b bytes.Buffer
	// The session keeps an empty symbol path: the banner must not go to a server in tests.
	s := commands.NewSession(f, io.Discard, io.Discard)
	WriteBanner(&b, s, bannerOptions)
	return strings.ReplaceAll(b.String(), "["+f.Path+"]", "[<dump>]")
}

func TestBannerCorpus(t *testing.T) {
	tests := []struct {
		golden, file string
	}{
		// Win7 SP1 x86 full-memory dump with a breakpoint exception.
		{"simple_fpu", "trailofbits__manticore/tests/memdumps/simple_fpu/simple_fpu.dmp"},
		// Crashpad, Windows 11 x64, access violation, CSD holds the UBR.
		{"stability-report", "rust-minidump__rust-minidump/testdata/stability-report.dmp"},
		// Breakpad, XP SP2 single processor (UP), no time zone.
		{"minidump2", "google__breakpad/src/processor/testdata/minidump2.dmp"},
		// Win7 x64, exception on thread 4.
		{"calc", "radareorg__radare2-testbins/mdmp/calc.dmp"},
		// WOW64 full dump: the WOW64 breakpoint event.
		{"wow64", "ivellioscolin__kdlibcpp/kdlib/tests/dumps/targetapp_stacktest_wow64/targetapp_stacktest_wow64.cab.dmp"},
		// Windows 11 x64, SingleUserTS Personal suite.
		{"sentry-native", "getsentry__sentry-native/tests/fixtures/minidump.dmp"},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			f, err := dump.Open(corpusPath(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			checkGolden(t, tt.golden, bannerOf(f))
		})
	}
}

// The synthetic dumps cover what the corpus lacks: unloaded modules, more
// than 64 modules, a time zone west of UTC with half hours, an unknown
// exception code, no MiscInfo.
func TestBannerSynthetic(t *testing.T) {
	tests := []struct {
		golden string
		build  func(b *dumpbuild.Builder)
	}{
		{"synthetic-x64", func(b *dumpbuild.Builder) {
			b.TimeDateStamp(uint32(time.Date(2024, 3, 5, 12, 0, 1, 0, time.UTC).Unix()))
			b.Misc(dumpbuild.MiscInfo{Level: 4, PID: 0x1a2c,
				CreateTime:  uint32(time.Date(2024, 3, 3, 9, 58, 0, 0, time.UTC).Unix()),
				TimeZone:    dumpbuild.TimeZone{Bias: 210}, // UTC-3:30
				BuildString: "19041.1.amd64fre.vb_release.191206-1406"})
			for i := range 70 {
				b.Module(dumpbuild.Module{Name: fmt.Sprintf(`C:\m\mod%d.dll`, i), Base: 0x7ff800000000 + uint64(i)<<20, Size: 0x10000})
			}
			b.Unloaded(dumpbuild.UnloadedModule{Name: "gone.dll", Base: 0x10000000, Size: 0x1000})
			b.Unloaded(dumpbuild.UnloadedModule{Name: "gone2.dll", Base: 0x10010000, Size: 0x1000})
			b.Thread(dumpbuild.Thread{ID: 0x2bcc})
			b.Exception(dumpbuild.Exception{ThreadID: 0x2bcc, Code: 0xc0000374, Address: 0x7ff800001234})
		}},
		{"synthetic-x86-up", func(b *dumpbuild.Builder) {
			si := dumpbuild.DefaultSystem(dumpbuild.X86)
			si.NumberOfProcessors = 1
			si.Major, si.Minor, si.Build, si.CSD = 6, 1, 7601, "Service Pack 1"
			si.ProductType, si.SuiteMask = 3, 0x110
			b.System(si)
			b.TimeDateStamp(uint32(time.Date(2015, 4, 9, 8, 53, 8, 0, time.UTC).Unix()))
			b.Module(dumpbuild.Module{Name: `C:\app\app.exe`, Base: 0x400000, Size: 0x10000})
			b.Thread(dumpbuild.Thread{ID: 0x10})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			arch := dumpbuild.X64
			if strings.Contains(tt.golden, "x86") {
				arch = dumpbuild.X86
			}
			b := dumpbuild.New(arch)
			tt.build(b)
			data, err := b.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			f, err := dump.OpenBytes(data, tt.golden+".dmp")
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tt.golden, bannerOf(f))
		})
	}
}

func TestExceptionName(t *testing.T) {
	for code, want := range map[uint32]string{
		0xc0000005: "Access violation",
		0x80000003: "Break instruction exception",
		0xc00000fd: "Stack overflow",
		0xc0000409: "Security check failure or stack buffer overrun",
		0xe06d7363: "C++ EH exception",
		0x4000001f: "WOW64 breakpoint",
		0x8898008d: "Unknown exception",
	} {
		if got := dump.ExceptionName(code); got != want {
			t.Errorf("ExceptionName(%08x) = %q, want %q", code, got, want)
		}
	}
}

func TestWriteDots(t *testing.T) {
	var b bytes.Buffer
	writeDots(&b, 64+43)
	want := strings.Repeat(".", 64) + "\n" + strings.Repeat(".", 43) + "\n"
	if b.String() != want {
		t.Errorf("writeDots(107) = %q", b.String())
	}
	b.Reset()
	writeDots(&b, 0)
	if b.Len() != 0 {
		t.Errorf("writeDots(0) = %q, want nothing", b.String())
	}
}

func TestWarningsGoToStderr(t *testing.T) {
	f, err := dump.Open(corpusPath(t, "llvm-mirror__lldb/unittests/Process/minidump/Inputs/bad_duplicate_streams.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(f.Warnings) == 0 {
		t.Skip("the dump reader no longer warns about this file")
	}
	var b bytes.Buffer
	writeWarnings(&b, f)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != len(f.Warnings) {
		t.Fatalf("%d lines for %d warnings:\n%s", len(lines), len(f.Warnings), b.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "WARNING: ") {
			t.Errorf("line without WARNING: prefix: %q", l)
		}
	}
}
