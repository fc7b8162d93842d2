package commands

import (
	"bytes"
	"encoding/binary"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"wdb/dump"
	"wdb/dump/dumpbuild"
)

// .lastevent prints the host clock; transcripts need a fixed one.
func init() {
	eventClock = func() time.Time { return time.Date(2024, 5, 25, 15, 35, 47, 56e6, time.UTC) }
}

func TestEcxrExrGolden(t *testing.T) { runGoldenTopic(t, "exception") }

// builtSession opens the dump a Builder describes.
func builtSession(t *testing.T, b *dumpbuild.Builder) *Session {
	t.Helper()
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := dump.OpenBytes(raw, "built.dmp")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	return NewSession(f, &out, &out)
}

// exceptionDump is an x64 dump whose thread 1 faulted writing 0x10: the
// thread's own context is in the handler, the exception context at the
// fault, and an EXCEPTION_RECORD64 of a fast fail sits in memory.
func exceptionDump(t *testing.T) *Session {
	b := dumpbuild.New(dumpbuild.X64)
	b.Misc(dumpbuild.MiscInfo{Level: 1, PID: 0x1a2c})
	b.Module(dumpbuild.Module{Name: `C:\app\app.exe`, Base: 0x7ff7_00400000, Size: 0x2d000})
	b.Thread(dumpbuild.Thread{ID: 0x100, Regs: map[string]uint64{"rip": 0x7ff7_00401000, "rsp": 0x1000}})
	b.Thread(dumpbuild.Thread{ID: 0x200, Regs: map[string]uint64{"rip": 0x7ff7_00402000, "rsp": 0x2000}})
	b.Exception(dumpbuild.Exception{ThreadID: 0x200, Code: 0xc0000005, Address: 0x7ff7_00401234, Params: []uint64{1, 0x10},
		Regs: map[string]uint64{"rip": 0x7ff7_00401234, "rsp": 0x3000, "rax": 0x10}})
	rec := make([]byte, 32+15*8)
	le := binary.LittleEndian
	le.PutUint32(rec, 0xc0000409)
	le.PutUint32(rec[4:], 1)
	le.PutUint64(rec[16:], 0x7ff7_00401500)
	le.PutUint32(rec[24:], 1)
	le.PutUint64(rec[32:], 7)
	b.Memory(0x5000, rec)
	return builtSession(t, b)
}

func TestExrRecords(t *testing.T) {
	s := exceptionDump(t)
	for _, c := range []struct{ cmd, want string }{
		{".exr -1", "ExceptionAddress: 00007ff700401234 (app+0x0000000000001234)\n" +
			"   ExceptionCode: c0000005 (Access violation)\n" +
			"  ExceptionFlags: 00000000\n" +
			"NumberParameters: 2\n" +
			"   Parameter[0]: 0000000000000001\n" +
			"   Parameter[1]: 0000000000000010\n" +
			"Attempt to write to address 0000000000000010\n"},
		{".exr 5000", "ExceptionAddress: 00007ff700401500 (app+0x0000000000001500)\n" +
			"   ExceptionCode: c0000409 (Security check failure or stack buffer overrun)\n" +
			"  ExceptionFlags: 00000001\n" +
			"NumberParameters: 1\n" +
			"   Parameter[0]: 0000000000000007\n" +
			"Subcode: 0x7 FAST_FAIL_FATAL_APP_EXIT\n"},
		{".exr ffffffffffffffff", ""}, // same as -1, checked below
		{".exr 9000", "Cannot read Exception record @ 00000000`00009000\n"},
		{".exr", "Usage: .exr -1 | .exr <address>\n"},
	} {
		got := run(t, s, c.cmd)
		if c.want == "" {
			c.want = run(t, s, ".exr -1")
		}
		if got != c.want {
			t.Errorf("%s:\n%s\nwant:\n%s", c.cmd, got, c.want)
		}
	}
}

