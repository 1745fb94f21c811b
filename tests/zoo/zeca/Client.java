// BUG unflushed-output (zoo): main() writes the line through a
// BufferedOutputStream and never flushes it: the bytes die with the JVM.
// Time-of-day client (lesson 002, Java), written by Zeca.
// Prints the line the server sends.
// Run: java Client HOST PORT
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
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
        try (Socket s = new Socket(host, port)) {
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
        BufferedOutputStream out =
            new BufferedOutputStream(new FileOutputStream(FileDescriptor.out));
        try {
            out.write(text, 0, n);
            out.write('\n');
        } catch (IOException err) {
            System.exit(1);
        }
    }
}
