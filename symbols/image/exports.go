package image

import (
	"fmt"
	"strconv"
)

// IMAGE_EXPORT_DIRECTORY field offsets (PE/COFF specification, "Export
// Directory Table").
const (
	exportDirSize  = 40
	expName        = 12
	expBase        = 16
	expNumFuncs    = 20
	expNumNames    = 24
	expAddrFuncs   = 28
	expAddrNames   = 32
	expAddrOrdinal = 36
)

// parseExports reads the export directory: the name and ordinal tables give
// the named exports, the function table the rest. An RVA inside the export
// directory's own extent is a forwarder string ("NTDLL.RtlAllocateHeap"),
// not code: such exports get a Forwarder and no RVA.
func (p *parser) parseExports() {
	im := p.im
	d := im.Directories[DirExport]
	if d.RVA == 0 {
		return
	}
	var hdr [exportDirSize]byte
	if err := p.readFull(hdr[:], d.RVA); err != nil {
		p.note("exports: directory: %v", err)
		return
	}
	base := le32(hdr[expBase:])
	nFuncs := le32(hdr[expNumFuncs:])
	nNames := le32(hdr[expNumNames:])
	if rva := le32(hdr[expName:]); rva != 0 {
		name, err := p.readString(rva)
		if err != nil {
			p.note("exports: DLL name: %v", err)
		}
		im.ExportDLLName = name
	}
	funcs := p.readArray("exports: function table", le32(hdr[expAddrFuncs:]), nFuncs, 4, maxFunctions)
	names := p.readArray("exports: name table", le32(hdr[expAddrNames:]), nNames, 4, maxNames)
	ords := p.readArray("exports: ordinal table", le32(hdr[expAddrOrdinal:]), nNames, 2, maxNames)
	nf := len(funcs) / 4
	nn := min(len(names)/4, len(ords)/2)

	var badName, badIndex, badRVA, unread failures
	bigOrdinals := 0
	used := make([]bool, nf)
	add := func(name string, idx int) {
		rva := le32(funcs[4*idx:])
		if rva == 0 {
			return // an unused slot of the function table
		}
		ord := uint64(base) + uint64(idx)
		if ord > 0xffff {
			bigOrdinals++
			return
		}
		e := Export{Name: name, Ordinal: uint16(ord)}
		switch {
		case d.Size != 0 && rva >= d.RVA && uint64(rva) < uint64(d.RVA)+uint64(d.Size):
			fw, err := p.readString(rva)
			if err == nil && fw == "" {
				err = fmt.Errorf("empty string at RVA %#x", rva)
			}
			if err != nil {
				badRVA.add(&exportError{Name: name, Ordinal: ord, What: "forwarder", Err: err})
				return
			}
			e.Forwarder = fw
		case rva >= p.limit:
			badRVA.add(&exportError{Name: name, Ordinal: ord, What: "address", Err: &rangeError{RVA: rva, Limit: p.limit}})
			return
		default:
			e.RVA = rva
		}
		im.Exports = append(im.Exports, e)
	}
	for i := 0; i < nn; i++ {
		idx := int(le16(ords[2*i:]))
		if idx >= nf {
			if uint32(idx) < nFuncs {
				unread.add(nil) // its function table entry could not be read (noted above)
			} else {
				badIndex.add(nil)
			}
			continue
		}
		used[idx] = true
		name, err := p.readString(le32(names[4*i:]))
		if err != nil {
			badName.add(err)
			continue
		}
		add(name, idx)
	}
	for idx := 0; idx < nf; idx++ {
		if !used[idx] {
			add("", idx)
		}
	}

	if badName.n > 0 {
		p.note("exports: %d of %d names unreadable (first: %v)", badName.n, nn, badName.first)
	}
	if unread.n > 0 {
		p.note("exports: %d names refer to function table entries that could not be read", unread.n)
	}
	if badIndex.n > 0 {
		p.note("exports: %d names have ordinal indexes past the function table (%d entries)", badIndex.n, nFuncs)
	}
	if badRVA.n > 0 {
		p.note("exports: %d functions dropped (first: %v)", badRVA.n, badRVA.first)
	}
	if bigOrdinals > 0 {
		p.note("exports: %d ordinals exceed 65535 (ordinal base %d)", bigOrdinals, base)
	}
}

// exportError names the export whose address or forwarder is unusable.
type exportError struct {
	Name    string
	Ordinal uint64
	What    string
	Err     error
}

func (e *exportError) Error() string {
	who := e.Name
	if who == "" {
		who = "ordinal " + strconv.FormatUint(e.Ordinal, 10)
	}
	return who + " " + e.What + ": " + e.Err.Error()
}
