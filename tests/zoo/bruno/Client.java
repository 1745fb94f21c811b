// Calculator client (the exercise of lesson 001), written by Bruno.
// Sends each stdin line and prints the server's answer before sending
// the next one.
// Run: java Client HOST PORT < requests
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;

public class Client {
    static final int MAX_LINE = 256;

    public static void main(String[] args) {
        if (args.length != 2 || !args[1].matches("[0-9]{1,5}")) {
            System.err.println("usage: java Client HOST PORT");
            System.exit(2);
        }
        try (Socket s = new Socket(args[0], Integer.parseInt(args[1]))) {
            byte[] input = System.in.readAllBytes();
            InputStream in = new BufferedInputStream(s.getInputStream());
            OutputStream out = s.getOutputStream();
            int start = 0;
            while (start < input.length) {
                int end = start;
                while (end < input.length && input[end] != '\n') {
                    end++;
                }
                out.write(input, start, end - start);
                out.write('\n');
                out.flush();
                byte[] reply = readLine(in);
                System.out.write(reply);
                System.out.flush();
                start = end + 1;
            }
            s.shutdownOutput();
            if (in.read() != -1) {
                fail("unexpected bytes after the last reply");
            }
        } catch (IOException err) {
            fail(err.getMessage());
        }
    }

    /** Returns one reply line with its '\n'. */
    static byte[] readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != -1) {
            line.write(b);
            if (b == '\n') {
                return line.toByteArray();
            }
            if (line.size() > MAX_LINE) {
                fail("reply line too long");
            }
        }
        fail("server closed the connection");
        return null;
    }

    static void fail(String why) {
        System.err.println("Client: " + why);
        System.exit(1);
    }
}
