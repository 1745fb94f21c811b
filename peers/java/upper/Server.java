/*
 * upper server (seed 001, slide port 12000): one request per connection,
 * the bytes up to and including the first "\n" (or until the client's EOF),
 * answered with a-z uppercased, then a lingering close. 1024 bytes without
 * "\n" get `ERRO linha longa demais`. Run:
 * java -cp build/java upper.Server PORT
 */
package upper;

import common.Cli;
import common.LineReader;
import common.Net;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;

public final class Server {
    private static final String PROG = "upper.Server";

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

    /** One client: one request, one reply. */
    private static final class Connection extends Thread {
        private final Socket socket;

        Connection(Socket socket) {
            this.socket = socket;
        }

        @Override
        public void run() {
            try {
                LineReader in = new LineReader(socket.getInputStream());
                byte[] request = in.readLine(Upper.MAX_REQUEST);
                if (request == null) {
                    request = new byte[0];
                }
                socket.getOutputStream().write(Upper.reply(request));
            } catch (IOException e) {
                Cli.warn(PROG, e);
            } finally {
                Net.lingeringClose(socket);
            }
        }
    }
}
