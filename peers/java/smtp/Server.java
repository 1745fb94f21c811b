/*
 * smtp server (Java, raw sockets): the lesson subset of SMTP in
 * protocols/smtp/README.md, a thread per client. The greeting, then one
 * line at a time through Session; each accepted message is stored as
 * mailbox/<n>.eml (written under a temporary name, then linked, before
 * the 250). Run: java -cp build/java smtp.Server PORT
 */
package smtp;

import common.Cli;
import common.LineReader;
import common.Net;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;

public final class Server {
    private static final String PROG = "smtp.Server";
    private static final Path MAILBOX = Path.of("mailbox");
    private static final Object STORE_LOCK = new Object();
    private static int next = 1;

    private Server() {
    }

    public static void main(String[] args) {
        int port = Cli.port(args, 1, PROG, "PORT");
        try (ServerSocket ss = Net.listen(port)) {
            System.err.println("smtp server listening on port " + port);
            while (true) {
                new Connection(ss.accept()).start();
            }
        } catch (IOException e) {
            Cli.fail(PROG, e);
        }
    }

    /** Stores one message; returns its file name. */
    static Path store(byte[] message) throws IOException {
        synchronized (STORE_LOCK) {
            Files.createDirectories(MAILBOX);
            Path tmp = MAILBOX.resolve(".tmp-" + ProcessHandle.current().pid());
            Files.write(tmp, message);
            try {
                while (true) {
                    Path name = MAILBOX.resolve(next++ + ".eml");
                    try {
                        Files.createLink(name, tmp);
                        return name;
                    } catch (FileAlreadyExistsException e) {
                        continue; // an earlier server's message: keep it
                    }
                }
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
    }

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
                Session session = new Session();
                send(out, Session.GREETING);
                while (!linger) {
                    byte[] line = in.readLine(Session.DATA_LINE_MAX);
                    boolean cut = false;
                    if (line == null) {
                        return; // EOF: an open transaction is dropped
                    }
                    if (!LineReader.terminated(line)) {
                        if (line.length < Session.DATA_LINE_MAX) {
                            return; // unterminated remainder at EOF
                        }
                        in.skipLine();
                        cut = true;
                    }
                    Session.Reply r = session.line(cut ? line : LineReader.chomp(line), cut);
                    if (r == null) {
                        continue;
                    }
                    String text = r.text;
                    if (r.deliver != null) {
                        try {
                            Path name = store(r.deliver);
                            System.out.println("delivered " + name + " from "
                                    + socket.getRemoteSocketAddress() + ", "
                                    + r.recipients + " recipient(s)");
                        } catch (IOException e) {
                            Cli.warn(PROG, e);
                            text = Session.LOCAL;
                        }
                    }
                    send(out, text);
                    linger = r.quit;
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

        private static void send(OutputStream out, String reply) throws IOException {
            out.write((reply + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
        }
    }
}
