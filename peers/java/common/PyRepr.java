/*
 * PyRepr: Python 3's repr() of a bytes object, written out by hand, because
 * the echo-repr server (seed 002 "Servidor 2") and the udp receiver (seed
 * 004) print it and every language must produce the same text.
 */
package common;

public final class PyRepr {
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private PyRepr() {
    }

    /**
     * Returns repr(data) as Python 3 writes it: b'...', or b"..." when the
     * data holds a ' and no "; the text is always printable ASCII.
     */
    public static String repr(byte[] data) {
        boolean single = false;
        boolean dbl = false;
        for (byte b : data) {
            single |= b == '\'';
            dbl |= b == '"';
        }
        char quote = single && !dbl ? '"' : '\'';
        StringBuilder sb = new StringBuilder(data.length + 3);
        sb.append('b').append(quote);
        for (byte b : data) {
            int c = b & 0xff;
            if (c == quote || c == '\\') {
                sb.append('\\').append((char) c);
            } else if (c == '\t') {
                sb.append("\\t");
            } else if (c == '\n') {
                sb.append("\\n");
            } else if (c == '\r') {
                sb.append("\\r");
            } else if (c < 0x20 || c >= 0x7f) {
                sb.append("\\x").append(HEX[c >> 4]).append(HEX[c & 0xf]);
            } else {
                sb.append((char) c);
            }
        }
        return sb.append(quote).toString();
    }
}
