/*
 * Upper: the upper codec, pure (no sockets). Seed 001's server answers with
 * bytes.upper(), which maps only a-z; Java's String.toUpperCase() would
 * also change letters such as 'é' (and depends on the locale), so the
 * mapping is done byte by byte instead.
 */
package upper;

import java.nio.charset.StandardCharsets;

public final class Upper {
    /** A request is at most this many bytes (the slide's recv(1024)). */
    public static final int MAX_REQUEST = 1024;
    /** The reply to a request that reaches MAX_REQUEST without "\n". */
    public static final byte[] TOO_LONG =
            "ERRO linha longa demais\n".getBytes(StandardCharsets.US_ASCII);

    private Upper() {
    }

    /** Returns a copy of data with a-z mapped to A-Z, other bytes as is. */
    public static byte[] upper(byte[] data) {
        byte[] out = data.clone();
        for (int i = 0; i < out.length; i++) {
            if (out[i] >= 'a' && out[i] <= 'z') {
                out[i] -= 'a' - 'A';
            }
        }
        return out;
    }

    /**
     * Returns the reply to one framed request (up to and including the first
     * "\n", at most MAX_REQUEST bytes): TOO_LONG when it filled MAX_REQUEST
     * bytes without a "\n", else the request uppercased.
     */
    public static byte[] reply(byte[] request) {
        boolean terminated = request.length > 0
                && request[request.length - 1] == '\n';
        if (request.length >= MAX_REQUEST && !terminated) {
            return TOO_LONG.clone();
        }
        return upper(request);
    }
}
