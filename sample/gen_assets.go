//go:build ignore

// gen_assets copies the app.exe/app.pdb fixtures into sample/assets, where
// go:embed can reach them (testdata of another directory cannot be
// embedded). Run it with "go generate ./sample/" after rebuilding the
// fixtures; the copies are committed and TestAssetsMatchFixtures checks
// they are current.
package main

import (
	"log"
	"os"
	"path/filepath"
)

func main() {
	for _, arch := range []string{"x64", "x86"} {
		for _, name := range []string{"app.exe", "app.pdb"} {
			src := filepath.Join("..", "testdata", "fixtures", arch, name)
			b, err := os.ReadFile(src)
			if err != nil {
				log.Fatal(err)
			}
			dst := filepath.Join("assets", arch, name)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				log.Fatal(err)
			}
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				log.Fatal(err)
			}
		}
	}
}
