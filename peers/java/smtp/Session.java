package smtp;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The server side of protocols/smtp/README.md as a state machine, fed one
 * line at a time: replies, sequence, dot-stuffing, limits. No I/O.
 */
public final class Session {
    public static final String NAME = "lesson.example";
    public static final int CMD_MAX = 512;
    public static final int DATA_LINE_MAX = 1000;
    public static final int SIZE_MAX = 1048576;
    public static final String GREETING = "220 " + NAME + " ESMTP ready";
    static final String EHLO = "250-" + NAME + "\r\n250-8BITMIME\r\n250-SIZE "
            + SIZE_MAX + "\r\n250 HELP";
    static final String OK = "250 OK";
    static final String LONG = "500 Line too long";
    static final String SYNTAX = "501 Syntax error in parameters";
    static final String SEQUENCE = "503 Bad sequence of commands";
    static final String SIZE = "552 Message size exceeds fixed maximum message size";
    public static final String LOCAL = "451 Requested action aborted: local error";
    private static final int RCPT_MAX = 100;
    private static final int PATH_MAX = 254;
    private static final Set<String> NOT_IMPLEMENTED = Set.of("VRFY", "EXPN",
            "HELP", "TURN", "ETRN", "AUTH", "STARTTLS", "SEND", "SOML", "SAML");
    private static final Pattern PATH = Pattern.compile(
            "^ ?<([^\\x00-\\x20<>\\x7f]*)>( .*)?$", Pattern.DOTALL);

    /** What to do after a line: the reply, and maybe a message to store. */
    public static final class Reply {
        public final String text;
        public final byte[] deliver; // the mailbox file, or null
        public final int recipients;
        public final boolean quit;

        Reply(String text, byte[] deliver, int recipients, boolean quit) {
            this.text = text;
            this.deliver = deliver;
            this.recipients = recipients;
            this.quit = quit;
        }
    }

    private enum State { INIT, READY, MAIL, RCPT, DATA }

    private State state = State.INIT;
    private String from;
    private final List<String> rcpts = new ArrayList<>();
    private final ByteArrayOutputStream data = new ByteArrayOutputStream();
    private long size;
    private boolean tooLong;
    private boolean bareLf;

    private void drop() {
        from = null;
        rcpts.clear();
        data.reset();
        size = 0;
        tooLong = false;
        bareLf = false;
        if (state != State.INIT) {
            state = State.READY;
        }
    }

    private static Reply reply(String text) {
        return new Reply(text, null, 0, false);
    }

    /**
     * Takes one line without its "\n" (cut: the framing stopped it at
     * DATA_LINE_MAX bytes and dropped the rest); returns the reply, or
     * null while mail data goes on.
     */
    public Reply line(byte[] line, boolean cut) {
        if (state == State.DATA) {
            return dataLine(line, cut);
        }
        if (cut || line.length + 1 > CMD_MAX) {
            return reply(LONG);
        }
        if (line.length == 0 || line[line.length - 1] != '\r') {
            return reply("500 Bare LF not allowed");
        }
        return command(new String(line, 0, line.length - 1,
                StandardCharsets.ISO_8859_1));
    }

    private Reply command(String line) {
        int sp = line.indexOf(' ');
        String verb = (sp < 0 ? line : line.substring(0, sp)).toUpperCase(Locale.ROOT);
        String arg = sp < 0 ? "" : line.substring(sp);
        switch (verb) {
            case "EHLO":
            case "HELO":
                if (arg.chars().allMatch(c -> c == ' ')) {
                    return reply(SYNTAX);
                }
                state = State.READY;
                drop();
                return reply(verb.equals("EHLO") ? EHLO : "250 " + NAME);
            case "MAIL":
            case "RCPT":
                return envelope(verb, arg);
            case "DATA":
                if (state != State.RCPT) {
                    return reply(SEQUENCE);
                }
                state = State.DATA;
                return reply("354 End data with <CR><LF>.<CR><LF>");
            case "RSET":
                drop();
                return reply(OK);
            case "NOOP":
                return reply(OK);
            case "QUIT":
                return new Reply("221 Bye", null, 0, true);
            default:
                return reply(NOT_IMPLEMENTED.contains(verb)
                        ? "502 Command not implemented" : "500 Command unrecognized");
        }
    }

    private Reply envelope(String verb, String arg) {
        boolean mail = verb.equals("MAIL");
        String prefix = mail ? " FROM:" : " TO:";
        if (!arg.regionMatches(true, 0, prefix, 0, prefix.length())) {
            return reply(SYNTAX);
        }
        Matcher m = PATH.matcher(arg.substring(prefix.length()));
        if (!m.matches() || (m.group(1).isEmpty() && !mail)
                || m.group(1).length() > PATH_MAX) {
            return reply(SYNTAX);
        }
        long sizeParam = 0;
        for (String p : (m.group(2) == null ? "" : m.group(2)).split(" ")) {
            if (p.length() > 5 && p.regionMatches(true, 0, "SIZE=", 0, 5)) {
                String digits = p.substring(5);
                if (!digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
                    return reply(SYNTAX);
                }
                sizeParam = digits.length() > 12 ? Long.MAX_VALUE : Long.parseLong(digits);
            }
        }
        if (mail) {
            if (state != State.READY) {
                return reply(SEQUENCE);
            }
            if (sizeParam > SIZE_MAX) {
                return reply(SIZE);
            }
            drop();
            from = m.group(1);
            state = State.MAIL;
            return reply(OK);
        }
        if (state != State.MAIL && state != State.RCPT) {
            return reply(SEQUENCE);
        }
        if (rcpts.size() >= RCPT_MAX) {
            return reply("452 Too many recipients");
        }
        rcpts.add(m.group(1));
        state = State.RCPT;
        return reply(OK);
    }

    private Reply dataLine(byte[] line, boolean cut) {
        if (cut) {
            tooLong = true;
            return null;
        }
        boolean crlf = line.length > 0 && line[line.length - 1] == '\r';
        int textLen = crlf ? line.length - 1 : line.length;
        if (textLen == 1 && line[0] == '.') {
            String err = tooLong ? LONG
                    : bareLf || !crlf ? "554 Bare LF not allowed"
                    : size > SIZE_MAX ? SIZE : null;
            state = State.READY;
            if (err != null) {
                drop();
                return reply(err);
            }
            StringBuilder env = new StringBuilder("X-Envelope-From: <" + from + ">\r\n");
            for (String r : rcpts) {
                env.append("X-Envelope-To: <").append(r).append(">\r\n");
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.writeBytes(env.toString().getBytes(StandardCharsets.ISO_8859_1));
            out.writeBytes(data.toByteArray());
            int n = rcpts.size();
            drop();
            return new Reply(OK, out.toByteArray(), n, false);
        }
        if (!crlf) {
            bareLf = true;
        }
        // Dot-stuffing (RFC 5321 4.5.2): a leading "." was doubled.
        int skip = line.length > 0 && line[0] == '.' ? 1 : 0;
        size += line.length - skip + 1;
        if (size <= SIZE_MAX && !tooLong && !bareLf) {
            data.write(line, skip, line.length - skip);
            data.write('\n');
        }
        return null;
    }
}
