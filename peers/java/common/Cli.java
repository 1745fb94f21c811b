/*
 * Cli: the command-line conventions every Java peer shares (protocols/README.md
 * "Programs"): usage errors exit 2, runtime errors exit 1 with one line on
 * stderr and no stack trace, contract output goes to stdout as raw bytes.
 */
package common;

import java.io.IOException;
import java.net.UnknownHostException;

public final class Cli {
    private Cli() {
    }

    /**
     * Returns the port given as the last of {@code count} arguments; exits 2
     * with a usage line when the count is wrong or the port is not 1..65535.
     */
    public static int port(String[] args, int count, String prog,
            String synopsis) {
        if (args.length == count) {
            String text = args[count - 1];
            if (!text.isEmpty() && text.length() <= 5
                    && text.chars().allMatch(c -> c >= '0' && c <= '9')) {
                int port = Integer.parseInt(text);
                if (port >= 1 && port <= 65535) {
                    return port;
                }
            }
        }
        System.err.println("usage: java " + prog + " " + synopsis);
        System.exit(2);
        return -1; // not reached
    }

    /** Prints one line about the error on stderr and exits 1. */
    public static void fail(String prog, Throwable e) {
        fail(prog, describe(e));
    }

    private static boolean promptOpen;

    /**
     * Writes a prompt without a newline on stderr; an error message that
     * follows it starts on a line of its own (protocols/README.md).
     */
    public static void prompt(String text) {
        System.err.print(text);
        System.err.flush();
        promptOpen = true;
    }

    /** Prints "prog: message" on stderr, on a line of its own, and exits 1. */
    public static void fail(String prog, String message) {
        System.err.println((promptOpen ? "\n" : "") + prog + ": " + message);
        System.exit(1);
    }

    /** Prints one line about an error that does not stop the program. */
    public static void warn(String prog, Throwable e) {
        System.err.println(prog + ": " + describe(e));
    }

    /** Returns a one-line description of an exception, never null. */
    public static String describe(Throwable e) {
        String message = e.getMessage();
        if (e instanceof UnknownHostException) {
            return "unknown host: " + message;
        }
        if (message == null || message.isBlank()) {
            return e.getClass().getSimpleName();
        }
        return message.replace('\n', ' ');
    }

    /**
     * Writes bytes to stdout unchanged and flushes them at once; a failed
     * write (closed pipe) is an IOException like any other.
     */
    public static void out(byte[] bytes) throws IOException {
        System.out.write(bytes, 0, bytes.length);
        System.out.flush();
        if (System.out.checkError()) {
            throw new IOException("cannot write to stdout");
        }
    }
}
