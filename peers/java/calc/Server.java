/*
 * calc server (seed 001 exercise, slide port 12000): many requests per
 * connection, `SOMA|SUB|MUL|DIV A B` per line, one reply line each, in
 * order; closes after the client's EOF. A line reaching 256 bytes without
 * "\n" is answered at once with `ERRO linha longa demais` and the rest of it
 * is discarded. Run: java -cp build/java calc.Server PORT
 */
package calc;

import common.Cli;
import common.LineReader;
import common.Net;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

public final class Server {
    private static final String PROG = "calc.Server";

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

    /** One client: a reply line per request line until EOF. */
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
                byte[] line;
                while ((line = in.readLine(Calc.MAX_LINE)) != null) {
                    boolean tooLong = !LineReader.terminated(line)
                            && line.length >= Calc.MAX_LINE;
                    String reply = Calc.eval(LineReader.chomp(line)) + "\n";
                    out.write(reply.getBytes(StandardCharsets.US_ASCII));
                    if (tooLong) {
                        in.skipLine();
                    }
                }
            } catch (IOException e) {
                Cli.warn(PROG, e);
            } finally {
                Net.closeQuietly(socket);
            }
        }
    }
}
