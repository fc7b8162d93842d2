package commands

import (
	"fmt"
	"strings"

	"wdb/expr"
)

// The session is the environment of MASM expressions: memory, registers of
// the current thread, pseudo-registers and symbols.

// ReadMemory reads size bytes of target memory (expr.Env).
func (s *Session) ReadMemory(addr uint64, size int) ([]byte, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	b := make([]byte, size)
	n, err := s.Target.ReadMemory(addr, b)
	if n < size {
		return nil, err
	}
	return b, nil
}

// Register returns a register of the current thread (expr.Env).
func (s *Session) Register(name string) (uint64, bool) {
	c := s.Context()
	if c == nil {
		return 0, false
	}
	return c.Register(strings.ToLower(name))
}

// PseudoRegister returns $ip, $csp, $peb, $teb, $tid, $tpid, $ptrsize, $t0-$t19 (expr.Env).
func (s *Session) PseudoRegister(name string) (uint64, bool) {
	name = strings.ToLower(name)
	var n int
	if _, err := fmt.Sscanf(name, "$t%d", &n); err == nil && n >= 0 && n < len(s.PseudoRegs) && name == fmt.Sprintf("$t%d", n) {
		return s.PseudoRegs[n], true
	}
	switch name {
	case "$ptrsize":
		return uint64(s.PointerSize()), true
	case "$ip":
		if c := s.Context(); c != nil {
			return c.PC(), true
		}
	case "$csp":
		if c := s.Context(); c != nil {
			return c.SP(), true
		}
	case "$teb":
		if t, ok := s.CurrentThread(); ok {
			return t.TEB, true
		}
	case "$tid":
		if t, ok := s.CurrentThread(); ok {
			return uint64(t.ID), true
		}
	case "$tpid":
		if s.Target != nil {
			if pid, ok := s.Target.ProcessID(); ok {
				return uint64(pid), true
			}
		}
	case "$peb":
		if s.Target != nil {
			if peb, err := s.Target.PEB(); err == nil {
				return peb, true
			}
		}
	}
	return 0, false
}

// Symbol resolves module!name or a module name (expr.Env).
func (s *Session) Symbol(name string) (uint64, bool) {
	if s.Symbols == nil {
		return 0, false
	}
	return s.Symbols.Lookup(name)
}

// Eval evaluates a whole MASM expression.
func (s *Session) Eval(text string) (uint64, error) {
	return expr.Eval(text, s)
}

// ParseExpr evaluates the expression at the start of text and returns the rest.
func (s *Session) ParseExpr(text string) (uint64, string, error) {
	return expr.ParseExpr(text, s)
}

// ParseRange parses "addr", "addr L count", "addr L?count" or "addr addr".
func (s *Session) ParseRange(text string) (expr.Range, string, error) {
	return expr.ParseRange(text, s)
}
