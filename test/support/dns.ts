/**
 * A tiny authoritative DNS server for tests: answers TXT queries over UDP on
 * loopback from a table, NXDOMAIN for names not in it. Enough for the
 * atproto handle rule (`_atproto.<handle>` TXT `did=...`) through the real
 * node:dns resolver pointed at it with `setServers`.
 */
export interface TestDns {
  /** `127.0.0.1:<port>`, for `Resolver.setServers`. */
  readonly server: string;
  /** TXT records by name; each record is its character-strings. Change it freely. */
  readonly records: Map<string, string[][]>;
  /** Queries received, by name. */
  readonly queries: string[];
  stop(): void;
}

const TYPE_TXT = 16;

export async function startDns(): Promise<TestDns> {
  const records = new Map<string, string[][]>();
  const queries: string[] = [];
  const socket = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(sock, buf, port, address) {
        const answer = respond(Buffer.from(buf), records, queries);
        if (answer) sock.send(answer, port, address);
      },
    },
  });
  return {
    server: `127.0.0.1:${socket.port}`,
    records,
    queries,
    stop: () => socket.close(),
  };
}

function respond(query: Buffer, records: Map<string, string[][]>, queries: string[]): Buffer | null {
  if (query.length < 12) return null;
  let offset = 12;
  const labels: string[] = [];
  while (offset < query.length && query[offset] !== 0) {
    const len = query[offset]!;
    labels.push(query.subarray(offset + 1, offset + 1 + len).toString("ascii"));
    offset += 1 + len;
  }
  const questionEnd = offset + 5;
  if (questionEnd > query.length) return null;
  const qtype = query.readUInt16BE(offset + 1);
  const name = labels.join(".").toLowerCase();
  queries.push(name);
  const found = records.get(name);
  const answers = found && qtype === TYPE_TXT ? found : [];

  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  // QR, RD (copied), RA; RCODE 3 (NXDOMAIN) for unknown names.
  header.writeUInt16BE(0x8180 | (query.readUInt16BE(2) & 0x0100) | (found ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const parts = [header, query.subarray(12, questionEnd)];
  for (const chunks of answers) {
    const rdata = Buffer.concat(chunks.map((c) => Buffer.concat([Buffer.from([Buffer.byteLength(c)]), Buffer.from(c)])));
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    rr.writeUInt16BE(TYPE_TXT, 2);
    rr.writeUInt16BE(1, 4); // class IN
    rr.writeUInt32BE(60, 6);
    rr.writeUInt16BE(rdata.length, 10);
    parts.push(rr, rdata);
  }
  return Buffer.concat(parts);
}
