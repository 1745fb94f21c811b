// Calculator server (the exercise of lesson 001), written by Bruno.
// Each line "OP A B" (SOMA, SUB, MUL, DIV) gets one line back: the result
// or an "ERRO ..." message. A thread per client.
// Run: java Server PORT
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

public class Server {
    static final int MAX_LINE = 256; // bytes, the '\n' included
    static final double LIMIT = 1e15;
    static final Pattern NUMBER = Pattern.compile("[+-]?[0-9]+(\\.[0-9]+)?");

    public static void main(String[] args) {
        if (args.length != 1 || !args[0].matches("[0-9]{1,5}")) {
            System.err.println("usage: java Server PORT");
            System.exit(2);
        }
        try (ServerSocket s = new ServerSocket(Integer.parseInt(args[0]))) {
            System.out.println("Calculadora na porta " + args[0]);
            while (true) {
                Socket client = s.accept();
                new Thread(() -> serve(client)).start();
            }
        } catch (IOException err) {
            System.err.println("Server: " + err.getMessage());
            System.exit(1);
        }
    }

    static void serve(Socket client) {
        try (client) {
            InputStream in = new BufferedInputStream(client.getInputStream());
            OutputStream out = client.getOutputStream();
            // Lines are framed by hand: read() may return any part of a
            // line, and a line may not grow past MAX_LINE bytes.
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            boolean skipping = false;
            int b;
            while ((b = in.read()) != -1) {
                if (b == '\n') {
                    if (!skipping) {
                        reply(out, answer(line.toByteArray()));
                    }
                    line.reset();
                    skipping = false;
                } else if (!skipping) {
                    line.write(b);
                    if (line.size() == MAX_LINE) {
                        reply(out, "ERRO linha longa demais");
                        line.reset();
                        skipping = true;
                    }
                }
            }
            if (line.size() > 0 && !skipping) { // last line, cut by EOF
                reply(out, answer(line.toByteArray()));
            }
        } catch (IOException err) {
            System.err.println("Server: " + err.getMessage());
        }
    }

    static void reply(OutputStream out, String text) throws IOException {
        out.write((text + "\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    static String answer(byte[] bytes) {
        // ISO-8859-1 maps each byte to one char, so no byte is lost or
        // merged; only ASCII ever matches below.
        String request = new String(bytes, StandardCharsets.ISO_8859_1);
        if (request.endsWith("\r")) {
            request = request.substring(0, request.length() - 1);
        }
        List<String> fields = new ArrayList<>();
        for (String f : request.split(" ")) {
            if (!f.isEmpty()) {
                fields.add(f);
            }
        }
        if (fields.isEmpty() || !List.of("SOMA", "SUB", "MUL", "DIV").contains(fields.get(0))) {
            return "ERRO operacao desconhecida";
        }
        if (fields.size() != 3) {
            return "ERRO numero de operandos";
        }
        if (!NUMBER.matcher(fields.get(1)).matches() || !NUMBER.matcher(fields.get(2)).matches()) {
            return "ERRO numero invalido";
        }
        double a = Double.parseDouble(fields.get(1));
        double b = Double.parseDouble(fields.get(2));
        if (Math.abs(a) >= LIMIT || Math.abs(b) >= LIMIT) {
            return "ERRO fora do intervalo";
        }
        double r;
        switch (fields.get(0)) {
            case "SOMA": r = a + b; break;
            case "SUB": r = a - b; break;
            case "MUL": r = a * b; break;
            default:
                if (b == 0) {
                    return "ERRO divisao por zero";
                }
                r = a / b;
        }
        if (Math.abs(r) >= LIMIT) {
            return "ERRO fora do intervalo";
        }
        // 6 decimals, half to even on the exact double, no trailing zeros
        // (String.format rounds differently and follows the locale).
        BigDecimal d = new BigDecimal(r).setScale(6, RoundingMode.HALF_EVEN);
        return d.stripTrailingZeros().toPlainString();
    }
}
