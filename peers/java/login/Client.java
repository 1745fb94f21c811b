/*
 * login client (seed 003 tasks): reads stdin lines in pairs (user,
 * password), sends each pair, reads one reply line and prints it. `OK` ends
 * with exit 0; after an `ERRO` the next pair is sent; stdin running out
 * after an ERRO is exit 1 ("credentials refused").
 * Run: printf 'alice\ns3cret\n' | java -cp build/java login.Client HOST PORT
 */
package login;

import common.Cli;
import common.LineReader;
import common.Net;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ProtocolException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

public final class Client {
    private static final String PROG = "login.Client";
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
            boolean refused = false;
            while (true) {
                byte[] user = stdin.readLine(Integer.MAX_VALUE);
                byte[] password =
                        user == null ? null : stdin.readLine(Integer.MAX_VALUE);
                if (password == null) {
                    Cli.fail(PROG, refused ? "credentials refused"
                            : "no user and password on stdin");
                }
                ByteArrayOutputStream pair = new ByteArrayOutputStream();
                pair.writeBytes(LineReader.chomp(user));
                pair.write('\n');
                pair.writeBytes(LineReader.chomp(password));
                pair.write('\n');
                out.write(pair.toByteArray());
                byte[] reply = in.readLine(MAX_REPLY);
                if (reply == null || !LineReader.terminated(reply)) {
                    throw new ProtocolException(reply == null
                            ? "server closed before replying"
                            : "malformed reply");
                }
                Cli.out(reply);
                String text = new String(reply, StandardCharsets.US_ASCII);
                if (text.equals(Login.OK + "\n")) {
                    break;
                }
                if (!text.startsWith("ERRO ")) {
                    throw new ProtocolException("malformed reply");
                }
                refused = true;
            }
            s.shutdownOutput();
            while (!in.atEof()) {
                in.skipLine();
            }
        } catch (IOException e) {
            Cli.fail(PROG, e);
        }
    }
}
