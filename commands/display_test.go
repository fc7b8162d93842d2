package commands

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"wdb/dump"
	"wdb/dump/dumpbuild"
)

// Golden transcripts of the d* family over real dumps: x86 Windows 7
// (simple_parse: PEB at 7ffff000, KUSER_SHARED_DATA at 7ffe0000 with a gap
// before 7fffe000) and x64 Windows 11 (stability-report: a PEB of which the
// dump holds only 0x354 bytes, module-resolved stack values for dqs/dps).
func TestDisplayGolden(t *testing.T) {
	runGolden(t, simpleParseDump, "simple_parse_display.txt")
	runGolden(t, goldenStability, "stability-report_display.txt")
}

// dispTestDump builds an x64 dump whose memory has known bytes, a gap and a
// module, for the unit tests below.
//
//	0x10000  0x40 bytes: 00 01 02 ... 3f
//	0x10040  not in the dump
//	0x10100  "Hello, world!\0" then a pointer into the module
//	0x20000  a UTF-16 string of 40 'A'..'Z' letters with no terminator, then a gap
//	module test.dll at 0x7ff600000000
func dispTestDump(t *testing.T) (*Session, *bytes.Buffer) {
	t.Helper()
	b := dumpbuild.New(dumpbuild.X64)
	seq := make([]byte, 0x40)
	for i := range seq {
		seq[i] = byte(i)
	}
	b.Memory(0x10000, seq)
	hello := append([]byte("Hello, world!\x00\x00\x00"), binary.LittleEndian.AppendUint64(nil, 0x7ff600001234)...)
	hello = binary.LittleEndian.AppendUint64(hello, 0x7ff600000000)
	b.Memory(0x10100, hello)
	var wide []byte
	for i := 0; i < 40; i++ {
		wide = append(wide, byte('A'+i%26), 0)
	}
	b.Memory(0x20000, wide)
	b.Module(dumpbuild.Module{Name: `C:\test\test.dll`, Base: 0x7ff600000000, Size: 0x10000})
	b.Thread(dumpbuild.Thread{ID: 1, StackStart: 0x30000, Stack: make([]byte, 0x100),
		Regs: map[string]uint64{"rsp": 0x30000, "rip": 0x10000}})
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := dump.OpenBytes(raw, "disp.dmp")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	return NewSession(f, &out, &out), &out
}

func dispRun(s *Session, out *bytes.Buffer, cmd string) string {
	out.Reset()
	s.Execute(cmd)
	return out.String()
}

func TestDisplayFormats(t *testing.T) {
	s, out := dispTestDump(t)
	for _, c := range []struct{ cmd, want string }{
		// A line that runs off the captured bytes: ?? per byte, '?' in the
		// character column, the column still aligned.
		{"db 10038 L10", "00000000`00010038  38 39 3a 3b 3c 3d 3e 3f-?? ?? ?? ?? ?? ?? ?? ??  89:;<=>?????????\n"},
		{"dd 10038 L4", "00000000`00010038  3b3a3938 3f3e3d3c ???????? ????????\n"},
		{"dq 10038 L2", "00000000`00010038  3f3e3d3c`3b3a3938 ????????`????????\n"},
		{"dw 1003c L4", "00000000`0001003c  3d3c 3f3e ???? ????\n"},
		{"dc 10100 L5", "00000000`00010100  6c6c6548 77202c6f 646c726f 00000021  Hello, world!...\n" +
			"00000000`00010110  00001234                             4...\n"},
		// A dword of which the dump holds only some bytes is unreadable.
		{"dd 1003e L1", "00000000`0001003e  ????????\n"},
		// Unaligned starts are kept: lines advance from the start address.
		{"db 10001 L12", "00000000`00010001  01 02 03 04 05 06 07 08-09 0a 0b 0c 0d 0e 0f 10  ................\n" +
			"00000000`00010011  11 12                                            ..\n"},
		{"dyb 10000 L5", "                   76543210 76543210 76543210 76543210\n" +
			"                   -------- -------- -------- --------\n" +
			"00000000`00010000  00000000 00000001 00000010 00000011  00 01 02 03\n" +
			"00000000`00010004  00000100                             04\n"},
		{"dqs 10110 L3", "00000000`00010110  00007ff6`00001234 test+0x1234\n" +
			"00000000`00010118  00007ff6`00000000 test\n" +
			"00000000`00010120  ????????`????????\n"},
		{"da 10100", "00000000`00010100  \"Hello, world!\"\n"},
		{"da 10100 L5", "00000000`00010100  \"Hello\"\n"},
		{"da 10040", "00000000`00010040  ????????\n"},
		// No terminator: the string stops where the dump's bytes stop.
		{"du 20000", "00000000`00020000  \"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF\"\n" +
			"00000000`00020040  \"GHIJKLMN\"\n"},
		{"du 20000 L3", "00000000`00020000  \"ABC\"\n"},
		// /c sets the items per line.
		{"db /c 8 10000 L10", "00000000`00010000  00 01 02 03 04 05 06 07  ........\n" +
			"00000000`00010008  08 09 0a 0b 0c 0d 0e 0f  ........\n"},
		{"dd /c1 10000 L2", "00000000`00010000  03020100\n00000000`00010004  07060504\n"},
	} {
		if got := dispRun(s, out, c.cmd); got != c.want {
			t.Errorf("%s:\ngot:\n%s\nwant:\n%s", c.cmd, got, c.want)
		}
	}
}

