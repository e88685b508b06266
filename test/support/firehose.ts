/**
 * Firehose test helpers: a subscribeRepos client on Bun's WebSocket that
 * decodes every frame, a raw TCP WebSocket client (it can stop reading and
 * see pings), frame decoding, CAR building and fresh PostgreSQL databases.
 */
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { connect, type Socket } from "node:net";
import postgresjs from "postgres";
import { eventually } from "@test/support/eventually";
import { varint } from "@/repo/commit-car";

export interface Frame {
  header: { op: number; t?: string };
  body: Record<string, unknown>;
}

/** Split a frame into its two DAG-CBOR items (header, body) and decode both. */
export function decodeFrame(bytes: Uint8Array): Frame {
  const split = cborItemEnd(bytes, 0);
  const header = dagCbor.decode<Frame["header"]>(bytes.subarray(0, split));
  const body = dagCbor.decode<Record<string, unknown>>(bytes.subarray(split));
  return { header, body };
}

/** End offset of the CBOR item starting at `at` (definite lengths only, as DAG-CBOR requires). */
function cborItemEnd(b: Uint8Array, at: number): number {
  const major = b[at]! >> 5;
  const info = b[at]! & 31;
  let pos = at + 1;
  let arg = info;
  if (info >= 24) {
    const size = 1 << (info - 24);
    arg = 0;
    for (let i = 0; i < size; i++) arg = arg * 256 + b[pos + i]!;
    pos += size;
  }
  if (major === 2 || major === 3) return pos + arg;
  if (major === 4) for (let i = 0; i < arg; i++) pos = cborItemEnd(b, pos);
  if (major === 5) for (let i = 0; i < arg * 2; i++) pos = cborItemEnd(b, pos);
  if (major === 6) pos = cborItemEnd(b, pos);
  return pos;
}

/** A subscribeRepos subscription through Bun's WebSocket, collecting decoded frames. */
export class FirehoseClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;
  readonly ws: WebSocket;

  constructor(port: number, cursor?: number) {
    const query = cursor === undefined ? "" : `?cursor=${cursor}`;
    this.ws = new WebSocket(`ws://127.0.0.1:${port}/xrpc/com.atproto.sync.subscribeRepos${query}`);
    this.ws.binaryType = "arraybuffer";
    this.ws.onmessage = (e) => this.frames.push(decodeFrame(new Uint8Array(e.data as ArrayBuffer)));
    this.opened = new Promise((resolve, reject) => {
      this.ws.onopen = () => resolve();
      this.ws.onerror = () => reject(new Error("WebSocket failed"));
    });
    this.closed = new Promise((resolve) => {
      this.ws.onclose = (e) => resolve({ code: e.code, reason: e.reason });
    });
  }

  /** Seqs of the message frames received, in order. */
  seqs(): number[] {
    return this.frames.filter((f) => f.header.op === 1 && f.header.t !== "#info").map((f) => f.body.seq as number);
  }

  async waitForSeq(seq: number, ms = 5000): Promise<void> {
    await eventually(() => this.seqs().includes(seq), {
      timeoutMs: ms,
      what: `seq ${seq} (have ${this.seqs().slice(-3).join(",")})`,
    });
  }

  async waitForFrames(count: number, ms = 5000): Promise<void> {
    await eventually(() => this.frames.length >= count, { timeoutMs: ms, what: `${count} frames (have ${this.frames.length})` });
  }

  close(): void {
    this.ws.close();
  }
}

/** A WebSocket frame as the server sent it (servers do not mask). */
export interface RawFrame {
  opcode: number;
  payload: Uint8Array;
}

/**
 * A WebSocket client on a plain TCP socket that does nothing by itself: it
 * answers no ping, and `pause()` stops reading so the server sees TCP
 * backpressure, like a consumer that cannot keep up.
 */
export class RawWebSocket {
  readonly socket: Socket;
  readonly ended: Promise<void>;
  #buffer = Buffer.alloc(0);
  #handshake = false;
  readonly frames: RawFrame[] = [];

  constructor(port: number, path: string) {
    this.socket = connect(port, "127.0.0.1");
    this.socket.on("connect", () => {
      const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
      this.socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    this.socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    this.ended = new Promise((resolve) => {
      this.socket.on("close", () => resolve());
      this.socket.on("error", () => {});
    });
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Binary message frames decoded as firehose frames. */
  messages(): Frame[] {
    return this.frames.filter((f) => f.opcode === 2).map((f) => decodeFrame(f.payload));
  }

  destroy(): void {
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    if (!this.#handshake) {
      const end = this.#buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      this.#handshake = true;
      this.#buffer = this.#buffer.subarray(end + 4);
    }
    for (;;) {
      const b = this.#buffer;
      if (b.length < 2) return;
      let length = b[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      if (b.length < offset + length) return;
      this.frames.push({ opcode: b[0]! & 0x0f, payload: new Uint8Array(b.subarray(offset, offset + length)) });
      this.#buffer = b.subarray(offset + length);
    }
  }
}

/** A #commit whose CAR carries one block of `size` random bytes (only the CAR's root is checked by the sequencer). */
export async function bigCommit(did: string, size: number) {
  const [commitCid, commitBytes] = await cborBlock({ did, version: 3, data: null, rev: "3kabcdefghij2", prev: null });
  const [recordCid, recordBytes] = await cborBlock({ $type: "test.blob", bytes: crypto.getRandomValues(new Uint8Array(size)) });
  return {
    repo: did,
    commit: commitCid,
    rev: "3kabcdefghij2",
    since: null,
    blocks: carFile(commitCid, [[commitCid, commitBytes], [recordCid, recordBytes]]),
    ops: [{ action: "create" as const, path: "test.blob/3kabcdefghij2", cid: recordCid }],
  };
}

/** A CARv1 file with `root` first in its roots and the given blocks. */
export function carFile(root: CID, blocks: [CID, Uint8Array][]): Uint8Array {
  const parts: Uint8Array[] = [];
  const header = dagCbor.encode({ version: 1, roots: [root] });
  parts.push(varint(header.byteLength), header);
  for (const [cid, bytes] of blocks) parts.push(varint(cid.bytes.byteLength + bytes.byteLength), cid.bytes, bytes);
  return new Uint8Array(Buffer.concat(parts));
}

/** A DAG-CBOR block and its CID. */
export async function cborBlock(value: unknown): Promise<[CID, Uint8Array]> {
  const bytes = dagCbor.encode(value);
  return [CID.createV1(dagCbor.code, await sha256.digest(bytes)), bytes];
}

/** A database of its own on the shared test server; `drop()` removes it. */
export async function freshPostgres(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = process.env.AURORA_TEST_POSTGRES_URL;
  if (!base) throw new Error("AURORA_TEST_POSTGRES_URL unset: run via scripts/with-services.ts");
  const name = `aurora_fh_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgresjs(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  return {
    url: Object.assign(new URL(base), { pathname: `/${name}` }).toString(),
    async drop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
