package provision

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadTokensFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	_ = os.WriteFile(good, []byte("# portal\nrw portal-0123456789abcdef\n\n  ro care-0123456789abcdef  \n"), 0o600)
	rw, ro, err := ReadTokensFile(good)
	if err != nil || len(rw) != 1 || rw[0] != "portal-0123456789abcdef" || len(ro) != 1 || ro[0] != "care-0123456789abcdef" {
		t.Fatalf("rw %v ro %v err %v", rw, ro, err)
	}
	bad := filepath.Join(dir, "bad")
	_ = os.WriteFile(bad, []byte("rw tiny1\nadmin secret-0123456789abcdef\nro ok-0123456789abcdefgh\nro bad token here!!!!!!\n"), 0o600)
	_, _, err = ReadTokensFile(bad)
	if !errors.Is(err, ErrTokensFile) {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{"bad:1:", "bad:2:", "bad:4:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "tiny1") {
		t.Errorf("error echoes a token: %v", err)
	}
	if _, _, err := ReadTokensFile(filepath.Join(dir, "missing")); !errors.Is(err, ErrTokensFile) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestTokensConstantTimeRoles(t *testing.T) {
	tk := newTokens([]string{"rw-0123456789abcdef"}, []string{"ro-0123456789abcdef"})
	for tok, want := range map[string]role{
		"rw-0123456789abcdef": roleWrite, "ro-0123456789abcdef": roleRead,
		"rw-0123456789abcde": roleNone, "rw-0123456789abcdefg": roleNone, "": roleNone,
	} {
		if got := tk.check(tok); got != want {
			t.Errorf("check(%q) = %d, want %d", tok, got, want)
		}
	}
}
