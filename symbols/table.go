package symbols

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"wdb/dump"
	"wdb/expr"
	"wdb/symbols/image"
	"wdb/symbols/pdb"
	"wdb/symbols/symsrv"
	"wdb/symbols/undname"
)

// Status is what a module's symbols are, as lm shows it.
type Status int

const (
	Deferred Status = iota // not looked at yet: loaded the first time a command needs them
	PDBSymbols
	ExportSymbols
	NoSymbols
)

func (s Status) String() string {
	switch s {
	case PDBSymbols:
		return "pdb symbols"
	case ExportSymbols:
		return "export symbols"
	case NoSymbols:
		return "no symbols"
	}
	return "deferred"
}

// Kind is what a symbol names.
type Kind int

const (
	KindUnknown  Kind = iota
	KindFunction      // a function with private symbols (size known)
	KindPublic        // a public symbol: code or data, no type information
	KindData          // global or static data
	KindExport        // an export of the image
	KindLabel
)

// Options configure where symbols come from.
type Options struct {
	Path         symsrv.Path
	ImagePath    []string // directories searched for image files (-i, .exepath)
	DefaultCache string   // where srv*URL and .symfix store downloads
	Client       *http.Client
	// Context returns the context of the running command, so Ctrl-C stops a download.
	Context func() context.Context
	// Warn receives messages the user must see (a server given up on, file.ptr MSG:).
	Warn func(string)
	// Progress receives download progress.
	Progress func(symsrv.Progress)
}

// ModuleSymbols holds one module's symbols, loaded on first need.
type ModuleSymbols struct {
	Module *dump.Module
	Name   string // WinDbg's name: "ntdll", "ntdll_77cf0000"

	mu         sync.Mutex
	status     Status
	symbolFile string // the PDB path, or the image that gave exports
	problem    string // why there are no (better) symbols
	cv         *dump.CodeView
	pdb        *pdb.File
	img        *image.Image
	exports    []Symbol // sorted by address, from the image's export table
	display    []Symbol // every symbol with its WinDbg name; built on first Match/Lookup
	byName     map[string][]int
}

// Status reports the module's symbol status without loading it.
func (m *ModuleSymbols) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status
}

// SymbolFile is the PDB (pdb symbols) or image (export symbols) the symbols came from.
func (m *ModuleSymbols) SymbolFile() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.symbolFile
}

// Problem says why a module has no PDB symbols, once loaded.
func (m *ModuleSymbols) Problem() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.problem
}

// CodeView is the module's debug identity: from the module record, or from
// the image's debug directory when the record has none (Wine dumps).
func (m *ModuleSymbols) CodeView() *dump.CodeView {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cv
}

// Image is the module's parsed image, when one could be read.
func (m *ModuleSymbols) Image() *image.Image {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.img
}

// Table is the resolver of a session: every module of the dump with its
// symbols, from the exports of the images in the dump at once and from
// PDBs found through the symbol path, each module loaded lazily.
type Table struct {
	f    *dump.File
	opts Options
	mods []*ModuleSymbols // sorted by base

	mu     sync.Mutex
	finder *symsrv.Finder
	noisy  func(string) // !sym noisy: each step of a lookup; nil when quiet
}

// NewTable indexes the modules of f; nothing is loaded yet.
func NewTable(f *dump.File, o Options) *Table {
	t := &Table{f: f, opts: o}
	for i, n := range ModuleNames(f) {
		if n != "" {
			t.mods = append(t.mods, &ModuleSymbols{Module: &f.Modules[i], Name: n, cv: f.Modules[i].CodeView})
		}
	}
	sort.SliceStable(t.mods, func(i, j int) bool { return t.mods[i].Module.Base < t.mods[j].Module.Base })
	t.finder = t.newFinder()
	return t
}

func (t *Table) newFinder() *symsrv.Finder {
	return &symsrv.Finder{Path: t.opts.Path, Client: t.opts.Client, DefaultCache: t.opts.DefaultCache,
		Log: t.log, Warn: t.opts.Warn, Progress: t.opts.Progress}
}

// Path is the symbol path.
func (t *Table) Path() symsrv.Path {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.opts.Path
}

// SetPath changes the symbol path; modules without PDB symbols go back to
// deferred so the next use looks again.
func (t *Table) SetPath(p symsrv.Path) {
	t.mu.Lock()
	t.opts.Path = p
	t.finder = t.newFinder()
	t.mu.Unlock()
	for _, m := range t.mods {
		m.mu.Lock()
		if m.status != PDBSymbols {
			m.reset()
		}
		m.mu.Unlock()
	}
}

// ImagePath is the executable image path.
func (t *Table) ImagePath() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.opts.ImagePath...)
}

