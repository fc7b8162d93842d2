package commands

import (
	"strings"
	"testing"

	"wdb/dump/dumpbuild"
)

func TestTargetGolden(t *testing.T) { runGoldenTopic(t, "target") }

func TestVertarget(t *testing.T) {
	s, out := synthSession(t, dumpbuild.X64)
	want := "Windows 10 Version 19045 MP (4 procs) Free x64\n" +
		"Product: WinNt, suite: SingleUserTS\n" +
		"Edition build lab: 19041.1.amd64fre.vb_release.191206-1406\n" +
		"Machine Name:\n" +
		"Debug session time: Wed Nov 15 00:13:20.000 2023 (UTC + 2:00)\n" +
		"System Uptime: not available\n" +
		"Process Uptime: 1 days 1:01:01.000\n" +
		"  Kernel time: 0 days 0:00:05.000\n" +
		"  User time: 0 days 0:00:37.000\n"
	if got := synthRun(s, out, "vertarget"); got != want {
		t.Errorf("vertarget =\n%s\nwant\n%s", got, want)
	}
	times := want[strings.Index(want, "Debug session"):]
	if got := synthRun(s, out, ".time"); got != times {
		t.Errorf(".time =\n%s\nwant\n%s", got, times)
	}
	got := synthRun(s, out, "version")
	if !strings.HasPrefix(got, want) || !strings.Contains(got, "\nUser mini dump: synthetic.dmp\nwdb ") || !strings.Contains(got, DebuggerVersion) {
		t.Errorf("version =\n%s", got)
	}
	s32, out32 := synthSession(t, dumpbuild.X86)
	if got := synthRun(s32, out32, "vertarget"); !strings.HasPrefix(got, "Windows 10 Version 19045 MP (4 procs) Free x86 compatible\n") {
		t.Errorf("x86 vertarget =\n%s", got)
	}
}

func TestTargetNames(t *testing.T) {
	for _, c := range []struct {
		major, minor uint32
		want         string
	}{{10, 0, "Windows 10"}, {6, 1, "Windows 7"}, {6, 3, "Windows 8.1"}, {5, 1, "Windows XP"}, {4, 0, "Windows NT 4.0"}} {
		if got := windowsName(c.major, c.minor); got != c.want {
			t.Errorf("windowsName(%d, %d) = %q, want %q", c.major, c.minor, got, c.want)
		}
	}
	for _, c := range []struct {
		ms   int64
		want string
	}{{0, "0 days 0:00:00.000"}, {7000, "0 days 0:00:07.000"}, {150469480, "1 days 17:47:49.480"}, {10*86400000 + 23*3600000, "10 days 23:00:00.000"}} {
		if got := durationText(c.ms); got != c.want {
			t.Errorf("durationText(%d) = %q, want %q", c.ms, got, c.want)
		}
	}
	if got := utcOffset(-300); got != "UTC - 5:00" {
		t.Errorf("utcOffset(-300) = %q", got)
	}
	if got := utcOffset(330); got != "UTC + 5:30" {
		t.Errorf("utcOffset(330) = %q", got)
	}
}
