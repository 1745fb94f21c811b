/*
 * upper client (seed 001): sends the first stdin line (with its "\n" if it
 * has one), half-closes, and prints the reply bytes unchanged. Run:
 * echo hello | java -cp build/java upper.Client HOST PORT
 */
package upper;

import common.Cli;
import common.LineReader;
import common.Net;
import java.io.IOException;
import java.net.Socket;

public final class Client {
    private static final String PROG = "upper.Client";

    private Client() {
    }

    public static void main(String[] args) {
        int port = Cli.port(args, 2, PROG, "HOST PORT");
        try {
            byte[] line = new LineReader(System.in).readLine(Integer.MAX_VALUE);
            if (line == null) {
                line = new byte[0];
            }
            try (Socket s = Net.connect(args[0], port)) {
                Cli.out(Net.exchange(s, line));
            }
        } catch (IOException e) {
            Cli.fail(PROG, e);
        }
    }
}
