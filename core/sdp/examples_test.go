package sdp

import "strings"

// Examples from RFC 4566 §5, RFC 8866 §5 and Herald's own push offers and answers (the std9x
// names: std92 the forwarded INVITE of claim 3, std93 the callee's reliable 183, std94 the caller
// side of claims 2 and 4: Herald's CRBT 183 and its UPDATE). They are
// written with LF line ends; crlf converts them to wire form.

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// rfc4566Example is the example of RFC 4566 §5.
const rfc4566Example = `v=0
o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5
s=SDP Seminar
i=A Seminar on the session description protocol
u=http://www.example.com/seminars/sdp.pdf
e=j.doe@example.com (Jane Doe)
c=IN IP4 224.2.17.12/127
t=2873397496 2873404696
a=recvonly
m=audio 49170 RTP/AVP 0
m=video 51372 RTP/AVP 99
a=rtpmap:99 h263-1998/90000
`

// rfc8866Example is the example of RFC 8866 §5.
const rfc8866Example = `v=0
o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1
s=Call to John Smith
i=SDP Offer #1
u=http://www.jdoe.example.com/home.html
e=Jane Doe <jane@jdoe.example.com>
p=+1 617 555-6011
c=IN IP4 198.51.100.1
t=0 0
m=audio 49170 RTP/AVP 0
m=audio 49180 RTP/AVP 0
m=video 51372 RTP/AVP 99
c=IN IP6 2001:db8::2
a=rtpmap:99 h263-1998/90000
`

// timesExample has repeat times, a time zone adjustment, keys, a port
// count and bandwidth lines (RFC 8866 §5.8-5.12).
const timesExample = `v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
b=CT:128
t=3034423619 3042462419
r=604800 3600 0 90000
r=7d 1h 0 25h
z=2882844526 -1h 2898848070 0
k=prompt
a=tool:herald
m=audio 5004/2 RTP/AVP 0
b=AS:64
k=clear:secret
a=sendrecv
`

// imsOffer is an MMTel offer with AMR-WB/AMR audio, H.264 video and
// segmented QoS preconditions (RFC 3312, TS 24.229).
const imsOffer = `v=0
o=- 1027933615 1027933615 IN IP6 5555::aaa:bbb:ccc:ddd
s=-
c=IN IP6 5555::aaa:bbb:ccc:ddd
t=0 0
m=audio 3456 RTP/AVP 97 96 8 0 101
b=AS:41
b=RS:0
b=RR:2000
a=rtpmap:97 AMR-WB/16000/1
a=fmtp:97 mode-change-capability=2;max-red=0
a=rtpmap:96 AMR/8000/1
a=fmtp:96 mode-change-capability=2;max-red=0
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/16000
a=fmtp:101 0-15
a=curr:qos local none
a=curr:qos remote none
a=des:qos mandatory local sendrecv
a=des:qos optional remote sendrecv
a=sendrecv
a=ptime:20
a=maxptime:240
m=video 3400 RTP/AVP 98
b=AS:960
a=rtpmap:98 H264/90000
a=fmtp:98 profile-level-id=42C01F;packetization-mode=1;sprop-parameter-sets=Z0LAH9oFB+hAAAADAEAAAA8jxgyo,aM4G4g==
a=imageattr:98 send [x=640,y=480] recv [x=640,y=480]
a=curr:qos local none
a=curr:qos remote none
a=des:qos mandatory local sendrecv
a=des:qos optional remote send
a=sendrecv
`

// pcmuOffer is a plain SIP phone offer.
const pcmuOffer = `v=0
o=alice 2890844526 2890844526 IN IP4 198.51.100.7
s=-
c=IN IP4 198.51.100.7
t=0 0
m=audio 49170 RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
`

const fileHash = "sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E"

