import { expect, test } from "bun:test";
import type postgresjs from "postgres";
import { Clients } from "./clients";

/** Stand-ins for postgres.js clients: only their identity and `end` are used by Clients itself. */
function fakes() {
  const made: { id: number; ended: boolean }[] = [];
  const open = () => {
    const client = { id: made.length, ended: false, end: async () => void (client.ended = true) };
    made.push(client);
    return client as unknown as postgresjs.Sql;
  };
  return { made, open };
}
const id = (sql: postgresjs.Sql) => (sql as unknown as { id: number }).id;

test("Clients lends each client to one caller at a time, opening no more than its size, and hands a given-back one to the longest waiter", async () => {
  const { made, open } = fakes();
  const clients = new Clients(open, 2);
  const a = await clients.acquire();
  const b = await clients.acquire();
  expect([id(a), id(b)]).toEqual([0, 1]);
  const order: number[] = [];
  const third = clients.acquire().then((c) => (order.push(3), c));
  const fourth = clients.acquire().then((c) => (order.push(4), c));
  await Bun.sleep(5);
  expect(order).toEqual([]);
  clients.release(b);
  expect(id(await third)).toBe(1);
  clients.release(a);
  expect(id(await fourth)).toBe(0);
  expect(order).toEqual([3, 4]);
  expect(made.length).toBe(2);
  expect(clients.inUse).toBe(2);
  // The most recently given back is lent first, so the other may sit idle long enough to close.
  clients.release(await third);
  clients.release(await fourth);
  expect(clients.inUse).toBe(0);
  expect(id(await clients.acquire())).toBe(0);
  expect(clients.inUse).toBe(1);
  await clients.end(1);
  expect(made.every((c) => c.ended)).toBe(true);
});

test("Clients.run sends a statement to the shared client with the fewest in flight, opening one while all are busy and fewer than its size exist", async () => {
  const { made, open } = fakes();
  const clients = new Clients(open, 3);
  const gates: (() => void)[] = [];
  const used: number[] = [];
  const hold = () =>
    clients.run((sql) => {
      used.push(id(sql));
      return new Promise<void>((resolve) => gates.push(resolve));
    });
  const running = [hold(), hold(), hold(), hold(), hold()];
  expect(made.length).toBe(3);
  expect(used).toEqual([0, 1, 2, 0, 1]);
  // Connections in use, not statements in flight.
  expect(clients.inUse).toBe(3);
  gates[2]!(); // client 2's only statement ends
  await running[2];
  const next = hold();
  expect(used.at(-1)).toBe(2);
  for (const open of gates) open();
  await Promise.all([...running, next]);
  // A failing statement is counted out all the same.
  await clients.run(async () => Promise.reject(new Error("boom"))).catch(() => {});
  const idle: number[] = [];
  await clients.run(async (sql) => void idle.push(id(sql)));
  expect(idle).toEqual([0]);
});

test("Clients.end fails the callers still waiting for a client, and any later acquire, with postgres.js's CONNECTION_ENDED", async () => {
  const { open } = fakes();
  const clients = new Clients(open, 1);
  await clients.acquire();
  const waiting = clients.acquire().catch((err: { code?: string }) => err.code);
  await clients.end(1);
  expect(await waiting).toBe("CONNECTION_ENDED");
  expect(await clients.acquire().catch((err: { code?: string }) => err.code)).toBe("CONNECTION_ENDED");
});
