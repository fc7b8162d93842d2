package unwind

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// RuntimeFunction is one .pdata entry (IMAGE_RUNTIME_FUNCTION_ENTRY): the
// RVAs of a function's code range and of its UNWIND_INFO.
type RuntimeFunction struct {
	Begin, End, UnwindData uint32
}

// UNWIND_INFO flags.
const (
	UnwFlagEHandler  = 0x1
	UnwFlagUHandler  = 0x2
	UnwFlagChainInfo = 0x4
)

// Unwind operation codes (UNWIND_CODE.UnwindOp).
const (
	UwopPushNonvol     = 0
	UwopAllocLarge     = 1
	UwopAllocSmall     = 2
	UwopSetFPReg       = 3
	UwopSaveNonvol     = 4
	UwopSaveNonvolFar  = 5
	UwopEpilog         = 6 // version 2; UWOP_SAVE_XMM in early version 1 images
	UwopSpareCode      = 7
	UwopSaveXMM128     = 8
	UwopSaveXMM128Far  = 9
	UwopPushMachFrame  = 10
	maxChainDepth      = 32 // UNWIND_CHAIN_LIMIT
	runtimeFunctionLen = 12
)

// UnwindCode is one UNWIND_CODE slot. Multi-slot operations keep their
// extra slots as following entries of UnwindInfo.Codes.
type UnwindCode struct {
	CodeOffset uint8 // offset in the prologue of the end of the instruction
	Op         uint8
	Info       uint8
}

// FrameOffset is the slot read as the 16-bit operand of the previous code.
func (c UnwindCode) FrameOffset() uint16 {
	return uint16(c.CodeOffset) | uint16(c.Op)<<8 | uint16(c.Info)<<12
}

// slots is how many slots the operation starting with c takes
// (RtlpUnwindOpSlots).
func (c UnwindCode) slots() int {
	switch c.Op {
	case UwopAllocLarge:
		if c.Info != 0 {
			return 3
		}
		return 2
	case UwopSaveNonvol, UwopSaveXMM128, UwopEpilog:
		return 2
	case UwopSaveNonvolFar, UwopSaveXMM128Far, UwopSpareCode:
		return 3
	}
	return 1
}

// UnwindInfo is a decoded UNWIND_INFO.
type UnwindInfo struct {
	RVA           uint32
	Version       uint8
	Flags         uint8
	SizeOfProlog  uint8
	FrameRegister uint8 // 0: none
	FrameOffset   uint8 // scaled by 16
	Codes         []UnwindCode
	// Chained is the parent entry when Flags has UnwFlagChainInfo.
	Chained *RuntimeFunction
	// Handler is the language handler's RVA when Flags has EHANDLER/UHANDLER.
	Handler uint32
}

// readUnwindInfo decodes the UNWIND_INFO at rva.
func (m *module) readUnwindInfo(rva uint32) (*UnwindInfo, error) {
	var hdr [4]byte
	if err := m.read(rva, hdr[:]); err != nil {
		return nil, fmt.Errorf("unwind info: %w", err)
	}
	ui := &UnwindInfo{RVA: rva, Version: hdr[0] & 7, Flags: hdr[0] >> 3, SizeOfProlog: hdr[1],
		FrameRegister: hdr[3] & 0xf, FrameOffset: hdr[3] >> 4}
	if ui.Version != 1 && ui.Version != 2 {
		return nil, fmt.Errorf("unwind info at RVA %#x: version %d not understood", rva, ui.Version)
	}
	n := int(hdr[2])
	slots := (n + 1) &^ 1
	tail := 0
	if ui.Flags&UnwFlagChainInfo != 0 {
		tail = runtimeFunctionLen
	} else if ui.Flags&(UnwFlagEHandler|UnwFlagUHandler) != 0 {
		tail = 4
	}
	b := make([]byte, 2*slots+tail)
	if err := m.read(rva+4, b); err != nil {
		// The codes alone still unwind; only the trailer is missing.
		if tail == runtimeFunctionLen || m.read(rva+4, b[:2*n]) != nil {
			return nil, fmt.Errorf("unwind info codes: %w", err)
		}
		tail = 0
	}
	ui.Codes = make([]UnwindCode, n)
	for i := range ui.Codes {
		ui.Codes[i] = UnwindCode{CodeOffset: b[2*i], Op: b[2*i+1] & 0xf, Info: b[2*i+1] >> 4}
	}
	t := b[2*slots:]
	le := binary.LittleEndian
	switch {
	case ui.Flags&UnwFlagChainInfo != 0:
		ui.Chained = &RuntimeFunction{Begin: le.Uint32(t), End: le.Uint32(t[4:]), UnwindData: le.Uint32(t[8:])}
	case tail == 4:
		ui.Handler = le.Uint32(t)
	}
	return ui, nil
}

