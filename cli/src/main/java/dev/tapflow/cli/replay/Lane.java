package dev.tapflow.cli.replay;

import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.protocol.api.SessionOutput;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One connection to the target: a sender thread that takes its queue in order and sends
 * each request when it is due, and a reader thread that reads the replies. Both feed the
 * protocol's own session (the decoders and pairing of the processor), as if the replayer
 * were a capture point on this connection: what the sender wrote is the client stream
 * (timestamped when sent), what the reader read the server stream (timestamped when read).
 * The session frames the replies and pairs them, so every request ends as an
 * {@link Exchange} with the target's status, error and timing. Everything the two threads
 * share is guarded by this lane's monitor.
 */
final class Lane {

  /** A request and the state of the captured connection it belongs to. */
  record Item(CapturedRequest request, ConnectionState state) {}

  /** What the sender needs to know of a captured connection: how many of its requests the target answered. */
  static final class ConnectionState {
    long answered;
  }

  private record Sent(CapturedRequest request, ConnectionState state) {}

  private static final Item END = new Item(null, null);

  private final long number;
  private final Replayer replayer;
  private final ReplayTarget target;
  private final ArrayBlockingQueue<Item> queue;
  private final ProtocolSession session;
  private final Map<Long, Sent> inflight = new HashMap<>();
  private final Map<String, Long> anomalies = new TreeMap<>();
  /** how late each paced request left against its schedule, µs (sender thread only) */
  private final org.HdrHistogram.Histogram lag = new org.HdrHistogram.Histogram(3);
  private final SessionOutput output = new SessionOutput() {
    @Override
    public void exchange(Exchange ex) {
      Sent s = inflight.remove(ex.requestOffset());
      if (s != null) {
        s.state().answered++;
        replayer.record(flow, s.request(), ex);
        Lane.this.notifyAll();
      }
    }

    @Override
    public void anomaly(String name, boolean clientSide, long streamOffset, String detail) {
      anomalies.merge(name, 1L, Long::sum);
    }
  };
  /** this connection as facts name it: the replayer is the client, agent {@code replay} */
  private final dev.tapflow.stream.flow.Flow flow = new dev.tapflow.stream.flow.Flow() {
    @Override public String agent() { return "replay"; }
    @Override public byte[] clientIp() { return localIp; }
    @Override public int clientPort() { return localPort; }
    @Override public byte[] serverIp() { return remoteIp; }
    @Override public int serverPort() { return remotePort; }
    @Override public String protocol() { return target.protocol(); }
    @Override public long lastSeenNs() { return 0; }
    @Override public long requestPosition(long requestOffset) { return requestOffset; }
  };
  // the connection's endpoints, kept from the connect (a closed socket forgets them)
  private byte[] localIp = new byte[4];
  private int localPort;
  private byte[] remoteIp = new byte[4];
  private int remotePort;
  private Thread sender;
  private Thread reader;
  private Socket socket;
  private long clientOffset;
  private long serverOffset;
  private boolean readerDone;
  private boolean authenticated;
  private volatile boolean ending;
  private volatile boolean closing;
  /** captured connections using this lane (source thread only) */
  int refs;

  Lane(long number, Replayer replayer) {
    this.number = number;
    this.replayer = replayer;
    this.target = replayer.options().target();
    this.queue = new ArrayBlockingQueue<>(Math.max(1, replayer.options().queueCapacity()));
    this.session = replayer.protocol.newSession(SessionLimits.DEFAULTS);
  }

  void start() {
    sender = new Thread(this::sendAll, "replay-send-" + number);
    sender.setDaemon(true);
    sender.start();
  }

  boolean ending() {
    return ending;
  }

