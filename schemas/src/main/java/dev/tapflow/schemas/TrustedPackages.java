package dev.tapflow.schemas;

import org.apache.avro.util.ClassSecurityValidator;
import org.apache.avro.util.ClassSecurityValidator.ClassSecurityPredicate;

/**
 * Avro 1.12.2 refuses to instantiate generated classes whose package is not trusted. The
 * system property {@code org.apache.avro.SERIALIZABLE_PACKAGES} is read once, when the
 * first generated class loads, so setting it late does not help; instead tapflow's package
 * is added to the global validator, keeping whatever the user configured, before any of our
 * decoders is built. Users never have to set anything.
 */
final class TrustedPackages {
  private static final String OURS = "dev.tapflow.schemas.";
  private static boolean installed;

  private TrustedPackages() {}

  static synchronized void allow() {
    if (installed) {
      return;
    }
    ClassSecurityPredicate previous = ClassSecurityValidator.getGlobal();
    ClassSecurityPredicate ours = c -> c.getName().startsWith(OURS);
    ClassSecurityValidator.setGlobal(ClassSecurityValidator.composite(ours, previous));
    installed = true;
  }
}
