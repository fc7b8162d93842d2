package dump

import (
	"fmt"
	"sort"
	"sync"
	"time"
	"unicode/utf16"
)

// Header is MINIDUMP_HEADER.
type Header struct {
	Signature     uint32
	Version       uint32 // low 16 bits: MINIDUMP_VERSION (0xa793); high 16: implementation
	NumStreams    uint32
	DirectoryRVA  uint32
	CheckSum      uint32
	TimeDateStamp uint32 // seconds since 1970, UTC: when the dump was written
	Flags         uint64 // MINIDUMP_TYPE
}

// Time is when the dump was written.
func (h Header) Time() time.Time { return time.Unix(int64(h.TimeDateStamp), 0).UTC() }

// StreamEntry is one entry of the stream directory.
type StreamEntry struct {
	Index    int
	Type     StreamType
	Location Location
}

// File is an opened minidump. The fields hold what the small streams say; the
// memory ranges stay in the file and are read through ReadMemory and Chunks.
type File struct {
	Path      string
	Size      int64
	Header    Header
	Directory []StreamEntry

	System          *SystemInfo // nil when the dump has no SystemInfo stream
	Misc            *MiscInfo
	Modules         []Module
	UnloadedModules []UnloadedModule
	Threads         []Thread
	Exception       *Exception
	Handles         []Handle
	HasHandleData   bool
	Comments        []string
	MemoryInfo      []MemoryInfo // raw MemoryInfoList entries; nil when absent
	HasMemoryInfo   bool

	// Descriptor counts of the memory lists as the streams declare and hold them.
	MemoryListCount   int
	Memory64ListCount int

	// Warnings lists what could not be read; the rest of the dump stays usable.
	Warnings []error

	src     *source
	mem     memoryMap
	streams map[StreamType]StreamEntry

	regionsOnce sync.Once
	regions     []Region
}

// Open maps the file at path and parses its header, directory and small
// streams. A file that is not a minidump at all gives an error; damage inside
// streams gives Warnings.
func Open(path string) (*File, error) {
	src, err := openSource(path)
	if err != nil {
		return nil, err
	}
	f, err := newFile(src, path)
	if err != nil {
		src.close()
		return nil, err
	}
	return f, nil
}

// OpenBytes parses a dump held in memory (tests, fuzzing, dumps unpacked from
// a CAB).
func OpenBytes(b []byte, name string) (*File, error) {
	return newFile(bytesSource(b), name)
}

// Close releases the mapping.
func (f *File) Close() error { return f.src.close() }

func newFile(src *source, path string) (*File, error) {
	f := &File{Path: path, Size: src.size, src: src, streams: map[StreamType]StreamEntry{}}
	hb, ok := src.slice(0, headerSize)
	if !ok {
		return nil, &FormatError{File: path, Offset: 0, What: "minidump header", Err: fmt.Sprintf("truncated: file is %d bytes, the header needs %d", src.size, headerSize)}
	}
	c := newCursor(hb, 0, "minidump header")
	f.Header = Header{Signature: c.u32(), Version: c.u32(), NumStreams: c.u32(), DirectoryRVA: c.u32(), CheckSum: c.u32(), TimeDateStamp: c.u32(), Flags: c.u64()}
	if f.Header.Signature != Signature {
		return nil, &FormatError{File: path, Offset: 0, What: "minidump header", Err: fmt.Sprintf("bad signature 0x%08x (want 'MDMP')", f.Header.Signature)}
	}
	if err := f.readDirectory(); err != nil {
		return nil, err
	}
	f.readStreams()
	f.mem = buildMemoryMap(f)
	return f, nil
}

func (f *File) warn(err error) {
	if fe, ok := err.(*FormatError); ok && fe.File == "" {
		fe.File = f.Path
	}
	f.Warnings = append(f.Warnings, err)
}

