// Package content holds the pages Herald pushes: sanitised, hashed, pre-compressed and shared
// read-only.
//
// A page is HTML set by a caller or a callee and shown on a stranger's phone, so every page is made
// safe before it exists as a [Page]: [Prepare] is the one way in (the seed's pages, [NewPage] and
// the provisioning API's uploads all go through it), and [Restore], for pages a store kept,
// re-runs its final safety check. A Page built any other way (a struct literal) reports false from
// [Page.Sanitized], and the planes that push pages (netio/msrp, core/web) refuse it.
//
// Prepare, in order (each refusal an [*InputError] wrapping a sentinel that [Code] maps to a stable
// code for API answers):
//
//  1. name usable in an RFC 5547 a=file-selector; 1 byte ≤ size ≤ [Policy].MaxBytes;
//  2. valid UTF-8 ([ErrNotUTF8] with the byte offset and line:col of the first bad byte);
//  3. an HTML document: doctype, <html> or a leading comment in the first 512 bytes ([ErrNotHTML]);
//  4. well-formed ([ErrMalformed] with line:col; what that means for HTML5 is spelled out on
//     checkWellFormed in wellformed.go: tokenizer-level parse errors, unterminated markup,
//     misnesting, unclosed elements whose end tag is required, duplicate attributes, "/>" on HTML
//     elements);
//  5. sanitised by the [Policy]'s allow-lists: a token walker removes and reports what is not
//     allowed (the [Report]: elements, attributes, URLs, CSS declarations and at-rules, comments,
//     doctype), then bluemonday (github.com/microcosm-cc/bluemonday), built from the same
//     allow-lists, runs over the result as the sanitiser of record, and anything it still removes
//     is reported too;
//  6. a final check, independent of the allow-lists, re-tokenises the result and refuses
//     ([ErrUnsafe]) a script, an event handler, a javascript: or remote URL, a frame or fetching
//     CSS, should one ever get through;
//  7. SHA-1 (the RFC 5547 §6 file-selector hash and the content address [Page].Version) and the
//     gzip and zstd variants, made once.
//
// Whatever the Policy, a page never keeps scripts, event handlers, URLs other than absolute links
// to the listed schemes and data: images, frames, objects, embeds, forms, <base>, <link>, <meta
// http-equiv>, or CSS that fetches (url(), image-set(), @import, @font-face). The HTTP fallback
// still serves pages with a Content-Security-Policy (core/web): two nets, not one.
//
// A Page is immutable once built. Its byte slices are referenced by every MSRP write that sends it
// (the MSRP plane writes sub-slices of Body with writev), so nothing may modify them afterwards.
package content
