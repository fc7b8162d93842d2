package commands

import (
	"os"
	"testing"
)

// targetapp_minidump.cab (MSZIP) holds the same dump as target_minidump.dmp
// beside it: opening the CAB gives the same target, and the temporary file
// goes away when the dump is closed.
func TestOpenDumpInCab(t *testing.T) {
	p := corpusDump(t, "ivellioscolin__kdlibcpp/kdlib/tests/dumps/targetapp_minidump/targetapp_minidump.cab")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	f, closeDump, err := OpenDump(p)
	if err != nil {
		t.Fatal(err)
	}
	plain, closePlain, err := OpenDump(corpusDump(t, "ivellioscolin__kdlibcpp/kdlib/tests/dumps/targetapp_minidump/target_minidump.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	defer closePlain()
	if len(f.Modules) != 7 || len(f.MemoryInfo) != 91 || f.Size != plain.Size || f.CapturedBytes() != plain.CapturedBytes() {
		t.Errorf("modules %d, regions %d, size %d (plain %d)", len(f.Modules), len(f.MemoryInfo), f.Size, plain.Size)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 1 {
		t.Errorf("the extracted dump should be in TMPDIR while open: %v", left)
	}
	closeDump()
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}
