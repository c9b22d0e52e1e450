package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code main} builds a root with only {@code analyze} when that is the command: it prints
 * the same facts, the same summary and the same errors as the whole command line.
 */
class AnalyzeRootTest {
  private static final String PCAP = "../stream-processor/src/test/resources/pcap/redis/redis-cli-session.pcap";

  private static String[] run(CommandLine cl, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int code = cl.execute(args);
    return new String[] {String.valueOf(code), out.toString(), err.toString()};
  }

  @Test
  void analyzeAloneAnswersAsTheWholeCommand() {
    String[][] cases = {
      {"analyze", PCAP},
      {"analyze", PCAP, "--format", "jsonl", "--threads", "2", "--slower-than", "1ms"},
      {"analyze", "no-such-file.pcap"},
      {"analyze", PCAP, "--threads", "0"},
      {"analyze", "--bogus", PCAP},
    };
    for (String[] args : cases) {
      String[] whole = run(Tapflow.commandLine(Map.of()), args);
      String[] alone = run(Tapflow.commandLine(Map.of(), args), args);
      assertEquals(java.util.List.of(whole), java.util.List.of(alone), String.join(" ", args));
    }
    String[] facts = run(Tapflow.commandLine(Map.of(), cases[0]), cases[0]);
    assertEquals("0", facts[0]);
    assertTrue(facts[1].lines().count() > 20 && facts[1].contains(" => "), facts[1]);
  }
}
