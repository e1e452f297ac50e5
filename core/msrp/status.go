package msrp

// statusTexts maps RFC 4975 §10 (and RFC 4976, RFC 7701) response codes to the
// comment Herald sends. It is the one status table of the package.
var statusTexts = map[int]string{
	200: "OK",                          // RFC 4975 §10: success
	400: "Bad Request",                 // unintelligible request
	401: "Unauthorized",                // RFC 4976 AUTH
	403: "Action not allowed",          // RFC 4975 §10
	404: "Not Found",                   // RFC 7701: failure to resolve recipient's URI
	408: "Transaction timeout",         // transaction did not complete in allotted time
	413: "Stop sending message",        // RFC 4975 §10
	415: "MIME not understood",         // RFC 4975 §10
	423: "Parameter out of bounds",     // RFC 4975 §10
	481: "Session does not exist",      // RFC 4975 §10
	501: "Method not understood",       // request method not understood
	506: "Session already in use",      // RFC 4975 §10
	424: "Malformed nickname",          // RFC 7701
	425: "Nickname reserved or in use", // RFC 7701
	428: "Private messages not supported",
}

// StatusText returns the comment for an MSRP response code ("OK",
// "Bad Request", "Session does not exist", ...), or "" for an unknown code.
func StatusText(code int) string { return statusTexts[code] }
