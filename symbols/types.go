package symbols

import "wdb/symbols/pdb"

// PDB loads the module's symbols if they are still deferred and returns
// its PDB, or nil when the module has no PDB symbols (exports only, none).
// dt reads type information through it.
func (t *Table) PDB(m *ModuleSymbols) *pdb.File {
	t.Load(m)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pdb
}

// LoadedPDB returns the module's PDB if one is already loaded, without
// loading anything (so "dt Type" over all modules stays cheap).
func (t *Table) LoadedPDB(m *ModuleSymbols) *pdb.File {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pdb
}
