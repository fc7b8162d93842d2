// Package sample generates wdb's built-in sample dump: a Windows 10 process
// that leaks memory-mapped views until MapViewOfFile fails, the story of
// PRODUCT.md, written with the project's dump builder (dump/dumpbuild).
//
// The process runs the real app.exe fixture (testdata/fixtures, copied to
// assets/ by go generate), mapped at its preferred base with its sections
// at their RVAs and its import table bound, so x, u, ln and vftables resolve
// through app.pdb. ntdll, KERNEL32 and KERNELBASE are small synthetic
// images (see pe.go) whose exports name the frames of the stacks. The
// process heap is a byte-faithful Windows 10 NT heap (back end and LFH,
// dumpbuild's Heaps) holding the leaked objects: every CommunicatorObj owns
// a CMMFSerializer (first pointer: its vftable) and a MessageBuffer that
// both hold the base of a mapped view, and caches and message records hold
// it too, ten or more places per view. The views are MEM_MAPPED regions
// (256 KB, some 512 KB) beside the private, image, stack, TEB and PEB
// regions; the main thread died in KERNELBASE!MapViewOfFile called from
// app!CMMFSerializer::Open.
//
// The exception is STATUS_NO_MEMORY (0xC0000017), raised through
// KERNELBASE!RaiseException from MapViewOfFile with the requested view size
// as its one parameter; TEB.LastErrorValue is ERROR_NOT_ENOUGH_MEMORY (8).
// Windows itself only returns NULL there: the sample models a process whose
// mapping failures are fatal (a fail-fast policy), so that the dump is taken
// at the failing call. The fixture's code checks the NULL and returns; the
// counts and sizes of the sample are the data of the story, not what the
// fixture's AppMain would allocate.
//
// On x64 the failure is the commit limit (the address space is far from
// full). The x86 variant reproduces the seed dump's fragmentation: the 2 GB
// address space is nearly used up, the largest free region is 1.5 MB, and
// the failing request is 4 MB.
//
// Output is deterministic: the same Options give the same bytes.
package sample

import (
	"fmt"
	"os"
	"path/filepath"

	"wdb/dump/dumpbuild"
)

// Version identifies the generator's output. Change it whenever the
// generated dump changes, so cached samples are regenerated.
const Version = "1"

// PDBName is the file name of the app's PDB, written beside the dump.
const PDBName = "app.pdb"

// Scales.
const (
	ScaleDefault = "default" // x64: 300 views, generated in well under a second
	ScaleSeed    = "seed"    // the seed dump's numbers: 2300 views, MEM_MAPPED ≈ 934 MB, MEM_PRIVATE ≈ 805 MB
)

// Options select the sample.
type Options struct {
	// Arch is "x64" (the default) or "x86".
	Arch string
	// Scale is ScaleDefault ("" too) or ScaleSeed. The x86 variant always
	// has the seed's address space (it must be full to fragment); its
	// default scale is the seed's.
	Scale string
	// Views overrides the number of leaked views (1 to 20000).
	Views int
	// Seed varies the pseudo-random choices (sizes, gaps, record counts);
	// 0 is the fixed default.
	Seed uint64
}

// Sample is a generated dump and the facts it was built from.
type Sample struct {
	Truth Truth
	// PDB is app.pdb, which matches the app module's CodeView record.
	PDB []byte

	image *dumpbuild.Image
}

// Truth is what the sample contains: what a tutorial tells the learner to
// look for and what tests check commands against. Addresses are target
// virtual addresses.
type Truth struct {
	Arch        string // "x64" or "x86"
	PointerSize int
	Scale       string
	Build       uint32 // Windows build (19045)
	ProcessID   uint32

	AppBase uint64 // app.exe
	// The vftables the objects point at (app!X::`vftable').
	SerializerVftable, CommunicatorVftable, BufferVftable uint64
	// OpenFunction is app!CMMFSerializer::Open; MapViewOfFile is
	// KERNELBASE!MapViewOfFile.
	OpenFunction, MapViewOfFile uint64

	// Views are the leaked views, in creation order.
	Views []View
	// Objects are the CommunicatorObj user addresses of the views, in
	// creation order; FailedObject is the one whose Connect failed (its
	// serializer has no view).
	Objects                        []uint64
	FailedObject, FailedSerializer uint64
	// CommunicatorSize is sizeof(CommunicatorObj), the user size !heap
	// -flt s filters on; SizeBlocks counts the busy blocks of exactly that
	// user size (on x86 CMMFSerializer and MessageBuffer have the same
	// size).
	CommunicatorSize uint64
	SizeBlocks       int

	ProcessHeap uint64
	Heaps       []uint64 // PEB.ProcessHeaps

	// Totals of !address -summary's Type Summary, in bytes.
	MappedBytes, PrivateBytes, ImageBytes uint64
	// The largest free region (the x86 variant's is 1.5 MB).
	LargestFree, LargestFreeBase uint64

	// The exception: thread, code, address and the size MapViewOfFile
	// could not map (its one parameter).
	ThreadID         uint32
	ExceptionCode    uint32
	ExceptionAddress uint64
	FailedRequest    uint64
	// ReturnAddresses are the return addresses on the failing thread's
	// stack from the innermost out: KERNELBASE!MapViewOfFile,
	// app!CMMFSerializer::Open, app!CommunicatorObj::Connect, app!LeakOne,
	// app!AppMain, KERNEL32!BaseThreadInitThunk, ntdll!RtlUserThreadStart.
	ReturnAddresses []uint64
	StackPointer    uint64 // the failing thread's stack pointer
}

