package dev.tapflow.stream.protocol.memcached;

/**
 * Binary protocol opcodes and status codes
 * (https://github.com/memcached/memcached/wiki/BinaryProtocolRevamped#command-opcodes).
 */
final class MemcachedOpcodes {

  static final int STAT = 0x10;

  private static final String[] NAMES = new String[0x49];

  static {
    String[] n = {
        "Get", "Set", "Add", "Replace", "Delete", "Increment", "Decrement", "Quit", "Flush", "GetQ", "Noop",
        "Version", "GetK", "GetKQ", "Append", "Prepend", "Stat", "SetQ", "AddQ", "ReplaceQ", "DeleteQ",
        "IncrementQ", "DecrementQ", "QuitQ", "FlushQ", "AppendQ", "PrependQ", "Verbosity", "Touch", "GAT", "GATQ"};
    System.arraycopy(n, 0, NAMES, 0, n.length);
    NAMES[0x20] = "SASL list mechs";
    NAMES[0x21] = "SASL Auth";
    NAMES[0x22] = "SASL Step";
    NAMES[0x23] = "GATK";
    NAMES[0x24] = "GATKQ";
  }

  private MemcachedOpcodes() {}

  /** The opcode's name as in the protocol document, or null if unknown. */
  static String name(int opcode) {
    return opcode >= 0 && opcode < NAMES.length ? NAMES[opcode] : null;
  }

  /** Quiet opcodes get a response only on error (GetQ/GetKQ/GATQ/GATKQ: also on a hit). */
  static boolean isQuiet(int opcode) {
    return switch (opcode) {
      case 0x09, 0x0d, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1e, 0x24 -> true;
      default -> false;
    };
  }

  static String statusName(int status) {
    return switch (status) {
      case 0x00 -> "No error";
      case 0x01 -> "Key not found";
      case 0x02 -> "Key exists";
      case 0x03 -> "Value too large";
      case 0x04 -> "Invalid arguments";
      case 0x05 -> "Item not stored";
      case 0x06 -> "Incr/Decr on non-numeric value";
      case 0x07 -> "The vbucket belongs to another server";
      case 0x08 -> "Authentication error";
      case 0x09 -> "Authentication continue";
      case 0x81 -> "Unknown command";
      case 0x82 -> "Out of memory";
      case 0x83 -> "Not supported";
      case 0x84 -> "Internal error";
      case 0x85 -> "Busy";
      case 0x86 -> "Temporary failure";
      default -> String.format("Status 0x%04x", status);
    };
  }
}
