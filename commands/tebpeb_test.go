package commands

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestTebPebGolden(t *testing.T) { runGoldenTopic(t, "tebpeb") }

// tebField reads a "    Label:  value" line of !teb / !peb output.
func tebField(out, label string) string {
	m := regexp.MustCompile(`(?m)^    ` + regexp.QuoteMeta(label) + `:? +(.*)$`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestTebFields checks !teb against what the dump records elsewhere: Self
// is the TEB address of the thread list, ClientId the process id of the
// MiscInfo stream and the thread id, the stack range holds the stack
// pointer, PEB Address the PEB the dump package finds.
func TestTebFields(t *testing.T) {
	for _, rel := range []string{simpleParseDump, goldenStability, goldenFPU} {
		s := corpusSession(t, rel, "")
		f := s.Target
		pid, _ := f.ProcessID()
		ptr := s.PointerSize()
		for i := range f.Threads {
			th := &f.Threads[i]
			out := run(t, s, fmt.Sprintf("~%d e !teb", i))
			if !strings.Contains(out, "TEB at "+hexPtr(ptr, th.TEB)+"\n") {
				t.Errorf("%s thread %d: %s", rel, i, out)
				continue
			}
			if strings.Contains(out, "error InitTypeRead") {
				continue // TEB not captured
			}
			want := map[string]string{
				"Self":     hexPtr(ptr, th.TEB),
				"ClientId": hexPtr(ptr, uint64(pid)) + " . " + hexPtr(ptr, uint64(th.ID)),
			}
			if peb, err := f.PEB(); err == nil {
				want["PEB Address"] = hexPtr(ptr, peb)
			}
			for k, v := range want {
				if got := tebField(out, k); got != v {
					t.Errorf("%s thread %d: %s = %q, want %q", rel, i, k, got, v)
				}
			}
			base, _ := strconv.ParseUint(tebField(out, "StackBase"), 16, 64)
			limit, _ := strconv.ParseUint(tebField(out, "StackLimit"), 16, 64)
			if sp := th.Context.SP(); th.Context != nil && (sp < limit || sp > base) {
				t.Errorf("%s thread %d: stack %#x-%#x does not hold the stack pointer %#x", rel, i, limit, base, sp)
			}
		}
	}
	s := corpusSession(t, simpleParseDump, "")
	if a, b := run(t, s, "!teb"), run(t, s, "!teb 7fffe000"); a != b {
		t.Errorf("!teb 7fffe000 differs from !teb:\n%s\n%s", b, a)
	}
	m := corpusSession(t, stkBreakpadDir+"minidump2.dmp", "")
	if got := run(t, m, "!teb"); got != "TEB at 7ffdf000\nerror InitTypeRead( TEB )...\n" {
		t.Errorf("!teb without the TEB in the dump: %q", got)
	}
}

// TestPebModules checks that the loader's module list !peb walks in the
// dump's memory names the modules of the dump's module list, at the same
// bases.
func TestPebModules(t *testing.T) {
	for _, rel := range []string{simpleParseDump, goldenFPU, goldenWow64} {
		s := corpusSession(t, rel, "")
		out := run(t, s, "!peb")
		got := map[uint64]string{}
		for _, m := range regexp.MustCompile(`(?m)^ +([0-9a-f]+) (?:[0-9a-f]{8} \w{3} \d\d \d\d:\d\d:\d\d \d{4} )?(.+)$`).FindAllStringSubmatch(out, -1) {
			base, _ := strconv.ParseUint(m[1], 16, 64)
			got[base] = strings.ToLower(m[2])
		}
		if len(got) == 0 {
			t.Errorf("%s: no modules in !peb:\n%s", rel, out)
			continue
		}
		seen := map[uint64]bool{}
		for _, m := range s.Target.Modules {
			if seen[m.Base] {
				continue
			}
			seen[m.Base] = true
			if p, ok := got[m.Base]; !ok || !strings.HasSuffix(p, strings.ToLower(m.BaseName())) {
				t.Errorf("%s: module %s at %#x: !peb has %q", rel, m.BaseName(), m.Base, p)
			}
		}
		for _, label := range []string{"ImageBaseAddress", "ProcessHeap", "CommandLine", "Environment"} {
			if tebField(out, label) == "" {
				t.Errorf("%s: !peb has no %s line", rel, label)
			}
		}
	}
}

// TestWow64TebPeb checks the two blocks of a WOW64 process: the 32-bit TEB
// and PEB first, then the 64-bit ones.
func TestWow64TebPeb(t *testing.T) {
	s := corpusSession(t, goldenWow64, "")
	out := run(t, s, "!teb")
	if !regexp.MustCompile(`^Wow64 TEB32 at 005db000\n(?s:.*)\nWow64 TEB at 00000000005d9000\n`).MatchString(out) {
		t.Errorf("!teb on a WOW64 thread:\n%s", out)
	}
	if got := tebField(out, "ClientId"); got != "00007b00 . 0000bff8" {
		t.Errorf("TEB32 ClientId %q", got)
	}
	out = run(t, s, "!peb")
	if !strings.HasPrefix(out, "Wow64 PEB32 at 005d8000\n") || !strings.Contains(out, "\nWow64 PEB at 00000000005d7000\n") {
		t.Errorf("!peb on a WOW64 process:\n%s", out)
	}
}
