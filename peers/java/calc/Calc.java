/*
 * Calc: the calc codec, pure (no sockets): one request line in, one reply
 * line out, with the checks in the order protocols/calc/README.md pins and
 * the number format every language shares (6 decimals, half-even on the
 * double's exact binary value, trailing zeros stripped).
 */
package calc;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

public final class Calc {
    /** A request line is at most this many bytes, including its "\n". */
    public static final int MAX_LINE = 256;
    /** Operands and results must stay below this magnitude. */
    public static final double LIMIT = 1e15;

    private static final Pattern NUMBER =
            Pattern.compile("[+-]?[0-9]+(\\.[0-9]+)?");

    private Calc() {
    }

    /**
     * Returns the reply (without "\n") to one request line given without its
     * "\n"; a trailing "\r" is ignored; a line of MAX_LINE bytes or more
     * (it could not have fit with its "\n") is too long.
     */
    public static String eval(byte[] line) {
        if (line.length >= MAX_LINE) {
            return "ERRO linha longa demais";
        }
        int n = line.length;
        if (n > 0 && line[n - 1] == '\r') {
            n--;
        }
        // ISO-8859-1 maps each byte to one char, so no byte is lost or merged
        List<String> f = fields(new String(line, 0, n,
                StandardCharsets.ISO_8859_1));
        if (f.isEmpty() || !isOp(f.get(0))) {
            return "ERRO operacao desconhecida";
        }
        if (f.size() != 3) {
            return "ERRO numero de operandos";
        }
        String op = f.get(0);
        if (!NUMBER.matcher(f.get(1)).matches()
                || !NUMBER.matcher(f.get(2)).matches()) {
            return "ERRO numero invalido";
        }
        double a = Double.parseDouble(f.get(1));
        double b = Double.parseDouble(f.get(2));
        if (Math.abs(a) >= LIMIT || Math.abs(b) >= LIMIT) {
            return "ERRO fora do intervalo";
        }
        if (op.equals("DIV") && b == 0) {
            return "ERRO divisao por zero";
        }
        double r;
        switch (op) {
            case "SOMA":
                r = a + b;
                break;
            case "SUB":
                r = a - b;
                break;
            case "MUL":
                r = a * b;
                break;
            default:
                r = a / b;
                break;
        }
        if (Math.abs(r) >= LIMIT) {
            return "ERRO fora do intervalo";
        }
        return format(r);
    }

    /**
     * Returns r rounded to 6 decimals (half-even, on the exact binary value,
     * like C's "%.6f") without trailing zeros or a trailing ".", "-0" as "0".
     */
    public static String format(double r) {
        String s = new BigDecimal(r).setScale(6, RoundingMode.HALF_EVEN)
                .toPlainString();
        if (s.indexOf('.') >= 0) {
            int end = s.length();
            while (s.charAt(end - 1) == '0') {
                end--;
            }
            if (s.charAt(end - 1) == '.') {
                end--;
            }
            s = s.substring(0, end);
        }
        return s.equals("-0") ? "0" : s;
    }

    private static boolean isOp(String s) {
        return s.equals("SOMA") || s.equals("SUB") || s.equals("MUL")
                || s.equals("DIV");
    }

    /** Returns the fields of s separated by runs of spaces (0x20 only). */
    private static List<String> fields(String s) {
        List<String> out = new ArrayList<>();
        int i = 0;
        while (i < s.length()) {
            if (s.charAt(i) == ' ') {
                i++;
                continue;
            }
            int start = i;
            while (i < s.length() && s.charAt(i) != ' ') {
                i++;
            }
            out.add(s.substring(start, i));
        }
        return out;
    }
}
