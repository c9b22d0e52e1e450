package dev.tapflow.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/** A {@code tapflow} command run in this JVM: its exit code and what it printed. */
record CliRun(int rc, String out, String err) {

  static CliRun of(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Tapflow.commandLine();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int rc = cl.execute(args);
    return new CliRun(rc, out.toString(), err.toString());
  }
}
