/*
 * echo client (seeds 000 and 004): reads all of stdin, sends it,
 * half-closes, and writes whatever comes back until the server's EOF to
 * stdout unchanged. Run: java -cp build/java echo.Client HOST PORT < file
 */
package echo;

import common.Cli;
import common.Net;
import java.io.IOException;
import java.net.Socket;

public final class Client {
    private static final String PROG = "echo.Client";

    private Client() {
    }

    public static void main(String[] args) {
        int port = Cli.port(args, 2, PROG, "HOST PORT");
        try {
            byte[] request = System.in.readAllBytes();
            try (Socket s = Net.connect(args[0], port)) {
                Cli.out(Net.exchange(s, request));
            }
        } catch (IOException e) {
            Cli.fail(PROG, e);
        }
    }
}
