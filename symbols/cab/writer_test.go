package cab

// A CAB writer and deterministic content generators for the tests and the
// fixtures in testdata/.

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
)

type wFile struct {
	name  string
	data  []byte
	attrs uint16
}

type wFolder struct {
	comp   Compression
	lzx    lzxEncOptions // for LZX (windowBits is the folder's level)
	files  []wFile
	level  int // MSZIP deflate level (0 = default)
	noDict bool
}

type cabSpec struct {
	folders    []wFolder
	headerRes  []byte
	folderRes  int
	dataRes    int
	noChecksum bool
	setID      uint16
}

// fixtureDate/fixtureTime: 2024-05-06 07:08:10 in DOS format.
const (
	fixtureDate = (2024-1980)<<9 | 5<<5 | 6
	fixtureTime = 7<<11 | 8<<5 | 10/2
)

type wBlock struct {
	payload  []byte
	cbUncomp int
}

// compressFolder splits a folder's stream into CFDATA blocks.
func compressFolder(fo wFolder, data []byte) []wBlock {
	var blocks []wBlock
	switch fo.comp {
	case None:
		for p := 0; p < len(data); p += maxBlockOut {
			q := min(p+maxBlockOut, len(data))
			blocks = append(blocks, wBlock{data[p:q], q - p})
		}
	case MSZIP:
		level := fo.level
		if level == 0 {
			level = flate.DefaultCompression
		}
		for p := 0; p < len(data); p += maxBlockOut {
			q := min(p+maxBlockOut, len(data))
			var dict []byte
			if !fo.noDict {
				dict = data[max(0, p-mszipWindow):p]
			}
			var buf bytes.Buffer
			buf.WriteString("CK")
			w, err := flate.NewWriterDict(&buf, level, dict)
			if err != nil {
				panic(err)
			}
			w.Write(data[p:q])
			w.Close()
			blocks = append(blocks, wBlock{buf.Bytes(), q - p})
		}
	case LZX:
		chunks := lzxCompress(data, fo.lzx)
		for i, c := range chunks {
			n := min(lzxFrameSize, len(data)-i*lzxFrameSize)
			blocks = append(blocks, wBlock{c, n})
		}
	default:
		panic("writer: unsupported compression")
	}
	return blocks
}

// writeCab builds a single-cabinet CAB.
func writeCab(s cabSpec) []byte {
	le := binary.LittleEndian
	reserve := s.headerRes != nil || s.folderRes != 0 || s.dataRes != 0
	var folderData [][]wBlock
	var files []byte
	nFiles := 0
	for fi, fo := range s.folders {
		var stream []byte
		for _, f := range fo.files {
			var rec [fileFixedSize]byte
			le.PutUint32(rec[0:], uint32(len(f.data)))
			le.PutUint32(rec[4:], uint32(len(stream)))
			le.PutUint16(rec[8:], uint16(fi))
			le.PutUint16(rec[10:], fixtureDate)
			le.PutUint16(rec[12:], fixtureTime)
			le.PutUint16(rec[14:], f.attrs)
			files = append(files, rec[:]...)
			files = append(files, f.name...)
			files = append(files, 0)
			stream = append(stream, f.data...)
			nFiles++
		}
		folderData = append(folderData, compressFolder(fo, stream))
	}
	hdrLen := headerSize
	if reserve {
		hdrLen += 4 + len(s.headerRes)
	}
	folderRec := folderSize + s.folderRes
	coffFiles := hdrLen + len(s.folders)*folderRec
	dataOff := coffFiles + len(files)

	out := make([]byte, dataOff)
	copy(out, "MSCF")
	le.PutUint32(out[16:], uint32(coffFiles))
	out[24], out[25] = 3, 1
	le.PutUint16(out[26:], uint16(len(s.folders)))
	le.PutUint16(out[28:], uint16(nFiles))
	if reserve {
		le.PutUint16(out[30:], flagReserve)
		le.PutUint16(out[36:], uint16(len(s.headerRes)))
		out[38], out[39] = byte(s.folderRes), byte(s.dataRes)
		copy(out[40:], s.headerRes)
	}
	le.PutUint16(out[32:], s.setID)
	for fi, fo := range s.folders {
		rec := out[hdrLen+fi*folderRec:]
		le.PutUint32(rec, uint32(len(out)))
		le.PutUint16(rec[4:], uint16(len(folderData[fi])))
		tc := uint16(fo.comp)
		if fo.comp == LZX {
			tc |= uint16(fo.lzx.windowBits) << 8
		}
		le.PutUint16(rec[6:], tc)
		for i := range s.folderRes {
			rec[folderSize+i] = byte(0xF0 + i)
		}
		for _, b := range folderData[fi] {
			var h [dataHeaderSize]byte
			le.PutUint16(h[4:], uint16(len(b.payload)))
			le.PutUint16(h[6:], uint16(b.cbUncomp))
			if !s.noChecksum {
				le.PutUint32(h[0:], dataChecksum(b.payload, uint16(len(b.payload)), uint16(b.cbUncomp)))
			}
			out = append(out, h[:]...)
			for i := range s.dataRes {
				out = append(out, byte(0xD0+i))
			}
			out = append(out, b.payload...)
		}
	}
	copy(out[coffFiles:], files)
	le.PutUint32(out[8:], uint32(len(out)))
	return out
}

// rng is splitmix64: fixed output on every Go version.
type rng uint64

func (r *rng) next() uint64 {
	*r += 0x9E3779B97F4A7C15
	z := uint64(*r)
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

func randomBytes(seed uint64, n int) []byte {
	r := rng(seed)
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], r.next())
		copy(b[i:], w[:])
	}
	return b
}

var words = []string{"the", "stack", "frame", "module", "symbol", "thread", "exception",
	"ntdll", "kernel32", "RtlUserThreadStart", "BaseThreadInitThunk", "0x7ffe0000",
	"return", "address", "context", "record", "minidump", "stream", "memory", "list",
	"handle", "debug", "directory", "\n", ", ", "; ", "{", "}", "==", "+0x1c4"}

// textBytes is compressible pseudo-text.
func textBytes(seed uint64, n int) []byte {
	r := rng(seed)
	var b []byte
	for len(b) < n {
		b = append(b, words[r.intn(len(words))]...)
		if r.intn(3) == 0 {
			b = fmt.Appendf(b, " %d ", r.intn(100000))
		} else {
			b = append(b, ' ')
		}
	}
	return b[:n]
}

// codeBytes imitates x86 code: filler opcodes and E8 rel32 calls to a
// small set of targets, so that E8 translation turns them into repeats.
func codeBytes(seed uint64, n, base int) []byte {
	r := rng(seed)
	targets := make([]int, 16)
	for i := range targets {
		targets[i] = r.intn(n + 1000)
	}
	ops := [][]byte{{0x48, 0x89, 0xC3}, {0x55}, {0x48, 0x83, 0xEC, 0x28}, {0xC3}, {0x90}, {0x8B, 0x45, 0xF8}, {0x33, 0xC0}}
	var b []byte
	for len(b) < n {
		if r.intn(4) == 0 {
			pos := base + len(b)
			b = append(b, 0xE8)
			b = binary.LittleEndian.AppendUint32(b, uint32(int32(targets[r.intn(len(targets))]-pos-5)))
		} else {
			b = append(b, ops[r.intn(len(ops))]...)
		}
	}
	return b[:n]
}
