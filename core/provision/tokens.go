package provision

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrTokensFile is returned by [ReadTokensFile] for a file it cannot use.
var ErrTokensFile = errors.New("provision: tokens file")

// ReadTokensFile reads bearer tokens from path: one "rw <token>" or "ro <token>" per line; blank
// lines and lines starting with '#' are skipped. Every problem is reported with its line number, and
// never with the token itself.
func ReadTokensFile(path string) (rw, ro []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrTokensFile, err)
	}
	defer f.Close()
	var errs []error
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		kind, tok, ok := strings.Cut(line, " ")
		tok = strings.TrimSpace(tok)
		switch {
		case !ok || (kind != "rw" && kind != "ro"):
			errs = append(errs, fmt.Errorf("%w: %s:%d: want \"rw <token>\" or \"ro <token>\"", ErrTokensFile, path, n))
			continue
		case checkToken(tok) != nil:
			errs = append(errs, fmt.Errorf("%w: %s:%d: %w", ErrTokensFile, path, n, checkToken(tok)))
			continue
		}
		if kind == "rw" {
			rw = append(rw, tok)
		} else {
			ro = append(ro, tok)
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%w: %s: %w", ErrTokensFile, path, err))
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return rw, ro, nil
}
