package dev.tapflow.cli;

import dev.tapflow.stream.protocol.ProtocolCatalog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/** Where protocol plug-ins are found, besides the classpath; shared by the commands that decode. */
final class PluginOptions {

  /** The default plug-ins folder, under the tapflow home. */
  static final Path DEFAULT_DIR = Path.of(System.getProperty("user.home"), ".tapflow", "plugins");

  @Option(names = "--plugins", paramLabel = "DIR",
      description = "Folder of protocol plug-in jars (found by ServiceLoader, one class loader per jar). "
          + "Default: ~/.tapflow/plugins when it exists. See `tapflow protocols`.")
  Path dir;

  /**
   * The protocols of the classpath and the plug-ins folder, made the process's own; a jar that
   * does not load is one line on stderr, and the rest still load.
   */
  ProtocolCatalog install() {
    if (dir != null && !Files.isDirectory(dir)) {
      throw new UserError("--plugins: not a folder: " + dir);
    }
    ProtocolCatalog catalog = ProtocolCatalog.load(List.of(dir != null ? dir : DEFAULT_DIR));
    catalog.problems().forEach(p -> System.err.println("tapflow: plug-in not loaded: " + p));
    ProtocolCatalog.install(catalog);
    return catalog;
  }
}
