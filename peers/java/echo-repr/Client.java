/*
 * echo-repr client (seed 002 "Cliente 2"): sends stdin line by line
 * (including each "\n"), reads ONE reply per line and prints it + "\n".
 * The reply has no terminator, so it is parsed: `Echo ==>b`, a quote, then
 * up to the matching unescaped quote. Run:
 * java -cp build/java echo_repr.Client HOST PORT < lines
 */
package echo_repr;

import common.Cli;
import common.LineReader;
import common.Net;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ProtocolException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

public final class Client {
    private static final String PROG = "echo_repr.Client";
    private static final byte[] START =
            (EchoRepr.PREFIX + "b").getBytes(StandardCharsets.US_ASCII);
    /** Longest possible reply: prefix, quotes and 4 bytes per data byte. */
    private static final int MAX_REPLY =
            START.length + 2 + 4 * EchoRepr.MAX_MESSAGE;

    private Client() {
    }

    public static void main(String[] args) {
        int port = Cli.port(args, 2, PROG, "HOST PORT");
        try (Socket s = Net.connect(args[0], port)) {
            LineReader stdin = new LineReader(System.in);
            InputStream in = new BufferedInputStream(s.getInputStream());
            OutputStream out = s.getOutputStream();
            byte[] line;
            while ((line = stdin.readLine(EchoRepr.MAX_MESSAGE)) != null) {
                if (line.length == EchoRepr.MAX_MESSAGE
                        && !LineReader.terminated(line) && !stdin.atEof()) {
                    Cli.fail(PROG, "line longer than "
                            + EchoRepr.MAX_MESSAGE + " bytes");
                }
                out.write(line);
                ByteArrayOutputStream reply = readReply(in);
                reply.write('\n');
                Cli.out(reply.toByteArray());
            }
            s.shutdownOutput();
            in.readAllBytes();
        } catch (IOException e) {
            Cli.fail(PROG, e);
        }
    }

    /** Returns one reply read byte by byte; throws on anything malformed. */
    private static ByteArrayOutputStream readReply(InputStream in)
            throws IOException {
        ByteArrayOutputStream reply = new ByteArrayOutputStream();
        for (byte expected : START) {
            int c = in.read();
            if (c != expected) {
                throw malformed(c);
            }
            reply.write(c);
        }
        int quote = in.read();
        if (quote != '\'' && quote != '"') {
            throw malformed(quote);
        }
        reply.write(quote);
        while (reply.size() < MAX_REPLY) {
            int c = in.read();
            if (c < 0) {
                throw malformed(c);
            }
            reply.write(c);
            if (c == quote) {
                return reply;
            }
            if (c == '\\') {
                int escaped = in.read();
                if (escaped < 0) {
                    throw malformed(escaped);
                }
                reply.write(escaped);
            }
        }
        throw new ProtocolException("malformed reply: too long");
    }

    private static ProtocolException malformed(int c) {
        return new ProtocolException(c < 0
                ? "malformed reply: connection closed mid-reply"
                : String.format("malformed reply: unexpected byte 0x%02x", c));
    }
}
