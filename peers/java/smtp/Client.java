/*
 * smtp client (Java, raw sockets): reads the message description on stdin
 * (From:, To: one or more, Subject:, Attach:, an empty line, the body),
 * builds the RFC 5322 / MIME message (multipart/mixed with the file in
 * base64 from java.util.Base64 when there is an attachment), sends it
 * with EHLO, MAIL FROM, RCPT TO, DATA (dot-stuffed) and QUIT, reading each
 * reply whole (multi-line "250-" replies included), and prints
 * "delivered to N recipient(s)". Contract: protocols/smtp/README.md.
 * Run: java -cp build/java smtp.Client HOST PORT < message.txt
 */
package smtp;

import common.Cli;
import common.LineReader;
import common.Net;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

public final class Client {
    private static final String PROG = "smtp.Client";
    private static final int REPLY_LINE_MAX = 2048;

    private String from;
    private final List<String> to = new ArrayList<>();
    private String subject = "";
    private String attach;
    private String body = "";

    private Client() {
    }

    public static void main(String[] args) {
        int port = Cli.port(args, 2, PROG, "HOST PORT");
        Client c = new Client();
        try {
            c.parse(System.in.readAllBytes());
            byte[] wire = stuff(c.build());
            try (Socket s = Net.connect(args[0], port)) {
                c.send(s, wire);
            }
        } catch (IOException e) {
            Cli.fail(PROG, e);
        }
    }

    private void parse(byte[] input) throws IOException {
        String text = new String(input, StandardCharsets.UTF_8);
        int cut = text.indexOf("\n\n");
        String head = cut < 0 ? text : text.substring(0, cut);
        body = cut < 0 ? "" : text.substring(cut + 2);
        for (String raw : head.split("\n")) {
            String line = raw.endsWith("\r") ? raw.substring(0, raw.length() - 1) : raw;
            if (line.isEmpty()) {
                continue;
            }
            int colon = line.indexOf(':');
            if (colon < 0) {
                throw new IOException("message description: no ':' in \"" + line + "\"");
            }
            String name = line.substring(0, colon).strip().toLowerCase(Locale.ROOT);
            String value = line.substring(colon + 1).strip();
            switch (name) {
                case "from":
                    if (from != null) {
                        throw new IOException("message description: more than one From:");
                    }
                    from = value;
                    break;
                case "to":
                    to.add(value);
                    break;
                case "subject":
                    subject = value;
                    break;
                case "attach":
                    attach = value;
                    break;
                default:
                    throw new IOException("message description: unknown field \"" + name + "\"");
            }
        }
        if (from == null || to.isEmpty()) {
            throw new IOException("message description: needs From: and at least one To:");
        }
    }

    /** The body with CRLF line ends, ending in CRLF (empty stays empty). */
    private static String crlf(String text) {
        StringBuilder out = new StringBuilder();
        String[] lines = text.replace("\r\n", "\n").split("\n", -1);
        int n = lines.length;
        if (n > 0 && lines[n - 1].isEmpty()) {
            n--;
        }
        for (int i = 0; i < n; i++) {
            out.append(lines[i]).append("\r\n");
        }
        return out.toString();
    }

    private byte[] build() throws IOException {
        String date = ZonedDateTime.now(ZoneOffset.UTC).format(
                DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss '+0000'", Locale.ROOT));
        StringBuilder head = new StringBuilder();
        head.append("From: <").append(from).append(">\r\nTo: ");
        for (int i = 0; i < to.size(); i++) {
            head.append(i > 0 ? ", <" : "<").append(to.get(i)).append('>');
        }
        head.append("\r\nSubject: ").append(subject).append("\r\nDate: ").append(date)
                .append("\r\nMIME-Version: 1.0\r\n");
        String textHead = "Content-Type: text/plain; charset=UTF-8\r\n"
                + "Content-Transfer-Encoding: 8bit\r\n\r\n";
        String text = crlf(body);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        if (attach == null) {
            out.writeBytes((head + textHead + text).getBytes(StandardCharsets.UTF_8));
            return out.toByteArray();
        }
        byte[] file = Files.readAllBytes(Path.of(attach));
        String name = Path.of(attach).getFileName().toString();
        String boundary = "=_java_lesson_0";
        for (int k = 1; text.contains(boundary); k++) {
            boundary = "=_java_lesson_" + k;
        }
        // The CRLF before a boundary belongs to the boundary (RFC 2046).
        String mime = head + "Content-Type: multipart/mixed; boundary=\"" + boundary
                + "\"\r\n\r\n--" + boundary + "\r\n" + textHead + text + "\r\n--" + boundary
                + "\r\nContent-Type: application/octet-stream; name=\"" + name
                + "\"\r\nContent-Disposition: attachment; filename=\"" + name
                + "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n";
        out.writeBytes(mime.getBytes(StandardCharsets.UTF_8));
        out.writeBytes(Mime.lines(file));
        out.writeBytes(("--" + boundary + "--\r\n").getBytes(StandardCharsets.US_ASCII));
        return out.toByteArray();
    }

    /** The message dot-stuffed (RFC 5321 4.5.2), then the final ".". */
    private static byte[] stuff(byte[] msg) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        boolean lineStart = true;
        for (byte b : msg) {
            if (lineStart && b == '.') {
                out.write('.');
            }
            out.write(b);
            lineStart = b == '\n';
        }
        out.writeBytes(".\r\n".getBytes(StandardCharsets.US_ASCII));
        return out.toByteArray();
    }

    private void send(Socket s, byte[] wire) throws IOException {
        LineReader in = new LineReader(s.getInputStream());
        OutputStream out = s.getOutputStream();
        step(in, out, null, 220, "the connection");
        step(in, out, "EHLO client.lesson\r\n", 250, "EHLO");
        step(in, out, "MAIL FROM:<" + from + ">\r\n", 250, "MAIL FROM:<" + from + ">");
        for (String r : to) {
            step(in, out, "RCPT TO:<" + r + ">\r\n", 250, "RCPT TO:<" + r + ">");
        }
        step(in, out, "DATA\r\n", 354, "DATA");
        out.write(wire);
        step(in, out, null, 250, "the message");
        Cli.out(("delivered to " + to.size() + " recipient(s)\n")
                .getBytes(StandardCharsets.US_ASCII));
        step(in, out, "QUIT\r\n", 221, "QUIT");
        s.shutdownOutput();
        while (in.readLine(REPLY_LINE_MAX) != null) {
            continue; // until the server's EOF
        }
    }

    /** Sends command (may be null), reads one whole reply, checks its code. */
    private static void step(LineReader in, OutputStream out, String command, int want,
            String label) throws IOException {
        if (command != null) {
            out.write(command.getBytes(StandardCharsets.UTF_8));
            out.flush();
        }
        while (true) {
            byte[] raw = in.readLine(REPLY_LINE_MAX);
            if (raw == null || !LineReader.terminated(raw)) {
                throw new IOException("the server closed the connection before a full reply");
            }
            String line = new String(LineReader.chomp(raw), StandardCharsets.ISO_8859_1);
            line = line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
            if (!line.matches("[2-5][0-9][0-9]([ -].*)?")) {
                throw new IOException("malformed reply: \"" + line + "\"");
            }
            if (line.length() == 3 || line.charAt(3) == ' ') {
                if (Integer.parseInt(line.substring(0, 3)) != want) {
                    throw new IOException("server refused " + label + ": " + line);
                }
                return;
            }
        }
    }
}
