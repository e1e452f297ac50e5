package provision

import (
	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/media"
)

// ContentSanitizer is the upload pipeline for cards: core/content.Prepare with pol (size, UTF-8,
// HTML well-formedness, the sanitising policy), reporting what it removed.
func ContentSanitizer(pol content.Policy) Sanitizer {
	return func(name string, body []byte) (*content.Page, []Removed, error) {
		pg, rep, err := content.Prepare(name, body, pol)
		if err != nil {
			return nil, nil, err
		}
		out := make([]Removed, 0, len(rep.Removed))
		for _, r := range rep.Removed {
			out = append(out, Removed(r))
		}
		return pg, out, nil
	}
}

// ContentCode maps core/content.Prepare's errors to the API's codes (for Options.Classify).
func ContentCode(err error) Code {
	switch content.Code(err) {
	case "empty_page":
		return CodeEmptyCard
	case "page_too_large":
		return CodeBodyTooLarge
	case "not_utf8":
		return CodeInvalidUTF8
	case "not_html", "malformed_html", "bad_name", "unsafe":
		return CodeInvalidHTML
	}
	return CodeInternal
}

// MediaClipCheck decodes an uploaded ringback source as calls will play it (core/media.PrepareClip
// within lim), for Options.CheckClip.
func MediaClipCheck(lim media.ClipLimits) func(kind string, data []byte) error {
	return func(kind string, data []byte) error {
		_, err := media.PrepareClip("upload", lim, media.Source{Kind: kind, Data: data})
		return err
	}
}