// View is one leaked mapped view and who holds its base.
type View struct {
	Base, Size uint64
	ID         int    // the mapping's name is Local\wdb_mmf_<ID>
	Handle     uint64 // its section handle
	Object     uint64 // the CommunicatorObj (user address of its heap block)
	Serializer uint64 // its CMMFSerializer; m_viewBase is at Serializer+HolderOffset
	Buffer     uint64 // its MessageBuffer; m_base is at Buffer+HolderOffset
	// Holders are every address that holds Base, sorted: the serializer's
	// m_viewBase, the buffer's m_base, two cache entries and the message
	// records; at least ten.
	Holders []uint64
}

// HolderOffset is where the view base sits in a CMMFSerializer
// (m_viewBase) and in a MessageBuffer (m_base): right after the vftable
// pointer, at 8 on both architectures (x86 pads the vfptr to the
// classes' 8-byte alignment).
const HolderOffset = 8

// Generate builds the sample dump.
func Generate(o Options) (*Sample, error) {
	g, err := newGen(o)
	if err != nil {
		return nil, err
	}
	if err := g.run(); err != nil {
		return nil, err
	}
	im, err := g.b.Image()
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	return &Sample{Truth: g.truth, PDB: asset(g.app.arch, "app.pdb"), image: im}, nil
}

// Size is the length of the dump file in bytes (most of it zero ranges,
// which WriteFile leaves as holes).
func (s *Sample) Size() int64 { return s.image.Size() }

// Bytes materializes the dump; it fails for dumps larger than
// dumpbuild.MaxBytes (use WriteFile for the seed scale).
func (s *Sample) Bytes() ([]byte, error) { return s.image.Bytes() }

// WriteFile writes the dump to path, sparse where the file system allows,
// and app.pdb beside it, so that a symbol path of filepath.Dir(path)
// finds the app's symbols. Both are written to temporary files and renamed.
func (s *Sample) WriteFile(path string) error {
	dir := filepath.Dir(path)
	if err := writeAtomic(filepath.Join(dir, PDBName), func(tmp string) error {
		return os.WriteFile(tmp, s.PDB, 0o644)
	}); err != nil {
		return err
	}
	return writeAtomic(path, s.image.WriteFile)
}

// writeAtomic writes path through write(tmp) and a rename.
func writeAtomic(path string, write func(tmp string) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	f.Close()
	if err := write(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// CachePath is where Ensure keeps the sample for o under dir: a directory
// per generator version, fixture contents and options.
func CachePath(dir string, o Options) string {
	arch, scale := o.Arch, o.Scale
	if arch == "" {
		arch = "x64"
	}
	if scale == "" {
		scale = ScaleDefault
	}
	sub := fmt.Sprintf("v%s-%s", Version, assetsHash())
	name := arch + "-" + scale
	if o.Views != 0 {
		name += fmt.Sprintf("-%dviews", o.Views)
	}
	if o.Seed != 0 {
		name += fmt.Sprintf("-seed%d", o.Seed)
	}
	return filepath.Join(dir, sub, name, "wdb-sample.dmp")
}

// Ensure returns the path of the sample for o under dir, generating it
// (with app.pdb beside it) unless this generator version already did.
// Samples of other versions are removed.
func Ensure(dir string, o Options) (string, error) {
	path := CachePath(dir, o)
	_, err1 := os.Stat(path)
	_, err2 := os.Stat(filepath.Join(filepath.Dir(path), PDBName))
	if err1 == nil && err2 == nil {
		return path, nil
	}
	s, err := Generate(o)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	if err := s.WriteFile(path); err != nil {
		return "", err
	}
	// Drop what older generator versions left.
	keep := filepath.Base(filepath.Dir(filepath.Dir(path)))
	if old, err := os.ReadDir(dir); err == nil {
		for _, e := range old {
			if e.IsDir() && e.Name() != keep && len(e.Name()) > 1 && e.Name()[0] == 'v' {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}
	return path, nil
}
