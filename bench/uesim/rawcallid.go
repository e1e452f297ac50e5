package uesim

import "bytes"

// rawCallID finds the Call-ID (or its compact form i) in the header lines of a raw message
// without parsing the rest, as sip.ParseMessage would read it (value trimmed); ok is false when
// there is none, or it is folded or repeated: then the caller parses the whole message.
func rawCallID(data []byte) (id string, ok bool) {
	head := data
	if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		head = data[:i+2]
	}
	found := false
	for len(head) > 0 {
		eol := bytes.IndexByte(head, '\n')
		if eol < 0 {
			eol = len(head) - 1
		}
		line := head[:eol+1]
		head = head[eol+1:]
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if found {
				return "", false // a folded Call-ID: leave it to the parser
			}
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		name := bytes.TrimSpace(line[:colon])
		if !bytes.EqualFold(name, []byte("Call-ID")) && !bytes.EqualFold(name, []byte("i")) {
			found = false
			continue
		}
		if id != "" {
			return "", false
		}
		id, found = string(bytes.TrimSpace(line[colon+1:])), true
	}
	return id, id != ""
}
