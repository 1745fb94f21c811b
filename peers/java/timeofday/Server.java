/*
 * timeofday server: the Java server of seed 002 (slide port 5155), kept as
 * the slide wrote it: a thread per connection, a PrintWriter with autoflush
 * and println("Agora é:" + new Date()). Changed for the matrix only: the
 * port comes from argv, errors go to stderr with the exit codes of
 * protocols/README.md, and the socket ends with a lingering close instead
 * of close() (same bytes on the wire; it only keeps unread client input from
 * turning the close into a reset that could destroy the line).
 * Run: TZ=UTC java -cp build/java timeofday.Server PORT
 */
package timeofday;

import common.Cli;
import common.Net;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Date;

public final class Server {
    private static final String PROG = "timeofday.Server";

    private Server() {
    }

    public static void main(String[] args) {
        int port = Cli.port(args, 1, PROG, "PORT");
        ServerSocket s;
        try {
            s = new ServerSocket(port);
        } catch (IOException err) {
            Cli.fail(PROG, err);
            return;
        }
        System.out.println("Servidor ouvindo na porta " + port + "...");
        try {
            while (true) {
                Socket client = s.accept();
                new Connection(client).start(); // thread para atender
            }
        } catch (IOException err) {
            Cli.fail(PROG, err);
        }
    }

    /** Thread per connection, as on the slide. */
    private static final class Connection extends Thread {
        private final Socket outputLine;

        Connection(Socket s) {
            outputLine = s;
        }

        @Override
        public void run() {
            try {
                // Slide quirk kept on purpose: PrintWriter(OutputStream) encodes
                // with the platform DEFAULT charset and println() ends the line
                // with the platform line separator. Under LANG=C.UTF-8 that is
                // UTF-8 and "\n", so 'é' is c3 a9; under LC_ALL=C Java 17's
                // default charset is US-ASCII and 'é' goes out as '?'.
                PrintWriter pout =
                        new PrintWriter(outputLine.getOutputStream(), true);
                System.out.println("#Cliente atendido no socket:"
                        + outputLine.getRemoteSocketAddress());
                pout.println("Agora é:" + new Date().toString());
            } catch (IOException err) {
                Cli.warn(PROG, err);
            } finally {
                Net.lingeringClose(outputLine);
            }
        }
    }
}
