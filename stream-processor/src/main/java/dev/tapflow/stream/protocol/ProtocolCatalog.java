package dev.tapflow.stream.protocol;

import dev.tapflow.protocol.api.Protocol;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Every protocol this process can decode, found one way: {@link ServiceLoader} over the
 * classpath (the built-ins are listed in this module's {@code META-INF/services}) and over the
 * jars of a plug-ins folder. Built-ins come first, in their service file's order, then plug-ins
 * by name, which is also the content-probe order. A protocol that is not built in runs behind
 * {@link IsolatedProtocol}: whatever it throws marks only its own connection
 * ({@link IsolatedProtocol#PLUGIN_FAILED}).
 *
 * <p>A jar that cannot be read, a provider that fails to load and a name already taken are
 * {@link #problems()}, not failures: the other protocols still load.
 *
 * <p>The process-wide catalog ({@link #installed()}) is the classpath's unless a command named
 * a plug-ins folder ({@link #install}): one decision per process, made before any connection is
 * decoded, so the Kafka Streams processor, {@code analyze} and {@code replay} see the same set.
 */
public final class ProtocolCatalog {

  /** One loaded protocol: where it came from, and whether it runs isolated. */
  public record Entry(Protocol protocol, String source, boolean builtIn) {
    public String name() {
      return protocol.name();
    }
  }

  private static volatile ProtocolCatalog installed;

  private final List<Entry> entries;
  private final List<String> problems;

  private ProtocolCatalog(List<Entry> entries, List<String> problems) {
    this.entries = List.copyOf(entries);
    this.problems = List.copyOf(problems);
  }

  /** The catalog every {@link Protocols#installed} uses: the classpath's unless {@link #install} chose another. */
  public static ProtocolCatalog installed() {
    ProtocolCatalog c = installed;
    if (c == null) {
      synchronized (ProtocolCatalog.class) {
        if (installed == null) {
          installed = load(List.of());
        }
        c = installed;
      }
    }
    return c;
  }

  /** Makes {@code catalog} the process-wide one (a command does this once, before decoding). */
  public static void install(ProtocolCatalog catalog) {
    installed = catalog;
  }

  /**
   * The classpath's protocols and those in the jars of each existing folder of {@code pluginDirs}
   * (a folder that does not exist is skipped: the default one usually does not).
   */
  public static ProtocolCatalog load(List<Path> pluginDirs) {
    List<String> problems = new ArrayList<>();
    List<Entry> found = new ArrayList<>();
    ClassLoader base = ProtocolCatalog.class.getClassLoader();
    collect(ServiceLoader.load(Protocol.class, base), "classpath", base, found, problems);
    for (Path dir : pluginDirs) {
      List<URL> jars = jars(dir, problems);
      for (URL jar : jars) {
        // one loader per jar: plug-ins do not see each other's classes, and the API classes come from tapflow
        URLClassLoader loader = new URLClassLoader(new URL[] {jar}, base);
        collect(ServiceLoader.load(Protocol.class, loader), jar.getPath(), loader, found, problems);
      }
    }
    List<Entry> ordered = new ArrayList<>(found.stream().filter(Entry::builtIn).toList());
    found.stream().filter(e -> !e.builtIn()).sorted(Comparator.comparing(Entry::name)).forEach(ordered::add);
    Set<String> names = new HashSet<>();
    List<Entry> unique = new ArrayList<>();
    for (Entry e : ordered) {
      if (names.add(e.name())) {
        unique.add(e);
      } else {
        problems.add(e.source() + ": protocol " + e.name() + " is already loaded, skipped");
      }
    }
    return new ProtocolCatalog(unique, problems);
  }

  private static List<URL> jars(Path dir, List<String> problems) {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    List<URL> urls = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(f -> f.getFileName().toString().endsWith(".jar")).sorted().toList()) {
        try {
          urls.add(f.toUri().toURL());
        } catch (MalformedURLException e) {
          problems.add(f + ": " + e.getMessage());
        }
      }
    } catch (IOException e) {
      problems.add(dir + ": cannot list plug-ins: " + e.getMessage());
    }
    return urls;
  }

  private static void collect(ServiceLoader<Protocol> loader, String source, ClassLoader owner, List<Entry> found,
      List<String> problems) {
    Iterator<ServiceLoader.Provider<Protocol>> it = loader.stream().iterator();
    while (true) {
      ServiceLoader.Provider<Protocol> provider;
      try {
        if (!it.hasNext()) {
          return;
        }
        provider = it.next();
      } catch (ServiceConfigurationError | LinkageError e) {
        problems.add(source + ": " + e.getMessage());
        return;
      }
      // a jar's loader also sees the classpath: take from it only what the jar itself holds
      if (provider.type().getClassLoader() != owner) {
        continue;
      }
      try {
        Protocol p = provider.get();
        boolean builtIn = isBuiltIn(p);
        String where = builtIn ? "built-in" : source;
        found.add(new Entry(builtIn ? p : IsolatedProtocol.wrap(p), where, builtIn));
      } catch (ServiceConfigurationError | RuntimeException | LinkageError e) {
        problems.add(source + ": " + provider.type().getName() + ": " + e);
      }
    }
  }

  /** Shipped inside this module: trusted, not isolated (their sessions already never throw on input). */
  private static boolean isBuiltIn(Protocol p) {
    return p.getClass().getClassLoader() == ProtocolCatalog.class.getClassLoader()
        && p.getClass().getPackageName().startsWith(ProtocolCatalog.class.getPackageName() + ".");
  }

  /** The protocols with extra server ports per protocol name (e.g. redis -> 6380). */
  public Protocols protocols(Map<String, List<Integer>> serverPorts) {
    return new Protocols(entries.stream().map(Entry::protocol).toList(), serverPorts);
  }

  public List<Entry> entries() {
    return entries;
  }

  /** Plug-ins that did not load, one line each. */
  public List<String> problems() {
    return problems;
  }
}
