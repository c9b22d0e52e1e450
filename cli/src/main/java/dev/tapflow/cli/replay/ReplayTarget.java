package dev.tapflow.cli.replay;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;

/**
 * Where requests are replayed: {@code redis://[[USER]:PASSWORD@]HOST:PORT} or
 * {@code memcached://HOST:PORT}. The password never appears in {@link #toString()}.
 *
 * @param protocol {@code redis} or {@code memcached}, the decoder's name
 * @param user     Redis ACL user for AUTH, or null (then {@code AUTH password})
 * @param password the target's password, or null
 */
public record ReplayTarget(String protocol, String host, int port, String user, String password) {

  /** Parses a target URL; a password given apart ({@code --target-password}, environment) wins over the URL's. */
  public static ReplayTarget parse(String url, String password) {
    URI uri;
    try {
      uri = new URI(url.trim());
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("not a target URL: " + redact(url) + " (use redis://HOST:PORT or memcached://HOST:PORT)");
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(java.util.Locale.ROOT);
    if (!scheme.equals("redis") && !scheme.equals("memcached")) {
      throw new IllegalArgumentException("target scheme must be redis:// or memcached://, got " + redact(url));
    }
    if (uri.getHost() == null || uri.getPort() <= 0) {
      throw new IllegalArgumentException("target needs HOST:PORT, got " + redact(url));
    }
    String user = null;
    String pass = null;
    if (uri.getRawUserInfo() != null) {
      String info = uri.getRawUserInfo();
      int colon = info.indexOf(':');
      user = decode(colon < 0 ? info : info.substring(0, colon));
      pass = colon < 0 ? null : decode(info.substring(colon + 1));
      if (colon < 0) { // redis://PASSWORD@host, as redis-cli's -u reads a lone user part
        pass = user;
        user = null;
      }
      if (user != null && user.isEmpty()) {
        user = null;
      }
    }
    if (password != null && !password.isEmpty()) {
      pass = password;
    }
    if (scheme.equals("memcached") && pass != null) {
      throw new IllegalArgumentException("memcached targets with a password (SASL) are not supported yet");
    }
    return new ReplayTarget(scheme, uri.getHost(), uri.getPort(), user, pass);
  }

  private static String decode(String s) {
    return URLDecoder.decode(s, StandardCharsets.UTF_8);
  }

  /** The URL with any user information cut out, for messages. */
  static String redact(String url) {
    return url.replaceAll("//[^@/]*@", "//");
  }

  @Override
  public String toString() {
    return protocol + "://" + host + ":" + port;
  }
}
