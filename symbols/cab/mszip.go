package cab

import (
	"bytes"
	"compress/flate"
	"io"
)

// mszipWindow is the deflate history that carries over between blocks.
const mszipWindow = 32768

// mszipDecoder decodes MSZIP folders: every CFDATA payload is "CK" and a
// raw deflate stream that yields the block's cbUncomp bytes, with the
// previous 32 KB of folder output as its preset dictionary.
type mszipDecoder struct {
	src  *blockSource
	fr   io.ReadCloser
	br   bytes.Reader
	hist []byte // dictionary followed by the last block; cap 2*mszipWindow
}

func newMSZIPDecoder(src *blockSource) *mszipDecoder {
	return &mszipDecoder{src: src, hist: make([]byte, 0, 2*mszipWindow)}
}

func (d *mszipDecoder) next() ([]byte, error) {
	payload, want, err := d.src.nextBlock()
	if err != nil {
		return nil, err
	}
	if len(payload) < 2 || payload[0] != 'C' || payload[1] != 'K' {
		return nil, errorf("%s: MSZIP block does not start with \"CK\"", d.src.where())
	}
	if len(d.hist) > mszipWindow {
		n := copy(d.hist, d.hist[len(d.hist)-mszipWindow:])
		d.hist = d.hist[:n]
	}
	dict := d.hist
	d.br.Reset(payload[2:])
	if d.fr == nil {
		d.fr = flate.NewReaderDict(&d.br, dict)
	} else if err := d.fr.(flate.Resetter).Reset(&d.br, dict); err != nil {
		return nil, errorf("%s: MSZIP: %w", d.src.where(), err)
	}
	out := d.hist[len(dict) : len(dict)+want]
	if n, err := io.ReadFull(d.fr, out); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = errTruncated
		}
		return nil, errorf("%s: MSZIP: %d of %d bytes decoded: %w", d.src.where(), n, want, err)
	}
	d.hist = d.hist[:len(dict)+want]
	return out, nil
}
