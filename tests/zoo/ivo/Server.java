// BUG charset (zoo): serve() encodes the line with getBytes(), the
// platform's default charset: under LC_ALL=C that is ASCII and the
// e-acute of "Agora" goes out as '?'.
// Time-of-day server (lesson 002, Java), written by Ivo.
// Every client gets "Agora e:" (e with an acute accent) and the date on
// one line; a thread per client, as on the slide.
// Run: java Server PORT
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
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
        try (client) {
            OutputStream out = client.getOutputStream();
            // \u00e9, not the letter itself: the source stays ASCII, whatever
            // charset javac assumes.
            String line = "Agora \u00e9:" + new Date() + "\n";
            out.write(line.getBytes());
            out.flush();
            // Closing with unread input would send a reset: half-close,
            // then discard what the client sends (1 s at most).
            client.shutdownOutput();
            client.setSoTimeout(1000);
            InputStream in = client.getInputStream();
            byte[] buf = new byte[1024];
            while (in.read(buf) != -1) {
                // discarded
            }
        } catch (IOException err) {
            System.err.println("Server: " + err.getMessage());
        }
    }
}
