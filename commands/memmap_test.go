package commands

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// svgRects parses an SVG strictly as XML and counts its rect elements by
// class: the map's boxes (first class word) and the legend's swatches.
func svgRects(t *testing.T, data []byte) (boxes, legend map[string]int) {
	t.Helper()
	boxes, legend = map[string]int{}, map[string]int{}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root == "" {
			root = se.Name.Local
		}
		if se.Name.Local != "rect" {
			continue
		}
		for _, at := range se.Attr {
			if at.Name.Local != "class" {
				continue
			}
			f := strings.Fields(at.Value)
			switch {
			case len(f) > 1 && f[1] == "legend":
				legend[f[0]]++
			case len(f) > 1 && f[1] == "share":
			default:
				boxes[f[0]]++
			}
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	return boxes, legend
}

func TestMemmapSVG(t *testing.T) {
	for _, arch := range []string{"x64", "x86"} {
		t.Run(arch, func(t *testing.T) {
			d := openSample(t, arch)
			var out bytes.Buffer
			s := d.session(t, &out)
			file := filepath.Join(t.TempDir(), "map.svg")
			if err := s.Execute(".memmap " + file); err != nil {
				t.Fatalf(".memmap: %v\n%s", err, out.String())
			}
			if !strings.HasPrefix(out.String(), "Wrote "+file) {
				t.Errorf("output: %q", out.String())
			}
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			boxes, legend := svgRects(t, data)
			for _, class := range []string{"image", "mapped", "private", "free"} {
				if boxes[class] == 0 {
					t.Errorf("no %s box in the map (boxes %v)", class, boxes)
				}
				if legend[class] != 1 {
					t.Errorf("%d %s legend swatches, want 1", legend[class], class)
				}
			}
			// Every leaked view is a box of its own.
			if boxes["mapped"] < len(d.truth.Views) {
				t.Errorf("%d mapped boxes for %d views", boxes["mapped"], len(d.truth.Views))
			}
			if !bytes.Contains(data, []byte("MEM_MAPPED: ")) {
				t.Errorf("the legend has no MEM_MAPPED total")
			}
		})
	}
}

func TestMemmapChart(t *testing.T) {
	d := openSample(t, "x64")
	var out bytes.Buffer
	s := d.session(t, &out)
	s.Execute(".memmap")
	text := out.String()
	for _, want := range []string{"Busy memory by type:", "  MEM_MAPPED ", "▓▓▓▓▓▓▓▓▓▓", "Busy memory by usage:", "Busy memory in address order, one cell = "} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\x1b[") {
		t.Errorf("colours when not interactive:\n%s", text)
	}
	// The strip: most cells mapped or private, rows of 64 cells.
	strip := text[strings.Index(text, "Busy memory in address order"):]
	for _, l := range strings.Split(strings.TrimSpace(strip), "\n")[1:] {
		if n := len([]rune(strings.Fields(l)[1])); n > mapStripWidth {
			t.Errorf("strip row of %d cells: %q", n, l)
		}
	}

	out.Reset()
	s.Interactive = true
	s.Execute(".memmap")
	if !strings.Contains(out.String(), mapClasses[1].ansi+"█") || !strings.Contains(out.String(), ansiReset) {
		t.Errorf("no colours at a terminal:\n%q", out.String())
	}
	s.Interactive = false

	out.Reset()
	s.JSON = true
	s.Execute(".memmap")
	var rec struct {
		Result MemoryMap `json:"result"`
	}
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	for _, ty := range rec.Result.Types {
		if ty.Name == "MEM_MAPPED" && ty.Size != d.truth.MappedBytes {
			t.Errorf("MEM_MAPPED %#x, want %#x", ty.Size, d.truth.MappedBytes)
		}
	}
	if len(rec.Result.Cells) == 0 || len(rec.Result.Cells) > mapStripCells {
		t.Errorf("%d cells", len(rec.Result.Cells))
	}
	s.JSON = false

	if err := s.Execute(".memmap " + filepath.Join(t.TempDir(), "map.txt")); err == nil || !strings.Contains(err.Error(), "ending in .svg") {
		t.Errorf(".memmap map.txt: %v", err)
	}
}

// TestMemmapGolden pins the chart of the sample.
func TestMemmapGolden(t *testing.T) {
	runSampleGolden(t, openSample(t, "x64"), "sample_memmap.txt", []string{".memmap"}, nil)
}
