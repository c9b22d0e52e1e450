package dev.tapflow.schemas;

/**
 * Avro 1.12.2 refuses to instantiate generated classes whose package is not trusted
 * (system property {@code org.apache.avro.SERIALIZABLE_PACKAGES}). tapflow's own package is
 * added here, once, before any decoder is built, so users never have to set it.
 */
final class TrustedPackages {
  private static final String PROPERTY = "org.apache.avro.SERIALIZABLE_PACKAGES";
  private static final String OURS = "dev.tapflow.schemas";

  private TrustedPackages() {}

  static synchronized void allow() {
    String current = System.getProperty(PROPERTY);
    if (current == null || current.isBlank()) {
      System.setProperty(PROPERTY, OURS);
    } else if (!(("," + current + ",").contains("," + OURS + ","))) {
      System.setProperty(PROPERTY, current + "," + OURS);
    }
  }
}
