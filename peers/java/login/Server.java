/*
 * login server (seed 003 tasks, slide ports 5666-5668): reads a user line
 * and a password line; an empty one gets `ERRO usuario ou senha vazio`, an
 * invalid one `ERRO usuario ou senha invalido`, and the pair is asked again;
 * a good pair is appended to log-acesso.txt in the working directory (one
 * write per line, under a lock, BEFORE the reply), answered `OK`, and the
 * connection ends with a lingering close. Many clients at once, a thread
 * each. Run: java -cp build/java login.Server PORT
 */
package login;

import common.Cli;
import common.LineReader;
import common.Net;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

public final class Server {
    private static final String PROG = "login.Server";
    private static final String LOG = "log-acesso.txt";
    /** Serialises appends so log lines from concurrent clients never mix. */
    private static final Object LOG_LOCK = new Object();

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

    /**
     * Appends one line to the log with a single write on an O_APPEND file
     * (FileOutputStream in append mode), holding the lock.
     */
    static void log(byte[] line) throws IOException {
        synchronized (LOG_LOCK) {
            try (FileOutputStream f = new FileOutputStream(LOG, true)) {
                f.write(line);
            }
        }
    }

    /** One client: pairs until one is accepted or the client's EOF. */
    private static final class Connection extends Thread {
        private final Socket socket;

        Connection(Socket socket) {
            this.socket = socket;
        }

        @Override
        public void run() {
            boolean linger = false;
            try {
                LineReader in = new LineReader(socket.getInputStream());
                OutputStream out = socket.getOutputStream();
                while (true) {
                    byte[] user = readField(in);
                    byte[] password = user == null ? null : readField(in);
                    if (password == null) {
                        return; // EOF before a complete pair: nothing logged
                    }
                    String reply = Login.check(user, password);
                    if (reply.equals(Login.OK)) {
                        log(Login.logLine(user, password));
                        System.out.println("login: " + new String(
                                user, StandardCharsets.UTF_8).strip());
                        linger = true;
                    }
                    out.write((reply + "\n").getBytes(StandardCharsets.US_ASCII));
                    if (linger) {
                        return;
                    }
                }
            } catch (IOException e) {
                Cli.warn(PROG, e);
            } finally {
                if (linger) {
                    Net.lingeringClose(socket);
                } else {
                    Net.closeQuietly(socket);
                }
            }
        }

        /**
         * Returns the next line without its "\n", or null at EOF. A line
         * counts only with its "\n" (the contract: a password cut short by
         * EOF is never logged). An overlong line comes back as its first
         * MAX_LINE bytes, which check() refuses; the rest is discarded.
         */
        private static byte[] readField(LineReader in) throws IOException {
            byte[] line = in.readLine(Login.MAX_LINE);
            if (line == null) {
                return null;
            }
            if (!LineReader.terminated(line)) {
                if (line.length < Login.MAX_LINE) {
                    return null; // unterminated remainder at EOF
                }
                in.skipLine();
            }
            return LineReader.chomp(line);
        }
    }
}
