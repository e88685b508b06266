import { CID } from "multiformats/cid";
import { type NodeCache, nodeCache } from "./cache";
import { cidToString } from "./cid";
import { type StoredNode, decodeNode, encodeNode, isValidMstKey, keyLayer } from "./node";

/** Reads stored blocks by CID string; the answer holds those it found. */
export type BlockSource = (cids: string[]) => Promise<Map<string, Uint8Array>>;

/** A subtree: a stored node not touched by this edit, or a node being edited. */
type Ref = CID | EditNode;

interface EditEntry {
  key: string;
  value: CID;
  right: Ref | null;
}

/** A node of the tree being edited: private to one edit, so changed in place. */
class EditNode {
  /** Set once the edit is finished. */
  cid: CID | null = null;
  cidString: string | null = null;
  bytes: Uint8Array | null = null;

  constructor(
    readonly layer: number,
    public left: Ref | null,
    public entries: EditEntry[],
  ) {}

  /** Index of the first entry whose key is >= `key`, or the number of entries. */
  find(key: string): number {
    return lowerBound(this.entries, key);
  }

  /** The subtree just before entry `i` (the left subtree when `i` is 0). */
  before(i: number): Ref | null {
    return i === 0 ? this.left : this.entries[i - 1]!.right;
  }

  setBefore(i: number, ref: Ref | null): void {
    if (i === 0) this.left = ref;
    else this.entries[i - 1]!.right = ref;
  }

  get empty(): boolean {
    return this.entries.length === 0 && this.left === null;
  }
}

/** How a key changed in one edit: its record CID before and after (null: absent). */
export interface KeyChange {
  key: string;
  before: CID | null;
  after: CID | null;
}

/** The outcome of an edit. */
export interface TreeDiff {
  root: CID;
  /** MST nodes of the new tree that the old one did not have, by CID string. */
  newNodes: Map<string, Uint8Array>;
  /** MST nodes of the old tree that the new one no longer has. */
  removedNodes: Set<string>;
  /** Per changed key, in key order. */
  changes: KeyChange[];
}

/**
 * An edit of one MST: insert, update and delete keys, then `finish()` for the
 * new root and the blocks it added and removed. Only nodes on the paths of
 * the changed keys are opened (copied out of the decoded, shared cache) and
 * hashed again; every subtree left alone stays a CID. The operations keep the
 * tree in its one canonical shape (each key on the layer its hash gives,
 * empty nodes dropped, the root trimmed), as @atproto/repo's MST does.
 */
export class MstEdit {
  private root: Ref;
  private rootLayer: number;
  /** Stored nodes opened for editing: gone from the new tree unless it rebuilds one identical. */
  private readonly opened = new Set<string>();
  private readonly changes = new Map<string, KeyChange>();
  private finished: TreeDiff | null = null;

  private constructor(
    private readonly source: BlockSource,
    private readonly cache: NodeCache,
    root: StoredNode,
    layer: number,
  ) {
    this.root = root.cid;
    this.rootLayer = layer;
  }

  /** Start editing the tree whose root node is `root`. */
  static async load(source: BlockSource, root: CID, cache: NodeCache = nodeCache): Promise<MstEdit> {
    const node = await loadNode(source, cache, root);
    return new MstEdit(source, cache, node, await rootLayer(source, cache, node));
  }

  /** Start from the empty tree. */
  static empty(source: BlockSource, cache: NodeCache = nodeCache): MstEdit {
    const { cid, bytes } = encodeNode(null, []);
    const node = { cid, left: null, entries: [], bytes };
    cache.set(cidToString(cid), node);
    return new MstEdit(source, cache, node, 0);
  }

  /** Read into the cache, in one query a layer, the stored nodes on the paths to `keys`. */
  async prefetch(keys: readonly string[]): Promise<void> {
    let level: { ref: CID; keys: readonly string[] }[] = this.root instanceof CID ? [{ ref: this.root, keys }] : [];
    while (level.length > 0) {
      await this.fetchMissing(level.map((l) => l.ref));
      const next = new Map<string, { ref: CID; keys: string[] }>();
      for (const { ref, keys: wanted } of level) {
        const node = this.cache.get(cidToString(ref));
        if (!node) continue;
        for (const key of wanted) {
          const i = lowerBound(node.entries, key);
          if (i < node.entries.length && node.entries[i]!.key === key) continue;
          const child = i === 0 ? node.left : node.entries[i - 1]!.right;
          if (!child) continue;
          const s = cidToString(child);
          const slot = next.get(s) ?? { ref: child, keys: [] };
          slot.keys.push(key);
          next.set(s, slot);
        }
      }
      level = [...next.values()];
    }
  }

