package smtp;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.Base64;

/**
 * Base64 helpers of the Java SMTP peers (protocols/smtp/README.md), on
 * java.util.Base64. Strict decoding as protocols/base64/vectors.tsv asks:
 * Base64.getDecoder() alone accepts a missing padding ("Zg") and non-zero
 * unused bits ("Zh=="), so a decode counts only if it encodes back to the
 * same text.
 */
public final class Mime {
    /** Base64 characters per MIME body line (RFC 2045 6.8). */
    public static final int LINE = 76;

    private Mime() {
    }

    /** Returns the base64 text of data, one line. */
    public static byte[] encode(byte[] data) {
        return Base64.getEncoder().encode(data);
    }

    /** Returns the bytes text encodes, or null when it is not strict base64. */
    public static byte[] decodeStrict(byte[] text) {
        byte[] data;
        try {
            data = Base64.getDecoder().decode(text);
        } catch (IllegalArgumentException e) {
            return null;
        }
        return Arrays.equals(encode(data), text) ? data : null;
    }

    /** Returns data's base64 as CRLF-ended lines of at most 76 characters. */
    public static byte[] lines(byte[] data) {
        byte[] text = encode(data);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < text.length; i += LINE) {
            out.write(text, i, Math.min(LINE, text.length - i));
            out.write('\r');
            out.write('\n');
        }
        return out.toByteArray();
    }
}