func (f *File) readDirectory() error {
	n := int64(f.Header.NumStreams)
	off := int64(f.Header.DirectoryRVA)
	avail := f.Size - off
	if off > f.Size || avail < 0 {
		return &FormatError{File: f.Path, Offset: 8, What: "stream directory", Err: fmt.Sprintf("RVA 0x%x is past the end of the %d-byte file", off, f.Size)}
	}
	if n*directoryEntrySize > avail {
		// Keep the entries that fit: a truncated directory still names some streams.
		fit := avail / directoryEntrySize
		if fit == 0 {
			return &FormatError{File: f.Path, Offset: off, What: "stream directory", Err: fmt.Sprintf("%d entries do not fit in the file", n)}
		}
		f.warn(&FormatError{Offset: off, What: "stream directory", Err: fmt.Sprintf("%d entries declared, only %d fit in the file", n, fit)})
		n = fit
	}
	b, _ := f.src.slice(off, n*directoryEntrySize)
	c := newCursor(b, off, "stream directory")
	type span struct {
		start, end int64
		t          StreamType
	}
	var spans []span
	for i := int64(0); i < n; i++ {
		e := StreamEntry{Index: int(i), Type: StreamType(c.u32()), Location: c.location()}
		f.Directory = append(f.Directory, e)
		if e.Type == StreamUnused {
			continue
		}
		if int64(e.Location.RVA)+int64(e.Location.Size) > f.Size {
			f.warn(&FormatError{Offset: off + i*directoryEntrySize, What: fmt.Sprintf("stream directory entry %d (%s)", i, e.Type), Err: fmt.Sprintf("data 0x%x+0x%x runs past the end of the %d-byte file", e.Location.RVA, e.Location.Size, f.Size)})
			continue
		}
		if prev, dup := f.streams[e.Type]; dup {
			f.warn(&FormatError{Offset: off + i*directoryEntrySize, What: fmt.Sprintf("stream directory entry %d (%s)", i, e.Type), Err: fmt.Sprintf("duplicate of entry %d; using the first", prev.Index)})
			continue
		}
		f.streams[e.Type] = e
		if e.Location.Size > 0 {
			spans = append(spans, span{int64(e.Location.RVA), int64(e.Location.RVA) + int64(e.Location.Size), e.Type})
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	for i := 1; i < len(spans); i++ {
		if spans[i].start < spans[i-1].end {
			f.warn(&FormatError{Offset: spans[i].start, What: "stream directory", Err: fmt.Sprintf("%s overlaps %s", spans[i].t, spans[i-1].t)})
		}
	}
	return nil
}

// Stream returns the raw bytes of the first stream of type t.
func (f *File) Stream(t StreamType) ([]byte, bool) {
	e, ok := f.streams[t]
	if !ok {
		return nil, false
	}
	return f.src.slice(int64(e.Location.RVA), int64(e.Location.Size))
}

// streamCursor opens a cursor over stream t, or returns nil when absent.
func (f *File) streamCursor(t StreamType, what string) *cursor {
	e, ok := f.streams[t]
	if !ok {
		return nil
	}
	b, ok := f.src.slice(int64(e.Location.RVA), int64(e.Location.Size))
	if !ok {
		return nil
	}
	return newCursor(b, int64(e.Location.RVA), what)
}

// readString reads a MINIDUMP_STRING (u32 byte length, UTF-16LE) at rva.
func (f *File) readString(rva uint32) (string, error) {
	b, ok := f.src.slice(int64(rva), 4)
	if !ok {
		return "", &FormatError{Offset: int64(rva), What: "string", Err: "length past the end of the file"}
	}
	n := int64(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
	if n%2 != 0 {
		n--
	}
	data, ok := f.src.slice(int64(rva)+4, n)
	if !ok {
		return "", &FormatError{Offset: int64(rva), What: "string", Err: fmt.Sprintf("%d bytes run past the end of the file", n)}
	}
	return decodeUTF16(data), nil
}

func decodeUTF16(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	for len(u) > 0 && u[len(u)-1] == 0 {
		u = u[:len(u)-1]
	}
	return string(utf16.Decode(u))
}

// Arch is the architecture of the dumped process as the dump records it (a
// WOW64 process dumped by a 64-bit writer is ArchAMD64; see IsWow64).
func (f *File) Arch() Arch {
	if f.System == nil {
		// No SystemInfo: guess from the first thread context.
		for _, t := range f.Threads {
			if t.Context != nil {
				return t.Context.Arch
			}
		}
		return ArchUnknown
	}
	switch f.System.ProcessorArchitecture {
	case ProcessorX86:
		return ArchX86
	case ProcessorAMD64:
		return ArchAMD64
	case ProcessorARM:
		return ArchARM
	case ProcessorARM64:
		return ArchARM64
	}
	return ArchUnknown
}

// FullMemory reports whether the dump was written with MiniDumpWithFullMemory.
func (f *File) FullMemory() bool {
	_, m64 := f.streams[StreamMemory64List]
	return f.Header.Flags&FlagWithFullMemory != 0 || m64
}

// HasStream reports whether the directory holds a stream of type t.
func (f *File) HasStream(t StreamType) bool { _, ok := f.streams[t]; return ok }
