/* awbenc: encode a canonical 44-byte-header PCM16 mono 16 kHz WAV to the AMR-WB storage format
 * (RFC 4867 section 5) with the VisualOn AMR-WB encoder (Debian package libvo-amrwbenc-dev).
 *
 *   gcc -O2 -o /tmp/awbenc configs/clips/awbenc.c -lvo-amrwbenc
 *   /tmp/awbenc 2 1 < configs/clips/ringback-16k.wav > configs/clips/ringback.awb
 *
 * Arguments: mode (0..8; 2 = 12.65 kbit/s) and dtx (1 = emit SID/NO_DATA in the silent parts). */
#include <stdio.h>
#include <stdlib.h>
#include <vo-amrwbenc/enc_if.h>

int main(int argc, char **argv) {
	int mode = argc > 1 ? atoi(argv[1]) : 2, dtx = argc > 2 ? atoi(argv[2]) : 1;
	unsigned char hdr[44], out[64];
	short pcm[320];
	void *enc;
	if (fread(hdr, 1, sizeof hdr, stdin) != sizeof hdr) return 1;
	enc = E_IF_init();
	fwrite("#!AMR-WB\n", 1, 9, stdout);
	for (;;) {
		size_t n = fread(pcm, 2, 320, stdin);
		if (n == 0) break;
		for (; n < 320; n++) pcm[n] = 0;
		int len = E_IF_encode(enc, mode, pcm, out, dtx);
		fwrite(out, 1, (size_t)len, stdout);
	}
	E_IF_exit(enc);
	return 0;
}
