/*
 * daytime client (seed 002, the Python client): sends nothing (stdin is
 * ignored), reads until the server's EOF and prints the bytes + "\n".
 * Run: java -cp build/java daytime.Client HOST PORT
 */
package daytime;

import common.Cli;
import common.Net;
import java.io.IOException;
import java.net.Socket;
import java.util.Arrays;

public final class Client {
    private static final String PROG = "daytime.Client";

    private Client() {
    }

    public static void main(String[] args) {
        int port = Cli.port(args, 2, PROG, "HOST PORT");
        try (Socket s = Net.connect(args[0], port)) {
            byte[] time = s.getInputStream().readAllBytes();
            time = Arrays.copyOf(time, time.length + 1);
            time[time.length - 1] = '\n';
            Cli.out(time);
        } catch (IOException e) {
            Cli.fail(PROG, e);
        }
    }
}
