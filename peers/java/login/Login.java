/*
 * Login: the login codec, pure (no sockets, no files): checks a user and a
 * password line (seed 003 tasks) and builds the log line the server appends
 * to log-acesso.txt.
 */
package login;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;

public final class Login {
    /** A line is at most this many bytes, including its "\n". */
    public static final int MAX_LINE = 256;
    /** A user or a password is at most this many bytes. */
    public static final int MAX_FIELD = 64;
    public static final String OK = "OK";
    public static final String EMPTY = "ERRO usuario ou senha vazio";
    public static final String INVALID = "ERRO usuario ou senha invalido";

    private Login() {
    }

    /**
     * Returns the reply (without "\n") to a user and a password line, each
     * given without its "\n" (a trailing "\r" is ignored): EMPTY, INVALID or
     * OK, checked in that order. An overlong line is passed as the bytes
     * read so far, which are longer than MAX_FIELD and so INVALID.
     */
    public static String check(byte[] userLine, byte[] passwordLine) {
        byte[] user = stripCr(userLine);
        byte[] password = stripCr(passwordLine);
        if (user.length == 0 || password.length == 0) {
            return EMPTY;
        }
        if (!valid(user) || !valid(password)) {
            return INVALID;
        }
        for (byte b : user) {
            if (b == ':') {
                return INVALID;
            }
        }
        return OK;
    }

    /**
     * Returns the line logged for an accepted pair, `user:password\n`, or
     * null when check() does not answer OK (nothing is logged).
     */
    public static byte[] logLine(byte[] userLine, byte[] passwordLine) {
        if (!check(userLine, passwordLine).equals(OK)) {
            return null;
        }
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        line.writeBytes(stripCr(userLine));
        line.write(':');
        line.writeBytes(stripCr(passwordLine));
        line.write('\n');
        return line.toByteArray();
    }

    /** Returns true when field fits MAX_FIELD and has no control byte. */
    private static boolean valid(byte[] field) {
        if (field.length > MAX_FIELD) {
            return false;
        }
        for (byte b : field) {
            int c = b & 0xff;
            if (c < 0x20 || c == 0x7f) {
                return false;
            }
        }
        return true;
    }

    /** Returns line without one trailing "\r". */
    static byte[] stripCr(byte[] line) {
        int n = line.length;
        if (n > 0 && line[n - 1] == '\r') {
            return Arrays.copyOf(line, n - 1);
        }
        return line;
    }
}
