/*
 * calc client (seed 001 exercise): sends each stdin line (adding "\n" when
 * the last one lacks it), waits for its one reply line and prints it;
 * strictly lock-step, never pipelined. ERRO replies are answers, not client
 * errors. Run: printf 'SOMA 2 2\n' | java -cp build/java calc.Client HOST PORT
 */
package calc;

import common.Cli;
import common.LineReader;
import common.Net;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ProtocolException;
import java.net.Socket;
import java.util.Arrays;

public final class Client {
    private static final String PROG = "calc.Client";
    /** Longer than any reply the contract allows. */
    /** A reply line is at most 256 bytes, its "\n" included (contract). */
    private static final int MAX_REPLY = 256;

    private Client() {
    }

    public static void main(String[] args) {
        int port = Cli.port(args, 2, PROG, "HOST PORT");
        try (Socket s = Net.connect(args[0], port)) {
            LineReader stdin = new LineReader(System.in);
            LineReader in = new LineReader(s.getInputStream());
            OutputStream out = s.getOutputStream();
            byte[] line;
            while ((line = stdin.readLine(Integer.MAX_VALUE)) != null) {
                if (!LineReader.terminated(line)) {
                    line = Arrays.copyOf(line, line.length + 1);
                    line[line.length - 1] = '\n';
                }
                out.write(line);
                byte[] reply = in.readLine(MAX_REPLY);
                if (reply == null) {
                    throw new ProtocolException("server closed before replying");
                }
                if (!LineReader.terminated(reply)) {
                    throw new ProtocolException("malformed reply");
                }
                Cli.out(reply);
            }
            s.shutdownOutput();
            // Lock-step: nothing may follow the last reply but the EOF.
            if (!in.atEof()) {
                throw new ProtocolException("unexpected bytes after the last reply");
            }
        } catch (IOException e) {
            Cli.fail(PROG, e);
        }
    }
}