  private async fetchMissing(cids: CID[]): Promise<void> {
    const missing = cids.map(cidToString).filter((s) => !this.cache.get(s));
    if (missing.length === 0) return;
    const found = await this.source([...new Set(missing)]);
    for (const cid of cids) {
      const s = cidToString(cid);
      const bytes = found.get(s);
      if (bytes && !this.cache.get(s)) this.cache.set(s, decodeNode(cid, bytes));
    }
  }

  async insert(key: string, value: CID): Promise<void> {
    this.begin(key);
    const layer = keyLayer(key);
    const root = await this.open(this.root, this.rootLayer);
    this.root = await this.add(root, key, value, layer);
    this.rootLayer = Math.max(this.rootLayer, layer);
    this.note(key, null, value);
  }

  async update(key: string, value: CID): Promise<void> {
    this.begin(key);
    let node = await this.open(this.root, this.rootLayer);
    this.root = node;
    for (;;) {
      const i = node.find(key);
      const entry = node.entries[i];
      if (entry && entry.key === key) {
        this.note(key, entry.value, value);
        entry.value = value;
        return;
      }
      const child = node.before(i);
      if (!child) throw new Error(`Could not find a record with key: ${key}`);
      const opened = await this.open(child, node.layer - 1);
      node.setBefore(i, opened);
      node = opened;
    }
  }

  async delete(key: string): Promise<void> {
    this.begin(key);
    const root = await this.open(this.root, this.rootLayer);
    const before = await this.remove(root, key);
    this.note(key, before, null);
    // Trim the top: a root with no keys of its own is replaced by its only subtree.
    let top: Ref = root;
    let layer = this.rootLayer;
    for (;;) {
      const node: { left: Ref | null; entries: readonly unknown[] } = top instanceof EditNode ? top : await loadNode(this.source, this.cache, top);
      if (node.entries.length > 0) break;
      if (!node.left) {
        layer = 0;
        break;
      }
      if (!(top instanceof EditNode)) this.opened.add(cidToString(top));
      top = node.left;
      layer--;
    }
    this.root = top;
    this.rootLayer = layer;
  }

  /** Hash the changed nodes bottom-up: the new root, and the nodes added and removed. */
  finish(): TreeDiff {
    if (this.finished) return this.finished;
    const created = new Map<string, Uint8Array>();
    const root = this.seal(this.root, created);
    const newNodes = new Map<string, Uint8Array>();
    for (const [cid, bytes] of created) if (!this.opened.has(cid)) newNodes.set(cid, bytes);
    const removedNodes = new Set<string>();
    for (const cid of this.opened) if (!created.has(cid)) removedNodes.add(cid);
    const changes = [...this.changes.values()]
      .filter((c) => !(c.before && c.after && c.before.equals(c.after)))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    this.finished = { root, newNodes, removedNodes, changes };
    return this.finished;
  }

  /**
   * The MST nodes (CID string → bytes) a relay needs to check the op on `key`
   * against the new tree — the path to the key and to its neighbours on
   * either side — as @atproto/repo's `getCoveringProof` gives them. After `finish()`.
   */
  async coveringProof(key: string, into: Map<string, Uint8Array>): Promise<void> {
    if (!this.finished) throw new Error("coveringProof before finish");
    await this.proofForKey(this.root, key, into);
    await this.proofForLeft(this.root, key, into);
    await this.proofForRight(this.root, key, into);
  }

  // Editing

  private begin(key: string): void {
    if (this.finished) throw new Error("MST edit already finished");
    if (!isValidMstKey(key)) throw new Error(`Not a valid MST key: ${key}`);
  }

