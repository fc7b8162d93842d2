package unwind

import (
	"encoding/binary"
	"errors"
	"fmt"

	"wdb/dump"
)

// WOW64 layout: TEB64.TlsSlots[WOW64_TLS_CPURESERVED] points to the CPU
// area wow64cpu saves the 32-bit context in when the thread enters 64-bit
// code: a USHORT flags, a USHORT machine, then the x86 CONTEXT.
const (
	teb64TLSSlots     = 0x1480
	wow64TLSCPU       = 1
	wow64ContextOff   = 4
	x86ContextSize    = 0x2cc
	machineI386       = 0x14c
	contextI386Marker = 0x10000
)

// Wow64Context returns the x86 registers of a WOW64 thread: the thread's
// own context when it stopped in 32-bit code, else the context wow64cpu
// saved when the thread last left 32-bit code. Walking it gives the 32-bit
// stack (.effmach x86; k).
func (w *Walker) Wow64Context(t *dump.Thread) (*dump.Context, error) {
	if t == nil || t.Context == nil {
		return nil, errors.New("thread has no context")
	}
	if t.Context.Arch == dump.ArchX86 {
		return t.Context, nil
	}
	if t.Context.Cs == wow64CodeSegment {
		c := *t.Context
		c.Arch = dump.ArchX86
		for _, r := range []*uint64{&c.Rax, &c.Rbx, &c.Rcx, &c.Rdx, &c.Rsi, &c.Rdi, &c.Rbp, &c.Rsp, &c.Rip} {
			*r &= 0xffffffff
		}
		return &c, nil
	}
	s := &walk{w: w, ptr: 8}
	area, ok := s.read64(t.TEB + teb64TLSSlots + 8*wow64TLSCPU)
	if t.TEB == 0 || !ok || area == 0 {
		return nil, fmt.Errorf("TEB %#x: no WOW64 CPU area (not a WOW64 thread, or the TEB is not captured)", t.TEB)
	}
	var hdr [4]byte
	b := make([]byte, x86ContextSize)
	if !s.readMem(area, hdr[:]) || !s.readMem(area+wow64ContextOff, b) {
		return nil, fmt.Errorf("WOW64 CPU area at %#x is not captured", area)
	}
	if m := binary.LittleEndian.Uint16(hdr[2:]); m != machineI386 && m != 0 {
		return nil, fmt.Errorf("WOW64 CPU area at %#x is for machine %#x, not x86", area, m)
	}
	c, err := dump.DecodeContext(b, dump.ArchX86)
	if err != nil {
		return nil, err
	}
	if c.Flags&contextI386Marker == 0 || c.Cs != wow64CodeSegment {
		return nil, fmt.Errorf("WOW64 CPU area at %#x holds no x86 context (flags %#x, cs %#x)", area, c.Flags, c.Cs)
	}
	return c, nil
}
