// Package provision is Herald's provisioning API and operator page: how a carrier's self-care portal
// and customer-care staff set subscribers' caller cards, callee cards and ringback clips at run time.
// [API] is an http.Handler mounted on the admin listener (core/web Options.API), never on the
// listener terminals reach.
//
// # Routes
//
// openapi.yaml (embedded, served at /v1/openapi.yaml; [OpenAPI]) describes them and a test checks it
// against [Routes] both ways:
//
//	GET    /v1/subscribers?limit=&cursor=           list, in ID order, a page at a time
//	POST   /v1/subscribers                          create {"identities": [...], "push_capable": bool}
//	GET    /v1/subscribers/{id}                     read; PUT replaces identities, push_capable, ringback; DELETE
//	GET    /v1/subscribers/{id}/cards/{kind}        the stored card (kind caller or callee); PUT uploads; DELETE
//	GET    /v1/subscribers/{id}/cards/{kind}/preview?accept=...   the card as MSRP would send it
//	GET    /v1/subscribers/{id}/ringback            the clip's source; PUT uploads (wav, AMR-WB, H.264); DELETE
//
// {id} is any identity of the subscriber in any form the SIP plane accepts (canonicalised with
// core/profile.Canonical: "sip:alice@home1.net", "tel:+1-212-555-1111", "+1 212 555 1111"), or its
// store ID. Writes go through core/store, whose Live index makes them visible to the next call on
// the node without a restart; a ringing call keeps the immutable version it started with.
//
// # Authentication
//
// Bearer tokens (RFC 6750 §2.1) from the configuration: read-only tokens may GET, read-write tokens
// may also write. Tokens are compared as SHA-256 digests in constant time, every configured token on
// every request. No token or an unknown one: 401 unauthorized with WWW-Authenticate; a read-only
// token attempting a write: 403 forbidden. Authentication precedes routing, so an unauthenticated
// client learns nothing but 401 (and 404 for paths outside /v1/).
//
// # Errors
//
// Every error is {"code": "...", "reason": "..."} with a stable code (the Code constants, listed with
// their statuses in errors.go and in openapi.yaml): bad JSON, unknown members (the decoder disallows
// them), a wrong Content-Type (415), a body over its limit (413, http.MaxBytesReader), an identity
// Canonical refuses, an unknown subscriber, a card that is not UTF-8 or not HTML, a clip that does
// not decode. Each answer is counted in herald_provision_errors_total{code}.
//
// # Concurrency control
//
// Subscribers carry a strong ETag "r<revision>" (the store's revision, never reused); cards and the
// ringback carry their content address. Every write to an existing resource requires If-Match with
// the ETag the client read (or * to overwrite whatever is there), or If-None-Match: * to create
// only; without either the answer is 428 precondition_required, and a validator that does not hold
// 412 precondition_failed (RFC 9110 §13.1, RFC 6585 §3). The store writes under the revision read,
// so two portals racing for one subscriber, on one node or several, never silently overwrite each
// other. Because versions are content-addressed, repeating a PUT with the same body changes nothing
// and answers the same ETag.
//
// # Operator page
//
// /ui/ is server-rendered HTML (html/template, no script at all) to look a subscriber up by any
// identity, see its cards rendered as a phone shows them (sandboxed iframes whose source carries a
// sandbox Content-Security-Policy) and upload new ones with a plain form. Login: the operator
// pastes a token; a valid one opens a server-side session (a random id in an HttpOnly,
// SameSite=Strict cookie scoped to /ui/) and the token is not kept in the browser. Read-only
// sessions see but cannot upload. Forms carry the session's CSRF token and the card version they
// showed (a stale form gets 412); cross-origin POSTs are refused.
//
// # Metrics
//
//	herald_provision_errors_total{code}          error answers by code
//	herald_provision_writes_total{op}            durable writes: create, update, delete, set_ref
//	herald_provision_cards_rejected_total{code}  uploads refused by the sanitiser or clip decoder
package provision
