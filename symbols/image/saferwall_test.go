package image

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/saferwall/pe"
	"github.com/saferwall/pe/log"
)

// Canary for why FromFile keeps saferwall/pe to headers: its export parser
// prints to stdout whatever the logger, and drops the name "Odd.Name-1" and
// every name after it. If this starts failing after an upgrade, the export
// parser may be usable; revisit FromFile's doc comment.
func TestSaferwallExportQuirks(t *testing.T) {
	built := newTestPE(true)
	out := captureStdout(t, func() {
		f, err := pe.NewBytes(built.file, &pe.Options{Logger: log.NewStdLogger(io.Discard), OmitSecurityDirectory: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Parse(); err != nil {
			t.Fatal(err)
		}
		named := 0
		for _, fn := range f.Export.Functions {
			if fn.Name != "" {
				named++
			}
		}
		if named != 2 {
			t.Errorf("saferwall/pe named %d of 3 exports (expected 2: it stops at %q)", named, "Odd.Name-1")
		}
	})
	if !strings.Contains(out, "RVA AddressOfNames in the export directory points to an invalid address") {
		t.Errorf("saferwall/pe no longer prints on stdout; got %q", out)
	}
	// Our FromFile, same bytes: all three names, nothing printed.
	out = captureStdout(t, func() {
		im, err := FromFile(writeTemp(t, built.file), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		checkTestImage(t, im, true)
	})
	if out != "" {
		t.Errorf("FromFile printed %q", out)
	}
}

func captureStdout(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	defer func() {
		os.Stdout = saved
	}()
	fn()
	os.Stdout = saved
	w.Close()
	return <-done
}
