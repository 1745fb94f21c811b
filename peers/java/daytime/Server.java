/*
 * daytime server (seed 002, the Python server; slide port 8888): on accept
 * sends the local time as Python's time.ctime() writes it,
 * `Www Mmm dd hh:mm:ss yyyy` (English names, day padded with a space, no
 * newline), then a lingering close. Input is never interpreted, only
 * drained. Run: TZ=UTC java -cp build/java daytime.Server PORT
 */
package daytime;

import common.Cli;
import common.Net;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

public final class Server {
    private static final String PROG = "daytime.Server";
    /** ctime(3) in the C locale: "ppd" pads the day with a space. */
    private static final DateTimeFormatter CTIME = DateTimeFormatter
            .ofPattern("EEE MMM ppd HH:mm:ss yyyy", Locale.ROOT);

    private Server() {
    }

    /** Returns t formatted like C's ctime() without its "\n" (24 chars). */
    public static String ctime(ZonedDateTime t) {
        return CTIME.format(t);
    }

    public static void main(String[] args) {
        int port = Cli.port(args, 1, PROG, "PORT");
        try (ServerSocket ss = Net.listen(port)) {
            System.out.println("listening on port " + port);
            while (true) {
                new Connection(ss.accept()).start();
            }
        } catch (IOException e) {
            Cli.fail(PROG, e);
        }
    }

    /** One client: the time, then close. */
    private static final class Connection extends Thread {
        private final Socket socket;

        Connection(Socket socket) {
            this.socket = socket;
        }

        @Override
        public void run() {
            try {
                System.out.println("Accepted connection from ["
                        + socket.getRemoteSocketAddress() + "]");
                String now = ctime(ZonedDateTime.now());
                socket.getOutputStream()
                        .write(now.getBytes(StandardCharsets.US_ASCII));
            } catch (IOException e) {
                Cli.warn(PROG, e);
            } finally {
                Net.lingeringClose(socket);
            }
        }
    }
}
