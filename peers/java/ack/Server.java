/*
 * ack server (seed 002, the C socket_server1; slide example port 5488):
 * reads one request (up to and including the first "\n", 255 bytes, or
 * what came before EOF), prints it on stdout as the slide does, replies
 * `Sou o Servidor. Recebi sua mensagem.` (no newline) and closes with a
 * lingering close. Unlike the slide it keeps serving, a thread per client.
 * Run: java -cp build/java ack.Server PORT
 */
package ack;

import common.Cli;
import common.LineReader;
import common.Net;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

public final class Server {
    private static final String PROG = "ack.Server";
    /** The slide's read(newsockfd, buffer, 255). */
    static final int MAX_REQUEST = 255;
    static final byte[] RESPONSE = "Sou o Servidor. Recebi sua mensagem."
            .getBytes(StandardCharsets.US_ASCII);
    private static final byte[] LABEL = "Mensagem recebida do cliente: "
            .getBytes(StandardCharsets.US_ASCII);

    private Server() {
    }

    public static void main(String[] args) {
        int port = Cli.port(args, 1, PROG, "PORT");
        try (ServerSocket ss = Net.listen(port)) {
            System.out.println("Servidor ouvindo na porta [" + port + "]...");
            while (true) {
                new Connection(ss.accept()).start();
            }
        } catch (IOException e) {
            Cli.fail(PROG, e);
        }
    }

    /** One client: one request, the fixed acknowledgement. */
    private static final class Connection extends Thread {
        private final Socket socket;

        Connection(Socket socket) {
            this.socket = socket;
        }

        @Override
        public void run() {
            try {
                LineReader in = new LineReader(socket.getInputStream());
                byte[] request = in.readLine(MAX_REQUEST);
                ByteArrayOutputStream line = new ByteArrayOutputStream();
                line.write(LABEL);
                line.write(request != null ? request : new byte[0]);
                line.write('\n');
                // one write per line so concurrent clients never interleave
                synchronized (System.out) {
                    Cli.out(line.toByteArray());
                }
                socket.getOutputStream().write(RESPONSE);
            } catch (IOException e) {
                Cli.warn(PROG, e);
            } finally {
                Net.lingeringClose(socket);
            }
        }
    }
}
