package commands

import (
	"strings"
	"testing"

	"wdb/dump/dumpbuild"
)

func TestModulesGolden(t *testing.T) { runGoldenTopic(t, "modules") }

func TestLmSynthetic(t *testing.T) {
	s, out := synthSession(t, dumpbuild.X64)
	// The exe's second record at the same base is dropped; the WOW64 ntdll is
	// renamed after its base; the unloaded module follows.
	want := "start             end                 module name\n" +
		"00000000`77cf0000 00000000`77e80000   ntdll_77cf0000   (deferred)             \n" +
		"00007ff7`00400000 00007ff7`0042d000   app        (deferred)             \n" +
		"00007ff7`7c900000 00007ff7`7c9b0000   ntdll      (deferred)             \n" +
		"\n" +
		"Unloaded modules:\n" +
		"00007ff7`10000000 00007ff7`1002b000   SpTip.dll\n"
	if got := synthRun(s, out, "lm"); got != want {
		t.Errorf("lm =\n%s\nwant\n%s", got, want)
	}
	for _, c := range []struct{ cmd, want string }{
		{"lm m NT*", "ntdll_77cf0000   (deferred)"},
		{"lmm nt*", "ntdll      (deferred)"},
		{"lm m sp*", "SpTip.dll"},
		{"lmf", "00007ff7`7c900000 00007ff7`7c9b0000   ntdll    C:\\Windows\\System32\\ntdll.dll\n"},
		{"lmfc", "app      C:\\app\\app.exe 00001234\n"},
		{"lmn", "app      app.exe     \n"},
		{"lmt", "app      Wed Feb 14 19:13:48 2007 (45D35F6C)\n"},
		{"lm a 00007ff7`7c90eb94", "ntdll      (deferred)"},
		{"lm M *\\SysWOW64*", "ntdll_77cf0000"},
		{"lm1m", "ntdll_77cf0000\napp\nntdll\n"},
		{"lmsm", "   app   "},
		{"lmx", "Syntax error at 'x'"},
	} {
		if got := synthRun(s, out, c.cmd); !strings.Contains(got, c.want) {
			t.Errorf("%s =\n%s\nlacks %q", c.cmd, got, c.want)
		}
	}
	if got := synthRun(s, out, "lm m sp*"); strings.Contains(got, "ntdll") {
		t.Errorf("lm m sp* lists other modules:\n%s", got)
	}
	if got := synthRun(s, out, "lm a 00007ff7`7c90eb94"); strings.Contains(got, "Unloaded") || strings.Count(got, "\n") != 2 {
		t.Errorf("lm a: one module and no unloaded list:\n%s", got)
	}
	if got := synthRun(s, out, "lm1m"); got != "ntdll_77cf0000\napp\nntdll\n" {
		t.Errorf("lm1m = %q", got)
	}
}

func TestLmVerbose(t *testing.T) {
	s, out := synthSession(t, dumpbuild.X86)
	want := "start    end        module name\n" +
		"00400000 0042d000   app        (deferred)             \n" +
		"    Image path: C:\\app\\app.exe\n" +
		"    Image name: app.exe\n" +
		"    Timestamp:        Wed Feb 14 19:13:48 2007 (45D35F6C)\n" +
		"    CheckSum:         00001234\n" +
		"    ImageSize:        0002D000\n" +
		"    File version:     1.2.3.4\n" +
		"    Product version:  1.2.3.4\n" +
		"    File flags:       0 (Mask 3F)\n" +
		"    File OS:          40004 NT Win32\n" +
		"    File type:        1.0 App\n" +
		"    File date:        00000000.00000000\n"
	for _, cmd := range []string{"lmvm app", "lmv m app", "lm vm app", "lm v m APP"} {
		if got := synthRun(s, out, cmd); got != want {
			t.Errorf("%s =\n%s\nwant\n%s", cmd, got, want)
		}
	}
	// A module without a version resource stops after ImageSize.
	if got := synthRun(s, out, "lmvm ntdll_77cf0000"); !strings.HasSuffix(got, "    ImageSize:        00190000\n") {
		t.Errorf("lmvm ntdll_77cf0000 =\n%s", got)
	}
}

func TestLmWildcard(t *testing.T) {
	for _, c := range []struct {
		pat, name string
		want      bool
	}{
		{"k*", "kernel32", true}, {"k*", "KERNELBASE", true}, {"k*", "ntdll", false},
		{"*32", "user32", true}, {"n?dll", "ntdll", true}, {"n?dll", "nttdll", false},
		{"[kn]*", "ntdll", true}, {"[a-c]*", "ntdll", false}, {"lo#p", "lp", true}, {"lo#p", "loop", true},
		{"lo+p", "lp", false}, {"lo+p", "loop", true}, {`a\*b`, "a*b", true}, {`a\*b`, "axb", false},
		{`*\system32*`, `C:\Windows\System32\ntdll.dll`, true}, {`*\system32\*`, `C:\Windows\System32\ntdll.dll`, false}, // \* is a literal *
	} {
		re, err := lmWildcardRegexp(c.pat)
		if err != nil {
			t.Errorf("%q: %v", c.pat, err)
			continue
		}
		if got := re.MatchString(c.name); got != c.want {
			t.Errorf("%q matches %q = %v, want %v", c.pat, c.name, got, c.want)
		}
	}
}