func TestEcxrContext(t *testing.T) {
	s := exceptionDump(t)
	if s.Thread != 1 {
		t.Fatalf("the session should open on the exception thread, is on %d", s.Thread)
	}
	run(t, s, "~0s")
	out := run(t, s, ".ecxr")
	if !strings.Contains(out, "rip=00007ff700401234 rsp=0000000000003000") {
		t.Errorf(".ecxr shows other registers:\n%s", out)
	}
	if s.Thread != 1 {
		t.Errorf(".ecxr left thread %d current, want the exception thread 1", s.Thread)
	}
	if c, ok := s.ScopeContext(); !ok || c.Rip != 0x7ff7_00401234 {
		t.Errorf("scope after .ecxr: %v %+v", ok, c)
	}
	k := run(t, s, "k 1")
	if !strings.HasPrefix(k, "  *** Stack trace for last set context - .thread/.cxr resets it\n") || !strings.Contains(k, "app+0x1234") {
		t.Errorf("k after .ecxr:\n%s", k)
	}
	if got := run(t, s, ".excr"); got != out {
		t.Errorf(".excr differs from .ecxr:\n%s", got)
	}

	b := dumpbuild.New(dumpbuild.X86)
	b.Thread(dumpbuild.Thread{ID: 1, Regs: map[string]uint64{"eip": 0x401000}})
	n := builtSession(t, b)
	if got := run(t, n, ".ecxr"); got != "Minidump doesn't have an exception context\n" {
		t.Errorf(".ecxr without exception: %q", got)
	}
	if got := run(t, n, ".exr -1"); got != "No exception record: the dump has no exception stream\n" {
		t.Errorf(".exr -1 without exception: %q", got)
	}
	if got := run(t, n, ".lastevent"); got != "Last event: 0.1: Break instruction exception - code 80000003 (first/second chance not available)\n"+
		"  debugger time: Sat May 25 15:35:47.056 2024 (UTC + 0:00)\n" {
		t.Errorf(".lastevent without exception: %q", got)
	}
}

func TestLastevent(t *testing.T) {
	s := exceptionDump(t)
	want := "Last event: 1a2c.200: Access violation - code c0000005 (first/second chance not available)\n" +
		"  debugger time: Sat May 25 15:35:47.056 2024 (UTC + 0:00)\n"
	if got := run(t, s, ".lastevent"); got != want {
		t.Errorf(".lastevent:\n%q\nwant\n%q", got, want)
	}
}

// avDumps are the breakpad access-violation dumps (x86 and x64).
var avDumps = []string{
	"ascii_read_av", "ascii_read_av_block_write", "ascii_read_av_clobber_write", "ascii_read_av_conditional",
	"ascii_read_av_then_jmp", "ascii_read_av_xchg_write", "ascii_write_av", "ascii_write_av_arg_to_call",
	"exec_av_on_stack", "null_read_av", "null_write_av", "read_av_clobber_write", "read_av_conditional",
	"read_av_non_null", "write_av_non_null", "write_av_non_canonical", "minidump2", "minidump_32bit_crash_addr",
}

// TestExrAccessViolations checks the decoded access line of .exr -1 on
// every breakpad access-violation dump against the record's parameters,
// and against breakpad's and symbolic's crash reasons where they exist.
func TestExrAccessViolations(t *testing.T) {
	words := map[uint64]string{0: "Attempt to read from address ", 1: "Attempt to write to address ", 8: "Attempt to execute non-executable address "}
	for _, name := range avDumps {
		s := corpusSession(t, stkBreakpadDir+name+".dmp", "")
		e := s.Target.Exception
		out := run(t, s, ".exr -1")
		want := words[e.Parameters[0]] + hexPtr(s.PointerSize(), e.Parameters[1]) + "\n"
		if !strings.HasSuffix(out, want) || !strings.Contains(out, "   ExceptionCode: c0000005 (Access violation)\n") {
			t.Errorf("%s: .exr -1 =\n%s\nwant it to end with %q", name, out, want)
		}
	}
	// Breakpad's own verdict on minidump2.dmp and symbolic's on mini.dmp.
	for _, c := range []struct{ dump, oracle, reason, want string }{
		{stkBreakpadDir + "minidump2.dmp", stkBreakpadDir + "minidump2.stackwalk.out", `Crash reason:  EXCEPTION_ACCESS_VIOLATION_WRITE`, "Attempt to write to address 00000045\n"},
		{stkMiniDump, "getsentry__symbolic/symbolic-minidump/tests/snapshots/test_processor__process_state_windows.snap", `crash_reason: "EXCEPTION_ACCESS_VIOLATION_WRITE"`, "Attempt to write to address 00000045\n"},
	} {
		b, err := os.ReadFile(corpusDump(t, c.oracle))
		if err != nil || !strings.Contains(string(b), c.reason) {
			t.Fatalf("%s does not say %s", c.oracle, c.reason)
		}
		s := corpusSession(t, c.dump, "")
		if out := run(t, s, ".exr -1"); !strings.HasSuffix(out, c.want) {
			t.Errorf("%s: .exr -1 =\n%s", c.dump, out)
		}
	}
	// The symbol of the exception address is padded to the pointer width.
	s := corpusSession(t, stkMiniDump, stkMiniSymbols)
	if out := run(t, s, ".exr -1"); !regexp.MustCompile(`^ExceptionAddress: 002a2a3d \(crash!main\+0x0000012d\)\n`).MatchString(out) {
		t.Errorf("mini.dmp .exr -1 =\n%s", out)
	}
}