// SetImagePath changes the image path (.exepath).
func (t *Table) SetImagePath(dirs []string) {
	t.mu.Lock()
	t.opts.ImagePath = append([]string(nil), dirs...)
	t.mu.Unlock()
}

// DefaultCache is the local store for downloads.
func (t *Table) DefaultCache() string { return t.opts.DefaultCache }

// SetNoisy turns !sym noisy on (log != nil) or off.
func (t *Table) SetNoisy(log func(string)) {
	t.mu.Lock()
	t.noisy = log
	t.mu.Unlock()
}

// Noisy reports whether !sym noisy is on.
func (t *Table) Noisy() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.noisy != nil
}

func (t *Table) log(msg string) {
	t.mu.Lock()
	l := t.noisy
	t.mu.Unlock()
	if l != nil {
		l("SYMSRV:  " + msg)
	}
}

func (t *Table) logf(format string, a ...any) {
	t.mu.Lock()
	l := t.noisy
	t.mu.Unlock()
	if l != nil {
		l("DBGHELP: " + fmt.Sprintf(format, a...))
	}
}

func (t *Table) ctx() context.Context {
	if t.opts.Context != nil {
		if c := t.opts.Context(); c != nil {
			return c
		}
	}
	return context.Background()
}

// Modules lists the modules in address order.
func (t *Table) Modules() []*ModuleSymbols { return t.mods }

// ModuleAt returns the module that contains addr.
func (t *Table) ModuleAt(addr uint64) (*ModuleSymbols, bool) {
	i := sort.Search(len(t.mods), func(i int) bool { return t.mods[i].Module.Base > addr }) - 1
	if i >= 0 && addr < t.mods[i].Module.End() {
		return t.mods[i], true
	}
	return nil, false
}

// ModuleByName finds a module by its WinDbg name, case-insensitively; the
// file name with its extension is accepted too ("ntdll.dll").
func (t *Table) ModuleByName(name string) (*ModuleSymbols, bool) {
	for _, m := range t.mods {
		if strings.EqualFold(m.Name, name) {
			return m, true
		}
	}
	for _, m := range t.mods {
		if strings.EqualFold(m.Module.BaseName(), name) {
			return m, true
		}
	}
	return nil, false
}

// Reload forgets what was loaded for the named module (all modules when
// name is empty) and, with force, loads it again at once.
func (t *Table) Reload(name string, force bool) error {
	var list []*ModuleSymbols
	if name == "" {
		list = t.mods
	} else {
		m, ok := t.ModuleByName(name)
		if !ok {
			return fmt.Errorf("\"%s\" was not found in the image list", name)
		}
		list = []*ModuleSymbols{m}
	}
	for _, m := range list {
		m.mu.Lock()
		m.reset()
		m.mu.Unlock()
		if force {
			t.Load(m)
		}
	}
	return nil
}

func (m *ModuleSymbols) reset() {
	if m.pdb != nil {
		m.pdb.Close()
	}
	m.status, m.symbolFile, m.problem = Deferred, "", ""
	m.pdb, m.img, m.exports, m.display, m.byName = nil, nil, nil, nil, nil
	m.cv = m.Module.CodeView
}

// Load loads a module's symbols if that has not been done: the PDB through
// the symbol path, else the exports of the image (from the dump's memory,
// the image path or a symbol server).
func (t *Table) Load(m *ModuleSymbols) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.status != Deferred {
		return
	}
	mod := m.Module
	if img, err := image.FromMemory(t.f, mod); err == nil {
		m.img = img
		if m.cv == nil && img.CodeView != nil {
			m.cv = img.CodeView
			t.logf("%s - CodeView record taken from the image's debug directory", m.Name)
		}
	} else {
		t.logf("%s - image not readable in the dump: %v", m.Name, err)
	}
	if t.loadPDB(m) {
		return
	}
	if t.loadExports(m) {
		return
	}
	m.status = NoSymbols
	if m.problem == "" {
		m.problem = "no PDB found and no export table readable"
	}
}