  /** Hands a request in; waits while the queue is full (starting the clock first), and fails at once if the replay failed. */
  void enqueue(Item item, Replayer r) {
    try {
      if (queue.offer(item)) {
        return;
      }
      r.start(); // read-ahead ends where a queue is full
      while (!queue.offer(item, 100, TimeUnit.MILLISECONDS)) {
        r.checkFailure();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ReplayException("interrupted");
    }
  }

  /** No more requests come: the lane sends what it holds, waits for the answers, and closes. */
  void end(Replayer r) {
    ending = true;
    enqueue(END, r);
  }

  void join() {
    try {
      sender.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  Map<String, Long> anomalies() {
    return anomalies;
  }

  org.HdrHistogram.Histogram lag() {
    return lag;
  }

  boolean authenticated() {
    return authenticated;
  }

  private void sendAll() {
    try {
      connect();
      OutputStream out = new BufferedOutputStream(socket.getOutputStream(), 64 * 1024);
      reader = new Thread(this::readAll, "replay-read-" + number);
      reader.setDaemon(true);
      reader.start();
      replayer.awaitStart();
      while (true) {
        Item item = queue.poll(100, TimeUnit.MILLISECONDS);
        if (replayer.failure() != null) {
          return;
        }
        if (item == null) {
          continue;
        }
        if (item == END) {
          break;
        }
        CapturedRequest r = item.request();
        // requests that can go at once leave in one write; anything that waits flushes first
        if (!answered(item.state(), r.dependsOn()) || replayer.paced() && replayer.dueNs(r) > System.nanoTime()) {
          out.flush();
        }
        awaitAnswered(item.state(), r.dependsOn());
        if (replayer.paced()) {
          replayer.awaitTurn(r);
        }
        send(item, out);
        if (queue.isEmpty()) {
          out.flush();
        }
      }
      out.flush();
      awaitAllAnswered();
    } catch (ReplayException e) {
      replayer.fail(e);
    } catch (IOException e) {
      replayer.fail(new ReplayException("cannot send to " + target + ": " + e.getMessage(), e));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      close();
    }
  }

  private void connect() {
    try {
      socket = new Socket();
      socket.setTcpNoDelay(true);
      socket.connect(new InetSocketAddress(target.host(), target.port()),
          (int) replayer.options().connectTimeout().toMillis());
    } catch (IOException e) {
      throw new ReplayException("cannot connect to " + target + ": " + e.getMessage(), e);
    }
    localIp = socket.getLocalAddress().getAddress();
    localPort = socket.getLocalPort();
    remoteIp = socket.getInetAddress().getAddress();
    remotePort = socket.getPort();
    if (target.password() != null) {
      authenticate();
    }
  }

  /** Redis AUTH with the replayer's own password, before any replayed request (never one from the capture). */
  private void authenticate() {
    try {
      String[] args = target.user() == null ? new String[] {"AUTH", target.password()}
          : new String[] {"AUTH", target.user(), target.password()};
      StringBuilder cmd = new StringBuilder("*").append(args.length).append("\r\n");
      for (String a : args) {
        cmd.append('$').append(a.getBytes(StandardCharsets.UTF_8).length).append("\r\n").append(a).append("\r\n");
      }
      socket.setSoTimeout((int) replayer.options().replyTimeout().toMillis());
      socket.getOutputStream().write(cmd.toString().getBytes(StandardCharsets.UTF_8));
      authenticated = true;
      String line = readLine(socket.getInputStream());
      socket.setSoTimeout(0);
      if (!line.startsWith("+")) {
        throw new ReplayException("target " + target + " refused the password: " + line);
      }
    } catch (IOException e) {
      throw new ReplayException("cannot authenticate to " + target + ": " + e.getMessage(), e);
    }
  }

  private static String readLine(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    int c;
    while ((c = in.read()) >= 0 && c != '\n' && sb.length() < 512) {
      if (c != '\r') {
        sb.append((char) c);
      }
    }
    return sb.toString();
  }

  private void send(Item item, OutputStream out) throws IOException {
    CapturedRequest r = item.request();
    byte[] b = r.bytes();
    long now = System.nanoTime();
    synchronized (this) {
      inflight.put(clientOffset, new Sent(r, item.state()));
      session.clientData(b, 0, b.length, clientOffset, replayer.epochNs(now), output);
      clientOffset += b.length;
    }
    out.write(b);
    replayer.sent(now, r.tsNs());
    if (replayer.options().speed() > 0) {
      lag.recordValue(Math.max(0, now - replayer.dueNs(r)) / 1000);
    }
  }

  private synchronized boolean answered(ConnectionState state, long n) {
    return state.answered >= n;
  }

  /** Waits until the target answered {@code n} requests of a captured connection. */
  private synchronized void awaitAnswered(ConnectionState state, long n) throws InterruptedException {
    long deadline = System.nanoTime() + replayer.options().replyTimeout().toNanos();
    while (state.answered < n) {
      waitForReply(deadline);
    }
  }

  private synchronized void awaitAllAnswered() throws InterruptedException {
    long deadline = System.nanoTime() + replayer.options().replyTimeout().toNanos();
    while (!inflight.isEmpty()) {
      waitForReply(deadline);
    }
  }

  private void waitForReply(long deadline) throws InterruptedException {
    if (replayer.failure() != null) {
      throw new ReplayException(replayer.failure().getMessage());
    }
    if (readerDone) {
      throw new ReplayException("target " + target + " closed a connection with " + inflight.size()
          + " request(s) unanswered");
    }
    long left = deadline - System.nanoTime();
    if (left <= 0) {
      throw new ReplayException("target " + target + " did not answer within "
          + replayer.options().replyTimeout().toMillis() + " ms (--reply-timeout; " + inflight.size()
          + " request(s) waiting)");
    }
    wait(Math.max(1, Math.min(100, TimeUnit.NANOSECONDS.toMillis(left))));
  }

  private void readAll() {
    byte[] buf = new byte[64 * 1024];
    try {
      InputStream in = socket.getInputStream();
      int n;
      while ((n = in.read(buf)) >= 0) {
        long now = System.nanoTime();
        synchronized (this) {
          session.serverData(buf, 0, n, serverOffset, replayer.epochNs(now), output);
          serverOffset += n;
        }
      }
    } catch (IOException e) {
      // closed by us, or reset by the target: the sender finds out below
    } finally {
      synchronized (this) {
        readerDone = true;
        notifyAll();
      }
    }
  }

  private void close() {
    closing = true;
    try {
      if (socket != null) {
        socket.close();
      }
    } catch (IOException e) {
      // closing anyway
    }
    if (reader != null) {
      try {
        reader.join(1000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    synchronized (this) {
      session.close(replayer.epochNs(System.nanoTime()), output); // requests never answered: TIMEOUT
    }
    replayer.closed(this);
  }
}
