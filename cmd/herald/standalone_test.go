package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// externalDocRef matches a pointer at a document that is not in the repository: a path into the
// team's shared directory beside the checkout, or one of the six team notes by name (upper case,
// as a .md file, or followed by a section sign or a colon). The names are assembled so that this
// file does not match itself. What such a pointer used to say belongs in the README (wire contract per
// claim, package map), in a package doc, or as the RFC or 3GPP section it relies on.
var externalDocRef = regexp.MustCompile(`(\.\./)+` + `shared\b|/work/` + `shared\b|\b(` +
	strings.Join([]string{"DES" + "IGN", "STAN" + "DARDS", "CLA" + "IMS", "LIBR" + "ARIES", "PE" + "ERS", "ST" + "YLE"}, "|") +
	`)(\.md\b|\s*§|:)|\b(DES` + `IGN|STAN` + `DARDS)\b`)

// TestNoExternalDocRefs keeps the repository standing alone: no text file (code, comments, docs,
// configs, scripts, test data) may point at documents outside it. netio/sipgo is upstream code and
// is left out, as are build outputs and the git directory.
func TestNoExternalDocRefs(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found from cmd/herald: %v", err)
	}
	skipDirs := map[string]bool{".git": true, "bin": true, "dist": true, "herald-data": true,
		filepath.Join("netio", "sipgo"): true}
	scanned := 0
	var hits []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if skipDirs[rel] {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil || info.Size() > 4<<20 {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.IndexByte(b, 0) >= 0 { // binary: clips, compiled pages
			return nil
		}
		scanned++
		for i, line := range bytes.Split(b, []byte("\n")) {
			if m := externalDocRef.Find(line); m != nil {
				hits = append(hits, rel+":"+strconv.Itoa(i+1)+": "+string(m)+": "+strings.TrimSpace(string(line)))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned < 100 {
		t.Fatalf("scanned only %d files under %s: the walk is broken", scanned, root)
	}
	for _, h := range hits {
		t.Errorf("reference to a document outside the repository (cite the RFC/3GPP section, or the README): %s", h)
	}
}

// TestExternalDocRefPattern shows the pattern catches each form such a pointer took, and leaves
// ordinary text alone.
func TestExternalDocRefPattern(t *testing.T) {
	shared := "../" + "sha" + "red/"
	for _, s := range []string{
		"see " + shared + "DES" + "IGN.md",
		"(" + "../../../" + "sha" + "red/notes/CLA" + "IMS.md)",
		"as in STAN" + "DARDS.md §9.3",
		"(DES" + "IGN: \"a stream's state\")",
		"DES" + "IGN §4",
		"LIBR" + "ARIES.md §2.6",
		"PE" + "ERS.md traps",
		"/work/" + "sha" + "red/notes",
	} {
		if !externalDocRef.MatchString(s) {
			t.Errorf("pattern misses %q", s)
		}
	}
	for _, s := range []string{
		"HERALD_REQUIRE_PEERS=1",
		"RFC 4975 §7.1: the end-line flag '#'",
		"claim 3: the caller card information",
		"shared read-only by every stream",
		"the patent's claims",
	} {
		if externalDocRef.MatchString(s) {
			t.Errorf("pattern flags ordinary text %q", s)
		}
	}
}