// errNoPdata: the module has no exception directory, so every function in it
// is a leaf by the x64 ABI.
var errNoPdata = errors.New("module has no exception directory")

// lookupFunction finds the .pdata entry covering rva by binary search,
// following indirect entries (UnwindData with the low bit set points at
// another RUNTIME_FUNCTION). ok is false when .pdata has no entry for rva.
func (m *module) lookupFunction(rva uint32) (fn RuntimeFunction, ok bool, err error) {
	if m.hdr == nil {
		return fn, false, fmt.Errorf("PE headers unavailable: %w", m.hdrErr)
	}
	dir := m.hdr.exception
	if dir.RVA == 0 || dir.Size < runtimeFunctionLen {
		return fn, false, errNoPdata
	}
	if m.hdr.sizeOfImage != 0 && (dir.RVA >= m.hdr.sizeOfImage || dir.Size > m.hdr.sizeOfImage-dir.RVA) {
		return fn, false, fmt.Errorf("exception directory %#x+%#x lies outside the image", dir.RVA, dir.Size)
	}
	lo, hi := uint32(0), dir.Size/runtimeFunctionLen
	for lo < hi {
		mid := lo + (hi-lo)/2
		e, err := m.readRuntimeFunction(dir.RVA + mid*runtimeFunctionLen)
		if err != nil {
			return fn, false, fmt.Errorf(".pdata: %w", err)
		}
		switch {
		case rva < e.Begin:
			hi = mid
		case rva >= e.End:
			lo = mid + 1
		default:
			for depth := 0; e.UnwindData&1 != 0; depth++ {
				if depth > maxChainDepth {
					return fn, false, errors.New(".pdata: indirect entries loop")
				}
				if e, err = m.readRuntimeFunction(e.UnwindData - 1); err != nil {
					return fn, false, fmt.Errorf(".pdata indirect entry: %w", err)
				}
			}
			return e, true, nil
		}
	}
	return fn, false, nil
}

func (m *module) readRuntimeFunction(rva uint32) (RuntimeFunction, error) {
	var b [runtimeFunctionLen]byte
	if err := m.read(rva, b[:]); err != nil {
		return RuntimeFunction{}, err
	}
	le := binary.LittleEndian
	return RuntimeFunction{Begin: le.Uint32(b[:]), End: le.Uint32(b[4:]), UnwindData: le.Uint32(b[8:])}, nil
}

// primary follows the chain of fn to its primary (unchained) entry.
func (m *module) primary(fn RuntimeFunction) (RuntimeFunction, error) {
	for depth := 0; depth <= maxChainDepth; depth++ {
		ui, err := m.readUnwindInfo(fn.UnwindData)
		if err != nil {
			return fn, err
		}
		if ui.Chained == nil {
			return fn, nil
		}
		fn = *ui.Chained
	}
	return fn, errors.New("chained unwind info deeper than 32")
}

// FunctionEntry returns the x64 .pdata entry and decoded unwind info of the
// function holding pc (for .fnent and unwind diagnostics). ok is false when
// the module's .pdata has no entry for pc (a leaf function).
func (w *Walker) FunctionEntry(pc uint64) (base uint64, fn RuntimeFunction, ui *UnwindInfo, ok bool, err error) {
	s := &walk{w: w, arch: 0, ptr: 8}
	m := s.moduleAt(pc)
	if m == nil {
		return 0, fn, nil, false, fmt.Errorf("%#x is in no module", pc)
	}
	fn, ok, err = m.lookupFunction(uint32(pc - m.base))
	if err != nil || !ok {
		return m.base, fn, nil, ok, err
	}
	ui, err = m.readUnwindInfo(fn.UnwindData)
	return m.base, fn, ui, err == nil, err
}
