// BUG never-closes (zoo): serve() writes the line but never closes the
// socket (no shutdownOutput, no close): a client that reads until the
// end of the stream waits forever.
// Time-of-day server (lesson 002, Java), written by Tiago.
// Every client gets "Agora e:" (e with an acute accent) and the date on
// one line; a thread per client, as on the slide.
// Run: java Server PORT
import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Date;

public class Server {
    public static void main(String[] args) {
        if (args.length != 1 || !args[0].matches("[0-9]{1,5}")) {
            System.err.println("usage: java Server PORT");
            System.exit(2);
        }
        try (ServerSocket s = new ServerSocket(Integer.parseInt(args[0]))) {
            System.out.println("Servidor ouvindo na porta " + args[0]);
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
        try {
            OutputStream out = client.getOutputStream();
            // \u00e9, not the letter itself: the source stays ASCII, whatever
            // charset javac assumes.
            String line = "Agora \u00e9:" + new Date() + "\n";
            // UTF-8 named on purpose: the default charset depends on the
            // machine's locale.
            out.write(line.getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException err) {
            System.err.println("Server: " + err.getMessage());
        }
    }
}