// std92Early is the early-session SDP Herald sends to the callee (claim 3: RFC 3959 early-session part).
const std92Early = `v=0
o=ps 2890844526 2890844526 IN IP4 192.0.2.10
s=-
c=IN IP4 192.0.2.10
t=0 0
m=message 2855 TCP/MSRP *
a=sendonly
a=accept-types:text/html multipart/related
a=path:msrp://ps.home1.net:2855/kX9r3Qz7Lp2Vw8Yt5Nc1;tcp
a=setup:actpass
a=msrp-cema
a=file-selector:name:"caller-card.html" type:text/html size:18432 hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E
a=file-transfer-id:vBnG0ZeBq7
a=file-disposition:render
`

// std93Early is the callee's early-session answer (RFC 5547 receiver).
const std93Early = `v=0
o=- 3600507138 3600507138 IN IP4 10.1.2.3
s=-
c=IN IP4 10.1.2.3
t=0 0
m=message 9 TCP/MSRP *
a=recvonly
a=accept-types:text/html multipart/related
a=path:msrp://10.1.2.3:9/aQ3xT8pR;tcp
a=setup:active
a=msrp-cema
a=file-selector:name:"caller-card.html" type:text/html size:18432 hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E
a=file-transfer-id:vBnG0ZeBq7
`

// std94CRBT is Herald's CRBT answer in the reliable 183 (claim 2, RFC 3262).
const std94CRBT = `v=0
o=ps 2890844600 2890844600 IN IP4 192.0.2.11
s=-
c=IN IP4 192.0.2.11
t=0 0
m=video 40002 RTP/AVP 98
a=rtpmap:98 H264/90000
a=sendonly
a=content:g.3gpp.cat
m=audio 40000 RTP/AVP 97 96
a=rtpmap:97 AMR-WB/16000
a=sendonly
a=content:g.3gpp.cat
`

// std94Update is the UPDATE offer adding m=message (claim 4, RFC 3311), with the
// elided lines filled in.
const std94Update = `v=0
o=ps 2890844600 2890844601 IN IP4 192.0.2.11
s=-
c=IN IP4 192.0.2.11
t=0 0
m=video 40002 RTP/AVP 98
a=rtpmap:98 H264/90000
a=sendonly
a=content:g.3gpp.cat
m=audio 40000 RTP/AVP 97 96
a=rtpmap:97 AMR-WB/16000
a=sendonly
a=content:g.3gpp.cat
m=message 2855 TCP/MSRP *
c=IN IP4 192.0.2.10
a=sendonly
a=accept-types:text/html multipart/related
a=path:msrp://ps.home1.net:2855/Zr8cV2nQ0wHs5Jk7Tb4E;tcp
a=setup:actpass
a=msrp-cema
a=file-selector:name:"callee-page.html" type:text/html size:9120 hash:sha-1:0A:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:9F
a=file-transfer-id:Q7w2Ls9x
a=file-disposition:render
`

// std92Body is the multipart body of the forwarded INVITE (claim 3), with the caller's
// offer (imsOffer) as the session part.
var std92Body = crlf(`--ps-b1
Content-Type: application/sdp
Content-Disposition: session

`) + crlf(imsOffer) + crlf(`
--ps-b1
Content-Type: application/sdp
Content-Disposition: early-session;handling=optional

`) + crlf(std92Early) + crlf(`
--ps-b1--
`)

const std92CT = "multipart/mixed;boundary=ps-b1"

// calleeAnswer is a callee's answer to imsOffer (audio only accepted).
const calleeAnswer = `v=0
o=- 3600507138 3600507138 IN IP4 10.1.2.3
s=-
c=IN IP4 10.1.2.3
t=0 0
m=audio 50000 RTP/AVP 97
a=rtpmap:97 AMR-WB/16000/1
a=curr:qos local sendrecv
a=curr:qos remote none
a=des:qos mandatory local sendrecv
a=des:qos mandatory remote sendrecv
a=conf:qos remote sendrecv
m=video 0 RTP/AVP 98
`

// std93Body is the multipart body of the callee's reliable 183.
var std93Body = crlf(`--ue-b2
Content-Type: application/sdp
Content-Disposition: session

`) + crlf(calleeAnswer) + crlf(`
--ue-b2
Content-Type: application/sdp
Content-Disposition: early-session

`) + crlf(std93Early) + crlf(`
--ue-b2--
`)

const std93CT = "multipart/mixed;boundary=ue-b2"