  private note(key: string, before: CID | null, after: CID | null): void {
    const earlier = this.changes.get(key);
    this.changes.set(key, { key, before: earlier ? earlier.before : before, after });
  }

  /** `ref` as a node of this edit (a stored one is copied out of the cache and counted as opened). */
  private async open(ref: Ref, layer: number): Promise<EditNode> {
    if (ref instanceof EditNode) return ref;
    const stored = await loadNode(this.source, this.cache, ref);
    this.opened.add(cidToString(ref));
    return new EditNode(
      layer,
      stored.left,
      stored.entries.map((e) => ({ key: e.key, value: e.value, right: e.right })),
    );
  }

  /** Add `key` (of layer `layer`) under `node`; returns the node now at that place (a new root when the key belongs higher). */
  private async add(node: EditNode, key: string, value: CID, layer: number): Promise<EditNode> {
    if (layer > node.layer) {
      let [left, right] = await this.split(node, node.layer, key);
      for (let l = node.layer + 1; l < layer; l++) {
        if (left) left = new EditNode(l, left, []);
        if (right) right = new EditNode(l, right, []);
      }
      return new EditNode(layer, left, [{ key, value, right }]);
    }
    const i = node.find(key);
    if (node.entries[i]?.key === key) throw new Error(`There is already a value at key: ${key}`);
    const before = node.before(i);
    if (layer === node.layer) {
      let right: Ref | null = null;
      if (before) {
        const [l, r] = await this.split(before, node.layer - 1, key);
        node.setBefore(i, l);
        right = r;
      }
      node.entries.splice(i, 0, { key, value, right });
      return node;
    }
    const child = before ? await this.open(before, node.layer - 1) : new EditNode(node.layer - 1, null, []);
    node.setBefore(i, await this.add(child, key, value, layer));
    return node;
  }

  /** Split the subtree `ref` (at `layer`) into the keys below `key` and those above it. */
  private async split(ref: Ref, layer: number, key: string): Promise<[Ref | null, Ref | null]> {
    const node = await this.open(ref, layer);
    const i = node.find(key);
    const inner = node.before(i);
    const left = new EditNode(layer, node.left, node.entries.slice(0, i));
    const right = new EditNode(layer, null, node.entries.slice(i));
    if (inner) {
      const [l, r] = await this.split(inner, layer - 1, key);
      left.setBefore(i, l);
      right.left = r;
    }
    return [left.empty ? null : left, right.empty ? null : right];
  }

  /** Remove `key` from under `node`; returns its record CID. */
  private async remove(node: EditNode, key: string): Promise<CID> {
    const i = node.find(key);
    const entry = node.entries[i];
    if (entry && entry.key === key) {
      const before = node.before(i);
      const after = entry.right;
      const merged = before && after ? await this.merge(before, after, node.layer - 1) : (before ?? after);
      node.entries.splice(i, 1);
      node.setBefore(i, merged);
      return entry.value;
    }
    const child = node.before(i);
    if (!child) throw new Error(`Could not find a record with key: ${key}`);
    const opened = await this.open(child, node.layer - 1);
    const value = await this.remove(opened, key);
    node.setBefore(i, opened.empty ? null : opened);
    return value;
  }

  /** Join two neighbouring subtrees of one layer (every key of `a` below every key of `b`). */
  private async merge(a: Ref, b: Ref, layer: number): Promise<EditNode> {
    const left = await this.open(a, layer);
    const right = await this.open(b, layer);
    const n = left.entries.length;
    const last = left.before(n);
    if (last && right.left) left.setBefore(n, await this.merge(last, right.left, layer - 1));
    else if (!last) left.setBefore(n, right.left);
    left.entries.push(...right.entries);
    return left;
  }

  /** Hash `ref` and every edited node under it; stores each in `created` and the cache. */
  private seal(ref: Ref, created: Map<string, Uint8Array>): CID {
    if (!(ref instanceof EditNode)) return ref;
    if (ref.cid) return ref.cid;
    const left = ref.left ? this.seal(ref.left, created) : null;
    const entries = ref.entries.map((e) => ({ key: e.key, value: e.value, right: e.right ? this.seal(e.right, created) : null }));
    const { cid, bytes } = encodeNode(left, entries);
    const s = cidToString(cid);
    ref.cid = cid;
    ref.cidString = s;
    ref.bytes = bytes;
    created.set(s, bytes);
    // The layer of a node with nothing in it is that of wherever it sits: not recorded.
    this.cache.set(s, { cid, left, entries, bytes, layer: ref.empty ? undefined : ref.layer });
    return cid;
  }

