// BUG wrong-port (zoo): main() connects to the slide's port 5155 instead
// of the PORT it was given.
// Time-of-day client (lesson 002, Java), written by Sofia.
// Prints the line the server sends.
// Run: java Client HOST PORT
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;

public class Client {
    public static void main(String[] args) {
        if (args.length != 2 || !args[1].matches("[0-9]{1,5}")) {
            System.err.println("usage: java Client HOST PORT");
            System.exit(2);
        }
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        boolean gotSomething = false;
        try (Socket s = new Socket(host, 5155)) {
            s.shutdownOutput(); // nothing to send
            InputStream in = new BufferedInputStream(s.getInputStream());
            int b;
            while ((b = in.read()) != -1 && b != '\n') {
                line.write(b);
                gotSomething = true;
            }
            if (b == '\n') {
                gotSomething = true;
            }
            while (in.read() != -1) {
                // the rest of the stream is not part of the reply
            }
        } catch (IOException err) {
            System.err.println("Client: " + err.getMessage());
            System.exit(1);
        }
        if (!gotSomething) {
            System.err.println("Client: server closed without sending a line");
            System.exit(1);
        }
        // The bytes as they came (UTF-8), never re-encoded with the
        // default charset; a '\r' before the '\n' is dropped.
        byte[] text = line.toByteArray();
        int n = text.length;
        if (n > 0 && text[n - 1] == '\r') {
            n--;
        }
        System.out.write(text, 0, n);
        System.out.write('\n');
        System.out.flush();
    }
}
