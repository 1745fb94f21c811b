/*
 * VectorsCheck: runs the Java peers' pure codecs against the shared vectors
 * (protocols/<id>/vectors.tsv, format in protocols/README.md "Vectors"), the
 * same tables the C and Python tests read. Prints every mismatch and a
 * summary per file; exits 1 on any mismatch or unreadable file.
 * Run: java -cp build/java:build/java-tests VectorsCheck protocols
 */

import calc.Calc;
import common.PyRepr;
import echo_repr.EchoRepr;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import login.Login;
import smtp.Mime;
import upper.Upper;

public final class VectorsCheck {
    private final Path root;
    private int failures;

    private VectorsCheck(Path root) {
        this.root = root;
    }

    public static void main(String[] args) {
        if (args.length > 1) {
            System.err.println("usage: java VectorsCheck [PROTOCOLS_DIR]");
            System.exit(2);
        }
        VectorsCheck check = new VectorsCheck(
                Path.of(args.length == 1 ? args[0] : "protocols"));
        check.calc();
        check.upper();
        check.echoRepr();
        check.login();
        check.base64();
        System.out.println(check.failures == 0 ? "all vectors pass"
                : check.failures + " failure(s)");
        System.exit(check.failures == 0 ? 0 : 1);
    }

    private void calc() {
        List<byte[][]> rows = load("calc", 2);
        int bad = 0;
        for (byte[][] row : rows) {
            String want = ascii(row[1]);
            String got = Calc.eval(row[0]);
            bad += expect("calc", row[0], want, got);
        }
        summary("calc", rows.size(), bad);
    }

    private void upper() {
        List<byte[][]> rows = load("upper", 2);
        int bad = 0;
        for (byte[][] row : rows) {
            bad += expect("upper", row[0], PyRepr.repr(row[1]),
                    PyRepr.repr(Upper.reply(row[0])));
        }
        summary("upper", rows.size(), bad);
    }

    private void echoRepr() {
        List<byte[][]> rows = load("echo-repr", 2);
        int bad = 0;
        for (byte[][] row : rows) {
            String want = ascii(row[1]);
            int miss = expect("echo-repr", row[0], want, PyRepr.repr(row[0]));
            if (miss == 0) {
                miss = expect("echo-repr reply", row[0], "Echo ==>" + want,
                        ascii(EchoRepr.reply(row[0])));
            }
            bad += miss;
        }
        summary("echo-repr", rows.size(), bad);
    }

    private void login() {
        List<byte[][]> rows = load("login", 4);
        int bad = 0;
        for (byte[][] row : rows) {
            byte[] pair = concat(row[0], new byte[] {'\t'}, row[1]);
            int miss = expect("login reply", pair, ascii(row[2]),
                    Login.check(row[0], row[1]));
            if (miss == 0) {
                byte[] logged = Login.logLine(row[0], row[1]);
                byte[] want = row[3].length == 0 ? null
                        : concat(row[3], new byte[] {'\n'});
                miss = expect("login logline", pair,
                        want == null ? "(nothing)" : PyRepr.repr(want),
                        logged == null ? "(nothing)" : PyRepr.repr(logged));
            }
            bad += miss;
        }
        summary("login", rows.size(), bad);
    }

    private void base64() {
        List<byte[][]> rows = load("base64", 3);
        int bad = 0;
        for (byte[][] row : rows) {
            String kind = ascii(row[0]);
            byte[] got = Mime.decodeStrict(row[2]);
            int miss;
            if (kind.equals("ok")) {
                miss = expect("base64 encode", row[1], ascii(row[2]),
                        ascii(Mime.encode(row[1])));
                if (miss == 0) {
                    miss = expect("base64 decode", row[2], PyRepr.repr(row[1]),
                            got == null ? "(rejected)" : PyRepr.repr(got));
                }
            } else {
                miss = expect("base64 reject", row[2], "(rejected)",
                        got == null ? "(rejected)" : PyRepr.repr(got));
            }
            bad += miss;
        }
        summary("base64", rows.size(), bad);
    }