  // Proofs (the same traversals as @atproto/repo's proofForKey / proofForLeftSib / proofForRightSib)

  /** `ref` as the proofs read it (a stored node from the cache, read from the store when missing). */
  private async view(ref: Ref): Promise<NodeView> {
    return this.cachedView(ref) ?? this.cachedView(await loadNode(this.source, this.cache, ref as CID))!;
  }

  /** `ref` as the proofs read it when it is in memory: an edited node, or a stored one in the cache. */
  private cachedView(ref: Ref | StoredNode): NodeView | null {
    if (ref instanceof EditNode) return { left: ref.left, entries: ref.entries, cid: ref.cidString!, bytes: ref.bytes! };
    if (!(ref instanceof CID)) return { left: ref.left, entries: ref.entries, cid: cidToString(ref.cid), bytes: ref.bytes };
    const node = this.cache.get(cidToString(ref));
    return node ? { left: node.left, entries: node.entries, cid: cidToString(ref), bytes: node.bytes } : null;
  }

  // Each proof walks one path down from the root; a loop, each node added on the way.

  private async proofForKey(ref: Ref, key: string, into: Map<string, Uint8Array>): Promise<void> {
    let at: Ref | null = ref;
    while (at) {
      const node: NodeView = this.cachedView(at) ?? (await this.view(at));
      const i = lowerBound(node.entries, key);
      if (node.entries[i]?.key === key) at = null;
      else {
        at = i === 0 ? node.left : node.entries[i - 1]!.right;
        // The key is not in the tree: the node where the search ends is no part of the proof.
        if (!at) return;
      }
      into.set(node.cid, node.bytes);
    }
  }

  private async proofForLeft(ref: Ref, key: string, into: Map<string, Uint8Array>): Promise<void> {
    let at: Ref | null = ref;
    while (at) {
      const node: NodeView = this.cachedView(at) ?? (await this.view(at));
      const i = lowerBound(node.entries, key);
      at = i === 0 ? node.left : node.entries[i - 1]!.right;
      into.set(node.cid, node.bytes);
    }
  }

  private async proofForRight(ref: Ref, key: string, into: Map<string, Uint8Array>): Promise<void> {
    let at: Ref | null = ref;
    while (at) {
      const node: NodeView = this.cachedView(at) ?? (await this.view(at));
      const n = node.entries.length;
      const i = lowerBound(node.entries, key);
      if (i < n) {
        const entry: NodeView["entries"][number] = node.entries[i]!;
        at = entry.key === key ? entry.right : i === 0 ? node.left : node.entries[i - 1]!.right;
      } else {
        at = n === 0 ? node.left : node.entries[n - 1]!.right;
      }
      into.set(node.cid, node.bytes);
    }
  }
}

interface NodeView {
  left: Ref | null;
  entries: readonly { key: string; right: Ref | null }[];
  cid: string;
  bytes: Uint8Array;
}

function lowerBound(entries: readonly { key: string }[], key: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (entries[mid]!.key < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

async function loadNode(source: BlockSource, cache: NodeCache, cid: CID): Promise<StoredNode> {
  const s = cidToString(cid);
  const cached = cache.get(s);
  if (cached) return cached;
  const bytes = (await source([s])).get(s);
  if (!bytes) throw new Error(`Missing MST node: ${s}`);
  const node = decodeNode(cid, bytes);
  cache.set(s, node);
  return node;
}

/** The layer of a tree's root: that of its first key, or one above its left subtree's when it has none. */
async function rootLayer(source: BlockSource, cache: NodeCache, node: StoredNode): Promise<number> {
  if (node.layer !== undefined) return node.layer;
  if (node.entries.length > 0) return keyLayer(node.entries[0]!.key);
  if (!node.left) return 0;
  return 1 + (await rootLayer(source, cache, await loadNode(source, cache, node.left)));
}
