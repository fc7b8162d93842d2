package sample

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
)

//go:generate go run gen_assets.go

// assets holds copies of testdata/fixtures/{x64,x86}/app.{exe,pdb}.
//
//go:embed assets/x64/app.exe assets/x64/app.pdb assets/x86/app.exe assets/x86/app.pdb
var assets embed.FS

func asset(arch, name string) []byte {
	b, err := assets.ReadFile("assets/" + arch + "/" + name)
	if err != nil {
		panic("sample: missing embedded asset " + arch + "/" + name)
	}
	return b
}

// assetsHash identifies the embedded fixtures, so a cached sample is
// regenerated when they change.
func assetsHash() string {
	h := sha256.New()
	for _, a := range []string{"x64", "x86"} {
		for _, n := range []string{"app.exe", "app.pdb"} {
			h.Write(asset(a, n))
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
