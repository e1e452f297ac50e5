// Package web is Herald's HTTP plane: the Call-Info page fallback and the admin endpoints.
//
// # Call-Info pages
//
// Terminals without MSRP get the pushed page as a URL in a `Call-Info: <URL>;purpose=info` header
// (RFC 3261 §20.9). [Server.Publish] binds a [content.Page] to one call under an unguessable token
// (128 bits from crypto/rand, base64url) and returns BaseURL + "h/" + token + ".html". The page is
// fetchable until the token expires (Options.TokenTTL) or is revoked ([Server.Revoke],
// [Server.RevokeCall]).
//
// Pages are served from the bytes precompressed by package content: the Accept-Encoding header
// (RFC 9110 §12.5.3) picks zstd, gzip or identity by q-value, ties going to zstd > gzip > identity.
// A compressed body no smaller than the page itself is not offered unless identity is excluded;
// q=0 excludes a coding, and a request that excludes every coding gets 406. Content-Encoding is set
// by hand; nothing is compressed per request. Each representation has its own strong ETag (RFC 9110
// §8.8.3: the content coding is part of the representation): "\"" + Version + "\"" for identity, and
// the same with a "-gzip" or "-zstd" suffix for the compressed ones. If-None-Match answers 304.
// Because pages are third-party HTML, responses carry a strict Content-Security-Policy (no scripts,
// no subresources except data: images and inline styles, no framing, no forms), nosniff, and
// Referrer-Policy: no-referrer so that links in a page never leak the token.
//
// Unknown, expired and revoked tokens and unknown paths answer 404 with a JSON body
// {"error":"..."}; methods other than GET and HEAD answer 405 with Allow.
//
// Expired tokens are dropped by one sweeper goroutine per server (and lazily by Publish); a lookup
// never returns an expired page even before the sweep. All tokens share one TTL, so expiries are in
// publication order and the sweep is a FIFO pop: O(1) per token, no timer per token.
//
// # Admin endpoints
//
//	/healthz          200 "ok" (liveness)
//	/readyz           200 "ready", or 503 naming why not (Options.Ready: start-up, draining)
//	/varz             JSON of Options.Varz() (the server's own [Stats] when Varz is nil)
//	/metrics          Prometheus exposition of Options.Registry (404 when nil)
//	/debug/pprof/...  net/http/pprof, registered on this server's own handler, never DefaultServeMux
//	/v1/..., /ui/...  Options.API (core/provision: the provisioning API and the operator page)
//
// By default pages and admin endpoints share Options.Listen. Setting Options.AdminListen moves the
// admin endpoints (except /healthz and /readyz, kept on both for load balancers) to a second listener, so that
// pprof, metrics and the provisioning API need not face the terminals' network; Options.PagesOnly
// without AdminListen serves no admin endpoint at all. Options.AdminTLSConfig turns on TLS for the
// admin listener. Options.TLSConfig turns on TLS for the page
// listener.
//
// # Metrics
//
// Declared by the metric tags of [Stats] (core/stats) and registered on Options.Registry when it is
// non-nil (namespace herald, subsystem web):
//
//	herald_web_requests_total{route="page|healthz|varz|metrics|pprof|api|other",class="2xx|3xx|4xx|5xx"}
//	herald_web_page_responses_total{encoding="zstd|gzip|identity"}   full (200) page bodies sent
//	herald_web_published_total                                       tokens issued
//	herald_web_publish_refused_total                                 Publish calls that got ErrFull
//	herald_web_tokens_expired_total, herald_web_tokens_revoked_total
//	herald_web_tokens                                                live tokens now
//
// # Concurrency
//
// All Server methods are safe for concurrent use. Page bytes are shared read-only with the rest of
// Herald and are never modified.
package web
