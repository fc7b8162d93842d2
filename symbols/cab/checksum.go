package cab

import "encoding/binary"

// checksum is the CAB checksum (MS-CAB "CFDATA.csum"): the data is XORed
// together as little-endian 32-bit words, and a trailing 1-3 bytes are
// folded in most-significant-first. seed chains calls: a CFDATA checksum is
// checksum(cbData/cbUncomp header fields, checksum(payload, 0)).
func checksum(b []byte, seed uint32) uint32 {
	sum := seed
	for len(b) >= 16 {
		sum ^= binary.LittleEndian.Uint32(b) ^ binary.LittleEndian.Uint32(b[4:]) ^
			binary.LittleEndian.Uint32(b[8:]) ^ binary.LittleEndian.Uint32(b[12:])
		b = b[16:]
	}
	for len(b) >= 4 {
		sum ^= binary.LittleEndian.Uint32(b)
		b = b[4:]
	}
	var tail uint32
	switch len(b) {
	case 3:
		tail = uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
	case 2:
		tail = uint32(b[0])<<8 | uint32(b[1])
	case 1:
		tail = uint32(b[0])
	}
	return sum ^ tail
}

// dataChecksum is the checksum stored in a CFDATA header: it covers the
// payload and then the 4 bytes holding cbData and cbUncomp (not csum itself
// and not the per-block reserved area).
func dataChecksum(payload []byte, cbData, cbUncomp uint16) uint32 {
	var h [4]byte
	binary.LittleEndian.PutUint16(h[:], cbData)
	binary.LittleEndian.PutUint16(h[2:], cbUncomp)
	return checksum(h[:], checksum(payload, 0))
}