func (t *Table) loadPDB(m *ModuleSymbols) bool {
	cv := m.cv
	if cv == nil {
		m.problem = "the module has no CodeView record"
		t.logf("%s - no CodeView record: cannot look for a PDB", m.Name)
		return false
	}
	if cv.Signature != "RSDS" {
		m.problem = "PDB 2.0 (NB10) records are not supported"
		t.logf("%s - %s CodeView record refers to a PDB 2.0 file: not supported", m.Name, cv.Signature)
		return false
	}
	t.mu.Lock()
	finder := t.finder
	empty := len(t.opts.Path.Elements) == 0
	t.mu.Unlock()
	if empty {
		m.problem = "the symbol path is empty"
		return false
	}
	validate := func(path string) error {
		p, err := pdb.Open(path)
		if err != nil {
			return err
		}
		defer p.Close()
		return p.Matches(cv.GUID, cv.Age)
	}
	key := symsrv.PDBKey(cv.PDBName, cv.GUID, cv.Age)
	t.logf("%s - looking for %s (%s)", m.Name, key.Name, key.ID)
	path, err := finder.Find(t.ctx(), key, validate)
	if err != nil {
		m.problem = err.Error()
		t.logf("%s - %v", m.Name, err)
		return false
	}
	p, err := pdb.Open(path)
	if err != nil {
		m.problem = err.Error()
		return false
	}
	m.pdb, m.status, m.symbolFile = p, PDBSymbols, path
	t.logf("%s - loaded %s", m.Name, path)
	return true
}

func (t *Table) loadExports(m *ModuleSymbols) bool {
	img := m.img
	if img == nil || len(img.Exports) == 0 {
		if alt := t.imageFromFiles(m); alt != nil {
			img = alt
		}
	}
	if img == nil || len(img.Exports) == 0 {
		return false
	}
	x86 := t.f.PointerSize() == 4
	for _, e := range img.ExportsSorted() {
		name := e.Name
		if name == "" {
			name = fmt.Sprintf("Ordinal%d", e.Ordinal)
		}
		m.exports = append(m.exports, Symbol{Module: m.Name, Name: undname.Display(name, x86), Addr: m.Module.Base + uint64(e.RVA), Kind: KindExport})
	}
	sort.SliceStable(m.exports, func(i, j int) bool { return m.exports[i].Addr < m.exports[j].Addr })
	m.status = ExportSymbols
	m.symbolFile = m.Module.BaseName()
	if img.File != "" {
		m.symbolFile = img.File
	}
	return true
}

// imageFromFiles looks for the module's image in the image path and then
// through the symbol path (by TimeDateStamp and SizeOfImage).
func (t *Table) imageFromFiles(m *ModuleSymbols) *image.Image {
	mod := m.Module
	name := mod.BaseName()
	for _, dir := range t.ImagePath() {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		img, err := image.FromFile(p, mod.TimeDateStamp, mod.Size)
		if err != nil {
			t.logf("%s - %s refused: %v", m.Name, p, err)
			continue
		}
		t.logf("%s - image %s", m.Name, p)
		return img
	}
	t.mu.Lock()
	finder := t.finder
	empty := len(t.opts.Path.Elements) == 0
	t.mu.Unlock()
	if empty || mod.TimeDateStamp == 0 || mod.Size == 0 {
		return nil
	}
	key := symsrv.ImageKey(name, mod.TimeDateStamp, mod.Size)
	p, err := finder.Find(t.ctx(), key, func(path string) error {
		_, err := image.FromFile(path, mod.TimeDateStamp, mod.Size)
		return err
	})
	if err != nil {
		t.logf("%s - image %s not found: %v", m.Name, name, err)
		return nil
	}
	img, err := image.FromFile(p, mod.TimeDateStamp, mod.Size)
	if err != nil {
		return nil
	}
	return img
}

// Nearest names addr: the PDB or export symbol at or below it in its
// module, else the module itself.
func (t *Table) Nearest(addr uint64) (Symbol, uint64, bool) {
	if t == nil {
		return Symbol{}, 0, false
	}
	m, ok := t.ModuleAt(addr)
	if !ok {
		return Symbol{}, 0, false
	}
	t.Load(m)
	if s, ok := t.nearestIn(m, addr); ok {
		return s, addr - s.Addr, true
	}
	return Symbol{Module: m.Name, Addr: m.Module.Base, Size: uint64(m.Module.Size)}, addr - m.Module.Base, true
}

func (t *Table) nearestIn(m *ModuleSymbols, addr uint64) (Symbol, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rva := uint32(addr - m.Module.Base)
	if m.pdb != nil {
		if s, ok := m.pdb.Nearest(rva); ok {
			return t.pdbSymbol(m, s), true
		}
		return Symbol{}, false
	}
	i := sort.Search(len(m.exports), func(i int) bool { return m.exports[i].Addr > addr }) - 1
	if i >= 0 {
		return m.exports[i], true
	}
	return Symbol{}, false
}

