/*
 * timeofday client: the Java client of seed 002, kept as the slide wrote
 * it: BufferedReader(InputStreamReader(in)) with the platform DEFAULT
 * charset, one readLine(), System.out.println(). Changed for the matrix
 * only: host and port come from argv, and errors (including a server that
 * closes without sending a line, where the slide would print "null") go to
 * stderr with exit 1. Run: java -cp build/java timeofday.Client HOST PORT
 */
package timeofday;

import common.Cli;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.Socket;

public final class Client {
    private static final String PROG = "timeofday.Client";

    private Client() {
    }

    public static void main(String[] args) {
        int port = Cli.port(args, 2, PROG, "HOST PORT");
        try {
            Socket s = new Socket(args[0], port);
            InputStream in = s.getInputStream();
            // Slide quirk kept on purpose: the reader decodes with the
            // platform DEFAULT charset and System.out re-encodes with it, so
            // under LC_ALL=C a UTF-8 'é' from the server prints as "??".
            BufferedReader bin = new BufferedReader(new InputStreamReader(in));
            String line = bin.readLine();
            if (line == null) {
                Cli.fail(PROG, "server closed without sending a line");
            }
            System.out.println(line);
            s.close();
        } catch (IOException err) {
            Cli.fail(PROG, err);
        }
    }
}
