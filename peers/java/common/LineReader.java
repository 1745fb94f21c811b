/*
 * LineReader: incremental line framing over a byte stream (a socket or
 * stdin). One read() is never assumed to be one message: bytes are buffered
 * until a "\n", a length limit or EOF ends the line.
 */
package common;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;

public final class LineReader {
    private final InputStream in;
    private final byte[] buf = new byte[8192];
    private int pos;
    private int lim;
    private boolean eof;

    public LineReader(InputStream in) {
        this.in = in;
    }

    /**
     * Returns the bytes up to and including the next "\n"; or the first
     * {@code max} bytes when no "\n" comes within them; or, at EOF, the
     * unterminated remainder; null at EOF with nothing pending. Returns as
     * soon as the line is complete, without waiting for more input.
     */
    public byte[] readLine(int max) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        while (line.size() < max) {
            if (pos == lim && !fill()) {
                break;
            }
            int room = max - line.size();
            int stop = lim - pos <= room ? lim : pos + room;
            int i = pos;
            while (i < stop && buf[i] != '\n') {
                i++;
            }
            if (i < stop) {
                line.write(buf, pos, i + 1 - pos);
                pos = i + 1;
                return line.toByteArray();
            }
            line.write(buf, pos, stop - pos);
            pos = stop;
        }
        if (line.size() == 0 && max > 0) {
            return null;
        }
        return line.toByteArray();
    }

    /** Discards input up to and including the next "\n", or until EOF. */
    public void skipLine() throws IOException {
        while (pos < lim || fill()) {
            while (pos < lim) {
                if (buf[pos++] == '\n') {
                    return;
                }
            }
        }
    }

    /** Returns true when no byte is left: waits for input if none is buffered. */
    public boolean atEof() throws IOException {
        return pos == lim && !fill();
    }

    /** Returns false at EOF, else refills the buffer with what one read gives. */
    private boolean fill() throws IOException {
        if (eof) {
            return false;
        }
        int n = in.read(buf);
        if (n < 0) {
            eof = true;
            return false;
        }
        pos = 0;
        lim = n;
        return true;
    }

    /** Returns true when {@code line} (from readLine) ended with "\n". */
    public static boolean terminated(byte[] line) {
        return line.length > 0 && line[line.length - 1] == '\n';
    }

    /** Returns {@code line} without its final "\n", if it has one. */
    public static byte[] chomp(byte[] line) {
        if (!terminated(line)) {
            return line;
        }
        byte[] text = new byte[line.length - 1];
        System.arraycopy(line, 0, text, 0, text.length);
        return text;
    }
}
