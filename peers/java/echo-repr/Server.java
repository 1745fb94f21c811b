/*
 * echo-repr server (seed 002 "Servidor 2", slide port 5050): answers every
 * message with `Echo ==>` + Python's bytes repr, no terminator. A message is
 * a line including its "\n", a 1024-byte chunk without "\n", or the
 * remainder at EOF; the server closes after the client's EOF. Unlike the
 * slide (one reply per recv()), framing is by line, so TCP chunking never
 * changes the replies. Run: java -cp build/java echo_repr.Server PORT
 */
package echo_repr;

import common.Cli;
import common.LineReader;
import common.Net;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;

public final class Server {
    private static final String PROG = "echo_repr.Server";

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

    /** One client: a reply per message until EOF. */
    private static final class Connection extends Thread {
        private final Socket socket;

        Connection(Socket socket) {
            this.socket = socket;
        }

        @Override
        public void run() {
            try {
                LineReader in = new LineReader(socket.getInputStream());
                OutputStream out = socket.getOutputStream();
                byte[] message;
                while ((message = in.readLine(EchoRepr.MAX_MESSAGE)) != null) {
                    out.write(EchoRepr.reply(message));
                }
            } catch (IOException e) {
                Cli.warn(PROG, e);
            } finally {
                Net.closeQuietly(socket);
            }
        }
    }
}