    /** Returns 0 when want equals got, else reports the mismatch and returns 1. */
    private int expect(String what, byte[] input, String want, String got) {
        if (want.equals(got)) {
            return 0;
        }
        failures++;
        System.out.println("FAIL " + what + " " + PyRepr.repr(input)
                + "\n  want " + want + "\n  got  " + got);
        return 1;
    }

    private static void summary(String id, int rows, int bad) {
        System.out.printf("%-10s %4d vectors, %d mismatch(es)%n", id, rows, bad);
    }

    /**
     * Returns the decoded rows of protocols/<id>/vectors.tsv, each with
     * exactly {@code columns} fields; a missing file or a malformed row
     * counts as a failure.
     */
    private List<byte[][]> load(String id, int columns) {
        Path file = root.resolve(id).resolve("vectors.tsv");
        List<byte[][]> rows = new ArrayList<>();
        byte[] data;
        try {
            data = Files.readAllBytes(file);
        } catch (IOException e) {
            failures++;
            System.out.println("FAIL cannot read " + file + ": " + e);
            return rows;
        }
        int lineNo = 0;
        int start = 0;
        while (start < data.length) {
            int end = start;
            while (end < data.length && data[end] != '\n') {
                end++;
            }
            lineNo++;
            byte[] line = Arrays.copyOfRange(data, start, end);
            start = end + 1;
            if (line.length == 0 || line[0] == '#') {
                continue;
            }
            List<byte[]> fields = split(line);
            if (fields.size() != columns) {
                failures++;
                System.out.println("FAIL " + file + ":" + lineNo + ": "
                        + fields.size() + " fields, want " + columns);
                continue;
            }
            byte[][] row = new byte[columns][];
            try {
                for (int i = 0; i < columns; i++) {
                    row[i] = unescape(fields.get(i));
                }
            } catch (IllegalArgumentException e) {
                failures++;
                System.out.println("FAIL " + file + ":" + lineNo + ": "
                        + e.getMessage());
                continue;
            }
            rows.add(row);
        }
        return rows;
    }

    /** Returns the TAB-separated fields of line, empty ones included. */
    private static List<byte[]> split(byte[] line) {
        List<byte[]> fields = new ArrayList<>();
        int start = 0;
        for (int i = 0; i <= line.length; i++) {
            if (i == line.length || line[i] == '\t') {
                fields.add(Arrays.copyOfRange(line, start, i));
                start = i + 1;
            }
        }
        return fields;
    }

    /**
     * Returns the bytes a field stands for: \n \r \t \\ \xHH are escapes,
     * every other byte (UTF-8 text included) stands for itself.
     */
    static byte[] unescape(byte[] field) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < field.length; i++) {
            byte b = field[i];
            if (b != '\\') {
                out.write(b);
                continue;
            }
            if (i + 1 >= field.length) {
                throw new IllegalArgumentException("dangling backslash");
            }
            byte e = field[++i];
            switch (e) {
                case 'n':
                    out.write('\n');
                    break;
                case 'r':
                    out.write('\r');
                    break;
                case 't':
                    out.write('\t');
                    break;
                case '\\':
                    out.write('\\');
                    break;
                case 'x':
                    if (i + 2 >= field.length) {
                        throw new IllegalArgumentException("short \\x escape");
                    }
                    int hi = Character.digit(field[i + 1], 16);
                    int lo = Character.digit(field[i + 2], 16);
                    if (hi < 0 || lo < 0) {
                        throw new IllegalArgumentException("bad \\x escape");
                    }
                    out.write(hi << 4 | lo);
                    i += 2;
                    break;
                default:
                    throw new IllegalArgumentException(
                            "unknown escape \\" + (char) e);
            }
        }
        return out.toByteArray();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    private static String ascii(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }
}
