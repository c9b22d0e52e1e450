package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** {@code --protocol PROTO=PORT[,PORT...]}: ports given to a protocol, and one-line errors for typos. */
class ProtocolOptionTest {

  private static final Path PCAP =
      Path.of("..", "stream-processor", "src", "test", "resources", "pcap", "redis", "pubsub.pcap");

  private record Run(int rc, String out, String err) {}

  private static Run analyze(String... options) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    picocli.CommandLine cl = Tapflow.commandLine();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    String[] args = new String[options.length + 2];
    args[0] = "analyze";
    System.arraycopy(options, 0, args, 1, options.length);
    args[args.length - 1] = PCAP.toString();
    int rc = cl.execute(args);
    return new Run(rc, out.toString(), err.toString());
  }

  @Test
  void portListsAreAccepted() {
    Run plain = analyze();
    Run withPorts = analyze("--protocol", "redis=6380,6381", "--protocol", "memcached=11212");
    assertEquals(0, withPorts.rc(), withPorts.err());
    assertEquals(plain.out(), withPorts.out(), "ports the capture does not use change nothing");
    assertTrue(withPorts.out().lines().count() > 0);
  }

  @Test
  void anUnknownProtocolIsOneLine() {
    Run r = analyze("--protocol", "redsi=6380");
    assertNotEquals(0, r.rc());
    assertTrue(r.err().startsWith("tapflow: --protocol: unknown protocol in server ports: redsi"), r.err());
    assertEquals(1, r.err().lines().count(), r.err());
  }

  @Test
  void aBadPortIsOneLine() {
    Run r = analyze("--protocol", "redis=6380,x");
    assertNotEquals(0, r.rc());
    assertEquals("tapflow: --protocol: not a port number in 'redis=6380,x'", r.err().strip());
  }
}
