/**
 * What each client address holds, for the gateway's per-address caps
 * (`--max-sessions-per-address`, `--max-connections-per-address`): one
 * client must not be able to take every session or connection.
 *
 * Addresses are counted after the QUIC handshake, which proves the client
 * receives at the address it sends from: a spoofed source address cannot
 * use up another client's share.
 */

/**
 * The key a client address is counted under: an IPv4 address as it is (also
 * when it comes IPv4-mapped, `::ffff:a.b.c.d`, on a dual-stack socket), an
 * IPv6 address by its /64 prefix, since one IPv6 host usually holds a whole
 * /64 and could otherwise take a fresh address for each session.
 */
export function addressKey(hostname: string): string {
  const address = hostname.replace(/%.*$/, '').toLowerCase(); // no zone index
  if (!address.includes(':')) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (mapped !== null) return mapped[1]!;
  const groups = ipv6Groups(address);
  if (groups === null) return address;
  return `${groups.slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, without leading zeros; `null` if malformed. */
function ipv6Groups(address: string): string[] | null {
  const halves = address.split('::');
  if (halves.length > 2) return null;
  const parse = (half: string | undefined): string[] => {
    if (half === undefined || half === '') return [];
    const parts = half.split(':');
    const last = parts.at(-1)!;
    // A trailing IPv4 part (::a.b.c.d) is two groups.
    if (last.includes('.')) {
      const bytes = last.split('.').map(Number);
      parts.splice(
        -1,
        1,
        ((bytes[0]! << 8) | bytes[1]!).toString(16),
        ((bytes[2]! << 8) | bytes[3]!).toString(16),
      );
    }
    return parts;
  };
  const head = parse(halves[0]);
  const tail = parse(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 1 ? 0 : missing).fill('0'), ...tail];
  if (!groups.every((group) => /^[0-9a-f]{1,4}$/.test(group))) return null;
  return groups.map((group) => group.replace(/^0+(?=.)/, ''));
}

/** What one client address holds now. */
export interface AddressUse {
  readonly sessions: number;
  readonly connections: number;
}

/** Counts per client address; addresses that hold nothing are not kept. */
export class AddressTable {
  readonly #uses = new Map<string, { sessions: number; connections: number }>();

  /** What `key` holds now. */
  use(key: string): AddressUse {
    return this.#uses.get(key) ?? { sessions: 0, connections: 0 };
  }

  /** Count one more (`+1`) or one fewer (`-1`) session or connection for `key`. */
  add(key: string, what: keyof AddressUse, delta: 1 | -1): void {
    const use = this.#uses.get(key) ?? { sessions: 0, connections: 0 };
    use[what] += delta;
    if (use.sessions === 0 && use.connections === 0) this.#uses.delete(key);
    else this.#uses.set(key, use);
  }

  /** How many addresses hold something. */
  get size(): number {
    return this.#uses.size;
  }
}