// Enter (an empty line) and argument-less d* continue after the last
// display; d repeats the last form; the first display without an address
// starts at the instruction pointer (dps: the stack pointer).
func TestDisplayContinuation(t *testing.T) {
	s, out := dispTestDump(t)
	if got, want := dispRun(s, out, "dd"), "00000000`00010000  03020100 07060504 0b0a0908 0f0e0d0c\n"; !strings.HasPrefix(got, want) {
		t.Errorf("dd at rip:\n%s", got)
	}
	dispRun(s, out, "dd 10000 L4")
	// The continuation shows the default length (32 dwords), not the L4.
	if got, want := dispRun(s, out, ""), "00000000`00010010  13121110 17161514 1b1a1918 1f1e1d1c\n"; !strings.HasPrefix(got, want) || strings.Count(got, "\n") != 8 {
		t.Errorf("Enter after dd L4:\ngot  %q\nwant %q and 7 more lines", got, want)
	}
	if got := dispRun(s, out, "db"); !strings.HasPrefix(got, "00000000`00010090  ?? ??") {
		t.Errorf("db after dd continues at 10090:\n%s", got)
	}
	if got := dispRun(s, out, "d 10000 L2"); got != "00000000`00010000  00 01                                            ..\n" {
		t.Errorf("d repeats db: %q", got)
	}
	dispRun(s, out, "dc 10000 L1")
	if got, want := dispRun(s, out, "d"), "00000000`00010004  07060504 0b0a0908 0f0e0d0c 13121110  ................\n"; !strings.HasPrefix(got, want) {
		t.Errorf("d after dc repeats dc from 10004:\n%s", got)
	}
	s2, out2 := dispTestDump(t)
	if got := dispRun(s2, out2, "dps"); !strings.HasPrefix(got, "00000000`00030000  00000000`00000000\n") || strings.Count(got, "\n") != 16 {
		t.Errorf("first dps starts at rsp with 16 lines:\n%s", got)
	}
	s2.Execute("da 10100")
	if s2.Next.Addr != 0x1010e {
		t.Errorf("da continues after the terminator: %#x", s2.Next.Addr)
	}
}

func TestDisplayJSON(t *testing.T) {
	s, out := dispTestDump(t)
	s.JSON = true
	got := dispRun(s, out, "dc 1003c L2")
	var rec struct {
		Result struct {
			Format string
			Rows   []struct {
				Address uint64
				Values  []*uint64
				ASCII   string
			}
		}
	}
	if err := json.Unmarshal([]byte(got), &rec); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	r := rec.Result
	if r.Format != "dc" || len(r.Rows) != 1 || r.Rows[0].Address != 0x1003c || len(r.Rows[0].Values) != 2 ||
		r.Rows[0].Values[0] == nil || *r.Rows[0].Values[0] != 0x3f3e3d3c || r.Rows[0].Values[1] != nil || r.Rows[0].ASCII != "<=>?????" {
		t.Errorf("dc JSON: %s", got)
	}
	if got := dispRun(s, out, "dqs 10110 L1"); !strings.Contains(got, `"symbol":"test+0x1234"`) {
		t.Errorf("dqs JSON lacks the symbol: %s", got)
	}
	if got := dispRun(s, out, "du 20000 L3"); !strings.Contains(got, `"string":"ABC"`) || !strings.Contains(got, `"rows":[{"address":131072,"text":"ABC"}]`) {
		t.Errorf("du JSON: %s", got)
	}
}

// x86 targets print 8-digit addresses and dp/dps are dd/dds.
func TestDisplayX86(t *testing.T) {
	b := dumpbuild.New(dumpbuild.X86)
	b.Memory(0x400000, []byte{0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe})
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := dump.OpenBytes(raw, "x86.dmp")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s := NewSession(f, &out, &out)
	for _, c := range []struct{ cmd, want string }{
		{"dp 400000 L3", "00400000  76543210 fedcba98 ????????\n"},
		{"dps 400000 L1", "00400000  76543210\n"},
		{"dq 400000 L1", "00400000  fedcba98`76543210\n"},
	} {
		if got := dispRun(s, &out, c.cmd); got != c.want {
			t.Errorf("%s: got %q want %q", c.cmd, got, c.want)
		}
	}
}
