/*
 * echo server (seeds 000 and 004, slide ports 65432/50007): returns every
 * byte it receives, unchanged, until the client's EOF, then closes. Serves
 * many clients at once, one thread per connection as in seed 002's Java
 * lesson. Run: java -cp build/java echo.Server PORT
 */
package echo;

import common.Cli;
import common.Net;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;

public final class Server {
    private static final String PROG = "echo.Server";

    private Server() {
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

    /** One client: copy input to output until EOF. */
    private static final class Connection extends Thread {
        private final Socket socket;

        Connection(Socket socket) {
            this.socket = socket;
        }

        @Override
        public void run() {
            try {
                InputStream in = socket.getInputStream();
                OutputStream out = socket.getOutputStream();
                byte[] buf = new byte[4096];
                int n;
                while ((n = in.read(buf)) >= 0) {
                    out.write(buf, 0, n);
                }
            } catch (IOException e) {
                Cli.warn(PROG, e);
            } finally {
                // the client's EOF was read, so no unread input can reset
                Net.closeQuietly(socket);
            }
        }
    }
}
