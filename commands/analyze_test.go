package commands

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"wdb/disasm"
)

func TestAnalyzeGolden(t *testing.T) { runGoldenTopic(t, "analyze") }

// field returns the value of a one-line !analyze field ("NAME:  value").
func field(out, name string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `: +(.*?) ?$`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1]
}

// keyValue returns a KEY_VALUES_STRING value.
func keyValue(out, key string) string {
	m := regexp.MustCompile(`(?m)^    Key  : ` + regexp.QuoteMeta(key) + `\n    Value: (.*)$`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestAnalyzeAccessViolations runs !analyze -v on every breakpad
// access-violation dump and checks that it names the exception, the access
// (read/write/execute and address, from the record's parameters) and the
// faulting instruction (decoded independently at the exception address).
func TestAnalyzeAccessViolations(t *testing.T) {
	access := map[uint64]string{0: "Read", 1: "Write", 8: "Execute"}
	withCode := 0
	for _, name := range avDumps {
		s := corpusSession(t, stkBreakpadDir+name+".dmp", "")
		e := s.Target.Exception
		ptr := s.PointerSize()
		out := run(t, s, "!analyze -v")
		var bad []string
		check := func(ok bool, format string, a ...any) {
			if !ok {
				bad = append(bad, fmt.Sprintf(format, a...))
			}
		}
		check(strings.Contains(out, "*                        Exception Analysis                                   *\n"), "no banner")
		check(strings.Contains(out, "   ExceptionCode: c0000005 (Access violation)\n"), "exception not named")
		check(field(out, "EXCEPTION_CODE_STR") == "c0000005", "EXCEPTION_CODE_STR %q", field(out, "EXCEPTION_CODE_STR"))
		acc := access[e.Parameters[0]]
		check(keyValue(out, "AV.Type") == acc, "AV.Type %q, want %q", keyValue(out, "AV.Type"), acc)
		addr := hexPtr(ptr, e.Parameters[1])
		switch acc {
		case "Read":
			check(field(out, "READ_ADDRESS") == addr, "READ_ADDRESS %q, want %s", field(out, "READ_ADDRESS"), addr)
		case "Write":
			check(field(out, "WRITE_ADDRESS") == addr, "WRITE_ADDRESS %q, want %s", field(out, "WRITE_ADDRESS"), addr)
		}
		check(strings.Contains(out, "Attempt to "), "no decoded access line")
		bucket := field(out, "FAILURE_BUCKET_ID")
		class := map[string]string{"Read": "_POINTER_READ_c0000005_|NULL_CLASS_PTR_READ_c0000005_", "Write": "_POINTER_WRITE_c0000005_|NULL_CLASS_PTR_WRITE_c0000005_",
			"Execute": "BAD_INSTRUCTION_PTR_c0000005_"}[acc]
		check(regexp.MustCompile(class).MatchString(bucket), "FAILURE_BUCKET_ID %q does not name the %s access", bucket, acc)

		// The faulting instruction, decoded here on its own.
		mode := 32
		if ptr == 8 {
			mode = 64
		}
		line := disasm.DecodeLine(s.Target, nil, e.Address, mode)
		label := "FAULTING_IP: \n"
		if line.Unreadable {
			label = "IP_IN_PAGED_CODE: \n"
		} else {
			withCode++
		}
		i := strings.Index(out, label)
		check(i >= 0, "no %q", strings.TrimSpace(label))
		if i >= 0 {
			block := out[i+len(label):]
			block = block[:strings.Index(block, "\n\n")]
			check(strings.HasSuffix(block, disasm.FormatLine(line, ptr)), "faulting instruction block %q, want the line %q", block, disasm.FormatLine(line, ptr))
			check(strings.Contains(block, FormatAddr(ptr, e.Address)), "faulting instruction not at the exception address")
		}
		if len(bad) > 0 {
			t.Errorf("%s: %s\n%s", name, strings.Join(bad, "; "), out)
		}
	}
	t.Logf("%d access-violation dumps analysed; %d have the faulting code in the dump", len(avDumps), withCode)
}

// TestAnalyzeWithSymbols checks the fields that need symbols: mini.dmp with
// crash.pdb and sigsegv.dmp with sigsegv.pdb.
func TestAnalyzeWithSymbols(t *testing.T) {
	s := corpusSession(t, stkMiniDump, stkMiniSymbols)
	out := run(t, s, "!analyze -v")
	for name, want := range map[string]string{
		"SYMBOL_NAME":       "crash!main+12d",
		"MODULE_NAME":       "crash",
		"IMAGE_NAME":        "crash.exe",
		"FAILURE_BUCKET_ID": "NULL_CLASS_PTR_WRITE_c0000005_crash.exe!main",
		"PROCESS_NAME":      "crash.exe",
		"WRITE_ADDRESS":     "00000045",
		"STACK_COMMAND":     "~0s; .ecxr ; kb",
		"OSPLATFORM_TYPE":   "x86",
	} {
		if got := field(out, name); got != want {
			t.Errorf("mini.dmp %s = %q, want %q", name, got, want)
		}
	}
	if !strings.Contains(out, "STACK_TEXT:  \n010ff73c 002a2d97     00000001 013bfd78 013b5c90 crash!main+0x12d\n") {
		t.Errorf("mini.dmp STACK_TEXT does not start at crash!main+0x12d:\n%s", out)
	}
	if !strings.Contains(out, "FAULTING_IP: \ncrash!main+12d\n002a2a3d c7054500000005000000 mov") {
		t.Errorf("mini.dmp FAULTING_IP:\n%s", out)
	}
	if !strings.HasSuffix(out, "Followup:     MachineOwner\n---------\n\n") {
		t.Errorf("no Followup trailer")
	}
	if _, ok := s.ScopeContext(); ok {
		t.Errorf("!analyze left a register context set (WinDbg resets the default scope)")
	}

	x := corpusSession(t, stkSigsegvDump, stkSigsegvInputs)
	out = run(t, x, "!analyze -v")
	// lldb: "0x7ff7a13110d9: movl $0x0, 0x0" in sigsegv.exe.
	if !strings.Contains(out, "FAULTING_IP: \nsigsegv!crash+29\n00007ff7`a13110d9 c704250000000000000000 mov dword ptr [0],0\n") {
		t.Errorf("sigsegv.dmp FAULTING_IP:\n%s", out)
	}
	if got := field(out, "FAILURE_BUCKET_ID"); got != "NULL_POINTER_WRITE_c0000005_sigsegv.exe!crash" {
		t.Errorf("sigsegv.dmp FAILURE_BUCKET_ID = %q", got)
	}
	if !strings.Contains(out, "STACK_TEXT:  \n000000ad`dabaf6b0 00007ff7`a1311171     : ") {
		t.Errorf("sigsegv.dmp STACK_TEXT (x64 kb layout):\n%s", out)
	}
}

// TestAnalyzeFollowup checks that a fault inside a runtime module is
// charged to the first caller outside them (the fast-fail dump raises in
// the app, a breakpoint dump in ntdll).
func TestAnalyzeFollowup(t *testing.T) {
	s := corpusSession(t, stkBreakpadDir+"tiny-exe-fastfail.dmp", "")
	out := run(t, s, "!analyze -v")
	if got := field(out, "FAILURE_BUCKET_ID"); !strings.HasPrefix(got, "FAIL_FAST_FATAL_APP_EXIT_c0000409_") {
		t.Errorf("fast fail bucket %q", got)
	}
	if !strings.Contains(out, "Subcode: 0x7 FAST_FAIL_FATAL_APP_EXIT\n") {
		t.Errorf("no fast-fail subcode:\n%s", out)
	}
}

func TestAnalyzeNoException(t *testing.T) {
	s := corpusSession(t, simpleParseDump, "")
	out := run(t, s, "!analyze -v")
	if !strings.Contains(out, "NO_EXCEPTION: ") || !strings.HasPrefix(field(out, "FAILURE_BUCKET_ID"), "NO_EXCEPTION_simple_parse.exe!") {
		t.Errorf("!analyze on a dump without exception:\n%s", out)
	}
	if got := run(t, s, "!analyze -hang"); !strings.Contains(got, "not supported") {
		t.Errorf("!analyze -hang: %q", got)
	}
	if got := run(t, s, "!analyze -x"); !strings.Contains(got, "unknown option") {
		t.Errorf("!analyze -x: %q", got)
	}
}
