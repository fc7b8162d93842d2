package commands

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"wdb/dump/dumpbuild"
)

func TestHandleGolden(t *testing.T) { runGoldenTopic(t, "handle") }

func handleDump(t *testing.T) *Session {
	b := dumpbuild.New(dumpbuild.X64)
	b.Thread(dumpbuild.Thread{ID: 1, Regs: map[string]uint64{"rip": 0x1000}})
	b.Handle(dumpbuild.Handle{Handle: 4, TypeName: "Event", GrantedAccess: 0x1f0003, HandleCount: 2, PointerCount: 65537})
	b.Handle(dumpbuild.Handle{Handle: 8, TypeName: "Key", ObjectName: `\REGISTRY\MACHINE\SOFTWARE`, GrantedAccess: 9, HandleCount: 2, PointerCount: 1})
	b.Handle(dumpbuild.Handle{Handle: 0xc, TypeName: "File", ObjectName: `\Device\HarddiskVolume3\x`, GrantedAccess: 0x120196, HandleCount: 2, PointerCount: 32769})
	b.Handle(dumpbuild.Handle{Handle: 0x10, TypeName: "IRTimer", GrantedAccess: 0x100002, HandleCount: 1, PointerCount: 1})
	b.Handle(dumpbuild.Handle{Handle: 0x14, TypeName: "Event", Attributes: 2, GrantedAccess: 0x100003, HandleCount: 1, PointerCount: 1})
	b.Handle(dumpbuild.Handle{Handle: 0x18})
	return builtSession(t, b)
}

// TestHandleLayout pins the extension's layout (tab after the padded
// labels, "%-15s\t%d" counts) with the samples of the MS docs and of
// sessions quoted in the project notes: "GrantedAccess\t0x120196:" with the
// rights on two lines, Name left out for File handles.
func TestHandleLayout(t *testing.T) {
	s := handleDump(t)
	for _, c := range []struct{ cmd, want string }{
		{"!handle", "Handle 4\n  Type         \tEvent\nHandle 8\n  Type         \tKey\nHandle c\n  Type         \tFile\n" +
			"Handle 10\n  Type         \tIRTimer\nHandle 14\n  Type         \tEvent\nHandle 18\n  Type         \t\n" +
			"6 Handles\nType           \tCount\nNone           \t1\nEvent          \t2\nFile           \t1\nKey            \t1\nIRTimer        \t1\n"},
		{"!handle c f", "Handle c\n  Type         \tFile\n  Attributes   \t0\n  GrantedAccess\t0x120196:\n" +
			"         ReadControl,Synch\n         Write/Add,Append/SubDir/CreatePipe,WriteEA,ReadAttr,WriteAttr\n" +
			"  HandleCount  \t2\n  PointerCount \t32769\n  No Object Specific Information available\n"},
		{"!handle 8 6", "Handle 8\n  Attributes   \t0\n  GrantedAccess\t0x9:\n         None\n         QueryValue,EnumSubKey\n" +
			"  HandleCount  \t2\n  PointerCount \t1\n  Name         \t\\REGISTRY\\MACHINE\\SOFTWARE\n"},
		{"!handle 0 5 Event", "Handle 4\n  Type         \tEvent\n  Name         \t<none>\nHandle 14\n  Type         \tEvent\n  Name         \t<none>\n" +
			"2 Handles\nType           \tCount\nEvent          \t2\n"},
		{"!handle 14 2", "Handle 14\n  Attributes   \t0x2\n  GrantedAccess\t0x100003:\n         Synch\n         QueryState,ModifyState\n" +
			"  HandleCount  \t1\n  PointerCount \t1\n"},
		{"!handle 99", "Handle 99\nunable to query object information\n"},
	} {
		if got := run(t, s, c.cmd); got != c.want {
			t.Errorf("%s:\n%q\nwant\n%q", c.cmd, got, c.want)
		}
	}
	n := builtSession(t, dumpbuild.New(dumpbuild.X86))
	if got := run(t, n, "!handle"); !strings.Contains(got, "no handle information") {
		t.Errorf("!handle without handle data: %q", got)
	}
}

// TestHandleCounts checks !handle on the corpus dumps with handle data: the
// total is the number of descriptors (302 for stability-report.dmp, as the
// corpus manifest records) and the counts by type add up to it.
func TestHandleCounts(t *testing.T) {
	for _, c := range []struct {
		rel  string
		want int
	}{{goldenStability, 302}, {simpleParseDump, -1}, {"ivellioscolin__kdlibcpp/kdlib/tests/dumps/targetapp_minidump/target_minidump.dmp", -1}} {
		s := corpusSession(t, c.rel, "")
		out := run(t, s, "!handle 0 f")
		m := regexp.MustCompile(`(?m)^(\d+) Handles\nType           \tCount\n((?:.*\t\d+\n)*)$`).FindStringSubmatch(out)
		if m == nil {
			t.Errorf("%s: no summary:\n%s", c.rel, out)
			continue
		}
		total, _ := strconv.Atoi(m[1])
		if total != len(s.Target.Handles) || (c.want >= 0 && total != c.want) {
			t.Errorf("%s: %d Handles, the dump has %d", c.rel, total, len(s.Target.Handles))
		}
		sum := 0
		for _, l := range strings.Split(strings.TrimSpace(m[2]), "\n") {
			n, _ := strconv.Atoi(l[strings.LastIndexByte(l, '\t')+1:])
			sum += n
		}
		if sum != total {
			t.Errorf("%s: counts by type add up to %d, not %d", c.rel, sum, total)
		}
		if blocks := strings.Count(out, "\nHandle ") + 1; blocks != total {
			t.Errorf("%s: %d handle blocks for %d handles", c.rel, blocks, total)
		}
	}
}
