package symbols

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"wdb/dump"
	"wdb/dump/dumpbuild"
	"wdb/symbols/symsrv"
)

// fixtureFacts are the facts build.sh recorded for the clang/lld-link fixture.
type fixtureFacts struct {
	GUID          string            `json:"guid"`
	Age           uint32            `json:"age"`
	ImageBase     uint64            `json:"imageBase"`
	SizeOfImage   uint32            `json:"sizeOfImage"`
	TimeDateStamp uint32            `json:"timeDateStamp"`
	Symbols       map[string]uint32 `json:"symbols"`
}

func loadFacts(t *testing.T, arch string) fixtureFacts {
	t.Helper()
	b, err := os.ReadFile("../testdata/fixtures/facts.json")
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	var f fixtureFacts
	if err := json.Unmarshal(all[arch], &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// appDump is a dump whose app.exe module carries the fixture's CodeView
// record (pdbName as given, so hostile names can be tried).
func appDump(t *testing.T, facts fixtureFacts, pdbName string) *dump.File {
	t.Helper()
	b := dumpbuild.New(dumpbuild.X64)
	b.Module(dumpbuild.Module{Name: `C:\app\app.exe`, Base: facts.ImageBase, Size: facts.SizeOfImage, TimeDateStamp: facts.TimeDateStamp,
		PDBName: pdbName, GUID: dumpbuild.MustGUID("{" + facts.GUID + "}"), Age: facts.Age})
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := dump.OpenBytes(raw, "app.dmp")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// symbolServer serves the fixture PDB at its store key and counts requests.
func symbolServer(t *testing.T, facts fixtureFacts) (*httptest.Server, *sync.Map) {
	pdbBytes, err := os.ReadFile("../testdata/fixtures/x64/app.pdb")
	if err != nil {
		t.Fatal(err)
	}
	key := "/app.pdb/" + strings.ReplaceAll(facts.GUID, "-", "") + "1/app.pdb"
	var hits sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := hits.LoadOrStore(r.URL.Path, new(int))
		*n.(*int)++
		if strings.EqualFold(r.URL.Path, key) {
			w.Write(pdbBytes)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// The reference story's names come from a PDB on a symbol server: the
// vftable of CMMFSerializer resolves both ways, and the download lands in
// the cache once.
func TestTableSymbolServer(t *testing.T) {
	facts := loadFacts(t, "x64")
	srv, hits := symbolServer(t, facts)
	cache := t.TempDir()
	f := appDump(t, facts, `C:\build\app.pdb`)
	path, err := symsrv.ParsePath("srv*" + cache + "*" + srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	tab := NewTable(f, Options{Path: path, Client: srv.Client()})
	vft := facts.ImageBase + uint64(facts.Symbols["CMMFSerializer::`vftable'"])
	if a, ok := tab.Lookup("app!CMMFSerializer::`vftable'"); !ok || a != vft {
		t.Fatalf("Lookup vftable = %#x %v, want %#x", a, ok, vft)
	}
	s, d, ok := tab.Nearest(vft + 8)
	if !ok || s.Name != "CMMFSerializer::`vftable'" || d != 8 || Format(tab, vft+8) != "app!CMMFSerializer::`vftable'+0x8" {
		t.Errorf("Nearest = %+v +%#x: %q", s, d, Format(tab, vft+8))
	}
	m, _ := tab.ModuleByName("app")
	if m.Status() != PDBSymbols || !strings.HasPrefix(m.SymbolFile(), cache) {
		t.Errorf("status %v from %q", m.Status(), m.SymbolFile())
	}
	var names []string
	for _, s := range tab.Match("app!CMMFSerializer::*") {
		names = append(names, s.Name)
	}
	for _, want := range []string{"CMMFSerializer::Open", "CMMFSerializer::`vftable'", "CMMFSerializer::Close"} {
		if !strings.Contains(strings.Join(names, "|"), want) {
			t.Errorf("x app!CMMFSerializer::* lacks %s: %v", want, names)
		}
	}
	if a, ok := tab.Lookup("app!CMMFSerializer::Open"); !ok || a != facts.ImageBase+uint64(facts.Symbols["CMMFSerializer::Open"]) {
		t.Errorf("CMMFSerializer::Open = %#x %v", a, ok)
	}
	// A second table on the same cache needs no download.
	tab2 := NewTable(f, Options{Path: path, Client: srv.Client()})
	tab2.Lookup("app!AppMain")
	key := "/app.pdb/" + strings.ReplaceAll(facts.GUID, "-", "") + "1/app.pdb"
	n := 0
	hits.Range(func(k, v any) bool {
		if strings.EqualFold(k.(string), key) {
			n += *v.(*int)
		}
		return true
	})
	if n != 1 {
		t.Errorf("the PDB was downloaded %d times, want 1", n)
	}
}

// A PDB name from the dump never chooses where a file is written.
func TestTableHostilePDBName(t *testing.T) {
	facts := loadFacts(t, "x64")
	srv, _ := symbolServer(t, facts)
	root := t.TempDir()
	cache := filepath.Join(root, "cache")
	f := appDump(t, facts, `..\..\..\app.pdb`)
	path, _ := symsrv.ParsePath("srv*" + cache + "*" + srv.URL)
	tab := NewTable(f, Options{Path: path, Client: srv.Client()})
	tab.Lookup("app!AppMain")
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && !strings.HasPrefix(p, cache+string(filepath.Separator)) {
			t.Errorf("file written outside the cache: %s", p)
		}
		return nil
	})
	if m, _ := tab.ModuleByName("app"); m.Status() != PDBSymbols {
		t.Errorf("the base name app.pdb should still be found: %v (%s)", m.Status(), m.Problem())
	}
}

// With no symbol path, a module with a CodeView record but no readable
// image has no symbols, and addresses print as module+offset.
func TestTableNoSymbols(t *testing.T) {
	facts := loadFacts(t, "x64")
	f := appDump(t, facts, "app.pdb")
	tab := NewTable(f, Options{})
	if got := Format(tab, facts.ImageBase+0x1234); got != "app+0x1234" {
		t.Errorf("Format = %q", got)
	}
	m, _ := tab.ModuleByName("app")
	if m.Status() != NoSymbols || m.Problem() == "" {
		t.Errorf("status %v problem %q", m.Status(), m.Problem())
	}
}

// A module with no CodeView record and no image in the dump (Wine-style)
// gets its exports from the image file that a symbol server keeps under
// TimeDateStamp+SizeOfImage.
func TestTableImageFromServer(t *testing.T) {
	facts := loadFacts(t, "x64")
	exe, err := os.ReadFile("../testdata/fixtures/x64/app.exe")
	if err != nil {
		t.Fatal(err)
	}
	key := "/app.exe/72B7BE545000/app.exe"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.URL.Path, key) {
			w.Write(exe)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	f := appDump(t, facts, "")
	if f.Modules[0].CodeView != nil {
		t.Fatal("the module must have no CodeView record")
	}
	path, _ := symsrv.ParsePath("srv*" + t.TempDir() + "*" + srv.URL)
	tab := NewTable(f, Options{Path: path, Client: srv.Client()})
	if a, ok := tab.Lookup("app!CreateCommunicator"); !ok || a != facts.ImageBase+5137 {
		t.Errorf("CreateCommunicator = %#x %v", a, ok)
	}
	if m, _ := tab.ModuleByName("app"); m.Status() != ExportSymbols {
		t.Errorf("status %v (%s)", m.Status(), m.Problem())
	}
}