func (t *Table) pdbSymbol(m *ModuleSymbols, s pdb.Symbol) Symbol {
	kind := KindPublic
	switch s.Kind {
	case pdb.Function, pdb.Thunk:
		kind = KindFunction
	case pdb.Data:
		kind = KindData
	case pdb.Label:
		kind = KindLabel
	}
	name := s.Name
	if s.Kind == pdb.Public {
		name = undname.Display(s.Name, t.f.PointerSize() == 4)
	}
	return Symbol{Module: m.Name, Name: name, Addr: m.Module.Base + uint64(s.RVA), Size: uint64(s.Size), Kind: kind,
		Code: s.Kind != pdb.Data && (s.Kind != pdb.Public || s.Flags&(pdb.PubCode|pdb.PubFunction) != 0)}
}

// Next returns the first symbol after addr in addr's module (ln's right column).
func (t *Table) Next(addr uint64) (Symbol, bool) {
	m, ok := t.ModuleAt(addr)
	if !ok {
		return Symbol{}, false
	}
	syms := t.displaySymbols(m)
	i := sort.Search(len(syms), func(i int) bool { return syms[i].Addr > addr })
	if i < len(syms) {
		return syms[i], true
	}
	return Symbol{}, false
}

// LineAt gives the source file and line of addr when the PDB has line information.
func (t *Table) LineAt(addr uint64) (string, int, bool) {
	m, ok := t.ModuleAt(addr)
	if !ok {
		return "", 0, false
	}
	t.Load(m)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pdb == nil {
		return "", 0, false
	}
	return m.pdb.LineAt(uint32(addr - m.Module.Base))
}

// displaySymbols returns every symbol of a module with its WinDbg name,
// sorted by address, building the list once: publics undecorated, private
// functions and data as the PDB names them, or the exports.
func (t *Table) displaySymbols(m *ModuleSymbols) []Symbol {
	t.Load(m)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.display != nil {
		return m.display
	}
	var out []Symbol
	if m.pdb != nil {
		m.pdb.LoadProcs()
		seen := map[string]bool{}
		for _, s := range m.pdb.Symbols() {
			d := t.pdbSymbol(m, s)
			key := fmt.Sprintf("%x|%s", d.Addr, d.Name)
			if seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, d)
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	} else {
		out = append(out, m.exports...)
	}
	m.display = out
	m.byName = make(map[string][]int, len(out))
	for i, s := range out {
		k := strings.ToLower(s.Name)
		m.byName[k] = append(m.byName[k], i)
	}
	return out
}

// Lookup resolves "module!name", "module" or a bare name (searched in
// every module, in address order).
func (t *Table) Lookup(name string) (uint64, bool) {
	if t == nil {
		return 0, false
	}
	modName, sym, qualified := strings.Cut(name, "!")
	if !qualified {
		if m, ok := t.ModuleByName(name); ok {
			return m.Module.Base, true
		}
		for _, m := range t.mods {
			if a, ok := t.lookupIn(m, name); ok {
				return a, true
			}
		}
		return 0, false
	}
	m, ok := t.ModuleByName(modName)
	if !ok {
		return 0, false
	}
	if sym == "" {
		return m.Module.Base, true
	}
	return t.lookupIn(m, sym)
}

func (t *Table) lookupIn(m *ModuleSymbols, name string) (uint64, bool) {
	t.Load(m)
	m.mu.Lock()
	p := m.pdb
	m.mu.Unlock()
	if p != nil {
		// Raw names first: decorated publics and private names need no undecoration.
		if ss := p.Lookup(name); len(ss) > 0 {
			return m.Module.Base + uint64(ss[0].RVA), true
		}
	}
	t.displaySymbols(m)
	m.mu.Lock()
	defer m.mu.Unlock()
	if idx := m.byName[strings.ToLower(name)]; len(idx) > 0 {
		return m.display[idx[0]].Addr, true
	}
	return 0, false
}

// Match lists the symbols whose "module!name" matches a WinDbg wildcard
// pattern; a pattern without '!' matches names in every module.
func (t *Table) Match(pattern string) []Symbol {
	if t == nil {
		return nil
	}
	modPat, symPat, ok := strings.Cut(pattern, "!")
	if !ok {
		modPat, symPat = "*", pattern
	}
	var out []Symbol
	for _, m := range t.mods {
		if !expr.MatchWildcard(modPat, m.Name) {
			continue
		}
		for _, s := range t.displaySymbols(m) {
			if matchSymbol(symPat, s.Name) {
				out = append(out, s)
			}
		}
	}
	return out
}

// matchSymbol applies WinDbg's symbol wildcard rules: case-insensitive, and a
// single leading underscore in the pattern stands for any number of them.
func matchSymbol(pattern, name string) bool {
	if strings.HasPrefix(pattern, "_") && !strings.HasPrefix(pattern, "__") {
		return expr.MatchWildcard(strings.TrimLeft(pattern, "_"), strings.TrimLeft(name, "_"))
	}
	return expr.MatchWildcard(pattern, name)
}
