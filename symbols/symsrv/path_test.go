package symsrv

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParsePathRoundTrip(t *testing.T) {
	s := `srv*c:\sym*https://msdl.microsoft.com/download/symbols;d:\pdbs;cache*e:\c;srv**https://x`
	p, err := ParsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	want := []Element{
		{Kind: Server, Caches: []string{`c:\sym`}, URL: MicrosoftURL},
		{Kind: Dir, Dir: `d:\pdbs`},
		{Kind: Cache, Dir: `e:\c`},
		{Kind: Server, Caches: []string{""}, URL: "https://x"},
	}
	if !reflect.DeepEqual(p.Elements, want) {
		t.Fatalf("ParsePath:\n got %#v\nwant %#v", p.Elements, want)
	}
	if got := p.String(); got != s {
		t.Errorf("String:\n got %s\nwant %s", got, s)
	}
	if !p.HasServer() {
		t.Error("HasServer false")
	}
	for _, s := range []string{
		"srv*",
		"cache*",
		`srv*\\server\share`,
		`srv*c:\a*\\interim\store*https://msdl.microsoft.com/download/symbols`,
		"/home/u/syms;/tmp/x",
		"",
	} {
		p, err := ParsePath(s)
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if got := p.String(); got != s {
			t.Errorf("round trip %q -> %q", s, got)
		}
		q, _ := ParsePath(p.String())
		if !reflect.DeepEqual(p, q) {
			t.Errorf("%q: reparse differs", s)
		}
	}
}

func TestParsePathForms(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{`SRV*C:\Sym*https://msdl.microsoft.com/download/symbols/`, `srv*C:\Sym*https://msdl.microsoft.com/download/symbols`},
		{`symsrv*symsrv.dll*c:\s*https://x`, `srv*c:\s*https://x`},
		{` "C:\My Symbols" ; ;Cache*"d:\c" `, `C:\My Symbols;cache*d:\c`},
		{`https://example.test/sym`, `srv*https://example.test/sym`},
	} {
		p, err := ParsePath(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got := p.String(); got != c.out {
			t.Errorf("%q -> %q, want %q", c.in, got, c.out)
		}
	}
	for _, bad := range []string{"cache*a*b", "symsrv*other.dll*c*https://x", "foo*bar", "srv*https://a*https://b", "cache*https://x"} {
		if _, err := ParsePath(bad); !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: err %v, want ErrSyntax", bad, err)
		}
	}
	dirs, _ := ParsePath(`d:\a;cache*e:\c;srv*\\share\store`)
	if dirs.HasServer() {
		t.Error("a path without URLs reports a server")
	}
}

func TestSymfixAndExpanded(t *testing.T) {
	p := Path{Elements: []Element{Symfix("")}}
	if p.String() != "srv*" {
		t.Errorf(".symfix: %q", p.String())
	}
	if got, want := p.Expanded("/c"), "srv*/c*"+MicrosoftURL; got != want {
		t.Errorf("Expanded %q, want %q", got, want)
	}
	q, _ := ParsePath(`d:\pdbs`)
	q = q.Append(Path{Elements: []Element{Symfix(`C:\Symbols`)}}) // .symfix+ C:\Symbols
	if got, want := q.String(), `d:\pdbs;srv*C:\Symbols*`+MicrosoftURL; got != want {
		t.Errorf(".symfix+: %q, want %q", got, want)
	}
	r, _ := ParsePath(`cache*;srv*https://x;srv**https://y`)
	if got, want := r.Expanded("/c"), "cache*/c;srv*https://x;srv*/c*https://y"; got != want {
		t.Errorf("Expanded %q, want %q", got, want)
	}
}

func TestStartupPath(t *testing.T) {
	env := map[string]string{"_NT_SYMBOL_PATH": "srv*c:\\s*https://x", "_NT_ALT_SYMBOL_PATH": "d:\\alt"}
	p, err := StartupPath("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.String(), `d:\alt;srv*c:\s*https://x`; got != want {
		t.Errorf("env: %q, want %q (ALT first)", got, want)
	}
	p, _ = StartupPath(`e:\y`, func(k string) string { return env[k] })
	if p.String() != `e:\y` {
		t.Errorf("-y: %q", p.String())
	}
	env["_NT_SYMBOL_PATH"] = "bad*x"
	if _, err := StartupPath("", func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "_NT_SYMBOL_PATH") {
		t.Errorf("bad env: %v", err)
	}
}

func TestKeys(t *testing.T) {
	if got, want := testKey, (Key{Name: "ntdll.pdb", ID: "1EB9FACB04EA273BB4BA52C8B1F1EB8B1"}); got != want {
		t.Errorf("PDBKey %+v, want %+v", got, want)
	}
	g := [16]byte{0x0f, 0, 0, 0, 0x0a, 0, 0x0b, 0, 1, 2, 3, 4, 5, 6, 7, 8}
	if got := PDBKey("/x/y/a.pdb", g, 0x1a).ID; got != "0000000F000A000B01020304050607081A" {
		t.Errorf("PDBKey leading zeros / hex age: %s", got)
	}
	if got := ImageKey(`C:\Windows\System32\foo.exe`, 0x542d5742, 0x32000); got != (Key{Name: "foo.exe", ID: "542D574232000"}) {
		t.Errorf("ImageKey %+v", got)
	}
	if got := ImageKey("a.dll", 0x12, 0xABC0).ID; got != "00000012abc0" {
		t.Errorf("ImageKey %s", got)
	}
	if compressedName("ntdll.pdb") != "ntdll.pd_" || compressedName("k.dll") != "k.dl_" {
		t.Error("compressedName")
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		`..\..\x.pdb`:             "x.pdb",
		`/etc/passwd`:             "passwd",
		`C:\Windows\x.pdb`:        "x.pdb",
		`C:x.pdb`:                 "x.pdb",
		`x.pdb:stream`:            "stream",
		`\\?\UNC\srv\share\y.pdb`: "y.pdb",
	} {
		k, err := sanitizeKey(Key{Name: in, ID: "AB"})
		if err != nil || k.Name != want {
			t.Errorf("%q -> %q, %v; want %q", in, k.Name, err, want)
		}
	}
	for _, bad := range []string{"", ".", "..", `a\..`, "x\x00.pdb", "x\x1b[2J.pdb", "nul.pdb", "COM1", "a.pdb.", "a?b", strings.Repeat("a", 256), "\xff.pdb"} {
		if _, err := sanitizeKey(Key{Name: bad, ID: "AB"}); !errors.Is(err, ErrBadName) {
			t.Errorf("name %q accepted", bad)
		}
	}
	for _, bad := range []string{"", "..", "12/34", "GHIJ", strings.Repeat("A", 65)} {
		if _, err := sanitizeKey(Key{Name: "a.pdb", ID: bad}); !errors.Is(err, ErrBadName) {
			t.Errorf("id %q accepted", bad)
		}
	}
	if _, err := safeJoin("/c", "..", "x"); err == nil {
		t.Error("safeJoin allowed ..")
	}
	if _, err := safeJoin("/c", "a", "b"); err != nil {
		t.Error(err)
	}
	if got := cleanText("a\x1b[31mb\r\n", 100); got != "a?[31mb??" {
		t.Errorf("cleanText %q", got)
	}
}
